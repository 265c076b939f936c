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

// Source is where Load reads bundles: the evidence store itself (in the process that has
// it), or the quench API (the CLI). Get returns the bundle incident/name with the store's
// own digest check done; ok is false when there is none.
type Source interface {
	Get(ctx context.Context, incident, name string) (ref ports.EvidenceRef, data []byte, ok bool, err error)
}

// SourceFunc makes a function a Source.
type SourceFunc func(ctx context.Context, incident, name string) (ports.EvidenceRef, []byte, bool, error)

// Get calls f.
func (f SourceFunc) Get(ctx context.Context, incident, name string) (ports.EvidenceRef, []byte, bool, error) {
	return f(ctx, incident, name)
}

// Load reads the incident's bundles from src, each checked against the sha256 the
// incident recorded.
func Load(ctx context.Context, st workflows.Status, src Source) (Report, error) {
	rep := Report{IncidentID: st.IncidentID, ShortID: st.ShortID, Title: st.Title, Runbook: st.Runbook, State: st.State, Bundles: []Bundle{}}
	if len(st.Evidence) == 0 {
		return rep, nil
	}
	if src == nil {
		return rep, fmt.Errorf("no evidence store to read incident %s's bundles from", st.ShortID)
	}
	for _, ref := range st.Evidence {
		// By incident and name, not by the recorded URI: the URI names a place in the store
		// of the process that wrote it, which may not be where this one reads.
		_, data, ok, err := src.Get(ctx, st.IncidentID, ref.Name)
		switch {
		case err != nil:
			return rep, fmt.Errorf("evidence %s of incident %s: %w", ref.Name, st.ShortID, err)
		case !ok:
			return rep, fmt.Errorf("evidence %s of incident %s is not in the evidence store (recorded at %s): was it captured by a quench with another store?", ref.Name, st.ShortID, ref.URI)
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
