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
}

func viewOf(b Bundle) view {
	d := b.Doc
	m := d.Manifest
	v := view{Title: fmt.Sprintf("Traffic evidence %q", b.Step)}
	route := m.Route
	if route == "" {
		route = "all routes"
	}
	verified := "sha256 " + short(b.Ref.SHA256) + " verified against the incident's record"
	v.Facts = [][2]string{
		{"window", fmt.Sprintf("%s → %s (%s)", stamp(m.Window.From), stamp(m.Window.To), m.Window.To.Sub(m.Window.From).Round(time.Second))},
		{"baseline", fmt.Sprintf("%s → %s (%s)", stamp(m.Baseline.From), stamp(m.Baseline.To), m.Baseline.To.Sub(m.Baseline.From).Round(time.Second))},
		{"route", route},
		{"source", m.Source},
		{"requests", fmt.Sprintf("%d in the window, %d in the baseline", d.Headline.Requests, d.Headline.BaselineRequests)},
		{"error rate", fmt.Sprintf("%s (baseline %s)", pct(d.Headline.ErrorRate), pct(d.Headline.BaselineErrorRate))},
		{"top change", d.Headline.TopChange},
		{"bundle", fmt.Sprintf("%s, %s", humanBytes(b.Ref.Bytes), verified)},
	}
	for i, c := range d.Changes {
		v.Changes = append(v.Changes, fmt.Sprintf("%d. %s", i+1, c.Text))
	}
	v.Tables = append(v.Tables, totalsTable(d.Totals.Incident, d.Totals.Baseline, m.Window.To.Sub(m.Window.From), m.Baseline.To.Sub(m.Baseline.From)))
	v.Tables = append(v.Tables, providerTable(d.Groups))
	v.Tables = append(v.Tables, groupTable(d.Groups))
	if len(d.Samples) > 0 {
		v.Tables = append(v.Tables, sampleTable(d.Samples))
	}
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

// totalsTable compares the windows; request counts as rates, since the windows differ in
// length.
func totalsTable(inc, base bundle.Stats, incDur, baseDur time.Duration) table {
	perMin := func(n int, d time.Duration) float64 {
		if d <= 0 {
			return 0
		}
		return float64(n) / d.Minutes()
	}
	ri, rb := perMin(inc.Requests, incDur), perMin(base.Requests, baseDur)
	return table{
		Title:  "Totals, incident against baseline",
		Header: []string{"", "INCIDENT", "BASELINE", "CHANGE"},
		Rows: [][]string{
			{"requests (per minute)", fmt.Sprintf("%d (%.2f/min)", inc.Requests, ri), fmt.Sprintf("%d (%.2f/min)", base.Requests, rb), ratio(ri, rb)},
			{"error rate", pct(inc.ErrorRate), pct(base.ErrorRate), points(inc.ErrorRate, base.ErrorRate)},
			{"errors by type", byType(inc.ErrorsByType), byType(base.ErrorsByType), ""},
			{"latency p50 / p95 / p99 ms", percentiles(inc.LatencyMs), percentiles(base.LatencyMs), ratio(inc.LatencyMs.P95Or0(), base.LatencyMs.P95Or0())},
			{"output tokens mean / p95", tokens(inc.OutputTokens), tokens(base.OutputTokens), ratio(inc.OutputTokens.MeanOr0(), base.OutputTokens.MeanOr0())},
			{"finish reasons", shares(inc.FinishReasonShare), shares(base.FinishReasonShare), ""},
			{"cost USD", money(inc.CostUSD), money(base.CostUSD), ratio(inc.CostUSD, base.CostUSD)},
		},
	}
}

// providerTable adds the groups up per provider: counts add up, percentiles do not, so
// this table has none (the group table has them).
func providerTable(groups []bundle.Group) table {
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
	t := table{Title: "By provider", Header: []string{"PROVIDER", "REQUESTS", "BASELINE", "ERROR RATE", "BASELINE"}}
	for _, n := range names {
		s := by[n]
		t.Rows = append(t.Rows, []string{n, fmt.Sprint(s.inc), fmt.Sprint(s.base), pct(frac(s.incErr, s.inc)), pct(frac(s.baseErr, s.base))})
	}
	return t
}

func groupTable(groups []bundle.Group) table {
	t := table{Title: "By provider / model / prompt version (incident | baseline)",
		Header: []string{"PROVIDER", "MODEL", "PROMPT", "REQUESTS", "ERROR RATE", "P95 MS", "OUT TOKENS", "FINISH"}}
	for _, g := range groups {
		prompt := g.PromptName
		if g.PromptVersion != "" {
			prompt += "@" + g.PromptVersion
		}
		if prompt == "" {
			prompt = "-"
		}
		t.Rows = append(t.Rows, []string{
			g.Provider, orDash(g.ResponseModel), prompt,
			pair(fmt.Sprint(g.Incident.Requests), fmt.Sprint(g.Baseline.Requests)),
			pair(pct(g.Incident.ErrorRate), pct(g.Baseline.ErrorRate)),
			pair(num(g.Incident.LatencyMs.P95Or0()), num(g.Baseline.LatencyMs.P95Or0())),
			pair(num(g.Incident.OutputTokens.MeanOr0()), num(g.Baseline.OutputTokens.MeanOr0())),
			pair(shares(g.Incident.FinishReasonShare), shares(g.Baseline.FinishReasonShare)),
		})
	}
	return t
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
