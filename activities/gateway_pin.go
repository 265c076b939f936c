package activities

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/quench-dev/quench/internal/ports"
)

// pinner returns the gateway's ModelPinner, or a not-configured error that says why the
// gateway cannot pin (a start refuses such a runbook before it runs; this is the last word
// for incidents started against another configuration).
func (a *GatewayActivities) pinner() (ports.ModelPinner, error) {
	if err := a.ready(); err != nil {
		return nil, err
	}
	p, ok := a.Gateway.(ports.ModelPinner)
	if why := ports.GatewayCannot(a.Gateway, ports.CapPinModel); !ok || why != "" {
		return nil, notConfigured(why + " (gateway.pin_model)")
	}
	return p, nil
}

// pinParams reads the route and model params shared by the pin, its read and its undo.
func pinParams(action string, in StepInput) (route, model string, err error) {
	p := paramsOf(action, in)
	if route, err = p.required("route", "the route apps read, e.g. chat"); err != nil {
		return "", "", err
	}
	if model, err = p.required("model", "the model alias apps ask for, e.g. gpt-4o"); err != nil {
		return "", "", err
	}
	return route, model, nil
}

func pinUndoKey(route, model string) string { return "gateway-pin/" + route + "/" + model }

// ReadPin returns the route's model before gateway.pin_model changes it (gateway.read_pin):
// the workflow runs it first and hands the state to the pin as its `previous` param, so
// what the pin replaces is in history before the gateway is touched.
func (a *GatewayActivities) ReadPin(ctx context.Context, in StepInput) (ports.PinState, error) {
	p, err := a.pinner()
	if err != nil {
		return ports.PinState{}, err
	}
	route, model, err := pinParams(ActionGatewayPinModel, in)
	if err != nil {
		return ports.PinState{}, err
	}
	return withHeartbeat(ctx, func(ctx context.Context) (ports.PinState, error) {
		ps, err := p.ReadPin(ctx, route, model)
		if err != nil {
			return ports.PinState{}, classify(GatewayReadPinActivity, err)
		}
		return ps, nil
	})
}

// EncodePinState is a PinState as the `previous` param of the pin and its undo carry it.
func EncodePinState(ps ports.PinState) (string, error) {
	b, err := json.Marshal(ps)
	if err != nil {
		return "", err
	}
	if len(b) > 2*ports.MaxRouteStateBytes {
		return "", fmt.Errorf("model state of %d bytes is too big for history", len(b))
	}
	return string(b), nil
}

func pinPreviousOf(action, model string, in StepInput) (*ports.PinState, error) {
	raw := in.Params["previous"]
	if raw == "" {
		return nil, invalidParams(action, "param \"previous\" is missing: the workflow reads the route's model (gateway.read_pin) before the pin; an undo carries what the pin read")
	}
	if len(raw) > 2*ports.MaxRouteStateBytes {
		return nil, invalidParams(action, "param \"previous\" is %d bytes, at most %d", len(raw), 2*ports.MaxRouteStateBytes)
	}
	var ps ports.PinState
	if err := json.Unmarshal([]byte(raw), &ps); err != nil || ps.Model != model {
		return nil, invalidParams(action, "param \"previous\" is not the state gateway.read_pin returned for model %s", model)
	}
	return &ps, nil
}

// PinModel pins a route's model to a dated version (gateway.pin_model) and registers the
// unpin, carrying the state it replaced, as its undo.
func (a *GatewayActivities) PinModel(ctx context.Context, in StepInput) (StepResult, error) {
	p, err := a.pinner()
	if err != nil {
		return StepResult{}, err
	}
	route, model, err := pinParams(ActionGatewayPinModel, in)
	if err != nil {
		return StepResult{}, err
	}
	to, err := paramsOf(ActionGatewayPinModel, in).required("to", "the dated version, e.g. gpt-4o-2024-08-06")
	if err != nil {
		return StepResult{}, err
	}
	id, err := identityOf(ActionGatewayPinModel, in)
	if err != nil {
		return StepResult{}, err
	}
	prev, err := pinPreviousOf(ActionGatewayPinModel, model, in)
	if err != nil {
		return StepResult{}, err
	}
	return withHeartbeat(ctx, func(ctx context.Context) (StepResult, error) {
		ch, err := p.Pin(ctx, ports.PinRequest{Route: route, Model: model, To: to, Holder: id.holder, Key: id.key, Previous: prev})
		if err != nil {
			return StepResult{}, classify(ActionGatewayPinModel, err)
		}
		res := StepResult{
			Outputs: map[string]any{"route": ch.Route, "model": ch.Model, "from": orAliasName(ch.From, model), "to": ch.To},
			NoOp:    ch.NoOp,
		}
		if ch.NoOp {
			res.Summary = ch.Note
			return res, nil
		}
		res.Summary = fmt.Sprintf("model %s on route %s pinned to %s (was %s)", model, ch.Route, ch.To, orAliasName(ch.From, model))
		if ch.Version > 0 {
			res.Summary += fmt.Sprintf(" (version %d)", ch.Version)
		}
		res.Undo = &UndoAction{
			Key:    pinUndoKey(ch.Route, model),
			Action: ActionGatewayUnpin,
			// The state the pin replaced travels with the undo, so any worker puts it back.
			Params:      map[string]string{"route": ch.Route, "model": model, "previous": in.Params["previous"], "pinned_to": ch.To},
			Description: fmt.Sprintf("put model %s on route %s back on %s", model, ch.Route, orAliasName(ch.From, model)),
		}
		return res, nil
	})
}

// UnpinModel puts back the route's model as the incident's pin found it (gateway.unpin_model).
func (a *GatewayActivities) UnpinModel(ctx context.Context, in StepInput) (StepResult, error) {
	p, err := a.pinner()
	if err != nil {
		return StepResult{}, err
	}
	route, model, err := pinParams(ActionGatewayUnpin, in)
	if err != nil {
		return StepResult{}, err
	}
	id, err := identityOf(ActionGatewayUnpin, in)
	if err != nil {
		return StepResult{}, err
	}
	prev, err := pinPreviousOf(ActionGatewayUnpin, model, in)
	if err != nil {
		return StepResult{}, err
	}
	req := ports.PinRequest{Route: route, Model: model, Holder: id.holder, Key: id.key, Previous: prev, PinnedTo: in.Params["pinned_to"]}
	return withHeartbeat(ctx, func(ctx context.Context) (StepResult, error) {
		ch, err := p.Unpin(ctx, req)
		if err != nil {
			return StepResult{}, classify(ActionGatewayUnpin, err)
		}
		res := StepResult{
			Outputs: map[string]any{"route": ch.Route, "model": model, "pinned": ch.To},
			Clears:  []string{pinUndoKey(route, model)},
			NoOp:    ch.NoOp,
		}
		switch {
		case ch.NoOp:
			res.Summary = ch.Note
		default:
			res.Summary = fmt.Sprintf("model %s on route %s back on %s (was %s)", model, ch.Route, orAliasName(ch.To, model), orAliasName(ch.From, model))
			if ch.Note != "" {
				res.Summary += "; " + ch.Note
			}
		}
		return res, nil
	})
}

// orAliasName is a pin in words: the dated version, or the alias itself when unpinned.
func orAliasName(pinned, alias string) string {
	if pinned == "" {
		return alias + " (unpinned)"
	}
	return pinned
}
