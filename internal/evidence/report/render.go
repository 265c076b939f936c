package report

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/evidence/bundle"
)

// The three renderings (terminal, markdown, HTML) share one view: sections of headed rows.

// table is a titled table of text cells.
type table struct {
	Title  string
	Header []string
	Rows   [][]string
}

// view is a bundle ready to render.
type view struct {
	Title   string
	Facts   [][2]string // label, value
	Changes []string
	Tables  []table
	Notes   []string
	// Charts are the incident-against-baseline figures per group (drawn in HTML only).
	Charts []chart
}

// windows are the lengths of the two windows: every total says which window it counts,
// and figures are compared only as rates per minute, shares or per-request values.
type windows struct {
	inc, base time.Duration // base: what the baseline's rates are per minute of
	incLabel  string        // "30m"
	baseLabel string        // "24h"
}

func windowsOf(m bundle.Manifest) windows {
	w := windows{inc: m.Window.To.Sub(m.Window.From), base: m.Baseline.To.Sub(m.Baseline.From)}
	w.incLabel, w.baseLabel = durLabel(w.inc), durLabel(w.base)
	if m.BaselineCoveredMinutes > 0 {
		w.base = time.Duration(m.BaselineCoveredMinutes * float64(time.Minute))
	}
	return w
}

// WindowLabels names the lengths of a bundle's incident and baseline windows ("30m",
// "24h"), for every total that says which window it counts.
func WindowLabels(m bundle.Manifest) (incident, baseline string) {
	w := windowsOf(m)
	return w.incLabel, w.baseLabel
}

func (w windows) incRate(x float64) float64  { return perMinute(x, w.inc) }
func (w windows) baseRate(x float64) float64 { return perMinute(x, w.base) }

func perMinute(x float64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return x / d.Minutes()
}

