package routetable

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store"
)

// row is one route as a change reads it.
type row struct {
	name      string
	provider  string
	providers []string
	version   int64
	updatedBy string
}

// change is one transaction's view: the clock reading and the statements it may run.
type change struct {
	ctx context.Context
	tx  *store.Tx
	t   *Table
	now time.Time
}

func (c *change) exec(query string, args ...any) error {
	_, err := c.tx.Exec(c.ctx, query, args...)
	return err
}

// bump takes the next table version. The meta row is updated last in every change, so
// changes of different routes overlap until their commit, and versions are distinct and
// in commit order (an ETag never skips a change).
func (c *change) bump() (int64, error) {
	var v int64
	err := c.tx.QueryRow(c.ctx, `UPDATE routetable_meta SET version = version + 1, updated_at = ? WHERE id = 1 RETURNING version`,
		c.now.UnixNano()).Scan(&v)
	return v, err
}

// set points r at provider and records who did it.
func (c *change) set(r *row, provider, by string) error {
	v, err := c.setRoute(r.name, provider, by, nil)
	if err != nil {
		return err
	}
	r.provider, r.version, r.updatedBy = provider, v, by
	return nil
}

// switchHeld is set for a switch that also records its holder's hold (see hold), in the
// same statement on PostgreSQL.
func (c *change) switchHeld(r *row, provider, holder, previous string, legacy bool) error {
	h := &holdArgs{holder: holder, previous: previous, legacy: legacy}
	v, err := c.setRoute(r.name, provider, holder, h)
	if err != nil {
		return err
	}
	r.provider, r.version, r.updatedBy = provider, v, holder
	return nil
}

type holdArgs struct {
	holder, previous string
	legacy           bool
}

// touch bumps r's version without changing its provider (its blocked keys changed).
func (c *change) touch(r *row, by string) error {
	v, err := c.setRoute(r.name, r.provider, by, nil)
	if err != nil {
		return err
	}
	r.version, r.updatedBy = v, by
	return nil
}

// setRoute takes the next table version and gives it to the route (and records a hold,
// when h is set). PostgreSQL does it in one statement, one round trip per change instead
// of three; SQLite, whose statements cost no round trip, in separate ones.
func (c *change) setRoute(name, provider, by string, h *holdArgs) (int64, error) {
	now := c.now.UnixNano()
	if c.tx.Dialect() == store.Postgres {
		q := `WITH m AS (UPDATE routetable_meta SET version = version + 1, updated_at = ? WHERE id = 1 RETURNING version)`
		args := []any{now}
		if h != nil {
			q += `, h AS (` + holdUpsert + `)`
			args = append(args, name, h.holder, boolInt(h.legacy), h.previous, provider, now)
		}
		q += ` UPDATE routetable_routes SET provider = ?, version = m.version, updated_at = ?, updated_by = ?
			FROM m WHERE name = ? RETURNING routetable_routes.version`
		args = append(args, provider, now, by, name)
		var v int64
		err := c.tx.QueryRow(c.ctx, q, args...).Scan(&v)
		return v, err
	}
	if h != nil {
		if err := c.hold(name, h.holder, h.previous, provider, h.legacy); err != nil {
			return 0, err
		}
	}
	v, err := c.bump()
	if err != nil {
		return 0, err
	}
	return v, c.exec(`UPDATE routetable_routes SET provider = ?, version = ?, updated_at = ?, updated_by = ? WHERE name = ?`,
		provider, v, now, by, name)
}

// holdUpsert records a hold; a later switch by the same holder keeps the first previous.
const holdUpsert = `INSERT INTO routetable_holds (route, holder, legacy, previous, switched_to, at) VALUES (?, ?, ?, ?, ?, ?)
	ON CONFLICT (route, holder, legacy) DO UPDATE SET switched_to = excluded.switched_to, at = excluded.at`

// hold records that holder switched route away from previous; a later switch by the same
// holder keeps the first previous.
func (c *change) hold(route, holder, previous, switchedTo string, legacy bool) error {
	return c.exec(holdUpsert, route, holder, boolInt(legacy), previous, switchedTo, c.now.UnixNano())
}

func (c *change) release(route, holder string, legacy bool) error {
	return c.exec(`DELETE FROM routetable_holds WHERE route = ? AND holder = ? AND legacy = ?`, route, holder, boolInt(legacy))
}

type savedHold struct{ previous, switchedTo string }

func (c *change) legacyHold(route, holder string) (savedHold, bool, error) {
	var h savedHold
	err := c.tx.QueryRow(c.ctx, `SELECT previous, switched_to FROM routetable_holds WHERE route = ? AND holder = ? AND legacy = 1`,
		route, holder).Scan(&h.previous, &h.switchedTo)
	if errors.Is(err, sql.ErrNoRows) {
		return h, false, nil
	}
	return h, err == nil, err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// opRecord is an idempotency key's first result.
type opRecord struct {
	Result ports.RouteChange  `json:"result"`
	Block  *ports.BlockChange `json:"block,omitempty"` // block and unblock
	Pin    *ports.PinChange   `json:"pin,omitempty"`   // pin and unpin
}

// apply runs one keyed route change.
func (t *Table) apply(ctx context.Context, op, route, key string,
	fn func(c *change, r *row) (ports.RouteChange, error)) (ports.RouteChange, error) {
	rec, err := t.applyOp(ctx, op, route, key, func(c *change, r *row) (opRecord, error) {
		res, err := fn(c, r)
		return opRecord{Result: res}, err
	})
	return rec.Result, err
}

// Every pruneEvery-th change of a Table deletes up to pruneBatch expired op rows (by the
// at index): bounded work, never a scan, and faster on average than records are made.
const (
	pruneEvery = 16
	pruneBatch = 256
)

// applyOp runs one keyed change of any kind in one transaction; a retried key, on this
// Table or any other on the store, returns the first record.
func (t *Table) applyOp(ctx context.Context, op, route, key string,
	fn func(c *change, r *row) (opRecord, error)) (opRecord, error) {
	if err := ctx.Err(); err != nil {
		return opRecord{}, err
	}
	if err := t.ensure(ctx); err != nil {
		return opRecord{}, err
	}
	var rec opRecord
	changed := false
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if err = t.applyOnce(ctx, op, route, key, fn, &rec, &changed); !errors.Is(err, errKeyRaced) {
			break
		}
	}
	if err != nil {
		return opRecord{}, t.classifyTx(err)
	}
	if changed {
		t.w.notify()
	}
	return rec, nil
}

