package routetable

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/quench-dev/quench/internal/store"
)

// Actions of a Change.
const (
	Added   = "add"
	Updated = "update"
	Removed = "remove"
	// Kept: the configuration asks to drop the route or move it off its provider, but an
	// open incident holds it (switched it, or blocked a key on it); it stays as it is.
	Kept = "keep"
)

// Change is one way the configured routes differ from the table: what Apply did, or what
// Diff says it would do.
type Change struct {
	Route     string   `json:"route"`
	Action    string   `json:"action"`
	Providers []string `json:"providers,omitempty"` // in the configuration
	Was       []string `json:"was,omitempty"`       // in the table before
	Provider  string   `json:"provider,omitempty"`  // the active provider after
	HeldBy    []string `json:"held_by,omitempty"`   // the incidents holding a kept route
	Note      string   `json:"note,omitempty"`
}

// Changes are a configuration's changes, sorted by route.
type Changes []Change

// Applied reports whether any change was (or would be) made; Kept ones are not changes.
func (cs Changes) Applied() bool {
	return slices.ContainsFunc(cs, func(c Change) bool { return c.Action != Kept })
}

// String is the change in words, as quench setup prints it and the logs say it.
func (c Change) String() string {
	list := func(p []string) string { return strings.Join(p, ", ") }
	var s string
	switch c.Action {
	case Added:
		s = fmt.Sprintf("added route %s (%s), on %s", c.Route, list(c.Providers), c.Provider)
	case Updated:
		s = fmt.Sprintf("updated route %s: providers %s → %s, on %s", c.Route, list(c.Was), list(c.Providers), c.Provider)
	case Removed:
		s = fmt.Sprintf("removed route %s (%s): no longer configured", c.Route, list(c.Was))
	case Kept:
		want := "removes it"
		if c.Providers != nil {
			want = "lists providers " + list(c.Providers)
		}
		s = fmt.Sprintf("kept route %s (%s) on %s: held by open incident %s, and the configuration %s",
			c.Route, list(c.Was), c.Provider, strings.Join(c.HeldBy, ", "), want)
	default:
		s = c.Action + " route " + c.Route
	}
	if c.Note != "" {
		s += "; " + c.Note
	}
	return s
}

// hold is an incident's claim on a route: a switch it has not restored, or a blocked key.
type holdRow struct {
	holder   string
	previous string // "" for a block
}

// tableState is what a configuration is compared with.
type tableState struct {
	routes map[string]*row
	holds  map[string][]holdRow
}

// Diff says how routes (the configuration) differ from the table, changing nothing. Nil
// routes are no configuration: the table as it is, or DefaultRoutes for an empty one.
func (t *Table) Diff(ctx context.Context, routes map[string][]string) (Changes, error) {
	if err := validateRoutes(routes); err != nil {
		return nil, err
	}
	if err := t.ensure(ctx); err != nil {
		return nil, err
	}
	var out Changes
	err := t.db.InTx(ctx, func(tx *store.Tx) error {
		st, err := t.readState(ctx, tx, false)
		if err != nil {
			return err
		}
		out = diff(st, configured(routes, st))
		return nil
	})
	return out, t.classifyTx(err)
}

// Apply makes the table match routes (route → providers, primary first): it adds routes,
// updates their providers (a route whose active provider is no longer listed goes back to
// its primary) and removes routes no longer configured — except a route an open incident
// holds, which it keeps as it is and reports (Kept) with the reason. Each change is logged
// and gets its own table version; by is recorded as who changed the route. Nil routes
// seed DefaultRoutes into an empty table and change nothing otherwise. Concurrent Applies
// and switches serialise in the store.
func (t *Table) Apply(ctx context.Context, routes map[string][]string, by string) (Changes, error) {
	if err := validateRoutes(routes); err != nil {
		return nil, err
	}
	if err := t.ensure(ctx); err != nil {
		return nil, err
	}
	var out Changes
	err := t.db.InTx(ctx, func(tx *store.Tx) error {
		if tx.Dialect() == store.Postgres {
			// Applies queue here, before they lock routes in name order; switches lock
			// one route and then the meta row, so no cycle forms.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7301120)`); err != nil {
				return err
			}
		}
		st, err := t.readState(ctx, tx, true)
		if err != nil {
			return err
		}
		out = diff(st, configured(routes, st))
		c := &change{ctx: ctx, tx: tx, t: t, now: t.now()}
		for _, ch := range out {
			if err := c.applyConfig(ch, by); err != nil {
				return fmt.Errorf("apply route %s: %w", ch.Route, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, t.classifyTx(err)
	}
	for _, ch := range out {
		attrs := []any{"route", ch.Route, "action", ch.Action, "by", by, "store", t.db.String()}
		if ch.Action == Kept || ch.Note != "" {
			t.logger.Warn("routing table: "+ch.String(), attrs...)
		} else {
			t.logger.Info("routing table: "+ch.String(), attrs...)
		}
	}
	if out.Applied() {
		t.w.notify()
	}
	return out, nil
}

func configured(routes map[string][]string, st *tableState) map[string][]string {
	if routes == nil {
		if len(st.routes) > 0 {
			return nil
		}
		return DefaultRoutes
	}
	return routes
}

// readState reads every route and every live hold (config changes are rare; this is the
// one place that reads the whole table in a transaction). lock takes the routes' row
// locks in name order.
func (t *Table) readState(ctx context.Context, tx *store.Tx, lock bool) (*tableState, error) {
	st := &tableState{routes: map[string]*row{}, holds: map[string][]holdRow{}}
	q := `SELECT name, provider, providers, version, updated_by FROM routetable_routes ORDER BY name`
	if lock {
		q += tx.ForUpdate()
	}
	rows, err := tx.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		r := &row{}
		var provs string
		if err := rows.Scan(&r.name, &r.provider, &provs, &r.version, &r.updatedBy); err != nil {
			rows.Close()
			return nil, err
		}
		if err := json.Unmarshal([]byte(provs), &r.providers); err != nil {
			rows.Close()
			return nil, fmt.Errorf("routing table: route %q has unreadable providers %q: %w", r.name, provs, err)
		}
		st.routes[r.name] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// A hold older than the op retention is an incident long closed (its history is gone
	// from the namespace): it no longer keeps a route.
	cutoff := t.now().Add(-opRetention).UnixNano()
	rows, err = tx.Query(ctx, `SELECT route, holder, previous FROM routetable_holds WHERE at >= ?
		UNION ALL SELECT route, holder, '' FROM routetable_blocks`, cutoff)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var route string
		var h holdRow
		if err := rows.Scan(&route, &h.holder, &h.previous); err != nil {
			return nil, err
		}
		st.holds[route] = append(st.holds[route], h)
	}
	return st, rows.Err()
}

// diff compares the table with want; nil want changes nothing.
func diff(st *tableState, want map[string][]string) Changes {
	if want == nil {
		return nil
	}
	var out Changes
	for _, name := range slices.Sorted(maps.Keys(want)) {
		providers := want[name]
		r, ok := st.routes[name]
		switch {
		case !ok:
			out = append(out, Change{Route: name, Action: Added, Providers: slices.Clone(providers), Provider: providers[0]})
		case !slices.Equal(r.providers, providers):
			if why, holders := blocksUpdate(r, st.holds[name], providers); why != "" {
				out = append(out, Change{Route: name, Action: Kept, Providers: slices.Clone(providers), Was: slices.Clone(r.providers),
					Provider: r.provider, HeldBy: holders, Note: why})
				continue
			}
			ch := Change{Route: name, Action: Updated, Providers: slices.Clone(providers), Was: slices.Clone(r.providers), Provider: r.provider}
			if !slices.Contains(providers, r.provider) {
				ch.Provider = providers[0]
				ch.Note = fmt.Sprintf("its active provider %s is no longer configured: back to its primary %s", r.provider, providers[0])
			}
			out = append(out, ch)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(st.routes)) {
		if _, ok := want[name]; ok {
			continue
		}
		r := st.routes[name]
		if holds := st.holds[name]; len(holds) > 0 {
			out = append(out, Change{Route: name, Action: Kept, Was: slices.Clone(r.providers), Provider: r.provider,
				HeldBy: holders(holds), Note: "apply the configuration again after the incident restores the route and closes"})
			continue
		}
		out = append(out, Change{Route: name, Action: Removed, Was: slices.Clone(r.providers), Provider: r.provider})
	}
	slices.SortFunc(out, func(a, b Change) int { return strings.Compare(a.Route, b.Route) })
	return out
}

// blocksUpdate says why a held route may not take providers: its active provider, or a
// provider a holder will restore, would no longer be listed.
func blocksUpdate(r *row, holds []holdRow, providers []string) (string, []string) {
	if len(holds) == 0 {
		return "", nil
	}
	if !slices.Contains(providers, r.provider) {
		return fmt.Sprintf("the configuration drops its active provider %s; apply it again after the incident restores the route and closes", r.provider), holders(holds)
	}
	for _, h := range holds {
		if h.previous != "" && !slices.Contains(providers, h.previous) {
			return fmt.Sprintf("the configuration drops %s, which incident %s restores the route to; apply it again after that incident closes", h.previous, h.holder), holders(holds)
		}
	}
	return "", nil
}

func holders(holds []holdRow) []string {
	var out []string
	for _, h := range holds {
		if !slices.Contains(out, h.holder) {
			out = append(out, h.holder)
		}
	}
	slices.Sort(out)
	return out
}

// applyConfig makes one change of Apply.
func (c *change) applyConfig(ch Change, by string) error {
	switch ch.Action {
	case Added:
		v, err := c.bump()
		if err != nil {
			return err
		}
		provs, _ := json.Marshal(ch.Providers)
		return c.exec(`INSERT INTO routetable_routes (name, provider, providers, version, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?)`,
			ch.Route, ch.Provider, string(provs), v, c.now.UnixNano(), by)
	case Updated:
		v, err := c.bump()
		if err != nil {
			return err
		}
		provs, _ := json.Marshal(ch.Providers)
		return c.exec(`UPDATE routetable_routes SET provider = ?, providers = ?, version = ?, updated_at = ?, updated_by = ? WHERE name = ?`,
			ch.Provider, string(provs), v, c.now.UnixNano(), by, ch.Route)
	case Removed:
		if _, err := c.bump(); err != nil {
			return err
		}
		// Its holds are stale ones (a live hold keeps the route): gone with it.
		if err := c.exec(`DELETE FROM routetable_holds WHERE route = ?`, ch.Route); err != nil {
			return err
		}
		// A route configured again later starts without the old one's pins.
		if err := c.exec(`DELETE FROM routetable_pins WHERE route = ?`, ch.Route); err != nil {
			return err
		}
		return c.exec(`DELETE FROM routetable_routes WHERE name = ?`, ch.Route)
	}
	return nil
}