// durLabel is a window's length as people write it: 30m, 24h, 1h30m.
func durLabel(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func viewOf(b Bundle) view {
	d := b.Doc
	m := d.Manifest
	w := windowsOf(m)
	v := view{Title: fmt.Sprintf("Traffic evidence %q", b.Step)}
	route := m.Route
	if route == "" {
		route = "all routes"
	}
	verified := "sha256 " + short(b.Ref.SHA256) + " verified against the incident's record"
	baseline := fmt.Sprintf("%s → %s (%s)", stamp(m.Baseline.From), stamp(m.Baseline.To), w.baseLabel)
	if m.BaselineCoveredMinutes > 0 {
		baseline += fmt.Sprintf("; the traffic covers only its last %s, and baseline rates are per minute of that", durLabel(w.base))
	}
	v.Facts = [][2]string{
		{"window", fmt.Sprintf("%s → %s (%s)", stamp(m.Window.From), stamp(m.Window.To), w.incLabel)},
		{"baseline", baseline},
		{"route", route},
		{"source", m.Source},
		{"requests", fmt.Sprintf("%d in the window (%s), %d in the baseline (%s): %s against %s",
			d.Headline.Requests, w.incLabel, d.Headline.BaselineRequests, w.baseLabel,
			rate(w.incRate(float64(d.Headline.Requests))), rate(w.baseRate(float64(d.Headline.BaselineRequests))))},
		{"error rate", fmt.Sprintf("%s (baseline %s)", pct(d.Headline.ErrorRate), pct(d.Headline.BaselineErrorRate))},
		{"top change", d.Headline.TopChange},
		{"bundle", fmt.Sprintf("%s, %s", humanBytes(b.Ref.Bytes), verified)},
	}
	if h := d.Headline; h.RequestModel != "" && (h.BaselineResponseModel != "" || h.ResponseModel != "") {
		// What a pin of the alias goes back to (silent-model-change), next to the top change.
		models := [2]string{"models", fmt.Sprintf("%s answered as %s in the window (%s), %s in the baseline (%s)",
			h.RequestModel, orNone(h.ResponseModel), w.incLabel, orNone(h.BaselineResponseModel), w.baseLabel)}
		v.Facts = append(v.Facts[:len(v.Facts)-1], models, v.Facts[len(v.Facts)-1])
	}
	for i, c := range d.Changes {
		v.Changes = append(v.Changes, fmt.Sprintf("%d. %s", i+1, c.Text))
	}
	v.Tables = append(v.Tables, totalsTable(d.Totals.Incident, d.Totals.Baseline, w))
	v.Tables = append(v.Tables, providerTable(d.Groups, w))
	v.Tables = append(v.Tables, groupTable(d.Groups, w))
	if len(d.Agents) > 0 {
		v.Tables = append(v.Tables, agentTable(d.Agents, w))
	}
	if len(d.Samples) > 0 {
		v.Tables = append(v.Tables, sampleTable(d.Samples))
	}
	v.Charts = chartsOf(d.Groups, w)
	v.Notes = append(v.Notes, m.Notes...)
	if m.Truncated != "" {
		v.Notes = append(v.Notes, "cut to size: "+m.Truncated)
	}
	if m.GroupsKept < m.GroupsTotal {
		v.Notes = append(v.Notes, fmt.Sprintf("%d of %d groups kept (the busiest)", m.GroupsKept, m.GroupsTotal))
	}
	if m.Redaction != "" {
		v.Notes = append(v.Notes, "redaction: "+m.Redaction)
	}
	return v
}

// totalsTable compares the windows like with like: rates per minute, shares and
// per-request figures, each with its change; totals say which window they count and have
// no change, since the windows differ in length.
func totalsTable(inc, base bundle.Stats, w windows) table {
	ri, rb := w.incRate(float64(inc.Requests)), w.baseRate(float64(base.Requests))
	ci, cb := w.incRate(inc.CostUSD), w.baseRate(base.CostUSD)
	return table{
		Title:  fmt.Sprintf("Totals, incident window (%s) against baseline (%s)", w.incLabel, w.baseLabel),
		Header: []string{"", "INCIDENT (" + w.incLabel + ")", "BASELINE (" + w.baseLabel + ")", "CHANGE"},
		Rows: [][]string{
			{"requests per minute", rate(ri), rate(rb), ratio(ri, rb)},
			{"requests, total", in(fmt.Sprint(inc.Requests), w.incLabel), in(fmt.Sprint(base.Requests), w.baseLabel), ""},
			{"error rate", pct(inc.ErrorRate), pct(base.ErrorRate), points(inc.ErrorRate, base.ErrorRate)},
			{"errors by type, total", inIfAny(byType(inc.ErrorsByType), w.incLabel), inIfAny(byType(base.ErrorsByType), w.baseLabel), ""},
			{"latency p50 / p95 / p99 ms", percentiles(inc.LatencyMs), percentiles(base.LatencyMs), labelled("p95 ", ratio(inc.LatencyMs.P95Or0(), base.LatencyMs.P95Or0()))},
			{"output tokens mean / p95", tokens(inc.OutputTokens), tokens(base.OutputTokens), labelled("mean ", ratio(inc.OutputTokens.MeanOr0(), base.OutputTokens.MeanOr0()))},
			{"finish reasons (share)", shares(inc.FinishReasonShare), shares(base.FinishReasonShare), ""},
			{"cost USD per minute", moneyRate(ci), moneyRate(cb), ratio(ci, cb)},
			{"cost USD per request", money(inc.CostPerRequest), money(base.CostPerRequest), ratio(inc.CostPerRequest, base.CostPerRequest)},
			{"cost USD, total", inIfAny(money(inc.CostUSD), w.incLabel), inIfAny(money(base.CostUSD), w.baseLabel), ""},
		},
	}
}

// providerTable adds the groups up per provider: counts add up, percentiles do not, so
// this table has none (the group table has them).
func providerTable(groups []bundle.Group, w windows) table {
	type sum struct{ inc, base, incErr, baseErr int }
	by := map[string]*sum{}
	for _, g := range groups {
		s := by[g.Provider]
		if s == nil {
			s = &sum{}
			by[g.Provider] = s
		}
		s.inc += g.Incident.Requests
		s.base += g.Baseline.Requests
		s.incErr += g.Incident.Errors
		s.baseErr += g.Baseline.Errors
	}
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		return by[names[i]].inc > by[names[j]].inc || (by[names[i]].inc == by[names[j]].inc && names[i] < names[j])
	})
	t := table{Title: "By provider (incident | baseline)",
		Header: []string{"PROVIDER", "REQ/MIN", "ERROR RATE", "REQUESTS (" + w.incLabel + " | " + w.baseLabel + ")"}}
	for _, n := range names {
		s := by[n]
		t.Rows = append(t.Rows, []string{n,
			pair(rate(w.incRate(float64(s.inc))), rate(w.baseRate(float64(s.base)))),
			pair(rateOf(s.incErr, s.inc), rateOf(s.baseErr, s.base)),
			pair(fmt.Sprint(s.inc), fmt.Sprint(s.base))})
	}
	return t
}