// errKeyRaced: another attempt with the same key committed first. On PostgreSQL the
// statement that locked the route read the key's record from before that commit; the
// transaction rolls back and runs again, and then finds the record.
var errKeyRaced = errors.New("routing table: a concurrent attempt with the same idempotency key committed first")

func (t *Table) applyOnce(ctx context.Context, op, route, key string,
	fn func(c *change, r *row) (opRecord, error), out *opRecord, changedOut *bool) error {
	var rec opRecord
	changed := false
	err := t.db.InTx(ctx, func(tx *store.Tx) error {
		changed = false
		c := &change{ctx: ctx, tx: tx, t: t}
		// The route's row lock and the key's record in one statement: a concurrent attempt
		// with the same key waits on the lock. SQLite runs one transaction at a time; on
		// PostgreSQL the record read may predate the lock, which the insert below catches.
		r, found, prev, err := c.lockRouteAndOp(route, key)
		if err != nil {
			return err
		}
		if prev != nil {
			if prev.op != op || prev.route != route {
				return ports.Permanentf("idempotency key %s was already used to %s route %s, not to %s route %s",
					key, prev.op, prev.route, op, route)
			}
			if err := json.Unmarshal([]byte(prev.result), &rec); err != nil {
				return fmt.Errorf("routing table: the record of key %s is unreadable: %w", key, err)
			}
			return nil
		}
		if !found {
			names, err := c.routeNames()
			if err != nil {
				return err
			}
			return unknownRoute(route, names)
		}
		c.now = t.now()
		before := r.version
		if rec, err = fn(c, r); err != nil {
			return err
		}
		changed = r.version != before
		data, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `INSERT INTO routetable_ops (op_key, op, route, result, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (op_key) DO NOTHING`,
			key, op, route, string(data), c.now.UnixNano())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return errKeyRaced
		}
		if t.changes.Add(1)%pruneEvery != 0 {
			return nil
		}
		return c.exec(`DELETE FROM routetable_ops WHERE op_key IN (SELECT op_key FROM routetable_ops WHERE at < ? ORDER BY at LIMIT `+fmt.Sprint(pruneBatch)+`)`,
			c.now.Add(-opRetention).UnixNano())
	})
	if err == nil {
		*out, *changedOut = rec, changed
	}
	return err
}

// classifyTx keeps a change's own errors (permanent refusals) and classifies the rest.
func (t *Table) classifyTx(err error) error {
	if ports.IsPermanent(err) {
		return err
	}
	return t.classify(err)
}

type opRow struct{ op, route, result string }

// lockRouteAndOp locks route's row and reads key's record. A missing route still gets
// the key's record (a route removed after the step ran).
func (c *change) lockRouteAndOp(name, key string) (*row, bool, *opRow, error) {
	lock := ""
	if c.tx.Dialect() == store.Postgres {
		lock = " FOR UPDATE OF r" // the ops side of the outer join is not locked
	}
	r := &row{name: name}
	var provs string
	var op, route, result sql.NullString
	err := c.tx.QueryRow(c.ctx, `SELECT r.provider, r.providers, r.version, r.updated_by, o.op, o.route, o.result
		FROM routetable_routes r LEFT JOIN routetable_ops o ON o.op_key = ? WHERE r.name = ?`+lock, key, name).
		Scan(&r.provider, &provs, &r.version, &r.updatedBy, &op, &route, &result)
	if errors.Is(err, sql.ErrNoRows) {
		err = c.tx.QueryRow(c.ctx, `SELECT op, route, result FROM routetable_ops WHERE op_key = ?`, key).Scan(&op, &route, &result)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, false, nil, nil
		}
		if err != nil {
			return nil, false, nil, err
		}
		return nil, false, &opRow{op.String, route.String, result.String}, nil
	}
	if err != nil {
		return nil, false, nil, err
	}
	if err := json.Unmarshal([]byte(provs), &r.providers); err != nil {
		return nil, false, nil, fmt.Errorf("routing table: route %q has unreadable providers %q: %w", name, provs, err)
	}
	if op.Valid {
		return r, true, &opRow{op.String, route.String, result.String}, nil
	}
	return r, true, nil, nil
}

// routeNames lists the routes (only for an error message: it reads every route).
func (c *change) routeNames() ([]string, error) {
	rows, err := c.tx.Query(c.ctx, `SELECT name FROM routetable_routes ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return names, rows.Err()
}
