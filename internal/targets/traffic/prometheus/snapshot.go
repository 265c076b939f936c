package prometheus

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/evidence/bundle"
	"github.com/quench-dev/quench/internal/ports"
)

// Limits of a bundle.
const (
	maxSeriesProviders = 10
	seriesPoints       = 30
)

// stats of one window, by the label values of a grouping ("" = all traffic).
type statsByKey map[string]*bundle.Stats

func key(labels map[string]string, by []string) string {
	parts := make([]string, len(by))
	for i, l := range by {
		parts[i] = labels[l]
		if parts[i] == "" {
			parts[i] = "unknown"
		}
	}
	return strings.Join(parts, "/")
}

func byClause(by []string, extra ...string) string {
	return "by (" + strings.Join(append(append([]string{}, by...), extra...), ", ") + ")"
}

// windowStats aggregates [at-w, at] grouped by the labels in by.
func (s *Source) windowStats(ctx context.Context, a *api, route string, at time.Time, w time.Duration, by []string) (statsByKey, error) {
	rng := promDuration(w)
	out := statsByKey{}
	get := func(k string) *bundle.Stats {
		st, ok := out[k]
		if !ok {
			st = &bundle.Stats{}
			out[k] = st
		}
		return st
	}
	rows, err := a.instant(ctx, fmt.Sprintf("sum %s (increase(%s[%s]))", byClause(by, "status"), s.sel(s.opts.Requests, route), rng), at)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if math.IsNaN(r.Value) {
			continue
		}
		n := int(math.Round(r.Value))
		st := get(key(r.Labels, by))
		st.Requests += n
		if status := r.Labels["status"]; s.errRes.MatchString(status) && n > 0 {
			if st.ErrorsByType == nil {
				st.ErrorsByType = map[string]int{}
			}
			st.ErrorsByType[errorType(status)] += n
			st.Errors += n
		}
	}
	for _, q := range []struct {
		p   float64
		set func(*bundle.Percentiles, float64)
	}{
		{0.5, func(p *bundle.Percentiles, v float64) { p.P50 = v }},
		{0.95, func(p *bundle.Percentiles, v float64) { p.P95 = v }},
		{0.99, func(p *bundle.Percentiles, v float64) { p.P99 = v }},
	} {
		rows, err := a.instant(ctx, fmt.Sprintf("histogram_quantile(%g, sum %s (increase(%s[%s]))) * 1000", q.p, byClause(by, "le"), s.sel(s.opts.Duration+"_bucket", route), rng), at)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
				continue
			}
			st := get(key(r.Labels, by))
			if st.LatencyMs == nil {
				st.LatencyMs = &bundle.Percentiles{}
			}
			q.set(st.LatencyMs, round(r.Value, 1))
		}
	}
	sums, err := a.instant(ctx, fmt.Sprintf("sum %s (increase(%s[%s]))", byClause(by), s.sel(s.opts.OutputTokens+"_sum", route), rng), at)
	if err != nil {
		return nil, err
	}
	counts, err := a.instant(ctx, fmt.Sprintf("sum %s (increase(%s[%s]))", byClause(by), s.sel(s.opts.OutputTokens+"_count", route), rng), at)
	if err != nil {
		return nil, err
	}
	p95, err := a.instant(ctx, fmt.Sprintf("histogram_quantile(0.95, sum %s (increase(%s[%s])))", byClause(by, "le"), s.sel(s.opts.OutputTokens+"_bucket", route), rng), at)
	if err != nil {
		return nil, err
	}
	tokenSum := map[string]float64{}
	for _, r := range sums {
		tokenSum[key(r.Labels, by)] = r.Value
	}
	for _, r := range counts {
		k := key(r.Labels, by)
		if r.Value > 0 && !math.IsNaN(tokenSum[k]) {
			get(k).OutputTokens = &bundle.TokenStats{Mean: round(tokenSum[k]/r.Value, 1)}
		}
	}
	for _, r := range p95 {
		if st, ok := out[key(r.Labels, by)]; ok && st.OutputTokens != nil && !math.IsNaN(r.Value) && !math.IsInf(r.Value, 0) {
			st.OutputTokens.P95 = round(r.Value, 1)
		}
	}
	if len(by) == 0 {
		cost, err := a.instant(ctx, fmt.Sprintf("sum(increase(%s[%s]))", s.sel(s.opts.Cost, route), rng), at)
		if err != nil {
			return nil, err
		}
		if len(cost) == 1 && !math.IsNaN(cost[0].Value) {
			get("").CostUSD = round(cost[0].Value, 6)
		}
	}
	for _, st := range out {
		finish(st)
	}
	return out, nil
}