func groupTable(groups []bundle.Group, w windows) table {
	t := table{Title: "By provider / model / prompt version (incident | baseline)",
		Header: []string{"PROVIDER", "MODEL", "PROMPT", "REQ/MIN", "ERROR RATE", "P95 MS", "OUT TOKENS", "COST/REQ", "FINISH", "REQUESTS (" + w.incLabel + " | " + w.baseLabel + ")"}}
	for _, g := range groups {
		t.Rows = append(t.Rows, []string{
			g.Provider, orDash(g.ResponseModel), promptOf(g),
			pair(rate(w.incRate(float64(g.Incident.Requests))), rate(w.baseRate(float64(g.Baseline.Requests)))),
			pair(rateOf(g.Incident.Errors, g.Incident.Requests), rateOf(g.Baseline.Errors, g.Baseline.Requests)),
			pair(num(g.Incident.LatencyMs.P95Or0()), num(g.Baseline.LatencyMs.P95Or0())),
			pair(num(g.Incident.OutputTokens.MeanOr0()), num(g.Baseline.OutputTokens.MeanOr0())),
			pair(money(g.Incident.CostPerRequest), money(g.Baseline.CostPerRequest)),
			pair(shares(g.Incident.FinishReasonShare), shares(g.Baseline.FinishReasonShare)),
			pair(fmt.Sprint(g.Incident.Requests), fmt.Sprint(g.Baseline.Requests)),
		})
	}
	return t
}

// agentTable ranks agent keys by spend; the bundle's agent figures are already per minute
// of each window.
func agentTable(agents []bundle.Agent, w windows) table {
	t := table{Title: "Agents by spend (incident | baseline)",
		Header: []string{"AGENT", "SPEND/MIN", "TOKENS/MIN", "REQUESTS (" + w.incLabel + " | " + w.baseLabel + ")"}}
	for _, a := range agents {
		t.Rows = append(t.Rows, []string{a.Key,
			pair(moneyRate(a.Incident.CostPerMinute), moneyRate(a.Baseline.CostPerMinute)),
			pair(num(a.Incident.TokensPerMinute), num(a.Baseline.TokensPerMinute)),
			pair(fmt.Sprint(a.Incident.Requests), fmt.Sprint(a.Baseline.Requests))})
	}
	return t
}

func promptOf(g bundle.Group) string {
	prompt := g.PromptName
	if g.PromptVersion != "" {
		prompt += "@" + g.PromptVersion
	}
	if prompt == "" {
		return "-"
	}
	return prompt
}

func sampleTable(samples []bundle.Sample) table {
	t := table{Title: "Samples (redacted)", Header: []string{"TIME", "PROVIDER", "MODEL", "ERROR", "INPUT", "OUTPUT"}}
	for _, s := range samples {
		t.Rows = append(t.Rows, []string{stamp(s.Time), s.Provider, orDash(s.ResponseModel), orDash(s.ErrorType), clip(s.Input, 60), clip(s.Output, 60)})
	}
	return t
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

func pct(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }

// rateOf is an error rate, "-" for a window without requests (no rate, not 0%).
func rateOf(n, d int) string {
	if d == 0 {
		return "-"
	}
	return pct(frac(n, d))
}

func frac(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

func points(inc, base float64) string {
	d := 100 * (inc - base)
	if d == 0 {
		return ""
	}
	return fmt.Sprintf("%+.1f pts", d)
}

func ratio(inc, base float64) string {
	switch {
	case base == 0 && inc == 0:
		return ""
	case base == 0:
		return "new"
	}
	r := inc / base
	if r >= 1 {
		return fmt.Sprintf("x%.2f", r)
	}
	return fmt.Sprintf("-%.0f%%", 100*(1-r))
}

func percentiles(p *bundle.Percentiles) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%s / %s / %s", num(p.P50), num(p.P95), num(p.P99))
}

func tokens(t *bundle.TokenStats) string {
	if t == nil {
		return "-"
	}
	return fmt.Sprintf("%s / %s", num(t.Mean), num(t.P95))
}

func num(x float64) string {
	if x == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", x)
}

func money(x float64) string {
	if x == 0 {
		return "-"
	}
	return fmt.Sprintf("$%.4f", x)
}

func moneyRate(x float64) string {
	if x == 0 {
		return "-"
	}
	return fmt.Sprintf("$%.4f/min", x)
}

func rate(x float64) string { return fmt.Sprintf("%.2f/min", x) }

// in labels a total with the window it counts.
func in(total, window string) string { return total + " in " + window }

// inIfAny labels a total with its window unless there is none ("-").
func inIfAny(total, window string) string {
	if total == "-" {
		return total
	}
	return in(total, window)
}

// labelled says which figure a change compares, when there is a change.
func labelled(what, change string) string {
	if change == "" {
		return ""
	}
	return what + change
}

func byType(m map[string]int) string {
	return joinSorted(m, func(v int) string { return fmt.Sprint(v) })
}

func shares(m map[string]float64) string { return joinSorted(m, pct) }

func joinSorted[V any](m map[string]V, format func(V) string) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+" "+format(m[k]))
	}
	return strings.Join(parts, ", ")
}

func pair(inc, base string) string { return inc + " | " + base }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// clip shortens redacted text for a table cell.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	if s == "" {
		return "-"
	}
	return s
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// orNone is s, or "none seen" for a model the window did not show.
func orNone(s string) string {
	if s == "" {
		return "none seen"
	}
	return s
}
