package web

import (
	"net/http"
	"sort"
	"strings"

	"github.com/quench-dev/quench/internal/incidents"
)

// listLimit is how many incidents the list reads (the API's largest page).
const listLimit = 1000

type listView struct {
	base
	Rows                           []incidents.Summary
	Open, Closed                   int
	Total                          int
	Runbook, State, Service, Query string
	Runbooks, States, Services     []string
	Filtered                       bool
}

// list is the incidents list: open ones first, then newest first; filtered by runbook,
// state and service, searched by ID.
func (h *Handler) list(w http.ResponseWriter, r *http.Request, _ *session) {
	q := r.URL.Query()
	v := &listView{base: h.base(r, "Incidents"),
		Runbook: strings.TrimSpace(q.Get("runbook")), State: strings.TrimSpace(q.Get("state")),
		Service: strings.TrimSpace(q.Get("service")), Query: strings.ToLower(strings.TrimSpace(q.Get("q")))}
	rows, err := h.opts.Incidents.List(r.Context(), incidents.ListFilter{Limit: listLimit})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v.Total = len(rows)
	v.Runbooks, v.States, v.Services = facets(rows)
	v.Rows = filterRows(rows, v.Runbook, v.State, v.Service, v.Query)
	v.Filtered = v.Runbook != "" || v.State != "" || v.Service != "" || v.Query != ""
	for _, row := range v.Rows {
		if row.ClosedAt == nil {
			v.Open++
		} else {
			v.Closed++
		}
	}
	h.render(w, r, http.StatusOK, "list", v)
}

// filterRows keeps the rows that match every filter given, open ones first (each part
// newest first, as listed).
func filterRows(rows []incidents.Summary, runbook, state, service, query string) []incidents.Summary {
	out := make([]incidents.Summary, 0, len(rows))
	for _, row := range rows {
		switch {
		case runbook != "" && row.Runbook != runbook,
			state != "" && row.State != state,
			service != "" && row.Service != service,
			query != "" && !strings.Contains(row.IncidentID, query) && !strings.HasPrefix(row.ShortID, query):
			continue
		}
		out = append(out, row)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ClosedAt == nil && out[j].ClosedAt != nil })
	return out
}

// filterStates are offered in the state filter whatever the incidents are in.
var filterStates = []string{"running", "awaiting_approval", "verifying", "closing", "resolved", "completed", "aborted", "failed"}

// facets are the runbooks, states and services the incidents have, for the filters.
func facets(rows []incidents.Summary) (runbooks, states, services []string) {
	seen := map[string]map[string]bool{"r": {}, "s": {}, "v": {}}
	add := func(kind, v string, list *[]string) {
		if v != "" && !seen[kind][v] {
			seen[kind][v] = true
			*list = append(*list, v)
		}
	}
	for _, row := range rows {
		add("r", row.Runbook, &runbooks)
		add("s", row.State, &states)
		add("v", row.Service, &services)
	}
	// The states people filter by are offered even when no incident has them yet.
	for _, s := range filterStates {
		add("s", s, &states)
	}
	sort.Strings(runbooks)
	sort.Strings(states)
	sort.Strings(services)
	return
}
