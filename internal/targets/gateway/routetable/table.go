// Package routetable is the embedded gateway: a routing table of route → provider kept in
// the store every quench process reaches (internal/store: SQLite in the data dir, or
// PostgreSQL) and served at GET /v1/routes, so an app can poll which LLM provider to call.
// Incidents switch routes to a fallback and restore them; every change is one transaction
// recorded under its idempotency key, so a retried step on any worker returns what the
// first attempt did. Configuration changes are explicit (Apply), never a side effect of a
// process starting.
package routetable

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store"
)

// FileName is the table's file in the data dir before it moved into the store; Open
// imports it once (see WithImport).
const FileName = "routes.json"

// Fallback is the `to` that means "the provider after the active one".
const Fallback = "fallback"

// How long applied operations are remembered for idempotent retries: longer than any
// incident stays open (the namespace keeps closed ones 30 days). A hold older than this
// belongs to an incident long closed and no longer keeps a route from a config change.
const opRetention = 30 * 24 * time.Hour

// DefaultRoutes seed an empty table when Apply is given no routes.
var DefaultRoutes = map[string][]string{"chat": {"primary", "fallback"}}

// Route is one route as apps see it.
type Route struct {
	Route     string    `json:"route"`
	Provider  string    `json:"provider"`  // the active provider
	Providers []string  `json:"providers"` // in order: first = primary
	Version   int64     `json:"version"`   // table version of the route's last change
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by,omitempty"`
	// BlockedKeys are agent (or API) keys apps must refuse on this route, sorted.
	BlockedKeys []string `json:"blocked_keys,omitempty"`
	// PinnedModels maps a model apps ask for (an alias such as gpt-4o) to the dated version
	// they must ask the provider for instead (gpt-4o-2024-08-06).
	PinnedModels map[string]string `json:"pinned_models,omitempty"`
}

// Table is the routing table. Safe for concurrent use; any number of Tables, in any
// number of processes, on one store see each other's changes as soon as they commit.
type Table struct {
	db        *store.DB
	now       func() time.Time
	logger    *slog.Logger
	importDir string
	pollEvery time.Duration

	ensureMu sync.Mutex
	ensured  bool

	changes atomic.Uint64 // counts changes, to prune expired records every so often

	mu   sync.Mutex
	snap *snapshot // the last state read; reused while the store's version is the same
	w    watcher
}

// Option configures a Table.
type Option func(*Table)

// WithClock sets the clock for updated_at (tests).
func WithClock(now func() time.Time) Option { return func(t *Table) { t.now = now } }

// WithLogger sets the logger for configuration changes and the import.
func WithLogger(l *slog.Logger) Option { return func(t *Table) { t.logger = l } }

// WithImport imports dir/routes.json (the table of a quench before the store) into an
// empty SQLite store once, then renames it routes.json.imported.
func WithImport(dir string) Option { return func(t *Table) { t.importDir = dir } }

// WithPollInterval sets how often a long-poll (GET /v1/routes?wait=) checks the store for
// changes made by other processes (default 500 ms; changes through this Table wake it at
// once). One query per interval serves every waiting request.
func WithPollInterval(d time.Duration) Option {
	return func(t *Table) {
		if d > 0 {
			t.pollEvery = d
		}
	}
}

