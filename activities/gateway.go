package activities

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/quench-dev/quench/internal/ports"
)

// GatewayActivities fail LLM routes over to another provider and back.
type GatewayActivities struct {
	Gateway ports.Gateway
}

func (a *GatewayActivities) ready() error {
	if a.Gateway == nil {
		return notConfigured("no gateway configured: quench dev uses the embedded routing table; for `quench worker` configure a gateway (routes) in the config file")
	}
	return nil
}

// Switch points a route at another provider (gateway.switch) and registers the restore as
// its undo.
func (a *GatewayActivities) Switch(ctx context.Context, in StepInput) (StepResult, error) {
	if err := a.ready(); err != nil {
		return StepResult{}, err
	}
	p := paramsOf(ActionGatewaySwitch, in)
	route, err := p.required("route", "the route apps read, e.g. chat")
	if err != nil {
		return StepResult{}, err
	}
	to, err := p.required("to", "a provider of the route, or fallback for the next one")
	if err != nil {
		return StepResult{}, err
	}
	id, err := identityOf(ActionGatewaySwitch, in)
	if err != nil {
		return StepResult{}, err
	}
	prev, err := previousOf(ActionGatewaySwitch, in)
	if err != nil {
		return StepResult{}, err
	}
	return withHeartbeat(ctx, func(ctx context.Context) (StepResult, error) {
		change, err := a.Gateway.Switch(ctx, ports.SwitchRequest{Route: route, To: to, Holder: id.holder, Key: id.key, Previous: prev})
		if err != nil {
			return StepResult{}, classify(ActionGatewaySwitch, err)
		}
		res := StepResult{
			Outputs: map[string]any{"route": change.Route, "from": change.From, "to": change.To},
			NoOp:    change.NoOp,
		}
		if change.NoOp {
			res.Summary = fmt.Sprintf("route %s already on %s: nothing switched", change.Route, change.To)
			if change.Note != "" {
				res.Summary = change.Note
			}
			return res, nil
		}
		res.Summary = fmt.Sprintf("route %s switched from %s to %s", change.Route, change.From, change.To)
		if change.Version > 0 {
			res.Summary += fmt.Sprintf(" (version %d)", change.Version)
		}
		undo := map[string]string{"route": change.Route}
		if prev != nil {
			// The state the switch replaced travels with the undo (and, through the
			// workflow, to the fail-back step), so any worker can put it back.
			undo["previous"] = in.Params["previous"]
			undo["switched_to"] = change.To
			res.Outputs["previous"] = in.Params["previous"]
			if prev.KeptLocally != "" {
				res.Summary += "; " + prev.KeptLocally
			}
		}
		res.Undo = &UndoAction{
			Key:         "gateway/" + change.Route,
			Action:      ActionGatewayRestore,
			Params:      undo,
			Description: fmt.Sprintf("point route %s back at %s", change.Route, change.From),
		}
		return res, nil
	})
}

// Restore puts back the provider this incident's switch replaced (gateway.restore).
func (a *GatewayActivities) Restore(ctx context.Context, in StepInput) (StepResult, error) {
	if err := a.ready(); err != nil {
		return StepResult{}, err
	}
	p := paramsOf(ActionGatewayRestore, in)
	route, err := p.required("route", "the route to restore, e.g. chat")
	if err != nil {
		return StepResult{}, err
	}
	id, err := identityOf(ActionGatewayRestore, in)
	if err != nil {
		return StepResult{}, err
	}
	// Without `previous` (an undo registered by an older quench, a step whose switch did
	// not carry it) the gateway falls back to the state it saved in its own data dir.
	prev, err := previousOf(ActionGatewayRestore, in)
	if err != nil {
		return StepResult{}, err
	}
	req := ports.RestoreRequest{Route: route, Holder: id.holder, Key: id.key, Previous: prev, SwitchedTo: in.Params["switched_to"]}
	return withHeartbeat(ctx, func(ctx context.Context) (StepResult, error) {
		change, err := a.Gateway.Restore(ctx, req)
		if err != nil {
			return StepResult{}, classify(ActionGatewayRestore, err)
		}
		res := StepResult{
			Outputs: map[string]any{"route": change.Route, "provider": change.To},
			Clears:  []string{"gateway/" + route},
			NoOp:    change.NoOp,
		}
		switch {
		case change.NoOp && change.Note != "":
			res.Summary = change.Note
		case change.NoOp:
			res.Summary = fmt.Sprintf("route %s: nothing to restore", route)
		default:
			res.Summary = fmt.Sprintf("route %s restored from %s to %s", change.Route, change.From, change.To)
			if change.Version > 0 {
				res.Summary += fmt.Sprintf(" (version %d)", change.Version)
			}
			if change.Note != "" {
				res.Summary += "; " + change.Note
			}
		}
		return res, nil
	})
}

// Read returns the route's state before gateway.switch changes it (gateway.read): the
// workflow runs it first, so what the switch replaces is in history before the gateway is
// touched, and hands it to the switch as its `previous` param.
func (a *GatewayActivities) Read(ctx context.Context, in StepInput) (ports.RouteState, error) {
	if err := a.ready(); err != nil {
		return ports.RouteState{}, err
	}
	route, err := paramsOf(ActionGatewaySwitch, in).required("route", "the route apps read, e.g. chat")
	if err != nil {
		return ports.RouteState{}, err
	}
	reader, ok := a.Gateway.(ports.RouteReader)
	if !ok {
		return ports.RouteState{KeptLocally: "this gateway cannot read a route's state for history; it keeps it itself"}, nil
	}
	return withHeartbeat(ctx, func(ctx context.Context) (ports.RouteState, error) {
		rs, err := reader.ReadRoute(ctx, route)
		if err != nil {
			return ports.RouteState{}, classify(GatewayReadActivity, err)
		}
		return rs, nil
	})
}

// EncodeRouteState is a RouteState as the `previous` param of gateway.switch and
// gateway.restore carry it.
func EncodeRouteState(rs ports.RouteState) (string, error) {
	b, err := json.Marshal(rs)
	if err != nil {
		return "", err
	}
	if len(b) > 2*ports.MaxRouteStateBytes {
		return "", fmt.Errorf("route state of %d bytes is too big for history", len(b))
	}
	return string(b), nil
}

// previousOf decodes the step's `previous` param; nil when absent.
func previousOf(action string, in StepInput) (*ports.RouteState, error) {
	raw := in.Params["previous"]
	if raw == "" {
		return nil, nil
	}
	if len(raw) > 2*ports.MaxRouteStateBytes {
		return nil, invalidParams(action, "param \"previous\" is %d bytes; it is the route state gateway.read returned, at most %d bytes", len(raw), 2*ports.MaxRouteStateBytes)
	}
	var rs ports.RouteState
	if err := json.Unmarshal([]byte(raw), &rs); err != nil || rs.Provider == "" {
		return nil, invalidParams(action, "param \"previous\" is not a route state from gateway.read (a JSON object with a provider); leave it out to use the gateway's saved state")
	}
	return &rs, nil
}
