package gwstate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/quench-dev/quench/internal/ports"
)

// KeyRemote is a Remote whose gateway can block one API key (LiteLLM's virtual keys). The
// procedure (Gateway.Block, Gateway.Unblock) owns the records: what each incident found
// before it blocked a key, written before the gateway is touched, so a retry on any worker
// knows whether the block is the incident's own and the unblock writes back exactly that.
type KeyRemote interface {
	// ResolveKey turns the step's key param into the gateway's reference of the key, which
	// is never the secret itself; it refuses (Permanent) what names no key.
	ResolveKey(ctx context.Context, agentKey string) (ref string, err error)
	// ReadKeyBlocked returns the key's blocked flag exactly as the gateway has it (nil:
	// absent).
	ReadKeyBlocked(ctx context.Context, ref string) (json.RawMessage, error)
	// WriteKeyBlocked sets it (nil: absent again).
	WriteKeyBlocked(ctx context.Context, ref string, blocked json.RawMessage) error
}

// keyRoute is the records' route of a key: keys are gateway-wide, not per route.
func keyRoute(ref string) string { return "key:" + ref }

var jsonTrue = json.RawMessage("true")

func isTrue(v json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(v), jsonTrue) }

// absentIfNull makes a JSON null (how a saved absent flag reads back) absent.
func absentIfNull(v json.RawMessage) json.RawMessage {
	if t := bytes.TrimSpace(v); len(t) == 0 || string(t) == "null" {
		return nil
	}
	return v
}

func (g *Gateway) keyRemote() (KeyRemote, error) {
	kr, ok := g.remote.(KeyRemote)
	if !ok || g.Cannot(ports.CapBlockKey) != "" {
		return nil, ports.Permanentf("%s", g.Cannot(ports.CapBlockKey))
	}
	return kr, nil
}

// Block makes the gateway refuse req.AgentKey (ports.KeyBlocker). A key already blocked by
// someone else is left as it is and the change says so (no undo then).
func (g *Gateway) Block(ctx context.Context, req ports.BlockRequest) (ports.BlockChange, error) {
	return g.keyChange(ctx, "block", req)
}

// Unblock writes back the flag req.Holder found before it blocked the key; a key it did not
// block is left as it is.
func (g *Gateway) Unblock(ctx context.Context, req ports.BlockRequest) (ports.BlockChange, error) {
	return g.keyChange(ctx, "unblock", req)
}

func (g *Gateway) keyChange(ctx context.Context, opName string, req ports.BlockRequest) (ports.BlockChange, error) {
	if err := checkRequest(req.Route, req.Holder, req.Key); err != nil {
		return ports.BlockChange{}, err
	}
	kr, err := g.keyRemote()
	if err != nil {
		return ports.BlockChange{}, err
	}
	ref, err := kr.ResolveKey(ctx, req.AgentKey)
	if err != nil {
		return ports.BlockChange{}, err
	}
	route := keyRoute(ref)
	g.mu.Lock()
	defer g.mu.Unlock()
	var res ports.BlockChange
	err = g.rec.update(ctx, req.Holder, route, req.Key, func(st *State, save func() error) error {
		if op, ok := st.Ops[req.Key]; ok && !op.Pending {
			if op.Op != opName || op.Route != route || op.Block == nil {
				return ports.Permanentf("idempotency key %s was already used to %s %s, not to %s key %s", req.Key, op.Op, op.Route, opName, req.AgentKey)
			}
			res = *op.Block
			return nil
		}
		cur, err := kr.ReadKeyBlocked(ctx, ref)
		if err != nil {
			return err
		}
		cur = absentIfNull(cur)
		now := g.now()
		ch := ports.BlockChange{Route: req.Route, AgentKey: req.AgentKey, At: now, Version: st.Version}
		sv, had := st.Saved[req.Holder][route]
		pending, wasPending := st.Ops[req.Key]
		record := func(ch ports.BlockChange) error {
			st.Ops[req.Key] = Op{Op: opName, Route: route, Block: &ch, At: now}
			res = ch
			return save()
		}
		var want json.RawMessage
		if opName == "block" {
			switch {
			case isTrue(cur) && had:
				// This incident's earlier attempt blocked it and stopped before recording.
				st.Version++
				ch.Blocked, ch.Version = true, st.Version
				return record(ch)
			case isTrue(cur):
				ch.Blocked, ch.NoOp = true, true
				ch.Note = fmt.Sprintf("key %s is already blocked on %s (not by this incident): nothing changed", req.AgentKey, g.name)
				return record(ch)
			}
			if !had {
				if st.Saved[req.Holder] == nil {
					st.Saved[req.Holder] = map[string]Saved{}
				}
				sv = Saved{State: cur, Provider: req.AgentKey, At: now}
				st.Saved[req.Holder][route] = sv
			}
			want = jsonTrue
		} else {
			if !had {
				ch.Blocked, ch.NoOp = isTrue(cur), true
				ch.Note = fmt.Sprintf("key %s was not blocked by this incident on %s: left as it is", req.AgentKey, g.name)
				return record(ch)
			}
			want = absentIfNull(sv.State)
			if bytes.Equal(cur, want) {
				delete(st.Saved[req.Holder], route)
				ch.Blocked = isTrue(cur)
				if wasPending && pending.Pending {
					// The earlier attempt wrote it and stopped before recording.
					st.Version++
					ch.Version = st.Version
				} else {
					ch.NoOp = true
					ch.Note = fmt.Sprintf("key %s is already back as it was before this incident on %s", req.AgentKey, g.name)
				}
				return record(ch)
			}
		}
		st.Ops[req.Key] = Op{Op: opName, Route: route, Pending: true, Want: want, At: now}
		if err := save(); err != nil { // before the gateway is touched
			return err
		}
		werr := kr.WriteKeyBlocked(ctx, ref, want)
		got, rerr := kr.ReadKeyBlocked(ctx, ref)
		if rerr != nil {
			// Nothing is known: the pending op and the saved flag stay for the retry.
			return fmt.Errorf("reading key %s back from %s: %w", req.AgentKey, g.name, rerr)
		}
		if werr == nil && !bytes.Equal(absentIfNull(got), want) {
			werr = fmt.Errorf("%s did not take the change of key %s: it reads blocked=%s", g.name, req.AgentKey, orAbsent(got))
		}
		if werr != nil {
			delete(st.Ops, req.Key)
			if opName == "block" && !had && !isTrue(got) {
				delete(st.Saved[req.Holder], route)
			}
			if serr := save(); serr != nil {
				return fmt.Errorf("%w (and recording that failed too: %v)", werr, serr)
			}
			return werr
		}
		if opName == "unblock" {
			delete(st.Saved[req.Holder], route)
		}
		st.Version++
		ch.Blocked, ch.Version = isTrue(want), st.Version
		if opName == "block" {
			ch.Note = fmt.Sprintf("%s blocks a key on every route, not only %s", g.name, req.Route)
		}
		return record(ch)
	})
	return res, err
}

func orAbsent(v json.RawMessage) string {
	if v = absentIfNull(v); v == nil {
		return "(absent)"
	}
	return string(v)
}

var _ ports.KeyBlocker = (*Gateway)(nil)
