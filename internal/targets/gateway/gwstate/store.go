// Package gwstate is what the real gateway adapters (LiteLLM, Portkey) share: the
// switch/restore procedure, Snapshot (read the gateway) → Apply → Verify (read it back) →
// Revert, in two forms.
//
// The normal form keeps its memory in the incident's history: ReadRoute reads the route's
// state before the switch (the workflow records it), Switch with that state is a
// compare-and-set (a retry on any worker that finds the route switched writes nothing), and
// Restore writes back exactly the state it is given (memory.go).
//
// The fallback form keeps a durable record in quench's store (internal/store, shared by
// every worker) of the state each incident saved before it first switched a route, and of
// every change under its idempotency key: for incidents started before switches carried
// their state, and for a state that must not go into history (a Portkey config holding a
// key, or one too big). The record is written before the gateway is touched, so a crash
// between the two is recovered on the retry, by any worker.
package gwstate

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store"
)

// How long recorded changes are kept for idempotent retries: longer than an incident
// stays open.
const opRetention = 30 * 24 * time.Hour

// lease bounds how long a crashed worker's claim on a gateway's records keeps the others
// waiting; a live worker holds it only for one switch or restore (a few gateway calls).
const lease = 2 * time.Minute

// State is the part of a gateway's records one change works on: the version, what its
// holder saved for its route, and its key's op. (It was the whole file before the store.)
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
	// Block is the result of a key's block or unblock (Route is then key:<ref>).
	Block *ports.BlockChange `json:"block,omitempty"`
	At    time.Time          `json:"at"`
}

const component = "gwstate"

// schema: per gateway a meta row (version, and the claim that serialises changes across
// workers while the gateway is being written), one row per saved state and one per op.
var schema = []store.Migration{
	{SQL: `CREATE TABLE gwstate_meta (
		gateway    TEXT PRIMARY KEY,
		version    BIGINT NOT NULL,
		lock_owner TEXT NOT NULL,
		lock_until BIGINT NOT NULL
	)`},
	{SQL: `CREATE TABLE gwstate_saved (
		gateway TEXT NOT NULL,
		holder  TEXT NOT NULL,
		route   TEXT NOT NULL,
		body    TEXT NOT NULL,
		PRIMARY KEY (gateway, holder, route)
	)`},
	{SQL: `CREATE TABLE gwstate_ops (
		gateway TEXT NOT NULL,
		op_key  TEXT NOT NULL,
		body    TEXT NOT NULL,
		pending INTEGER NOT NULL,
		at      BIGINT NOT NULL,
		PRIMARY KEY (gateway, op_key)
	)`},
	{SQL: `CREATE INDEX gwstate_ops_at ON gwstate_ops (gateway, at)`},
}

// records are one gateway's rows in the store.
type records struct {
	db      *store.DB
	gateway string // the gateway's name in the tables (litellm, portkey)
	owner   string // this Gateway's claim token
	changes int
}