// errorType names a failed status the way the JSONL log's error.type does.
func errorType(status string) string {
	switch {
	case status == "429" || status == "timeout":
		return status
	case len(status) == 3 && status[0] == '5':
		return "5xx"
	case len(status) == 3 && status[0] == '4':
		return "4xx"
	}
	return status
}

func finish(st *bundle.Stats) {
	if st.Requests == 0 {
		return
	}
	st.ErrorRate = round(float64(st.Errors)/float64(st.Requests), 4)
	if len(st.ErrorsByType) > 0 {
		st.ErrorRateByType = map[string]float64{}
		for k, v := range st.ErrorsByType {
			st.ErrorRateByType[k] = round(float64(v)/float64(st.Requests), 4)
		}
	}
	if st.CostUSD > 0 {
		st.CostPerRequest = round(st.CostUSD/float64(st.Requests), 6)
	}
}

func round(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(x*p) / p
}

// Snapshot builds the evidence bundle of req's windows from instant queries (each window
// grouped by all traffic, provider, and provider/model) and range queries (the incident
// window as series per provider).
func (s *Source) Snapshot(ctx context.Context, req ports.SnapshotRequest) (ports.TrafficSnapshot, error) {
	if req.Window <= 0 || req.Baseline <= 0 {
		return ports.TrafficSnapshot{}, ports.Permanentf("window and baseline must be positive durations (got %s and %s)", req.Window, req.Baseline)
	}
	a := newAPI(s.http)
	now := req.Now.UTC()
	incFrom := now.Add(-req.Window)
	levels := [][]string{nil, {"provider"}, {"provider", "model"}}
	inc := make([]statsByKey, len(levels))
	base := make([]statsByKey, len(levels))
	for i, by := range levels {
		var err error
		if inc[i], err = s.windowStats(ctx, a, req.Route, now, req.Window, by); err != nil {
			return ports.TrafficSnapshot{}, err
		}
		if base[i], err = s.windowStats(ctx, a, req.Route, incFrom, req.Baseline, by); err != nil {
			return ports.TrafficSnapshot{}, err
		}
	}
	series, err := s.series(ctx, a, req.Route, incFrom, now)
	if err != nil {
		return ports.TrafficSnapshot{}, err
	}

	var b bundle.Bundle
	b.Schema = bundle.Schema
	b.Totals.Incident, b.Totals.Baseline = orZero(inc[0][""]), orZero(base[0][""])
	b.Groups = groups(inc[2], base[2])
	b.Changes = compare(inc, base, req.Window, req.Baseline)
	b.Samples = []bundle.Sample{}
	b.Series = series
	b.Manifest = bundle.Manifest{
		Source: s.http.BaseURL, Window: bundle.Span{From: incFrom, To: now}, Baseline: bundle.Span{From: incFrom.Add(-req.Baseline), To: incFrom},
		Route: req.Route, Incident: b.Totals.Incident.Requests, BaselineN: b.Totals.Baseline.Requests,
		GroupsTotal: len(b.Groups), GroupsKept: len(b.Groups), SamplesCap: min(max(req.Samples, 0), 100),
		Queries: a.queries, Digests: map[string]string{"responses_sha256": digestOf(a)},
		Redaction: "no request text is read from Prometheus",
		Notes: []string{
			"counts are increase() over the windows: Prometheus extrapolates them, so they are approximate",
			"Prometheus holds no single requests: no samples, prompt versions or finish reasons in this bundle",
			"cost comes from " + s.opts.Cost + " (labels route, agent): in the totals only",
			"one model label per series: which response model answered which request model cannot be told, so the headline names no baseline response model to pin to",
		},
	}
	if len(b.Groups) > maxGroups {
		b.Groups = b.Groups[:maxGroups]
		b.Manifest.GroupsKept = maxGroups
	}
	b.Headline = ports.TrafficHeadline{
		Requests: b.Totals.Incident.Requests, BaselineRequests: b.Totals.Baseline.Requests,
		ErrorRate: b.Totals.Incident.ErrorRate, BaselineErrorRate: b.Totals.Baseline.ErrorRate,
		TopChange:    topChange(b.Changes, b.Totals.Incident.Requests, b.Totals.Baseline.Requests),
		RequestModel: req.RequestModel,
	}
	data, err := bundle.EncodeCapped(&b, bundle.DefaultMaxBundleBytes)
	if err != nil {
		return ports.TrafficSnapshot{}, err
	}
	return ports.TrafficSnapshot{Bundle: data, Headline: b.Headline}, nil
}

