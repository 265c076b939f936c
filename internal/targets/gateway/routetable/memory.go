package routetable

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/quench-dev/quench/internal/ports"
)

// ReadRoute returns the route's active provider: what a switch replaces, captured into the
// incident's history before the switch (ports.RouteReader).
func (t *Table) ReadRoute(ctx context.Context, route string) (ports.RouteState, error) {
	s, err := t.snapshot(ctx)
	if err != nil {
		return ports.RouteState{}, err
	}
	r, ok := s.route(route)
	if !ok {
		return ports.RouteState{}, unknownRoute(route, s.names())
	}
	return ports.RouteState{Provider: r.Provider}, nil
}

// switchFrom is a switch whose previous provider is in the request (from history): set the
// route to the target only if it is still on that provider. A retry, on this process or
// another, that finds the route already on the target changes nothing and answers the same
// change, so the undo is registered either way. The switch holds the route for the
// incident until it restores it: a configuration change keeps a held route.
func (t *Table) switchFrom(ctx context.Context, req ports.SwitchRequest) (ports.RouteChange, error) {
	prev := req.Previous.Provider
	return t.apply(ctx, "switch", req.Route, req.Key, func(c *change, r *row) (ports.RouteChange, error) {
		if !slices.Contains(r.providers, prev) {
			return ports.RouteChange{}, ports.Permanentf("route %s: the provider read before the switch (%s) is no longer one of its providers (%s); start the switch again",
				r.name, prev, strings.Join(r.providers, ", "))
		}
		was := *r
		was.provider = prev
		target, err := resolveTarget(&was, req.To)
		if err != nil {
			return ports.RouteChange{}, err
		}
		switch r.provider {
		case target:
			if target == prev {
				return ports.RouteChange{Route: r.name, From: prev, To: prev, Version: r.version, NoOp: true, At: c.now,
					Note: fmt.Sprintf("route %s is already on %s: nothing switched", r.name, prev)}, nil
			}
			// Already set by an attempt whose result was lost: nothing to change but the
			// hold, which that attempt recorded too (the upsert is idempotent).
			if err := c.hold(r.name, req.Holder, prev, target, false); err != nil {
				return ports.RouteChange{}, err
			}
			return ports.RouteChange{Route: r.name, From: prev, To: target, Version: r.version, At: c.now}, nil
		case prev:
		default:
			return ports.RouteChange{}, ports.Permanentf("route %s changed from %s to %s (by %s) between reading it and switching it; nothing switched: look at the route and start the switch again",
				r.name, prev, r.provider, orSomeoneElse(r.updatedBy))
		}
		if err := c.switchHeld(r, target, req.Holder, prev, false); err != nil {
			return ports.RouteChange{}, err
		}
		return ports.RouteChange{Route: r.name, From: prev, To: target, Version: r.version, At: c.now}, nil
	})
}

// restoreTo puts back the provider in the request (the switch's, from history), whatever
// process switched the route, and ends the incident's hold on it.
func (t *Table) restoreTo(ctx context.Context, req ports.RestoreRequest) (ports.RouteChange, error) {
	want := req.Previous.Provider
	return t.apply(ctx, "restore", req.Route, req.Key, func(c *change, r *row) (ports.RouteChange, error) {
		if !slices.Contains(r.providers, want) {
			return ports.RouteChange{}, ports.Permanentf(
				"cannot restore route %s to %s: it is no longer one of the route's providers (%s); switch the route by hand",
				r.name, want, strings.Join(r.providers, ", "))
		}
		// A legacy hold (saved by a switch of an older quench) stays: that switch's own
		// undo (carrying no state) still needs it.
		if err := c.release(r.name, req.Holder, false); err != nil {
			return ports.RouteChange{}, err
		}
		if r.provider == want {
			return ports.RouteChange{Route: r.name, From: want, To: want, Version: r.version, NoOp: true, At: c.now,
				Note: fmt.Sprintf("route %s is already back on %s", r.name, want)}, nil
		}
		var note string
		if req.SwitchedTo != "" && r.provider != req.SwitchedTo {
			note = fmt.Sprintf("route %s was changed to %s by %s after this incident switched it to %s; restored to %s anyway",
				r.name, r.provider, orSomeoneElse(r.updatedBy), req.SwitchedTo, want)
		}
		from := r.provider
		if err := c.set(r, want, req.Holder); err != nil {
			return ports.RouteChange{}, err
		}
		return ports.RouteChange{Route: r.name, From: from, To: want, Version: r.version, Note: note, At: c.now}, nil
	})
}

var _ ports.RouteReader = (*Table)(nil)
