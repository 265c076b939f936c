package prometheus

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/evidence/bundle"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/traffic/prometheus/promtest"
)

// story runs a real Prometheus over an exporter that first serves a healthy baseline
// (openai gpt-4o, fast, no errors) and then an incident (openai fails half its requests and
// slows down, a new model appears on it, anthropic takes some traffic for the first time).
// It returns the windows, measured on the wall clock Prometheus stamps its samples with.
type story struct {
	src            *Source
	prom           *promtest.Server
	t0, t1, t2     time.Time
	incidentErrors int
}

func runStory(t *testing.T) *story {
	t.Helper()
	exp := promtest.NewExporter(t)
	prom := promtest.Start(t, exp.URL)
	src, err := New(Options{URL: prom.URL, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// Series exist at zero before any window starts, so increase() sees every request.
	for _, status := range []string{"200", "503", "429"} {
		exp.Requests.WithLabelValues("openai", "gpt-4o", "chat", status)
	}
	exp.Cost.WithLabelValues("chat", "support-bot")
	total := 0
	step := func(fn func()) {
		fn()
		prom.AwaitValue(t, `sum(llm_requests_total)`, float64(total))
	}
	exp.AwaitScrapes(t, 2)
	s := &story{src: src, prom: prom, t0: time.Now()}
	exp.AwaitScrapes(t, 2)
	for i := 0; i < 4; i++ {
		step(func() {
			for j := 0; j < 20; j++ {
				exp.Request("openai", "gpt-4o", "chat", "200", 0.2, 300)
				total++
			}
			exp.Cost.WithLabelValues("chat", "support-bot").Add(0.2)
		})
	}
	exp.AwaitScrapes(t, 2)
	s.t1 = time.Now()
	exp.Requests.WithLabelValues("openai", "gpt-4o-2025-01-01", "chat", "200")
	exp.Requests.WithLabelValues("anthropic", "claude-sonnet", "chat", "200")
	exp.AwaitScrapes(t, 2)
	for i := 0; i < 4; i++ {
		step(func() {
			for j := 0; j < 10; j++ {
				status := "200"
				switch {
				case j < 4:
					status = "503"
				case j == 4:
					status = "429"
				}
				if status != "200" {
					s.incidentErrors++
				}
				exp.Request("openai", "gpt-4o", "chat", status, 4, 120)
				total++
			}
			for j := 0; j < 5; j++ {
				exp.Request("openai", "gpt-4o-2025-01-01", "chat", "200", 3, 100)
				exp.Request("anthropic", "claude-sonnet", "chat", "200", 0.4, 280)
				total += 2
			}
			exp.Cost.WithLabelValues("chat", "support-bot").Add(0.5)
		})
	}
	exp.AwaitScrapes(t, 2)
	s.t2 = time.Now()
	return s
}

func TestAgainstARealPrometheus(t *testing.T) {
	s := runStory(t)
	ctx := context.Background()
	window, baseline := s.t2.Sub(s.t1), s.t1.Sub(s.t0)

	t.Run("snapshot", func(t *testing.T) {
		snap, err := s.src.Snapshot(ctx, ports.SnapshotRequest{Window: window, Baseline: baseline, Now: s.t2, Route: "chat", Samples: 10})
		if err != nil {
			t.Fatal(err)
		}
		var b bundle.Bundle
		if err := json.Unmarshal(snap.Bundle, &b); err != nil {
			t.Fatal(err)
		}
		if b.Schema != "quench.traffic.snapshot/v1" {
			t.Fatalf("schema %q", b.Schema)
		}
		// increase() extrapolates to the window edges: counts are close, not exact.
		if h := snap.Headline; h.ErrorRate < 0.15 || h.ErrorRate > 0.4 || h.BaselineErrorRate != 0 || h.Requests < 40 || h.BaselineRequests < 40 {
			t.Fatalf("headline %+v: want about 80 incident requests at ~25%% errors over a clean baseline of about 80", h)
		}
		groups := map[string]bool{}
		for _, g := range b.Groups {
			groups[g.Provider+"/"+g.ResponseModel] = g.Incident.Requests > 0
		}
		for _, want := range []string{"openai/gpt-4o", "openai/gpt-4o-2025-01-01", "anthropic/claude-sonnet"} {
			if !groups[want] {
				t.Errorf("no incident traffic in group %s: %v", want, groups)
			}
		}
		kinds := map[string]string{}
		for _, c := range b.Changes {
			kinds[c.Kind+" "+c.Subject] = c.Text
		}
		for _, want := range []string{"error_rate openai", "new_provider anthropic", "latency_p95 openai", "new_response_model openai/gpt-4o-2025-01-01"} {
			if _, ok := kinds[want]; !ok {
				t.Errorf("what changed lacks %q: %v", want, kinds)
			}
		}
		if !strings.Contains(kinds["error_rate openai"], "mostly 5xx") {
			t.Errorf("error change should name the dominant type: %q", kinds["error_rate openai"])
		}
		if b.Totals.Incident.LatencyMs == nil || b.Totals.Incident.LatencyMs.P95 < 1000 || b.Totals.Baseline.LatencyMs.P95 > 500 {
			t.Errorf("latency: incident %+v baseline %+v", b.Totals.Incident.LatencyMs, b.Totals.Baseline.LatencyMs)
		}
		if b.Totals.Incident.CostUSD <= b.Totals.Baseline.CostUSD || b.Totals.Incident.CostUSD == 0 {
			t.Errorf("cost: incident %g baseline %g", b.Totals.Incident.CostUSD, b.Totals.Baseline.CostUSD)
		}
		if len(b.Samples) != 0 || b.Manifest.SamplesKept != 0 {
			t.Errorf("Prometheus has no requests to sample: %d samples", len(b.Samples))
		}
		var ranged, errSeries bool
		for _, q := range b.Manifest.Queries {
			ranged = ranged || strings.HasPrefix(q, "query_range ")
		}
		for _, sr := range b.Series {
			errSeries = errSeries || (sr.Signal == "error_rate" && sr.Provider == "openai" && len(sr.Points) > 0)
		}
		if !ranged || !errSeries || b.Manifest.Digests["responses_sha256"] == "" || len(b.Manifest.Notes) == 0 {
			t.Errorf("manifest/series: range query %v, openai error series %v, digests %v", ranged, errSeries, b.Manifest.Digests)
		}
	})

	t.Run("measure", func(t *testing.T) {
		in := ports.VerifyInput{Route: "chat", Window: window, Now: s.t2}
		measure := func(signal, query string) ports.VerifyResult {
			t.Helper()
			in.Signal, in.Query = signal, query
			res, err := s.src.Measure(ctx, in)
			if err != nil {
				t.Fatalf("%s: %v", signal, err)
			}
			return res
		}
		if r := measure("error_rate", ""); r.Value < 0.15 || r.Value > 0.4 || r.Requests == 0 {
			t.Errorf("error_rate %+v", r)
		}
		if r := measure("latency_p95", ""); r.Value < 1000 || r.Requests == 0 {
			t.Errorf("latency_p95 %+v", r)
		}
		if r := measure("output_tokens", ""); r.Value < 100 || r.Value > 300 || r.Requests == 0 {
			t.Errorf("output_tokens %+v", r)
		}
		if r := measure("promql", `sum(increase(llm_requests_total{route="$route", status=~"5.."}[$window])) / sum(increase(llm_requests_total{route="$route"}[$window]))`); r.Requests != 1 || r.Value < 0.1 {
			t.Errorf("promql %+v", r)
		}
		if r := measure("promql", `sum(llm_requests_total{route="nowhere"})`); r.Requests != 0 {
			t.Errorf("an empty answer must not count as a measurement: %+v", r)
		}
		in.Route = "nowhere"
		if r := measure("error_rate", ""); r.Requests != 0 {
			t.Errorf("no traffic must not count as a measurement: %+v", r)
		}
		in.Route = "chat"

		// Since the change only: a window reaching back over the clean baseline would
		// dilute the incident's errors; counted from t1 it does not.
		whole := in
		whole.Window, whole.Signal = s.t2.Sub(s.t0), "error_rate"
		diluted, err := s.src.Measure(ctx, whole)
		if err != nil {
			t.Fatal(err)
		}
		since := whole
		since.Since = s.t1
		after, err := s.src.Measure(ctx, since)
		if err != nil {
			t.Fatal(err)
		}
		if after.Value <= diluted.Value || after.Requests >= diluted.Requests || !strings.Contains(after.Detail, "since the change") {
			t.Errorf("since the change %+v, whole window %+v: want fewer requests at a higher error rate", after, diluted)
		}
		// On the provider the route moved to: anthropic served without errors.
		since.Provider = "anthropic"
		if r, err := s.src.Measure(ctx, since); err != nil || r.Value != 0 || r.Requests == 0 || r.Requests >= after.Requests || !strings.Contains(r.Detail, "served by anthropic") {
			t.Errorf("on anthropic since the change: %+v, %v", r, err)
		}
		since.Provider = "mistral"
		if r, err := s.src.Measure(ctx, since); err != nil || r.Requests == 0 || !strings.Contains(r.Detail, "all providers counted") {
			t.Errorf("a provider without series: %+v, %v", r, err)
		}

		// key_served: requests carry no agent label, the key's spend does. support-bot
		// spent in the window (served); a key that spent nothing was not.
		served := in
		served.Signal, served.Key = ports.SignalKeyServed, "support-bot"
		if r, err := s.src.Measure(ctx, served); err != nil || r.Value != 1 || r.Requests == 0 || !strings.Contains(r.Detail, "key support-bot spent $") {
			t.Errorf("key_served of a key that spent: %+v, %v", r, err)
		}
		served.Key = "agent-blocked"
		if r, err := s.src.Measure(ctx, served); err != nil || r.Value != 0 || r.Requests == 0 {
			t.Errorf("key_served of a key that spent nothing: %+v, %v", r, err)
		}
		// model_drift: one model label per series cannot say which alias an answer was for.
		drift := in
		drift.Signal, drift.Model, drift.PinnedModel = ports.SignalModelDrift, "gpt-4o", "gpt-4o-2024-08-06"
		if _, err := s.src.Measure(ctx, drift); !ports.IsPermanent(err) || !strings.Contains(err.Error(), "one model label") {
			t.Errorf("model_drift on Prometheus: %v, want a permanent error that says why", err)
		}

		for _, q := range []string{`sum by (provider) (llm_requests_total)`, `sum(rate(llm_requests_total[`} {
			in.Signal, in.Query = "promql", q
			if _, err := s.src.Measure(ctx, in); err == nil || !ports.IsPermanent(err) {
				t.Errorf("query %q: want a permanent error, got %v", q, err)
			}
		}
	})

	// A fail back's figure: each provider on its own, whatever route sent the requests.
	t.Run("provider health", func(t *testing.T) {
		health := func(provider string) ports.HealthFigure {
			t.Helper()
			fig, err := s.src.ProviderHealth(ctx, ports.HealthInput{Provider: provider, Window: window, Now: s.t2})
			if err != nil {
				t.Fatalf("%s: %v", provider, err)
			}
			return fig
		}
		if f := health("openai"); f.Requests < 30 || f.ErrorRate < 0.2 || f.ErrorRate > 0.5 || f.LatencyP95Ms < 1000 {
			t.Errorf("openai %+v: want about 60 requests, a third failed, p95 over a second", f)
		}
		if f := health("anthropic"); f.Requests < 10 || f.Errors != 0 || f.LatencyP95Ms == 0 || f.LatencyP95Ms > 1000 {
			t.Errorf("anthropic %+v: want about 20 clean requests under a second", f)
		}
		if f := health("mistral"); f.Requests != 0 {
			t.Errorf("a provider without traffic: %+v", f)
		}
	})
}

func TestUnreachablePrometheusIsRetryable(t *testing.T) {
	src, err := New(Options{URL: "http://127.0.0.1:1", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Measure(context.Background(), ports.VerifyInput{Signal: "error_rate", Window: time.Minute, Now: time.Now()})
	if err == nil || ports.IsPermanent(err) {
		t.Fatalf("want a retryable error, got %v", err)
	}
	if _, err := New(Options{URL: "http://x", ErrorStatus: "5..("}); err == nil {
		t.Fatal("a bad error_status regexp was accepted")
	}
}
