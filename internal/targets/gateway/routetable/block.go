package routetable

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/ports"
)

// maxKeyLen bounds a blocked key: agent keys are identifiers, not documents.
const maxKeyLen = 200

// Block adds req.AgentKey to the route's blocked keys (GET /v1/routes shows them as
// blocked_keys; apps refuse requests of those keys). The block belongs to req.Holder.
func (t *Table) Block(ctx context.Context, req ports.BlockRequest) (ports.BlockChange, error) {
	if err := checkBlock(req); err != nil {
		return ports.BlockChange{}, err
	}
	rec, err := t.applyOp(ctx, "block", req.Route, req.Key, func(st *state, r *Route, now time.Time) (opRecord, error) {
		ch := ports.BlockChange{Route: r.Route, AgentKey: req.AgentKey, Blocked: true, At: now}
		if holder, ok := st.Blocks[r.Route][req.AgentKey]; ok {
			ch.NoOp, ch.Version = true, r.Version
			ch.Note = fmt.Sprintf("key %s is already blocked on route %s (by %s): nothing changed", req.AgentKey, r.Route, holder)
			return opRecord{Block: &ch}, nil
		}
		if st.Blocks == nil {
			st.Blocks = map[string]map[string]string{}
		}
		if st.Blocks[r.Route] == nil {
			st.Blocks[r.Route] = map[string]string{}
		}
		st.Blocks[r.Route][req.AgentKey] = req.Holder
		t.setBlocked(st, r, req.Holder, now)
		ch.Version = r.Version
		return opRecord{Block: &ch}, nil
	})
	return blockResult(rec), err
}

// Unblock lifts req.Holder's block of req.AgentKey. A key blocked by another incident (or
// not blocked) is left as it is, and the change says why.
func (t *Table) Unblock(ctx context.Context, req ports.BlockRequest) (ports.BlockChange, error) {
	if err := checkBlock(req); err != nil {
		return ports.BlockChange{}, err
	}
	rec, err := t.applyOp(ctx, "unblock", req.Route, req.Key, func(st *state, r *Route, now time.Time) (opRecord, error) {
		ch := ports.BlockChange{Route: r.Route, AgentKey: req.AgentKey, At: now, Version: r.Version}
		holder, ok := st.Blocks[r.Route][req.AgentKey]
		switch {
		case !ok:
			ch.NoOp = true
			ch.Note = fmt.Sprintf("key %s is not blocked on route %s: nothing to unblock", req.AgentKey, r.Route)
			return opRecord{Block: &ch}, nil
		case holder != req.Holder:
			ch.NoOp, ch.Blocked = true, true
			ch.Note = fmt.Sprintf("key %s on route %s was blocked by %s, not this incident: left blocked", req.AgentKey, r.Route, holder)
			return opRecord{Block: &ch}, nil
		}
		delete(st.Blocks[r.Route], req.AgentKey)
		if len(st.Blocks[r.Route]) == 0 {
			delete(st.Blocks, r.Route)
		}
		t.setBlocked(st, r, req.Holder, now)
		ch.Version = r.Version
		return opRecord{Block: &ch}, nil
	})
	return blockResult(rec), err
}

func blockResult(rec opRecord) ports.BlockChange {
	if rec.Block == nil {
		return ports.BlockChange{}
	}
	return *rec.Block
}

// setBlocked rewrites the route's visible blocked list from st.Blocks and bumps versions,
// so a polling app's ETag changes.
func (t *Table) setBlocked(st *state, r *Route, by string, now time.Time) {
	keys := make([]string, 0, len(st.Blocks[r.Route]))
	for k := range st.Blocks[r.Route] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) == 0 {
		keys = nil
	}
	r.BlockedKeys = keys
	st.Version++
	st.UpdatedAt = now
	r.Version, r.UpdatedAt, r.UpdatedBy = st.Version, now, by
}

func checkBlock(req ports.BlockRequest) error {
	if err := checkRequest(req.Route, req.Holder, req.Key); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(req.AgentKey) == "":
		return ports.Permanentf("no agent key given to block on route %s", req.Route)
	case len(req.AgentKey) > maxKeyLen || strings.ContainsAny(req.AgentKey, "\n\r\t"):
		return ports.Permanentf("agent key %.40q... is not a key: at most %d characters, one line", req.AgentKey, maxKeyLen)
	}
	return nil
}

var _ ports.KeyBlocker = (*Table)(nil)
