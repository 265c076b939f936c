package routetable

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/ports"
)

// ReadRoute returns the route's active provider: what a switch replaces, captured into the
// incident's history before the switch (ports.RouteReader).
func (t *Table) ReadRoute(_ context.Context, route string) (ports.RouteState, error) {
	r, ok, err := t.Route(route)
	if err != nil {
		return ports.RouteState{}, err
	}
	if !ok {
		st, err := t.current()
		if err != nil {
			return ports.RouteState{}, err
		}
		return ports.RouteState{}, ports.Permanentf("unknown route %q; known routes: %s (configure routes in quench's config)", route, knownRoutes(st))
	}
	return ports.RouteState{Provider: r.Provider}, nil
}

// switchFrom is a switch whose previous provider is in the request (from history): set the
// route to the target only if it is still on that provider. A retry, on this process or
// another, that finds the route already on the target changes nothing and answers the same
// change, so the undo is registered either way.
func (t *Table) switchFrom(ctx context.Context, req ports.SwitchRequest) (ports.RouteChange, error) {
	prev := req.Previous.Provider
	return t.apply(ctx, "switch", req.Route, req.Key, func(st *state, r *Route, now time.Time) (ports.RouteChange, error) {
		if !slices.Contains(r.Providers, prev) {
			return ports.RouteChange{}, ports.Permanentf("route %s: the provider read before the switch (%s) is no longer one of its providers (%s); start the switch again",
				r.Route, prev, strings.Join(r.Providers, ", "))
		}
		was := *r
		was.Provider = prev
		target, err := resolveTarget(&was, req.To)
		if err != nil {
			return ports.RouteChange{}, err
		}
		switch r.Provider {
		case target:
			if target == prev {
				return ports.RouteChange{Route: r.Route, From: prev, To: prev, Version: r.Version, NoOp: true, At: now,
					Note: fmt.Sprintf("route %s is already on %s: nothing switched", r.Route, prev)}, nil
			}
			// Already set by an attempt whose result was lost: nothing to change.
			return ports.RouteChange{Route: r.Route, From: prev, To: target, Version: r.Version, At: now}, nil
		case prev:
		default:
			return ports.RouteChange{}, ports.Permanentf("route %s changed from %s to %s (by %s) between reading it and switching it; nothing switched: look at the route and start the switch again",
				r.Route, prev, r.Provider, orSomeoneElse(r.UpdatedBy))
		}
		t.set(st, r, target, req.Holder, now)
		return ports.RouteChange{Route: r.Route, From: prev, To: target, Version: r.Version, At: now}, nil
	})
}

// restoreTo puts back the provider in the request (the switch's, from history), whatever
// process switched the route.
func (t *Table) restoreTo(ctx context.Context, req ports.RestoreRequest) (ports.RouteChange, error) {
	want := req.Previous.Provider
	return t.apply(ctx, "restore", req.Route, req.Key, func(st *state, r *Route, now time.Time) (ports.RouteChange, error) {
		if !slices.Contains(r.Providers, want) {
			return ports.RouteChange{}, ports.Permanentf(
				"cannot restore route %s to %s: it is no longer one of the route's providers (%s); switch the route by hand",
				r.Route, want, strings.Join(r.Providers, ", "))
		}
		// A provider saved here by a switch of an older quench stays: that switch's own
		// undo (carrying no state) still needs it.
		if r.Provider == want {
			return ports.RouteChange{Route: r.Route, From: want, To: want, Version: r.Version, NoOp: true, At: now,
				Note: fmt.Sprintf("route %s is already back on %s", r.Route, want)}, nil
		}
		var note string
		if req.SwitchedTo != "" && r.Provider != req.SwitchedTo {
			note = fmt.Sprintf("route %s was changed to %s by %s after this incident switched it to %s; restored to %s anyway",
				r.Route, r.Provider, orSomeoneElse(r.UpdatedBy), req.SwitchedTo, want)
		}
		from := r.Provider
		t.set(st, r, want, req.Holder, now)
		return ports.RouteChange{Route: r.Route, From: from, To: want, Version: r.Version, Note: note, At: now}, nil
	})
}

var _ ports.RouteReader = (*Table)(nil)
