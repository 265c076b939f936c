package activities

import (
	"context"
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
	return withHeartbeat(ctx, func(ctx context.Context) (StepResult, error) {
		change, err := a.Gateway.Switch(ctx, ports.SwitchRequest{Route: route, To: to, Holder: id.holder, Key: id.key})
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
		res.Summary = fmt.Sprintf("route %s switched from %s to %s (version %d)", change.Route, change.From, change.To, change.Version)
		res.Undo = &UndoAction{
			Key:         "gateway/" + change.Route,
			Action:      ActionGatewayRestore,
			Params:      map[string]string{"route": change.Route},
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
	return withHeartbeat(ctx, func(ctx context.Context) (StepResult, error) {
		change, err := a.Gateway.Restore(ctx, ports.RestoreRequest{Route: route, Holder: id.holder, Key: id.key})
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
			res.Summary = fmt.Sprintf("route %s restored from %s to %s (version %d)", change.Route, change.From, change.To, change.Version)
			if change.Note != "" {
				res.Summary += "; " + change.Note
			}
		}
		return res, nil
	})
}
