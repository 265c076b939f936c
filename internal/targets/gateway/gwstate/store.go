// Package gwstate is what the real gateway adapters (LiteLLM, Portkey) share: the
// switch/restore procedure, Snapshot (read the gateway) → Apply → Verify (read it back) →
// Revert, in two forms.
//
// The normal form keeps its memory in the incident's history: ReadRoute reads the route's
// state before the switch (the workflow records it), Switch with that state is a
// compare-and-set (a retry on any worker that finds the route switched writes nothing), and
// Restore writes back exactly the state it is given (memory.go).
//
// The fallback form keeps a durable record in the data dir of the state each incident saved
// before it first switched a route, and of every change under its idempotency key: for
// incidents started before switches carried their state, and for a state that must not go
// into history (a Portkey config holding a key, or one too big). The file is written before
// the gateway is touched, so a crash between the two is recovered on the retry; only workers
// sharing the directory can restore such a state.
package gwstate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/filestate"
)

// How long and how many recorded changes are kept for idempotent retries: longer than an
// incident stays open.
const (
	opRetention = 30 * 24 * time.Hour
	maxOps      = 10000
)

// State is the file's content.
type State struct {
	Version int64 `json:"version"`
	// Saved: holder (incident) → route → what the gateway looked like before its first switch.
	Saved map[string]map[string]Saved `json:"saved,omitempty"`
	// Ops: idempotency key → what the change did (or, while Pending, was about to do).
	Ops map[string]Op `json:"ops,omitempty"`
}

// Saved is a route's state as an incident found it.
type Saved struct {
	State    json.RawMessage `json:"state"`    // exactly what Restore writes back
	Provider string          `json:"provider"` // the active provider in State
	// Switched is the state the incident's last switch wrote: a restore that finds something
	// else says the route was changed by someone else meanwhile.
	Switched   json.RawMessage `json:"switched,omitempty"`
	SwitchedTo string          `json:"switched_to,omitempty"`
	At         time.Time       `json:"at"`
}

// Op is one switch or restore under its idempotency key.
type Op struct {
	Op    string `json:"op"` // switch | restore
	Route string `json:"route"`
	// Pending: recorded before the gateway was written. A retry that finds the gateway in
	// Want finishes the op; otherwise the write never landed and the op starts afresh.
	Pending bool              `json:"pending,omitempty"`
	Want    json.RawMessage   `json:"want,omitempty"`
	From    string            `json:"from,omitempty"`
	To      string            `json:"to,omitempty"`
	Note    string            `json:"note,omitempty"`
	Result  ports.RouteChange `json:"result"`
	At      time.Time         `json:"at"`
}

// file is the state file of one gateway in a directory.
type file struct {
	path, lockPath string
}

func newFile(dir, name string) (file, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return file{}, fmt.Errorf("create the gateway state directory %s: %w (check --data-dir is writable)", dir, err)
	}
	p := filepath.Join(dir, name)
	return file{path: p, lockPath: p + ".lock"}, nil
}

// update runs fn on the latest state under the file lock; the state is written back after
// each call of save (fn may save several times: before and after touching the gateway).
func (f file) update(fn func(st *State, save func() error) error) error {
	unlock, err := filestate.Lock(f.lockPath)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := f.load()
	if err != nil {
		return err
	}
	return fn(st, func() error { return f.store(st) })
}

func (f file) load() (*State, error) {
	data, err := os.ReadFile(f.path)
	st := &State{}
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read gateway state: %w", err)
	default:
		if err := json.Unmarshal(data, st); err != nil {
			return nil, fmt.Errorf("gateway state %s is not valid JSON (%v): fix it or move it away (saved pre-incident states in it are lost then)", f.path, err)
		}
	}
	if st.Saved == nil {
		st.Saved = map[string]map[string]Saved{}
	}
	if st.Ops == nil {
		st.Ops = map[string]Op{}
	}
	return st, nil
}

func (f file) store(st *State) error {
	pruneOps(st, time.Now())
	// No HTML escaping: a saved body must come back byte for byte ("<" stays "<").
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(st); err != nil {
		return fmt.Errorf("encode gateway state: %w", err)
	}
	// Readable only by its owner: a Portkey config may carry provider keys.
	return filestate.WriteAtomic(f.path, buf.Bytes(), 0o600)
}

func pruneOps(st *State, now time.Time) {
	for k, op := range st.Ops {
		if !op.Pending && now.Sub(op.At) > opRetention {
			delete(st.Ops, k)
		}
	}
	if len(st.Ops) <= maxOps {
		return
	}
	keys := make([]string, 0, len(st.Ops))
	for k := range st.Ops {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return st.Ops[keys[i]].At.Before(st.Ops[keys[j]].At) })
	for _, k := range keys[:len(keys)-maxOps] {
		delete(st.Ops, k)
	}
}
