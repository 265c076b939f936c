package routetable

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store"
)

// component names the table's schema in the store.
const component = "routetable"

// schema: one meta row (generation, version), one row per route, one per hold (an
// incident that switched a route and has not restored it), one per blocked key, and one
// per idempotency key with its first result. Times are Unix nanoseconds. Every change
// reads and writes a few rows by primary key, so its cost does not grow with the number
// of routes, ops or past incidents.
var schema = []store.Migration{
	{SQL: `CREATE TABLE routetable_meta (
		id         INTEGER PRIMARY KEY,
		generation TEXT NOT NULL,
		version    BIGINT NOT NULL,
		updated_at BIGINT NOT NULL
	)`},
	{SQL: `CREATE TABLE routetable_routes (
		name       TEXT PRIMARY KEY,
		provider   TEXT NOT NULL,
		providers  TEXT NOT NULL,
		version    BIGINT NOT NULL,
		updated_at BIGINT NOT NULL,
		updated_by TEXT NOT NULL
	)`},
	// legacy = 1: saved by a switch that carried no previous state (an incident started
	// before switches kept it in history); its restore needs previous from here.
	{SQL: `CREATE TABLE routetable_holds (
		route       TEXT NOT NULL,
		holder      TEXT NOT NULL,
		legacy      INTEGER NOT NULL,
		previous    TEXT NOT NULL,
		switched_to TEXT NOT NULL,
		at          BIGINT NOT NULL,
		PRIMARY KEY (route, holder, legacy)
	)`},
	{SQL: `CREATE TABLE routetable_blocks (
		route     TEXT NOT NULL,
		agent_key TEXT NOT NULL,
		holder    TEXT NOT NULL,
		PRIMARY KEY (route, agent_key)
	)`},
	{SQL: `CREATE TABLE routetable_ops (
		op_key TEXT PRIMARY KEY,
		op     TEXT NOT NULL,
		route  TEXT NOT NULL,
		result TEXT NOT NULL,
		at     BIGINT NOT NULL
	)`},
	{SQL: `CREATE INDEX routetable_ops_at ON routetable_ops (at)`},
	// A pinned model: apps asking the route for model get pinned instead (gateway.pin_model).
	// holder is who set it last, for messages.
	{SQL: `CREATE TABLE routetable_pins (
		route  TEXT NOT NULL,
		model  TEXT NOT NULL,
		pinned TEXT NOT NULL,
		holder TEXT NOT NULL,
		PRIMARY KEY (route, model)
	)`},
}

// ensure creates the tables and the meta row, once per Table (again after the store was
// unavailable at open).
func (t *Table) ensure(ctx context.Context) error {
	t.ensureMu.Lock()
	defer t.ensureMu.Unlock()
	if t.ensured {
		return nil
	}
	if err := t.db.Ensure(ctx, component, schema); err != nil {
		return fmt.Errorf("routing table: %w", t.classify(err))
	}
	if _, err := t.db.Exec(ctx, `INSERT INTO routetable_meta (id, generation, version, updated_at) VALUES (1, ?, 0, ?) ON CONFLICT (id) DO NOTHING`,
		newGeneration(), t.now().UnixNano()); err != nil {
		return fmt.Errorf("routing table: %w", t.classify(err))
	}
	t.ensured = true
	return nil
}