const maxGroups = 100

func orZero(st *bundle.Stats) bundle.Stats {
	if st == nil {
		return bundle.Stats{}
	}
	return *st
}

// groups pairs the windows per provider/model, busiest first.
func groups(inc, base statsByKey) []bundle.Group {
	keys := map[string]bool{}
	for k := range inc {
		keys[k] = true
	}
	for k := range base {
		keys[k] = true
	}
	out := make([]bundle.Group, 0, len(keys))
	for k := range keys {
		provider, model, _ := strings.Cut(k, "/")
		out = append(out, bundle.Group{Provider: provider, ResponseModel: model, Incident: orZero(inc[k]), Baseline: orZero(base[k])})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Incident.Requests != b.Incident.Requests {
			return a.Incident.Requests > b.Incident.Requests
		}
		if a.Baseline.Requests != b.Baseline.Requests {
			return a.Baseline.Requests > b.Baseline.Requests
		}
		return a.Provider+"/"+a.ResponseModel < b.Provider+"/"+b.ResponseModel
	})
	return out
}

// series reads the incident window per provider, about seriesPoints points each.
func (s *Source) series(ctx context.Context, a *api, route string, from, to time.Time) ([]bundle.Series, error) {
	step := max(to.Sub(from)/seriesPoints, time.Second).Truncate(time.Second)
	rng := promDuration(2 * step)
	all := fmt.Sprintf("sum by (provider) (rate(%s[%s]))", s.sel(s.opts.Requests, route), rng)
	failed := fmt.Sprintf("sum by (provider) (rate(%s[%s]))", s.sel(s.opts.Requests, route, s.errMatcher()), rng)
	queries := []struct{ signal, q string }{
		{"error_rate", fmt.Sprintf("(%s or %s * 0) / %s", failed, all, all)},
		{"latency_p95_ms", fmt.Sprintf("histogram_quantile(0.95, sum by (provider, le) (rate(%s[%s]))) * 1000", s.sel(s.opts.Duration+"_bucket", route), rng)},
	}
	var out []bundle.Series
	for _, q := range queries {
		rows, err := a.rangeQuery(ctx, q.q, from, to, step)
		if err != nil {
			return nil, err
		}
		sort.Slice(rows, func(i, j int) bool { return rows[i].Labels["provider"] < rows[j].Labels["provider"] })
		for i, r := range rows {
			if i >= maxSeriesProviders {
				break
			}
			sr := bundle.Series{Signal: q.signal, Provider: r.Labels["provider"], Step: step.String(), Points: []bundle.Point{}}
			for _, p := range r.Points {
				if !math.IsNaN(p.V) && !math.IsInf(p.V, 0) {
					sr.Points = append(sr.Points, bundle.Point{T: p.T, V: round(p.V, 4)})
				}
			}
			out = append(out, sr)
		}
	}
	return out, nil
}
