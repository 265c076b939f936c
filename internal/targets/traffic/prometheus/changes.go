package prometheus

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/evidence/bundle"
)

// The comparison follows the JSONL log's "what changed most" (same kinds, thresholds and
// scores) on what Prometheus has: volume, providers, models, errors, latency and answer
// length per provider.
const minRequests = 5

// compare lists the biggest differences between the windows, most telling first. inc and
// base are indexed like Snapshot's levels: all, by provider, by provider/model.
func compare(inc, base []statsByKey, window, baseline time.Duration) []bundle.Change {
	out := []bundle.Change{}
	add := func(c bundle.Change) {
		c.Score = round(c.Score, 3)
		out = append(out, c)
	}
	ti, tb := orZero(inc[0][""]), orZero(base[0][""])
	if ti.Requests >= minRequests && tb.Requests >= minRequests {
		i := float64(ti.Requests) / window.Minutes()
		b := float64(tb.Requests) / baseline.Minutes()
		if r := i / b; r >= 2 || r <= 0.5 {
			add(bundle.Change{Kind: "volume", Dimension: "all", Subject: "all", Baseline: round(b, 2), Incident: round(i, 2),
				Score: math.Abs(math.Log(r)), Text: fmt.Sprintf("requests per minute %s (%.1f → %.1f)", bundle.Relative(r), b, i)})
		}
	}
	for _, name := range sortedKeys(inc[1]) {
		pi, pb := orZero(inc[1][name]), orZero(base[1][name])
		if pi.Requests < minRequests {
			continue
		}
		if pb.Requests == 0 && tb.Requests >= minRequests {
			share := float64(pi.Requests) / float64(max(ti.Requests, 1))
			add(bundle.Change{Kind: "new_provider", Dimension: "provider", Subject: name, Incident: round(share, 4),
				Score: 1 + 2*share, Text: fmt.Sprintf("provider %s serves %s of requests and served none in the baseline", name, bundle.Percent(share))})
			continue
		}
		if pb.Requests < minRequests {
			continue
		}
		compareErrors(add, name, pi, pb)
		compareRatio(add, "latency_p95", name, pb.LatencyMs.P95Or0(), pi.LatencyMs.P95Or0(), 1.5, 2, "p95 latency on provider %s %s (%.0f ms → %.0f ms)")
		compareRatio(add, "output_tokens", name, pb.OutputTokens.MeanOr0(), pi.OutputTokens.MeanOr0(), 1.25, 2, "output tokens on provider %s %s (mean %.0f → %.0f)")
	}
	for _, name := range sortedKeys(inc[2]) {
		provider, model, _ := strings.Cut(name, "/")
		mi, mb := orZero(inc[2][name]), orZero(base[2][name])
		pi, pb := orZero(inc[1][provider]), orZero(base[1][provider])
		if mi.Requests < minRequests || mb.Requests > 0 || pb.Requests < minRequests {
			continue
		}
		share := float64(mi.Requests) / float64(max(pi.Requests, 1))
		add(bundle.Change{Kind: "new_response_model", Dimension: "provider/model", Subject: name, Incident: round(share, 4),
			Score: 1 + 3*share, Text: fmt.Sprintf("new model %s on provider %s (%s of its requests; baseline: %s)", model, provider, bundle.Percent(share), baselineModels(base[2], provider))})
	}
	return bundle.RankChanges(out)
}

func compareErrors(add func(bundle.Change), name string, inc, base bundle.Stats) {
	b, i := base.ErrorRate, inc.ErrorRate
	d := i - b
	if math.Abs(d) < 0.02 || (b > 0 && i/b < 1.5 && b/math.Max(i, 1e-9) < 1.5) {
		return
	}
	text := fmt.Sprintf("error rate on provider %s %s from %s to %s", name, bundle.UpDown(d), bundle.Percent(b), bundle.Percent(i))
	if top := bundle.Dominant(inc.ErrorsByType); d > 0 && top != "" {
		text += " (mostly " + top + ")"
	}
	add(bundle.Change{Kind: "error_rate", Dimension: "provider", Subject: name, Baseline: b, Incident: i, Score: 10 * math.Abs(d), Text: text})
}

// compareRatio adds a change when a value moved by factor or more (either way).
func compareRatio(add func(bundle.Change), kind, name string, b, i, factor, weight float64, format string) {
	if b <= 0 || i <= 0 {
		return
	}
	r := i / b
	if r < factor && r > 1/factor {
		return
	}
	add(bundle.Change{Kind: kind, Dimension: "provider", Subject: name, Baseline: b, Incident: i,
		Score: weight * math.Abs(math.Log(r)), Text: fmt.Sprintf(format, name, bundle.Relative(r), b, i)})
}

func baselineModels(byModel statsByKey, provider string) string {
	var models []string
	for _, name := range sortedKeys(byModel) {
		p, m, _ := strings.Cut(name, "/")
		if p == provider && byModel[name].Requests > 0 {
			models = append(models, m)
		}
	}
	if len(models) == 0 {
		return "none"
	}
	return strings.Join(models, ", ")
}

func topChange(changes []bundle.Change, inc, base int) string {
	switch {
	case inc == 0 && base == 0:
		return "no requests in the incident window or the baseline: check that the app exports llm_requests_total and Prometheus scrapes it"
	case inc == 0:
		return "no requests in the incident window (traffic stopped?)"
	case len(changes) == 0:
		return "no notable change against the baseline"
	default:
		return changes[0].Text
	}
}

func sortedKeys(m statsByKey) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