var validRouteName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// Open opens the table in db, creating its tables. It never changes a route: Apply does,
// when the operator asks (quench dev at start, quench setup). A store that cannot be
// reached does not fail the open (the process starts and says it is not ready); every
// call fails retryably naming the store until it is back.
func Open(ctx context.Context, db *store.DB, opts ...Option) (*Table, error) {
	if db == nil {
		return nil, fmt.Errorf("routing table: no store")
	}
	t := &Table{
		db:        db,
		now:       func() time.Time { return time.Now().UTC() },
		logger:    slog.Default(),
		pollEvery: 500 * time.Millisecond,
	}
	for _, o := range opts {
		o(t)
	}
	t.w.init()
	if err := t.ensure(ctx); err != nil {
		// A store that does not answer in time is as unavailable as one that refuses.
		if !store.IsUnavailable(err) && !errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		t.logger.Warn("the routing table's store is unavailable; quench retries on every use", "store", db.String(), "err", err)
		return t, nil
	}
	if t.importDir != "" {
		if err := t.importFile(ctx, t.importDir); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// DB is the store the table lives in.
func (t *Table) DB() *store.DB { return t.db }

func validateRoutes(routes map[string][]string) error {
	for name, providers := range routes {
		if !validRouteName.MatchString(name) {
			return fmt.Errorf("route name %q: use letters, digits, '.', '_' and '-'", name)
		}
		if len(providers) == 0 {
			return fmt.Errorf("route %q has no providers: list them primary first, e.g. [primary, fallback]", name)
		}
		seen := map[string]bool{}
		for _, p := range providers {
			switch {
			case strings.TrimSpace(p) == "":
				return fmt.Errorf("route %q has an empty provider name", name)
			case seen[p]:
				return fmt.Errorf("route %q lists provider %q twice", name, p)
			}
			seen[p] = true
		}
	}
	return nil
}

// Routes returns every route, sorted by name, and the table version.
func (t *Table) Routes() ([]Route, int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	s, err := t.snapshot(ctx)
	if err != nil {
		return nil, 0, err
	}
	return s.copyRoutes(), s.version, nil
}

// KnownRoutes lists the route names, so a start naming an unknown route can be refused
// before it begins (incidents.RouteChecker).
func (t *Table) KnownRoutes(ctx context.Context) ([]string, error) {
	s, err := t.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return s.names(), nil
}

// Route returns one route; ok is false for an unknown one.
func (t *Table) Route(name string) (Route, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	s, err := t.snapshot(ctx)
	if err != nil {
		return Route{}, false, err
	}
	r, ok := s.route(name)
	return r, ok, nil
}

// readTimeout bounds the reads of callers that pass no context.
const readTimeout = 10 * time.Second

// Switch points req.Route at req.To (a provider of the route, or "fallback").
func (t *Table) Switch(ctx context.Context, req ports.SwitchRequest) (ports.RouteChange, error) {
	if err := checkRequest(req.Route, req.Holder, req.Key); err != nil {
		return ports.RouteChange{}, err
	}
	if req.Previous != nil {
		return t.switchFrom(ctx, req)
	}
	return t.apply(ctx, "switch", req.Route, req.Key, func(c *change, r *row) (ports.RouteChange, error) {
		target, err := resolveTarget(r, req.To)
		if err != nil {
			return ports.RouteChange{}, err
		}
		if target == r.provider {
			return ports.RouteChange{
				Route: r.name, From: r.provider, To: r.provider, Version: r.version, NoOp: true, At: c.now,
				Note: fmt.Sprintf("route %s is already on %s: nothing switched", r.name, r.provider),
			}, nil
		}
		// A second switch by the same incident keeps the first saved provider: the restore
		// goes back to where the route was before the incident touched it.
		from := r.provider
		if err := c.switchHeld(r, target, req.Holder, from, true); err != nil {
			return ports.RouteChange{}, err
		}
		return ports.RouteChange{Route: r.name, From: from, To: target, Version: r.version, At: c.now}, nil
	})
}

// Restore puts back the provider req.Holder's first switch of req.Route replaced.
func (t *Table) Restore(ctx context.Context, req ports.RestoreRequest) (ports.RouteChange, error) {
	if err := checkRequest(req.Route, req.Holder, req.Key); err != nil {
		return ports.RouteChange{}, err
	}
	if req.Previous != nil {
		return t.restoreTo(ctx, req)
	}
	// No saved state in the request: an incident started before switches carried it in
	// history. Its switch saved the provider in the table (a legacy hold).
	return t.apply(ctx, "restore", req.Route, req.Key, func(c *change, r *row) (ports.RouteChange, error) {
		sv, ok, err := c.legacyHold(r.name, req.Holder)
		if err != nil {
			return ports.RouteChange{}, err
		}
		if !ok {
			return ports.RouteChange{
				Route: r.name, From: r.provider, To: r.provider, Version: r.version, NoOp: true, At: c.now,
				Note: fmt.Sprintf("route %s: nothing saved to restore for this incident (it did not switch the route, or already restored it); left on %s", r.name, r.provider),
			}, nil
		}
		if !slices.Contains(r.providers, sv.previous) {
			return ports.RouteChange{}, ports.Permanentf(
				"cannot restore route %s to %s: it is no longer one of the route's providers (%s); switch the route by hand",
				r.name, sv.previous, strings.Join(r.providers, ", "))
		}
		if err := c.release(r.name, req.Holder, true); err != nil {
			return ports.RouteChange{}, err
		}
		var note string
		if r.provider != sv.switchedTo {
			note = fmt.Sprintf("route %s was changed to %s by %s after this incident switched it to %s; restored to %s anyway",
				r.name, r.provider, orSomeoneElse(r.updatedBy), sv.switchedTo, sv.previous)
		}
		if r.provider == sv.previous {
			return ports.RouteChange{
				Route: r.name, From: r.provider, To: r.provider, Version: r.version, NoOp: true, At: c.now,
				Note: fmt.Sprintf("route %s is already back on %s", r.name, r.provider),
			}, nil
		}
		from := r.provider
		if err := c.set(r, sv.previous, req.Holder); err != nil {
			return ports.RouteChange{}, err
		}
		return ports.RouteChange{Route: r.name, From: from, To: sv.previous, Version: r.version, Note: note, At: c.now}, nil
	})
}

func orSomeoneElse(who string) string {
	if who == "" {
		return "someone else"
	}
	return who
}

func checkRequest(route, holder, key string) error {
	switch {
	case route == "":
		return ports.Permanentf("no route given")
	case holder == "":
		return ports.Permanentf("no holder (incident ID) given for route %s", route)
	case key == "":
		return ports.Permanentf("no idempotency key given for route %s", route)
	}
	return nil
}

func resolveTarget(r *row, to string) (string, error) {
	if to == Fallback && !slices.Contains(r.providers, Fallback) {
		i := slices.Index(r.providers, r.provider)
		if i+1 >= len(r.providers) {
			return "", ports.Permanentf("route %s is on its last provider %s: there is no fallback after it (providers in order: %s)",
				r.name, r.provider, strings.Join(r.providers, ", "))
		}
		return r.providers[i+1], nil
	}
	if !slices.Contains(r.providers, to) {
		return "", ports.Permanentf("route %s has no provider %q; its providers are %s (or use %q for the next one)",
			r.name, to, strings.Join(r.providers, ", "), Fallback)
	}
	return to, nil
}

// unknownRoute is the permanent error of a step naming a route the table does not have.
func unknownRoute(route string, names []string) error {
	if len(names) == 0 {
		return ports.Permanentf("unknown route %q: the routing table has no routes yet; apply gateway.routes with quench setup (quench dev applies them when it starts)", route)
	}
	return ports.Permanentf("unknown route %q; known routes: %s (configure routes in quench's config)", route, knownRoutes(names))
}

func knownRoutes(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}

var _ ports.Gateway = (*Table)(nil)
