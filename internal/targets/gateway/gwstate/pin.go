package gwstate

import (
	"context"
	"fmt"

	"github.com/quench-dev/quench/internal/ports"
)

// PinRemote is a Remote whose gateway can pin a model to a dated version. The state read
// before the pin travels in the incident's history (ports.PinState), so Pin is a
// compare-and-set against it and Unpin writes it back: no record of its own.
type PinRemote interface {
	// ReadPin reads what model resolves to on route, with the exact gateway state a
	// restore writes back in State.
	ReadPin(ctx context.Context, route, model string) (ports.PinState, error)
	// PlanPin is the state that pins model to `to`, starting from cur.
	PlanPin(route string, cur ports.PinState, to string) (ports.PinState, error)
	// WritePin changes the route from cur to want (only what differs).
	WritePin(ctx context.Context, route string, cur, want ports.PinState) error
	// SamePin reports whether got is want (for compare-and-set and read-back).
	SamePin(got, want ports.PinState) bool
}

// Cannot says what this gateway cannot do (ports.CapabilityReporter): its Remote's own
// word when it reports one, else what its Remote implements.
func (g *Gateway) Cannot(c ports.Capability) string {
	if r, ok := g.remote.(ports.CapabilityReporter); ok {
		if why := r.Cannot(c); why != "" {
			return why
		}
	}
	var ok bool
	switch c {
	case ports.CapSwitch:
		ok = true
	case ports.CapBlockKey:
		_, ok = g.remote.(KeyRemote)
	case ports.CapPinModel:
		_, ok = g.remote.(PinRemote)
	default:
		return fmt.Sprintf("unknown gateway capability %q", c)
	}
	if ok {
		return ""
	}
	return fmt.Sprintf("%s cannot %s through quench", g.name, c.Verb())
}

func (g *Gateway) pinRemote() (PinRemote, error) {
	pr, ok := g.remote.(PinRemote)
	if why := g.Cannot(ports.CapPinModel); !ok || why != "" {
		return nil, ports.Permanentf("%s", why)
	}
	return pr, nil
}

// ReadPin reads the route's model before a pin (ports.ModelPinner).
func (g *Gateway) ReadPin(ctx context.Context, route, model string) (ports.PinState, error) {
	pr, err := g.pinRemote()
	if err != nil {
		return ports.PinState{}, err
	}
	if route == "" || model == "" {
		return ports.PinState{}, ports.Permanentf("no route or model given to read a pin")
	}
	ps, err := pr.ReadPin(ctx, route, model)
	if err != nil {
		return ports.PinState{}, err
	}
	if len(ps.State) > ports.MaxRouteStateBytes {
		return ports.PinState{}, ports.Permanentf("the state of model %s on route %s is %d bytes, more than the %d that go into history: pin it on %s by hand",
			model, route, len(ps.State), ports.MaxRouteStateBytes, g.name)
	}
	return ps, nil
}

