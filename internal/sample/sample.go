// Package sample writes the small sample `quench dev` ships so the built-in runbooks have
// something real to work on at first start: a traffic log (the provider-outage story of
// internal/fixtures, the JSONL format the embedded traffic target reads) and a local git
// repository of prompts (what the gitrepo prompts target reads), both under
// <data-dir>/sample.
//
// What is there and not quench's own is never touched: a file or repository is refreshed
// only when it is exactly what quench wrote (the manifest records its sha256 and commits)
// and it has grown stale; anything else is kept as it is.
package sample

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/quench-dev/quench/internal/fixtures"
)

// Dir is the sample's folder inside the data dir.
const Dir = "sample"

// Names inside Dir.
const (
	TrafficFile  = "traffic.jsonl"
	PromptsRepo  = "prompts-repo"
	PromptsPath  = "prompts/"
	manifestFile = "sample.json"
)

// The traffic log reaches this far past its anchor (healthy traffic on the fallback
// provider, as after a fail over), so a verify finds requests made after the change; it
// is refreshed once less than half of it is left.
const (
	trafficAfter = 24 * time.Hour
	// trafficAfterEvery spaces the requests after the anchor: a verify judges once 20
	// requests started after the change (min_requests), so this gets there in about a
	// minute (the fixtures' default of 15s would take five, the whole verify deadline).
	trafficAfterEvery = 3 * time.Second
	// The baseline covers the built-in runbooks' 24h, so its per-minute figures compare
	// with the incident window's.
	trafficBaseline = 24 * time.Hour
	trafficWindow   = 30 * time.Minute
	// refreshAfter is how old an unchanged sample may grow before it is written again: the
	// prompt change must stay within the built-in runbooks' 24h `since`.
	refreshAfter = 12 * time.Hour
)

// Options say what to write.
type Options struct {
	Now     time.Time // the sample's anchor: the end of the traffic's incident window
	Traffic bool      // write the traffic log (no traffic source is configured)
	Prompts bool      // write the prompts repository (no prompts target is configured)
}

// Outcome is what Ensure did with one part of the sample.
type Outcome string

// Outcomes.
const (
	Created   Outcome = "created"
	Refreshed Outcome = "refreshed" // quench's own, unchanged and stale: written again
	Current   Outcome = "current"   // quench's own, unchanged and recent
	Kept      Outcome = "kept"      // not what quench wrote: left as it is
)

// Result says where the sample is and what Ensure did.
type Result struct {
	Dir            string
	Traffic        string // path of the traffic log ("" when not asked for)
	TrafficOutcome Outcome
	Repo           string // path of the prompts repository ("" when not asked for)
	RepoOutcome    Outcome
}

// manifest records what quench wrote, so it can tell its own files from a user's.
type manifest struct {
	TrafficSHA256 string    `json:"traffic_sha256,omitempty"`
	TrafficAnchor time.Time `json:"traffic_anchor,omitzero"`
	RepoHead      string    `json:"repo_head,omitempty"`
	RepoAnchor    time.Time `json:"repo_anchor,omitzero"`
}

// Ensure writes what is missing of the sample under dataDir and refreshes what quench
// wrote before and nobody changed once it is stale. The caller holds the data dir's lock.
func Ensure(dataDir string, opt Options) (Result, error) {
	if opt.Now.IsZero() {
		return Result{}, errors.New("sample: Options.Now is required")
	}
	dir := filepath.Join(dataDir, Dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Result{}, fmt.Errorf("create the sample folder: %w", err)
	}
	res := Result{Dir: dir}
	m, err := readManifest(dir)
	if err != nil {
		return Result{}, err
	}
	if opt.Traffic {
		res.Traffic = filepath.Join(dir, TrafficFile)
		if res.TrafficOutcome, err = ensureTraffic(res.Traffic, &m, opt.Now); err != nil {
			return Result{}, err
		}
	}
	if opt.Prompts {
		res.Repo = filepath.Join(dir, PromptsRepo)
		if res.RepoOutcome, err = ensureRepo(res.Repo, &m, opt.Now); err != nil {
			return Result{}, err
		}
	}
	if err := writeManifest(dir, m); err != nil {
		return Result{}, err
	}
	return res, nil
}

func ensureTraffic(path string, m *manifest, now time.Time) (Outcome, error) {
	data, err := os.ReadFile(path)
	outcome := Created
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return "", fmt.Errorf("read the sample traffic log: %w", err)
	case m.TrafficSHA256 == "" || sha(data) != m.TrafficSHA256:
		return Kept, nil // someone's own log (or one changed by hand)
	case now.Sub(m.TrafficAnchor) < refreshAfter:
		return Current, nil
	default:
		outcome = Refreshed
	}
	f, err := Traffic(now)
	if err != nil {
		return "", err
	}
	if err := writeAtomic(path, f.Traffic); err != nil {
		return "", fmt.Errorf("write the sample traffic log: %w", err)
	}
	m.TrafficSHA256, m.TrafficAnchor = sha(f.Traffic), now.UTC()
	return outcome, nil
}

// Traffic is the sample traffic log anchored at now: the provider-outage story (its
// primary failing in the 30 minutes before now, a 24h healthy baseline before that, and
// healthy traffic on the fallback for 24h after).
func Traffic(now time.Time) (fixtures.Fixture, error) {
	return fixtures.Generate(fixtures.ProviderOutage, fixtures.Options{
		Now: now, Seed: 1, Window: trafficWindow, Baseline: trafficBaseline, After: trafficAfter, AfterEvery: trafficAfterEvery,
	})
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func readManifest(dir string) (manifest, error) {
	var m manifest
	data, err := os.ReadFile(filepath.Join(dir, manifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, fmt.Errorf("read the sample's manifest: %w", err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		// Unreadable: treat everything as someone else's, so nothing is overwritten.
		return manifest{}, nil
	}
	return m, nil
}

func writeManifest(dir string, m manifest) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, manifestFile), append(data, '\n')); err != nil {
		return fmt.Errorf("write the sample's manifest: %w", err)
	}
	return nil
}

// writeAtomic writes through a rename, so a reader never sees half a file.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
