package routetable

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

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
	rec, err := t.applyOp(ctx, "block", req.Route, req.Key, func(c *change, r *row) (opRecord, error) {
		ch := ports.BlockChange{Route: r.name, AgentKey: req.AgentKey, Blocked: true, At: c.now}
		holder, ok, err := c.blockHolder(r.name, req.AgentKey)
		if err != nil {
			return opRecord{}, err
		}
		if ok {
			ch.NoOp, ch.Version = true, r.version
			ch.Note = fmt.Sprintf("key %s is already blocked on route %s (by %s): nothing changed", req.AgentKey, r.name, holder)
			return opRecord{Block: &ch}, nil
		}
		if err := c.exec(`INSERT INTO routetable_blocks (route, agent_key, holder) VALUES (?, ?, ?)`, r.name, req.AgentKey, req.Holder); err != nil {
			return opRecord{}, err
		}
		if err := c.touch(r, req.Holder); err != nil {
			return opRecord{}, err
		}
		ch.Version = r.version
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
	rec, err := t.applyOp(ctx, "unblock", req.Route, req.Key, func(c *change, r *row) (opRecord, error) {
		ch := ports.BlockChange{Route: r.name, AgentKey: req.AgentKey, At: c.now, Version: r.version}
		holder, ok, err := c.blockHolder(r.name, req.AgentKey)
		switch {
		case err != nil:
			return opRecord{}, err
		case !ok:
			ch.NoOp = true
			ch.Note = fmt.Sprintf("key %s is not blocked on route %s: nothing to unblock", req.AgentKey, r.name)
			return opRecord{Block: &ch}, nil
		case holder != req.Holder:
			ch.NoOp, ch.Blocked = true, true
			ch.Note = fmt.Sprintf("key %s on route %s was blocked by %s, not this incident: left blocked", req.AgentKey, r.name, holder)
			return opRecord{Block: &ch}, nil
		}
		if err := c.exec(`DELETE FROM routetable_blocks WHERE route = ? AND agent_key = ?`, r.name, req.AgentKey); err != nil {
			return opRecord{}, err
		}
		if err := c.touch(r, req.Holder); err != nil {
			return opRecord{}, err
		}
		ch.Version = r.version
		return opRecord{Block: &ch}, nil
	})
	return blockResult(rec), err
}

func (c *change) blockHolder(route, key string) (string, bool, error) {
	var holder string
	err := c.tx.QueryRow(c.ctx, `SELECT holder FROM routetable_blocks WHERE route = ? AND agent_key = ?`, route, key).Scan(&holder)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return holder, err == nil, err
}

func blockResult(rec opRecord) ports.BlockChange {
	if rec.Block == nil {
		return ports.BlockChange{}
	}
	return *rec.Block
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
