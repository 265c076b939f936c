package gwstate

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store"
)

// Fallback is the `to` that means "the provider after the active one".
const Fallback = "fallback"

// Snapshot is a route's state on a gateway.
type Snapshot struct {
	// State is adapter-specific JSON: exactly what Write needs to put the route back.
	State json.RawMessage
	// Provider is the active provider in State.
	Provider string
}

// Plan is what a switch would write.
type Plan struct {
	Want Snapshot
	// NoOp: the route already sends its traffic to the target.
	NoOp bool
}

// Remote is one gateway as the procedure sees it. Implementations talk to the gateway's
// admin API; the procedure owns bookkeeping, idempotency, read-back and revert.
type Remote interface {
	// Read returns the route's current state.
	Read(ctx context.Context, route string) (Snapshot, error)
	// Plan computes the state that sends route's traffic to `to` (a provider, or Fallback).
	// It refuses, with a Permanent error, a switch that would leave the route with no
	// usable provider, or names an unknown one.
	Plan(route string, cur Snapshot, to string) (Plan, error)
	// Write changes the route from cur to want (only what differs).
	Write(ctx context.Context, route string, cur, want Snapshot) error
	// Same reports whether the gateway state got is want (for read-back).
	Same(got, want Snapshot) bool
}

// Gateway switches and restores routes on a Remote, implementing ports.Gateway.
type Gateway struct {
	name   string // "LiteLLM", for messages
	remote Remote
	rec    *records
	now    func() time.Time
	mu     sync.Mutex // serialises this process's changes; the store's claim serialises workers
}

// New returns the gateway whose saved states live in db under the name fileName had in
// the data dir (gateway-litellm.json → litellm). An old dir/fileName is imported into an
// empty SQLite store once and renamed fileName.imported.
func New(name string, remote Remote, db *store.DB, dir, fileName string) (*Gateway, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rec, err := newRecords(ctx, db, strings.TrimSuffix(strings.TrimPrefix(fileName, "gateway-"), ".json"))
	if err != nil {
		return nil, err
	}
	if err := rec.importFile(ctx, dir, fileName); err != nil {
		return nil, err
	}
	return &Gateway{name: name, remote: remote, rec: rec, now: func() time.Time { return time.Now().UTC() }}, nil
}

// SetClock sets the clock of recorded changes (tests).
func (g *Gateway) SetClock(now func() time.Time) { g.now = now }

// Saved returns what holder saved for route, if anything (tests, status).
func (g *Gateway) Saved(holder, route string) (Saved, bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return g.rec.saved(ctx, holder, route)
}

func checkRequest(route, holder, key string) error {
	switch {
	case route == "":
		return ports.Permanentf("no route given")
	case holder == "":
		return ports.Permanentf("no holder (incident ID) given for route %s", route)
	case key == "":
		return ports.Permanentf("no idempotency key given for route %s", route)
	}
	return nil
}

