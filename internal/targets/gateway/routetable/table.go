// Package routetable is the embedded gateway: a routing table of route → provider kept in
// the data dir (routes.json) and served at GET /v1/routes, so an app can poll which LLM
// provider to call. Incidents switch routes to a fallback and restore them; each switch
// saves the provider it replaced under the incident, and every change is recorded under
// its idempotency key so a retried step returns what the first attempt did.
package routetable

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/filestate"
)

// FileName is the table's file in the data dir.
const FileName = "routes.json"

// Fallback is the `to` that means "the provider after the active one".
const Fallback = "fallback"

// How long and how many applied operations are remembered for idempotent retries: longer
// than any incident stays open (the namespace keeps closed ones 30 days).
const (
	opRetention = 30 * 24 * time.Hour
	maxOps      = 10000
)

// DefaultRoutes is the table of a fresh data dir when no routes are configured.
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
}

// state is the file's content.
type state struct {
	// Generation is random per file, so an ETag from a deleted and recreated table never
	// matches the new one's.
	Generation string            `json:"generation"`
	Version    int64             `json:"version"`
	UpdatedAt  time.Time         `json:"updated_at"`
	Routes     map[string]*Route `json:"routes"`
	// Saved: holder (incident) → route → what its first switch replaced.
	Saved map[string]map[string]saved `json:"saved,omitempty"`
	// Blocks: route → blocked agent key → the holder (incident) that blocked it.
	Blocks map[string]map[string]string `json:"blocks,omitempty"`
	// Ops: idempotency key → the first result.
	Ops map[string]opRecord `json:"ops,omitempty"`
}

type saved struct {
	Previous   string    `json:"previous"`
	SwitchedTo string    `json:"switched_to"`
	At         time.Time `json:"at"`
}

type opRecord struct {
	Op     string             `json:"op"` // switch | restore | block | unblock
	Route  string             `json:"route"`
	Result ports.RouteChange  `json:"result"`
	Block  *ports.BlockChange `json:"block,omitempty"` // block and unblock
	At     time.Time          `json:"at"`
}

// Table is the routing table. Safe for concurrent use; processes sharing the data dir
// serialise their changes with a file lock and see each other's changes.
type Table struct {
	path     string
	lockPath string
	now      func() time.Time
	logger   *slog.Logger

	mu    sync.Mutex
	st    *state
	stamp fileStamp
}

// Option configures a Table.
type Option func(*Table)

// WithClock sets the clock for updated_at (tests).
func WithClock(now func() time.Time) Option { return func(t *Table) { t.now = now } }

// WithLogger sets the logger for configuration changes found at open.
func WithLogger(l *slog.Logger) Option { return func(t *Table) { t.logger = l } }

var validRouteName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// Open loads the table from dir/routes.json, creating it, and reconciles it with routes
// (route → providers, primary first). Nil routes keep the routes already in the file, or
// DefaultRoutes for a new file. A route's active provider survives a restart unless the
// configuration no longer lists it.
func Open(dir string, routes map[string][]string, opts ...Option) (*Table, error) {
	if err := validateRoutes(routes); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", dir, err)
	}
	t := &Table{
		path:     filepath.Join(dir, FileName),
		lockPath: filepath.Join(dir, FileName+".lock"),
		now:      func() time.Time { return time.Now().UTC() },
		logger:   slog.Default(),
	}
	for _, o := range opts {
		o(t)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	unlock, err := filestate.Lock(t.lockPath)
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := t.load()
	if err != nil {
		return nil, err
	}
	if st == nil {
		st = &state{Generation: newGeneration(), Routes: map[string]*Route{}}
		if routes == nil {
			routes = DefaultRoutes
		}
	}
	t.reconcile(st, routes)
	if err := t.store(st); err != nil {
		return nil, err
	}
	t.st = st
	return t, nil
}

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

// reconcile makes the state's routes match the configuration, bumping the version for
// anything that changed.
func (t *Table) reconcile(st *state, routes map[string][]string) {
	if routes == nil {
		return
	}
	now := t.now()
	for name, providers := range routes {
		r, ok := st.Routes[name]
		switch {
		case !ok:
			st.Version++
			st.Routes[name] = &Route{Route: name, Provider: providers[0], Providers: slices.Clone(providers), Version: st.Version, UpdatedAt: now, UpdatedBy: "config"}
		case !slices.Equal(r.Providers, providers):
			st.Version++
			r.Providers = slices.Clone(providers)
			r.Version, r.UpdatedAt, r.UpdatedBy = st.Version, now, "config"
			if !slices.Contains(providers, r.Provider) {
				t.logger.Warn("route's active provider is no longer configured; back to its primary",
					"route", name, "was", r.Provider, "now", providers[0])
				r.Provider = providers[0]
			}
		}
	}
	for name := range st.Routes {
		if _, ok := routes[name]; !ok {
			t.logger.Warn("route removed from the configuration", "route", name)
			delete(st.Routes, name)
			st.Version++
		}
	}
	st.UpdatedAt = now
}