func newRecords(ctx context.Context, db *store.DB, gateway string) (*records, error) {
	if db == nil {
		return nil, fmt.Errorf("gateway %s: no store for its saved states", gateway)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	r := &records{db: db, gateway: gateway, owner: hex.EncodeToString(b)}
	if err := r.ensure(ctx); err != nil && !store.IsUnavailable(err) && !errors.Is(err, context.DeadlineExceeded) {
		return nil, err
	}
	return r, nil
}

func (r *records) ensure(ctx context.Context) error {
	if err := r.db.Ensure(ctx, component, schema); err != nil {
		return fmt.Errorf("gateway state: %w", err)
	}
	_, err := r.db.Exec(ctx, `INSERT INTO gwstate_meta (gateway, version, lock_owner, lock_until) VALUES (?, 0, '', 0) ON CONFLICT (gateway) DO NOTHING`, r.gateway)
	return err
}

// claim waits until this worker holds the gateway's claim (or ctx ends).
func (r *records) claim(ctx context.Context) (func(), error) {
	if err := r.ensure(ctx); err != nil {
		return nil, err
	}
	wait := 5 * time.Millisecond
	for {
		now := time.Now()
		res, err := r.db.Exec(ctx, `UPDATE gwstate_meta SET lock_owner = ?, lock_until = ? WHERE gateway = ? AND (lock_until < ? OR lock_owner = ?)`,
			r.owner, now.Add(lease).UnixNano(), r.gateway, now.UnixNano(), r.owner)
		if err != nil {
			return nil, fmt.Errorf("gateway state: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return func() {
				ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				defer cancel()
				_, _ = r.db.Exec(ctx, `UPDATE gwstate_meta SET lock_owner = '', lock_until = 0 WHERE gateway = ? AND lock_owner = ?`, r.gateway, r.owner)
			}, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for another worker's change of %s to finish: %w", r.gateway, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// update runs fn on the records of (holder, route, key) under the gateway's claim; they
// are written back after each call of save (fn may save several times: before and after
// touching the gateway).
func (r *records) update(ctx context.Context, holder, route, key string, fn func(st *State, save func() error) error) error {
	release, err := r.claim(ctx)
	if err != nil {
		return err
	}
	defer release()
	st, err := r.load(ctx, holder, route, key)
	if err != nil {
		return err
	}
	return fn(st, func() error { return r.save(ctx, st, holder, route, key) })
}

func (r *records) load(ctx context.Context, holder, route, key string) (*State, error) {
	st := &State{Saved: map[string]map[string]Saved{}, Ops: map[string]Op{}}
	if err := r.db.QueryRow(ctx, `SELECT version FROM gwstate_meta WHERE gateway = ?`, r.gateway).Scan(&st.Version); err != nil {
		return nil, fmt.Errorf("read gateway state: %w", r.db.Unavailable(err))
	}
	var body string
	err := r.db.QueryRow(ctx, `SELECT body FROM gwstate_saved WHERE gateway = ? AND holder = ? AND route = ?`, r.gateway, holder, route).Scan(&body)
	switch {
	case err == nil:
		var sv Saved
		if err := json.Unmarshal([]byte(body), &sv); err != nil {
			return nil, fmt.Errorf("gateway state of %s for %s, route %s, is unreadable: %w", r.gateway, holder, route, err)
		}
		st.Saved[holder] = map[string]Saved{route: sv}
	case !errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("read gateway state: %w", r.db.Unavailable(err))
	}
	err = r.db.QueryRow(ctx, `SELECT body FROM gwstate_ops WHERE gateway = ? AND op_key = ?`, r.gateway, key).Scan(&body)
	switch {
	case err == nil:
		var op Op
		if err := json.Unmarshal([]byte(body), &op); err != nil {
			return nil, fmt.Errorf("gateway state of %s, key %s, is unreadable: %w", r.gateway, key, err)
		}
		st.Ops[key] = op
	case !errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("read gateway state: %w", r.db.Unavailable(err))
	}
	return st, nil
}

// save writes the records of (holder, route, key) as st has them, in one transaction.
func (r *records) save(ctx context.Context, st *State, holder, route, key string) error {
	r.changes++
	prune := r.changes%16 == 0
	err := r.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE gwstate_meta SET version = ? WHERE gateway = ?`, st.Version, r.gateway); err != nil {
			return err
		}
		if sv, ok := st.Saved[holder][route]; ok {
			body, err := marshal(sv)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO gwstate_saved (gateway, holder, route, body) VALUES (?, ?, ?, ?)
				ON CONFLICT (gateway, holder, route) DO UPDATE SET body = excluded.body`, r.gateway, holder, route, body); err != nil {
				return err
			}
		} else if _, err := tx.Exec(ctx, `DELETE FROM gwstate_saved WHERE gateway = ? AND holder = ? AND route = ?`, r.gateway, holder, route); err != nil {
			return err
		}
		if op, ok := st.Ops[key]; ok {
			body, err := marshal(op)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO gwstate_ops (gateway, op_key, body, pending, at) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (gateway, op_key) DO UPDATE SET body = excluded.body, pending = excluded.pending, at = excluded.at`,
				r.gateway, key, body, boolInt(op.Pending), op.At.UnixNano()); err != nil {
				return err
			}
		} else if _, err := tx.Exec(ctx, `DELETE FROM gwstate_ops WHERE gateway = ? AND op_key = ?`, r.gateway, key); err != nil {
			return err
		}
		if !prune {
			return nil
		}
		// Bounded: a few expired records by the at index, never a scan.
		_, err := tx.Exec(ctx, `DELETE FROM gwstate_ops WHERE gateway = ? AND op_key IN
			(SELECT op_key FROM gwstate_ops WHERE gateway = ? AND pending = 0 AND at < ? ORDER BY at LIMIT 256)`,
			r.gateway, r.gateway, time.Now().Add(-opRetention).UnixNano())
		return err
	})
	if err != nil {
		return fmt.Errorf("record gateway state: %w", err)
	}
	return nil
}

// saved returns what holder saved for route.
func (r *records) saved(ctx context.Context, holder, route string) (Saved, bool, error) {
	st, err := r.load(ctx, holder, route, "")
	if err != nil {
		return Saved{}, false, err
	}
	sv, ok := st.Saved[holder][route]
	return sv, ok, nil
}

// marshal encodes without HTML escaping: a saved body must come back byte for byte.
func marshal(v any) (string, error) {
	var buf jsonBuffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return string(buf), nil
}

type jsonBuffer []byte

func (b *jsonBuffer) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