// Switch sends req.Route's traffic to req.To: Snapshot, save the pre-incident state (once
// per holder and route), Apply, Verify by reading back, and Revert when the read-back
// shows something else.
func (g *Gateway) Switch(ctx context.Context, req ports.SwitchRequest) (ports.RouteChange, error) {
	if err := checkRequest(req.Route, req.Holder, req.Key); err != nil {
		return ports.RouteChange{}, err
	}
	if req.Previous != nil && req.Previous.State != "" {
		return g.switchFrom(ctx, req)
	}
	// No state from history (an incident started before switches carried it, or a state
	// that may not go into history): save it in the store, as before (in the data dir).
	g.mu.Lock()
	defer g.mu.Unlock()
	var res ports.RouteChange
	err := g.rec.update(ctx, req.Holder, req.Route, req.Key, func(st *State, save func() error) error {
		if done, ok, err := g.recorded(st, "switch", req.Route, req.Key); ok || err != nil {
			res = done
			return err
		}
		cur, err := g.remote.Read(ctx, req.Route)
		if err != nil {
			return err
		}
		if op, ok := st.Ops[req.Key]; ok && op.Pending {
			delete(st.Ops, req.Key)
			if g.remote.Same(cur, Snapshot{State: op.Want}) {
				// A previous attempt wrote the gateway and stopped before recording it.
				res = g.finish(st, req.Key, op, "")
				return save()
			}
		}
		plan, err := g.remote.Plan(req.Route, cur, req.To)
		if err != nil {
			return err
		}
		now := g.now()
		if plan.NoOp {
			res = ports.RouteChange{Route: req.Route, From: cur.Provider, To: cur.Provider, Version: st.Version, NoOp: true, At: now,
				Note: fmt.Sprintf("route %s is already on %s: nothing switched", req.Route, cur.Provider)}
			st.Ops[req.Key] = Op{Op: "switch", Route: req.Route, Result: res, At: now}
			return save()
		}
		if st.Saved[req.Holder] == nil {
			st.Saved[req.Holder] = map[string]Saved{}
		}
		sv, had := st.Saved[req.Holder][req.Route]
		if !had {
			// A second switch by the same incident keeps the first saved state: the restore
			// goes back to where the route was before the incident touched it.
			sv = Saved{State: cur.State, Provider: cur.Provider}
		}
		sv.Switched, sv.SwitchedTo, sv.At = plan.Want.State, plan.Want.Provider, now
		st.Saved[req.Holder][req.Route] = sv
		op := Op{Op: "switch", Route: req.Route, Pending: true, Want: plan.Want.State, From: cur.Provider, To: plan.Want.Provider, At: now}
		st.Ops[req.Key] = op
		if err := save(); err != nil { // before the gateway is touched
			return err
		}
		if unknown, err := g.apply(ctx, req.Route, cur, plan.Want); err != nil {
			if unknown {
				// The gateway may hold the change: keep the pending op and the saved state,
				// so the retry reads the gateway and finishes or starts over.
				return err
			}
			delete(st.Ops, req.Key)
			if !had {
				delete(st.Saved[req.Holder], req.Route)
				if len(st.Saved[req.Holder]) == 0 {
					delete(st.Saved, req.Holder)
				}
			}
			if serr := save(); serr != nil {
				return fmt.Errorf("%w (and recording that failed too: %v)", err, serr)
			}
			return err
		}
		res = g.finish(st, req.Key, op, "")
		return save()
	})
	return res, err
}

// Restore writes back exactly the state req.Holder saved before its first switch of the
// route, and verifies it by reading it back.
func (g *Gateway) Restore(ctx context.Context, req ports.RestoreRequest) (ports.RouteChange, error) {
	if err := checkRequest(req.Route, req.Holder, req.Key); err != nil {
		return ports.RouteChange{}, err
	}
	if req.Previous != nil && req.Previous.State != "" {
		return g.restoreTo(ctx, req)
	}
	// No state from history: an incident started before switches carried it (or one whose
	// state stayed local); its switch saved the state in the store.
	g.mu.Lock()
	defer g.mu.Unlock()
	var res ports.RouteChange
	err := g.rec.update(ctx, req.Holder, req.Route, req.Key, func(st *State, save func() error) error {
		if done, ok, err := g.recorded(st, "restore", req.Route, req.Key); ok || err != nil {
			res = done
			return err
		}
		now := g.now()
		sv, ok := st.Saved[req.Holder][req.Route]
		cur, err := g.remote.Read(ctx, req.Route)
		if err != nil {
			return err
		}
		if op, pending := st.Ops[req.Key]; pending && op.Pending {
			delete(st.Ops, req.Key)
			if ok && g.remote.Same(cur, Snapshot{State: op.Want}) {
				g.forget(st, req.Holder, req.Route)
				res = g.finish(st, req.Key, op, op.Note)
				return save()
			}
		}
		if !ok {
			res = ports.RouteChange{Route: req.Route, From: cur.Provider, To: cur.Provider, Version: st.Version, NoOp: true, At: now,
				Note: fmt.Sprintf("route %s: nothing saved to restore for this incident (it did not switch the route, or already restored it); left on %s", req.Route, cur.Provider)}
			st.Ops[req.Key] = Op{Op: "restore", Route: req.Route, Result: res, At: now}
			return save()
		}
		saved := Snapshot{State: sv.State, Provider: sv.Provider}
		if g.remote.Same(cur, saved) {
			g.forget(st, req.Holder, req.Route)
			res = ports.RouteChange{Route: req.Route, From: cur.Provider, To: cur.Provider, Version: st.Version, NoOp: true, At: now,
				Note: fmt.Sprintf("route %s is already back on its pre-incident state (%s)", req.Route, cur.Provider)}
			st.Ops[req.Key] = Op{Op: "restore", Route: req.Route, Result: res, At: now}
			return save()
		}
		var note string
		if len(sv.Switched) > 0 && !g.remote.Same(cur, Snapshot{State: sv.Switched, Provider: sv.SwitchedTo}) {
			note = fmt.Sprintf("route %s was changed on %s by someone else after this incident switched it to %s (now on %s); restored to the pre-incident state anyway",
				req.Route, g.name, sv.SwitchedTo, cur.Provider)
		}
		op := Op{Op: "restore", Route: req.Route, Pending: true, Want: sv.State, From: cur.Provider, To: sv.Provider, Note: note, At: now}
		st.Ops[req.Key] = op
		if err := save(); err != nil {
			return err
		}
		if unknown, err := g.apply(ctx, req.Route, cur, saved); err != nil {
			if unknown {
				return err // the pending op lets the retry tell whether the write landed
			}
			delete(st.Ops, req.Key) // the saved state stays: a retry restores it
			if serr := save(); serr != nil {
				return fmt.Errorf("%w (and recording that failed too: %v)", err, serr)
			}
			return err
		}
		g.forget(st, req.Holder, req.Route)
		res = g.finish(st, req.Key, op, note)
		return save()
	})
	return res, err
}

