package gwstate

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/quench-dev/quench/internal/ports"
)

// Redactor is a Remote whose route state may hold secrets (a Portkey config can carry a
// provider's api_key): they never go into workflow history. Redact replaces them with
// placeholders; Unredact fills the placeholders from the gateway's current state, which
// still has them (a switch never changes a key).
type Redactor interface {
	Redact(s Snapshot) (json.RawMessage, error)
	Unredact(redacted json.RawMessage, cur Snapshot) (json.RawMessage, error)
}

// full is the saved state with its secrets put back from cur.
func (g *Gateway) full(route string, saved, cur Snapshot) (Snapshot, error) {
	r, ok := g.remote.(Redactor)
	if !ok {
		return saved, nil
	}
	state, err := r.Unredact(saved.State, cur)
	if err != nil {
		return Snapshot{}, ports.Permanentf("route %s on %s: %v", route, g.name, err)
	}
	return Snapshot{State: state, Provider: saved.Provider}, nil
}

// ReadRoute reads the route's state for the incident's history (ports.RouteReader), its
// secrets replaced by placeholders. A state too big for history, or whose secrets cannot
// be told apart, is left out (KeptLocally says why): the switch then saves it in the store
// as before.
func (g *Gateway) ReadRoute(ctx context.Context, route string) (ports.RouteState, error) {
	if route == "" {
		return ports.RouteState{}, ports.Permanentf("no route given")
	}
	cur, err := g.remote.Read(ctx, route)
	if err != nil {
		return ports.RouteState{}, err
	}
	rs := ports.RouteState{Provider: cur.Provider}
	state := cur.State
	if r, ok := g.remote.(Redactor); ok {
		if state, err = r.Redact(cur); err != nil {
			rs.KeptLocally = fmt.Sprintf("the route's state on %s stays in quench's store, not in history: %v", g.name, err)
			return rs, nil
		}
	}
	if len(state) > ports.MaxRouteStateBytes {
		rs.KeptLocally = fmt.Sprintf("the route's state on %s is %d bytes, more than the %d that go into history, so it stays in quench's store", g.name, len(state), ports.MaxRouteStateBytes)
		return rs, nil
	}
	rs.State = string(state)
	return rs, nil
}

// switchFrom is a switch whose previous state is in the request (from history): a
// compare-and-set. The target is planned from the previous state, so every attempt wants
// the same state; an attempt that finds the gateway already there changes nothing and
// answers the same change (a retry on another worker after a crash), one that finds the
// previous state writes, reads back and reverts on a mismatch.
func (g *Gateway) switchFrom(ctx context.Context, req ports.SwitchRequest) (ports.RouteChange, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	cur, err := g.remote.Read(ctx, req.Route)
	if err != nil {
		return ports.RouteChange{}, err
	}
	prev, err := g.full(req.Route, Snapshot{State: []byte(req.Previous.State), Provider: req.Previous.Provider}, cur)
	if err != nil {
		return ports.RouteChange{}, err
	}
	plan, err := g.remote.Plan(req.Route, prev, req.To)
	if err != nil {
		return ports.RouteChange{}, err
	}
	now := g.now()
	if plan.NoOp {
		return ports.RouteChange{Route: req.Route, From: prev.Provider, To: prev.Provider, NoOp: true, At: now,
			Note: fmt.Sprintf("route %s is already on %s: nothing switched", req.Route, prev.Provider)}, nil
	}
	done := ports.RouteChange{Route: req.Route, From: prev.Provider, To: plan.Want.Provider, At: now}
	switch {
	case g.remote.Same(cur, plan.Want):
		return done, nil // an earlier attempt set it and its result was lost
	case !g.remote.Same(cur, prev):
		return ports.RouteChange{}, ports.Permanentf("route %s changed on %s between reading it and switching it (now on %s); nothing switched: look at the route and start the switch again",
			req.Route, g.name, cur.Provider)
	}
	if _, err := g.apply(ctx, req.Route, cur, plan.Want); err != nil {
		return ports.RouteChange{}, err
	}
	return done, nil
}

// restoreTo writes back exactly the state in the request (the switch's, from history) and
// reads it back, whatever process switched the route.
func (g *Gateway) restoreTo(ctx context.Context, req ports.RestoreRequest) (ports.RouteChange, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	cur, err := g.remote.Read(ctx, req.Route)
	if err != nil {
		return ports.RouteChange{}, err
	}
	saved, err := g.full(req.Route, Snapshot{State: []byte(req.Previous.State), Provider: req.Previous.Provider}, cur)
	if err != nil {
		return ports.RouteChange{}, err
	}
	now := g.now()
	if g.remote.Same(cur, saved) {
		return ports.RouteChange{Route: req.Route, From: cur.Provider, To: cur.Provider, NoOp: true, At: now,
			Note: fmt.Sprintf("route %s is already back on its pre-incident state (%s)", req.Route, cur.Provider)}, nil
	}
	var note string
	if req.SwitchedTo != "" && cur.Provider != req.SwitchedTo {
		note = fmt.Sprintf("route %s was changed on %s by someone else after this incident switched it to %s (now on %s); restored to the pre-incident state anyway",
			req.Route, g.name, req.SwitchedTo, cur.Provider)
	}
	if _, err := g.apply(ctx, req.Route, cur, saved); err != nil {
		return ports.RouteChange{}, err
	}
	return ports.RouteChange{Route: req.Route, From: cur.Provider, To: saved.Provider, Note: note, At: g.now()}, nil
}

var _ ports.RouteReader = (*Gateway)(nil)