// Pin pins req.Model to req.To if the route is still as req.Previous found it; a retry that
// finds the pin set answers the same change.
func (g *Gateway) Pin(ctx context.Context, req ports.PinRequest) (ports.PinChange, error) {
	pr, prev, err := g.pinStart(req)
	if err != nil {
		return ports.PinChange{}, err
	}
	if req.To == "" || req.To == req.Model {
		return ports.PinChange{}, ports.Permanentf("give the dated version to pin model %s to, e.g. %s-2024-08-06", req.Model, req.Model)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	want, err := pr.PlanPin(req.Route, prev, req.To)
	if err != nil {
		return ports.PinChange{}, err
	}
	cur, err := pr.ReadPin(ctx, req.Route, req.Model)
	if err != nil {
		return ports.PinChange{}, err
	}
	ch := ports.PinChange{Route: req.Route, Model: req.Model, From: prev.Pinned, To: want.Pinned, At: g.now()}
	switch {
	case pr.SamePin(prev, want):
		ch.NoOp = true
		ch.Note = fmt.Sprintf("model %s on route %s is already pinned to %s: nothing changed", req.Model, req.Route, req.To)
		return ch, nil
	case pr.SamePin(cur, want):
		return ch, nil // set by an attempt whose result was lost
	case !pr.SamePin(cur, prev):
		return ports.PinChange{}, ports.Permanentf("model %s on route %s changed on %s between reading it and pinning it (now %s); nothing pinned: look at the route and start the pin again",
			req.Model, req.Route, g.name, orAlias(cur.Pinned))
	}
	if err := g.writePin(ctx, pr, req, cur, want); err != nil {
		return ports.PinChange{}, err
	}
	return ch, nil
}

// Unpin writes back exactly req.Previous.
func (g *Gateway) Unpin(ctx context.Context, req ports.PinRequest) (ports.PinChange, error) {
	pr, prev, err := g.pinStart(req)
	if err != nil {
		return ports.PinChange{}, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	cur, err := pr.ReadPin(ctx, req.Route, req.Model)
	if err != nil {
		return ports.PinChange{}, err
	}
	ch := ports.PinChange{Route: req.Route, Model: req.Model, From: cur.Pinned, To: prev.Pinned, At: g.now()}
	if pr.SamePin(cur, prev) {
		ch.NoOp = true
		ch.Note = fmt.Sprintf("model %s on route %s is already back on %s", req.Model, req.Route, orAlias(prev.Pinned))
		return ch, nil
	}
	if req.PinnedTo != "" && cur.Pinned != req.PinnedTo {
		ch.Note = fmt.Sprintf("model %s on route %s was changed on %s to %s after this incident pinned it to %s; restored anyway",
			req.Model, req.Route, g.name, orAlias(cur.Pinned), req.PinnedTo)
	}
	if err := g.writePin(ctx, pr, req, cur, prev); err != nil {
		return ports.PinChange{}, err
	}
	return ch, nil
}

func (g *Gateway) pinStart(req ports.PinRequest) (PinRemote, ports.PinState, error) {
	if err := checkRequest(req.Route, req.Holder, req.Key); err != nil {
		return nil, ports.PinState{}, err
	}
	pr, err := g.pinRemote()
	if err != nil {
		return nil, ports.PinState{}, err
	}
	if req.Previous == nil || req.Previous.Model != req.Model || req.Previous.State == "" {
		return nil, ports.PinState{}, ports.Permanentf("route %s: no state of model %s read before the change; the workflow reads it first (gateway.pin_model)", req.Route, req.Model)
	}
	return pr, *req.Previous, nil
}

// writePin writes want, reads it back, and puts cur back when the gateway shows something
// else: a pin that did not take must not be left half done.
func (g *Gateway) writePin(ctx context.Context, pr PinRemote, req ports.PinRequest, cur, want ports.PinState) error {
	werr := pr.WritePin(ctx, req.Route, cur, want)
	got, rerr := pr.ReadPin(ctx, req.Route, req.Model)
	if rerr != nil {
		if werr != nil {
			return fmt.Errorf("%w; reading model %s back failed too: %v", werr, req.Model, rerr)
		}
		return fmt.Errorf("reading model %s on route %s back from %s after the change failed: %w", req.Model, req.Route, g.name, rerr)
	}
	if werr == nil && pr.SamePin(got, want) {
		return nil
	}
	cause := werr
	if cause == nil {
		cause = fmt.Errorf("%s did not take the change of model %s on route %s: it reads %s, not %s", g.name, req.Model, req.Route, orAlias(got.Pinned), orAlias(want.Pinned))
	}
	if pr.SamePin(got, cur) {
		return cause
	}
	if err := pr.WritePin(ctx, req.Route, got, cur); err != nil {
		return fmt.Errorf("%w; putting model %s back as it was failed too: %v (check it on %s by hand)", cause, req.Model, err, g.name)
	}
	return fmt.Errorf("%w; model %s was put back as it was", cause, req.Model)
}

func orAlias(pinned string) string {
	if pinned == "" {
		return "the unpinned alias"
	}
	return pinned
}

var (
	_ ports.ModelPinner        = (*Gateway)(nil)
	_ ports.CapabilityReporter = (*Gateway)(nil)
)
