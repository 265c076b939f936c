// Package report reads an incident's evidence back from the store, checks each bundle
// against the sha256 the incident recorded, and renders it for people: a terminal summary,
// Markdown and HTML. `quench evidence show` and the postmortem use it.
package report

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"github.com/quench-dev/quench/internal/evidence"
	"github.com/quench-dev/quench/internal/evidence/bundle"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/workflows"
)

// Bundle is one verified bundle as the report sees it.
type Bundle struct {
	Ref      ports.EvidenceRef `json:"ref"`
	Step     string            `json:"step"`
	Verified bool              `json:"verified"`
	Doc      bundle.Bundle     `json:"bundle"`
}

// Report is what `evidence show` shows.
type Report struct {
	IncidentID string   `json:"incident_id"`
	ShortID    string   `json:"short_id"`
	Title      string   `json:"title"`
	Runbook    string   `json:"runbook"`
	State      string   `json:"state"`
	Bundles    []Bundle `json:"bundles"`
}

// Load reads the incident's bundles from the store at dir, each checked against the
// sha256 the incident recorded.
func Load(ctx context.Context, st workflows.Status, dir string) (Report, error) {
	rep := Report{IncidentID: st.IncidentID, ShortID: st.ShortID, Title: st.Title, Runbook: st.Runbook, State: st.State, Bundles: []Bundle{}}
	if len(st.Evidence) == 0 {
		return rep, nil
	}
	if _, err := os.Stat(dir); err != nil {
		return rep, fmt.Errorf("no evidence store at %s (%v): run this where the worker keeps its data, or pass --data-dir", dir, err)
	}
	store, err := evidence.Open(dir)
	if err != nil {
		return rep, err
	}
	for _, ref := range st.Evidence {
		// By incident and name, not by the recorded URI: the data dir may have been copied or
		// mounted elsewhere since.
		_, data, ok, err := store.Get(ctx, st.IncidentID, ref.Name)
		switch {
		case err != nil:
			return rep, fmt.Errorf("evidence %s of incident %s: %w", ref.Name, st.ShortID, err)
		case !ok:
			return rep, fmt.Errorf("evidence %s of incident %s is not in the store at %s (recorded at %s): pass the worker's --data-dir", ref.Name, st.ShortID, dir, ref.URI)
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != ref.SHA256 {
			return rep, fmt.Errorf("evidence %s of incident %s has sha256 %s but the incident recorded %s: the bundle was changed after capture", ref.Name, st.ShortID, got, ref.SHA256)
		}
		var doc bundle.Bundle
		if err := json.Unmarshal(data, &doc); err != nil || doc.Schema != bundle.Schema {
			return rep, fmt.Errorf("evidence %s is not a %s bundle (schema %q): this quench cannot read it", ref.URI, bundle.Schema, doc.Schema)
		}
		rep.Bundles = append(rep.Bundles, Bundle{Ref: ref, Step: ref.Name, Verified: true, Doc: doc})
	}
	return rep, nil
}