// recorded returns the result of a change already done under key.
func (g *Gateway) recorded(st *State, opName, route, key string) (ports.RouteChange, bool, error) {
	op, ok := st.Ops[key]
	if !ok || op.Pending {
		return ports.RouteChange{}, false, nil
	}
	if op.Op != opName || op.Route != route {
		return ports.RouteChange{}, true, ports.Permanentf("idempotency key %s was already used to %s route %s, not to %s route %s",
			key, op.Op, op.Route, opName, route)
	}
	return op.Result, true, nil
}

// apply writes want, reads it back, and reverts to cur when the gateway shows something
// else: a change that did not take must not be left half done. unknown reports that the
// gateway's state could not be read after the write, so nothing is known of it.
func (g *Gateway) apply(ctx context.Context, route string, cur, want Snapshot) (unknown bool, err error) {
	werr := g.remote.Write(ctx, route, cur, want)
	got, rerr := g.remote.Read(ctx, route)
	if rerr != nil {
		if werr != nil {
			return true, fmt.Errorf("%w; reading route %s back failed too: %v", werr, route, rerr)
		}
		return true, fmt.Errorf("reading route %s back from %s after the change failed: %w", route, g.name, rerr)
	}
	if werr == nil && g.remote.Same(got, want) {
		return false, nil
	}
	cause := werr
	if cause == nil {
		cause = fmt.Errorf("%s did not take the change to route %s: reading it back shows provider %s, not %s", g.name, route, got.Provider, want.Provider)
	}
	if g.remote.Same(got, cur) {
		return false, cause
	}
	if err := g.remote.Write(ctx, route, got, cur); err != nil {
		return true, fmt.Errorf("%w; putting route %s back as it was failed too: %v (check it on %s by hand)", cause, route, err, g.name)
	}
	return false, fmt.Errorf("%w; route %s was put back as it was", cause, route)
}

func (g *Gateway) finish(st *State, key string, op Op, note string) ports.RouteChange {
	st.Version++
	now := g.now()
	res := ports.RouteChange{Route: op.Route, From: op.From, To: op.To, Version: st.Version, Note: note, At: now}
	st.Ops[key] = Op{Op: op.Op, Route: op.Route, Result: res, At: now}
	return res
}

func (g *Gateway) forget(st *State, holder, route string) {
	delete(st.Saved[holder], route)
	if len(st.Saved[holder]) == 0 {
		delete(st.Saved, holder)
	}
}

var _ ports.Gateway = (*Gateway)(nil)
