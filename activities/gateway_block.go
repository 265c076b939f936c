package activities

import (
	"context"
	"fmt"

	"github.com/quench-dev/quench/internal/ports"
)

func (a *GatewayActivities) blocker() (ports.KeyBlocker, error) {
	if err := a.ready(); err != nil {
		return nil, err
	}
	b, ok := a.Gateway.(ports.KeyBlocker)
	if why := ports.GatewayCannot(a.Gateway, ports.CapBlockKey); !ok || why != "" {
		if why == "" {
			why = fmt.Sprintf("the configured gateway (%T) cannot block an agent key", a.Gateway)
		}
		return nil, notConfigured(why + "; quench dev's embedded routing table and LiteLLM can, or revoke the key at its provider by hand")
	}
	return b, nil
}

// blockRequest reads the route and key params shared by gateway.block and gateway.unblock.
func blockRequest(action string, in StepInput) (ports.BlockRequest, error) {
	p := paramsOf(action, in)
	route, err := p.required("route", "the route the key calls, e.g. chat")
	if err != nil {
		return ports.BlockRequest{}, err
	}
	key, err := p.required("key", "the agent or API key to refuse, e.g. the alert's agent label")
	if err != nil {
		return ports.BlockRequest{}, err
	}
	id, err := identityOf(action, in)
	if err != nil {
		return ports.BlockRequest{}, err
	}
	return ports.BlockRequest{Route: route, AgentKey: key, Holder: id.holder, Key: id.key}, nil
}

func blockUndoKey(route, key string) string { return "gateway-block/" + route + "/" + key }

// Block makes the gateway refuse one agent key on a route (gateway.block) and registers
// the unblock as its undo.
func (a *GatewayActivities) Block(ctx context.Context, in StepInput) (StepResult, error) {
	b, err := a.blocker()
	if err != nil {
		return StepResult{}, err
	}
	req, err := blockRequest(ActionGatewayBlock, in)
	if err != nil {
		return StepResult{}, err
	}
	return withHeartbeat(ctx, func(ctx context.Context) (StepResult, error) {
		ch, err := b.Block(ctx, req)
		if err != nil {
			return StepResult{}, classify(ActionGatewayBlock, err)
		}
		res := StepResult{Outputs: map[string]any{"route": ch.Route, "key": ch.AgentKey, "blocked": ch.Blocked}, NoOp: ch.NoOp}
		if ch.NoOp {
			res.Summary = ch.Note
			return res, nil
		}
		res.Summary = fmt.Sprintf("key %s blocked on route %s (version %d)", ch.AgentKey, ch.Route, ch.Version)
		if ch.Note != "" {
			res.Summary += "; " + ch.Note
		}
		res.Undo = &UndoAction{
			Key:         blockUndoKey(ch.Route, ch.AgentKey),
			Action:      ActionGatewayUnblock,
			Params:      map[string]string{"route": ch.Route, "key": ch.AgentKey},
			Description: fmt.Sprintf("unblock key %s on route %s", ch.AgentKey, ch.Route),
		}
		return res, nil
	})
}

// Unblock lifts this incident's block of an agent key (gateway.unblock).
func (a *GatewayActivities) Unblock(ctx context.Context, in StepInput) (StepResult, error) {
	b, err := a.blocker()
	if err != nil {
		return StepResult{}, err
	}
	req, err := blockRequest(ActionGatewayUnblock, in)
	if err != nil {
		return StepResult{}, err
	}
	return withHeartbeat(ctx, func(ctx context.Context) (StepResult, error) {
		ch, err := b.Unblock(ctx, req)
		if err != nil {
			return StepResult{}, classify(ActionGatewayUnblock, err)
		}
		res := StepResult{
			Outputs: map[string]any{"route": ch.Route, "key": ch.AgentKey, "blocked": ch.Blocked},
			Clears:  []string{blockUndoKey(req.Route, req.AgentKey)},
			NoOp:    ch.NoOp,
		}
		if ch.NoOp {
			res.Summary = ch.Note
			return res, nil
		}
		res.Summary = fmt.Sprintf("key %s unblocked on route %s (version %d)", ch.AgentKey, ch.Route, ch.Version)
		return res, nil
	})
}