// Generation is random per store, so an ETag from a deleted and recreated table never
// matches the new one's.
func newGeneration() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// classify marks a failure to reach or use the store as store.UnavailableError (retryable,
// 503 at /v1/routes); statement errors stay as they are.
func (t *Table) classify(err error) error {
	if err == nil || store.IsUnavailable(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var coded interface{ SQLState() string }
	if errors.As(err, &coded) {
		code := coded.SQLState()
		if !strings.HasPrefix(code, "08") && !strings.HasPrefix(code, "57") && !strings.HasPrefix(code, "53") {
			return err
		}
	}
	if ports.IsPermanent(err) {
		return err
	}
	return t.db.Unavailable(err)
}

// snapshot is the table as one committed version.
type snapshot struct {
	generation string
	version    int64
	updatedAt  time.Time
	routes     []Route // sorted by name
}

func (s *snapshot) etag() string { return fmt.Sprintf(`"%s-%d"`, s.generation, s.version) }

func (s *snapshot) route(name string) (Route, bool) {
	i, ok := slices.BinarySearchFunc(s.routes, name, func(r Route, n string) int { return strings.Compare(r.Route, n) })
	if !ok {
		return Route{}, false
	}
	return copyRoute(s.routes[i]), true
}

func (s *snapshot) names() []string {
	out := make([]string, len(s.routes))
	for i, r := range s.routes {
		out[i] = r.Route
	}
	return out
}

func (s *snapshot) copyRoutes() []Route {
	out := make([]Route, len(s.routes))
	for i, r := range s.routes {
		out[i] = copyRoute(r)
	}
	return out
}

func copyRoute(r Route) Route {
	r.Providers = slices.Clone(r.Providers)
	r.BlockedKeys = slices.Clone(r.BlockedKeys)
	r.PinnedModels = maps.Clone(r.PinnedModels)
	return r
}

// stamp reads the table's generation and version: one row by primary key.
func (t *Table) stamp(ctx context.Context) (string, int64, error) {
	if err := t.ensure(ctx); err != nil {
		return "", 0, err
	}
	var gen string
	var ver int64
	if err := t.db.QueryRow(ctx, `SELECT generation, version FROM routetable_meta WHERE id = 1`).Scan(&gen, &ver); err != nil {
		return "", 0, fmt.Errorf("read the routing table: %w", t.classify(err))
	}
	return gen, ver, nil
}

// snapshot returns the committed table. While the store's version is the one last read,
// that read is reused: a poll costs one primary-key lookup.
func (t *Table) snapshot(ctx context.Context) (*snapshot, error) {
	gen, ver, err := t.stamp(ctx)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	cached := t.snap
	t.mu.Unlock()
	if cached != nil && cached.generation == gen && cached.version == ver {
		return cached, nil
	}
	s, err := t.load(ctx)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	if t.snap == nil || t.snap.generation != s.generation || t.snap.version <= s.version {
		t.snap = s
	}
	t.mu.Unlock()
	return s, nil
}

// load reads the whole table in one statement, so what it returns is one committed
// version on both engines.
func (t *Table) load(ctx context.Context) (*snapshot, error) {
	// Blocks and pins come in one statement too (a UNION, so neither multiplies the
	// other): kind 0 rows are the route and its blocked keys, kind 1 its pinned models.
	rows, err := t.db.Query(ctx, `SELECT m.generation, m.version, m.updated_at,
		r.name, r.provider, r.providers, r.version, r.updated_at, r.updated_by, 0 AS kind, b.agent_key, NULL
		FROM routetable_meta m
		LEFT JOIN routetable_routes r ON 1 = 1
		LEFT JOIN routetable_blocks b ON b.route = r.name
		WHERE m.id = 1
		UNION ALL
		SELECT m.generation, m.version, m.updated_at,
		r.name, r.provider, r.providers, r.version, r.updated_at, r.updated_by, 1 AS kind, p.model, p.pinned
		FROM routetable_meta m
		JOIN routetable_routes r ON 1 = 1
		JOIN routetable_pins p ON p.route = r.name
		WHERE m.id = 1
		ORDER BY 4, 10, 11`)
	if err != nil {
		return nil, fmt.Errorf("read the routing table: %w", t.classify(err))
	}
	defer rows.Close()
	var s *snapshot
	for rows.Next() {
		var (
			gen                   string
			ver, at               int64
			name, prov, provs, by sql.NullString
			rver, rat             sql.NullInt64
			kind                  int
			blocked, pinned       sql.NullString
		)
		if err := rows.Scan(&gen, &ver, &at, &name, &prov, &provs, &rver, &rat, &by, &kind, &blocked, &pinned); err != nil {
			return nil, fmt.Errorf("read the routing table: %w", t.classify(err))
		}
		if s == nil {
			s = &snapshot{generation: gen, version: ver, updatedAt: fromNanos(at), routes: []Route{}}
		}
		if !name.Valid {
			continue
		}
		if n := len(s.routes); n == 0 || s.routes[n-1].Route != name.String {
			var providers []string
			if err := json.Unmarshal([]byte(provs.String), &providers); err != nil {
				return nil, fmt.Errorf("routing table: route %q has unreadable providers %q: %w", name.String, provs.String, err)
			}
			s.routes = append(s.routes, Route{Route: name.String, Provider: prov.String, Providers: providers,
				Version: rver.Int64, UpdatedAt: fromNanos(rat.Int64), UpdatedBy: by.String})
		}
		r := &s.routes[len(s.routes)-1]
		switch {
		case kind == 1 && blocked.Valid && pinned.Valid:
			if r.PinnedModels == nil {
				r.PinnedModels = map[string]string{}
			}
			r.PinnedModels[blocked.String] = pinned.String
		case kind == 0 && blocked.Valid:
			r.BlockedKeys = append(r.BlockedKeys, blocked.String)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the routing table: %w", t.classify(err))
	}
	if s == nil {
		return nil, fmt.Errorf("the routing table's store %s has no meta row: restart quench to recreate it", t.db)
	}
	return s, nil
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }
