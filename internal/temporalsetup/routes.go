package temporalsetup

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/quench-dev/quench/internal/targets/gateway/routetable"
)

// KindRoute is a route of the shared routing table (gateway.routes), which setup applies.
const KindRoute = "route"

// Results of a route Action besides Created, Present and Missing.
const (
	Updated = "updated" // its providers changed
	Removed = "removed" // no longer configured
	// Kept: an open incident holds the route, so the configuration's change waits.
	Kept = "kept"
	// Differs: a check (DryRun) found the table not as configured.
	Differs = "differs"
)

// AddRoutes reports what applying routes (the configuration) to the routing table did
// (changes from routetable.Apply) or, with dryRun, would do (from Diff): one action per
// configured route and per route the table has beyond them.
func AddRoutes(rep *Report, routes map[string][]string, changes routetable.Changes, dryRun bool) {
	byRoute := map[string]routetable.Change{}
	for _, c := range changes {
		byRoute[c.Route] = c
	}
	names := slices.Collect(maps.Keys(routes))
	for _, c := range changes {
		if _, ok := routes[c.Route]; !ok {
			names = append(names, c.Route)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		c, changed := byRoute[name]
		a := Action{Kind: KindRoute, Name: name}
		switch {
		case !changed:
			a.Result, a.Detail = Present, strings.Join(routes[name], ", ")
		case dryRun && c.Action == routetable.Added:
			a.Result, a.Detail = Missing, strings.Join(c.Providers, ", ")
		case dryRun:
			a.Result, a.Detail = Differs, "would be "+c.String()
		case c.Action == routetable.Added:
			a.Result, a.Detail = Created, strings.Join(c.Providers, ", ")+"; on "+c.Provider
		case c.Action == routetable.Updated:
			a.Result, a.Detail = Updated, c.String()
		case c.Action == routetable.Removed:
			a.Result, a.Detail = Removed, c.String()
		default:
			a.Result, a.Detail = Kept, c.String()
		}
		rep.add(a)
		if a.Result == Updated || a.Result == Removed {
			rep.Changed = true
		}
	}
}

func (a Action) routeString() string {
	switch a.Result {
	case Created:
		return fmt.Sprintf("created route %s (%s)", a.Name, a.Detail)
	case Present:
		return fmt.Sprintf("route %s (%s) already present", a.Name, a.Detail)
	case Missing:
		return fmt.Sprintf("route %s (%s) missing", a.Name, a.Detail)
	}
	return a.Detail
}