// Routes returns every route, sorted by name, and the table version.
func (t *Table) Routes() ([]Route, int64, error) {
	st, err := t.current()
	if err != nil {
		return nil, 0, err
	}
	return st.sortedRoutes(), st.Version, nil
}

// KnownRoutes lists the route names, so a start naming an unknown route can be refused
// before it begins (incidents.RouteChecker).
func (t *Table) KnownRoutes(context.Context) ([]string, error) {
	st, err := t.current()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(st.Routes))
	for name := range st.Routes {
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

// Route returns one route; ok is false for an unknown one.
func (t *Table) Route(name string) (Route, bool, error) {
	st, err := t.current()
	if err != nil {
		return Route{}, false, err
	}
	r, ok := st.Routes[name]
	if !ok {
		return Route{}, false, nil
	}
	return copyRoute(r), true, nil
}

func (st *state) sortedRoutes() []Route {
	out := make([]Route, 0, len(st.Routes))
	for _, r := range st.Routes {
		out = append(out, copyRoute(r))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Route < out[j].Route })
	return out
}

func copyRoute(r *Route) Route {
	c := *r
	c.Providers = slices.Clone(r.Providers)
	c.BlockedKeys = slices.Clone(r.BlockedKeys)
	return c
}

// Switch points req.Route at req.To (a provider of the route, or "fallback").
func (t *Table) Switch(ctx context.Context, req ports.SwitchRequest) (ports.RouteChange, error) {
	if err := checkRequest(req.Route, req.Holder, req.Key); err != nil {
		return ports.RouteChange{}, err
	}
	if req.Previous != nil {
		return t.switchFrom(ctx, req)
	}
	return t.apply(ctx, "switch", req.Route, req.Key, func(st *state, r *Route, now time.Time) (ports.RouteChange, error) {
		target, err := resolveTarget(r, req.To)
		if err != nil {
			return ports.RouteChange{}, err
		}
		if target == r.Provider {
			return ports.RouteChange{
				Route: r.Route, From: r.Provider, To: r.Provider, Version: r.Version, NoOp: true, At: now,
				Note: fmt.Sprintf("route %s is already on %s: nothing switched", r.Route, r.Provider),
			}, nil
		}
		if st.Saved[req.Holder] == nil {
			st.Saved[req.Holder] = map[string]saved{}
		}
		sv, had := st.Saved[req.Holder][r.Route]
		if !had {
			// A second switch by the same incident keeps the first saved provider: the
			// restore goes back to where the route was before the incident touched it.
			sv.Previous = r.Provider
		}
		sv.SwitchedTo, sv.At = target, now
		st.Saved[req.Holder][r.Route] = sv
		from := r.Provider
		t.set(st, r, target, req.Holder, now)
		return ports.RouteChange{Route: r.Route, From: from, To: target, Version: r.Version, At: now}, nil
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
	// history. Its switch saved the provider in this table's file.
	return t.apply(ctx, "restore", req.Route, req.Key, func(st *state, r *Route, now time.Time) (ports.RouteChange, error) {
		sv, ok := st.Saved[req.Holder][r.Route]
		if !ok {
			return ports.RouteChange{
				Route: r.Route, From: r.Provider, To: r.Provider, Version: r.Version, NoOp: true, At: now,
				Note: fmt.Sprintf("route %s: nothing saved to restore for this incident (it did not switch the route, or already restored it); left on %s", r.Route, r.Provider),
			}, nil
		}
		if !slices.Contains(r.Providers, sv.Previous) {
			return ports.RouteChange{}, ports.Permanentf(
				"cannot restore route %s to %s: it is no longer one of the route's providers (%s); switch the route by hand",
				r.Route, sv.Previous, strings.Join(r.Providers, ", "))
		}
		delete(st.Saved[req.Holder], r.Route)
		if len(st.Saved[req.Holder]) == 0 {
			delete(st.Saved, req.Holder)
		}
		var note string
		if r.Provider != sv.SwitchedTo {
			note = fmt.Sprintf("route %s was changed to %s by %s after this incident switched it to %s; restored to %s anyway",
				r.Route, r.Provider, orSomeoneElse(r.UpdatedBy), sv.SwitchedTo, sv.Previous)
		}
		if r.Provider == sv.Previous {
			return ports.RouteChange{
				Route: r.Route, From: r.Provider, To: r.Provider, Version: r.Version, NoOp: true, At: now,
				Note: fmt.Sprintf("route %s is already back on %s", r.Route, r.Provider),
			}, nil
		}
		from := r.Provider
		t.set(st, r, sv.Previous, req.Holder, now)
		return ports.RouteChange{Route: r.Route, From: from, To: sv.Previous, Version: r.Version, Note: note, At: now}, nil
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

func resolveTarget(r *Route, to string) (string, error) {
	if to == Fallback && !slices.Contains(r.Providers, Fallback) {
		i := slices.Index(r.Providers, r.Provider)
		if i+1 >= len(r.Providers) {
			return "", ports.Permanentf("route %s is on its last provider %s: there is no fallback after it (providers in order: %s)",
				r.Route, r.Provider, strings.Join(r.Providers, ", "))
		}
		return r.Providers[i+1], nil
	}
	if !slices.Contains(r.Providers, to) {
		return "", ports.Permanentf("route %s has no provider %q; its providers are %s (or use %q for the next one)",
			r.Route, to, strings.Join(r.Providers, ", "), Fallback)
	}
	return to, nil
}

func (t *Table) set(st *state, r *Route, provider, by string, now time.Time) {
	st.Version++
	st.UpdatedAt = now
	r.Provider, r.Version, r.UpdatedAt, r.UpdatedBy = provider, st.Version, now, by
}

// apply runs one keyed route change under the locks, against the latest state on disk.
func (t *Table) apply(ctx context.Context, op, route, key string,
	change func(st *state, r *Route, now time.Time) (ports.RouteChange, error)) (ports.RouteChange, error) {
	rec, err := t.applyOp(ctx, op, route, key, func(st *state, r *Route, now time.Time) (opRecord, error) {
		res, err := change(st, r, now)
		return opRecord{Result: res}, err
	})
	return rec.Result, err
}

// applyOp runs one keyed change of any kind; a retried key returns the first record.
func (t *Table) applyOp(ctx context.Context, op, route, key string,
	change func(st *state, r *Route, now time.Time) (opRecord, error)) (opRecord, error) {
	if err := ctx.Err(); err != nil {
		return opRecord{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	unlock, err := filestate.Lock(t.lockPath)
	if err != nil {
		return opRecord{}, err
	}
	defer unlock()
	st, err := t.load()
	if err != nil {
		return opRecord{}, err
	}
	if st == nil {
		return opRecord{}, fmt.Errorf("%s disappeared: restart quench to recreate the routing table", t.path)
	}
	if rec, ok := st.Ops[key]; ok {
		if rec.Op != op || rec.Route != route {
			return opRecord{}, ports.Permanentf("idempotency key %s was already used to %s route %s, not to %s route %s",
				key, rec.Op, rec.Route, op, route)
		}
		t.st = st
		return rec, nil
	}
	r, ok := st.Routes[route]
	if !ok {
		return opRecord{}, ports.Permanentf("unknown route %q; known routes: %s (configure routes in quench's config)", route, knownRoutes(st))
	}
	now := t.now()
	rec, err := change(st, r, now)
	if err != nil {
		return opRecord{}, err
	}
	rec.Op, rec.Route, rec.At = op, route, now
	st.Ops[key] = rec
	pruneOps(st, now)
	if err := t.store(st); err != nil {
		return opRecord{}, err
	}
	t.st = st
	return rec, nil
}

func knownRoutes(st *state) string {
	names := make([]string, 0, len(st.Routes))
	for n := range st.Routes {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}

func pruneOps(st *state, now time.Time) {
	for k, rec := range st.Ops {
		if now.Sub(rec.At) > opRetention {
			delete(st.Ops, k)
		}
	}
	if len(st.Ops) <= maxOps {
		return
	}
	keys := make([]string, 0, len(st.Ops))
	for k := range st.Ops {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return st.Ops[keys[i]].At.Before(st.Ops[keys[j]].At) })
	for _, k := range keys[:len(keys)-maxOps] {
		delete(st.Ops, k)
	}
}

var _ ports.Gateway = (*Table)(nil)
