package routetable

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/quench-dev/quench/internal/ports"
)

// maxModelLen bounds a model name: names like gpt-4o-2024-08-06, not documents.
const maxModelLen = 200

// Cannot says what the routing table cannot do: nothing, it does all three
// (ports.CapabilityReporter).
func (t *Table) Cannot(c ports.Capability) string { return Capabilities.Cannot(c) }

// ReadPin returns what model resolves to on route now, before a pin changes it.
func (t *Table) ReadPin(ctx context.Context, route, model string) (ports.PinState, error) {
	if err := checkModel("model", model); err != nil {
		return ports.PinState{}, err
	}
	s, err := t.snapshot(ctx)
	if err != nil {
		return ports.PinState{}, err
	}
	r, ok := s.route(route)
	if !ok {
		return ports.PinState{}, unknownRoute(route, s.names())
	}
	return ports.PinState{Model: model, Pinned: r.PinnedModels[model]}, nil
}

// Pin makes apps reading route ask for req.To whenever they want req.Model
// (GET /v1/routes shows it in pinned_models). It is a compare-and-set against
// req.Previous, read before it and in the incident's history: a retry on any process that
// finds the pin already set answers the same change.
func (t *Table) Pin(ctx context.Context, req ports.PinRequest) (ports.PinChange, error) {
	if err := checkPin(req, true); err != nil {
		return ports.PinChange{}, err
	}
	prev := req.Previous.Pinned
	rec, err := t.applyOp(ctx, "pin", req.Route, req.Key, func(c *change, r *row) (opRecord, error) {
		cur, holder, err := c.pinOf(r.name, req.Model)
		if err != nil {
			return opRecord{}, err
		}
		ch := ports.PinChange{Route: r.name, Model: req.Model, From: prev, To: req.To, At: c.now, Version: r.version}
		switch cur {
		case req.To:
			if prev == req.To {
				ch.NoOp = true
				ch.Note = fmt.Sprintf("model %s on route %s is already pinned to %s: nothing changed", req.Model, r.name, req.To)
			}
			// Otherwise an attempt whose result was lost set it: the same change.
			return opRecord{Pin: &ch}, nil
		case prev:
		default:
			return opRecord{}, ports.Permanentf("model %s on route %s changed from %s to %s (by %s) between reading it and pinning it; nothing pinned: look at the route and start the pin again",
				req.Model, r.name, orAlias(prev), orAlias(cur), orSomeoneElse(holder))
		}
		if err := c.setPin(r, req.Model, req.To, req.Holder); err != nil {
			return opRecord{}, err
		}
		ch.Version = r.version
		return opRecord{Pin: &ch}, nil
	})
	return pinResult(rec), err
}

// Unpin puts back exactly the pin req.Previous holds (none, or an older pin).
func (t *Table) Unpin(ctx context.Context, req ports.PinRequest) (ports.PinChange, error) {
	if err := checkPin(req, false); err != nil {
		return ports.PinChange{}, err
	}
	want := req.Previous.Pinned
	rec, err := t.applyOp(ctx, "unpin", req.Route, req.Key, func(c *change, r *row) (opRecord, error) {
		cur, holder, err := c.pinOf(r.name, req.Model)
		if err != nil {
			return opRecord{}, err
		}
		ch := ports.PinChange{Route: r.name, Model: req.Model, From: cur, To: want, At: c.now, Version: r.version}
		if cur == want {
			ch.NoOp = true
			ch.Note = fmt.Sprintf("model %s on route %s is already back on %s", req.Model, r.name, orAlias(want))
			return opRecord{Pin: &ch}, nil
		}
		if req.PinnedTo != "" && cur != req.PinnedTo {
			ch.Note = fmt.Sprintf("model %s on route %s was changed to %s by %s after this incident pinned it to %s; restored to %s anyway",
				req.Model, r.name, orAlias(cur), orSomeoneElse(holder), req.PinnedTo, orAlias(want))
		}
		if err := c.setPin(r, req.Model, want, req.Holder); err != nil {
			return opRecord{}, err
		}
		ch.Version = r.version
		return opRecord{Pin: &ch}, nil
	})
	return pinResult(rec), err
}

// pinOf reads model's pin on route ("" when none) and who set it.
func (c *change) pinOf(route, model string) (pinned, holder string, err error) {
	err = c.tx.QueryRow(c.ctx, `SELECT pinned, holder FROM routetable_pins WHERE route = ? AND model = ?`, route, model).Scan(&pinned, &holder)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", nil
	}
	return pinned, holder, err
}

// setPin pins model to pinned ("" removes the pin) and bumps the route's version.
func (c *change) setPin(r *row, model, pinned, by string) error {
	var err error
	if pinned == "" {
		err = c.exec(`DELETE FROM routetable_pins WHERE route = ? AND model = ?`, r.name, model)
	} else {
		err = c.exec(`INSERT INTO routetable_pins (route, model, pinned, holder) VALUES (?, ?, ?, ?)
			ON CONFLICT (route, model) DO UPDATE SET pinned = excluded.pinned, holder = excluded.holder`, r.name, model, pinned, by)
	}
	if err != nil {
		return err
	}
	return c.touch(r, by)
}

func pinResult(rec opRecord) ports.PinChange {
	if rec.Pin == nil {
		return ports.PinChange{}
	}
	return *rec.Pin
}

func orAlias(pinned string) string {
	if pinned == "" {
		return "the unpinned alias"
	}
	return pinned
}

func checkPin(req ports.PinRequest, pin bool) error {
	if err := checkRequest(req.Route, req.Holder, req.Key); err != nil {
		return err
	}
	if err := checkModel("model", req.Model); err != nil {
		return err
	}
	if pin {
		if err := checkModel("to", req.To); err != nil {
			return err
		}
		if req.To == req.Model {
			return ports.Permanentf("pinning model %s to itself changes nothing: give the dated version, e.g. %s-2024-08-06", req.Model, req.Model)
		}
	}
	if req.Previous == nil || req.Previous.Model != req.Model {
		return ports.Permanentf("route %s: no state of model %s read before the change; the workflow reads it first (gateway.pin_model)", req.Route, req.Model)
	}
	return nil
}

// checkModel refuses what cannot be a model name: empty, long, or with spaces or
// control characters.
func checkModel(param, v string) error {
	switch {
	case strings.TrimSpace(v) == "":
		return ports.Permanentf("no %s given: name the model, e.g. gpt-4o", param)
	case len(v) > maxModelLen || strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return ports.Permanentf("%s %.40q is not a model name: at most %d characters, no spaces or control characters", param, v, maxModelLen)
	}
	return nil
}

var (
	_ ports.ModelPinner        = (*Table)(nil)
	_ ports.CapabilityReporter = (*Table)(nil)
)

// Capabilities are what the routing table can do: everything.
var Capabilities = ports.StaticCapabilities{}
