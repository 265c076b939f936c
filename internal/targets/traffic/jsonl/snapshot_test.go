package jsonl

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/evidence/bundle"
	"github.com/quench-dev/quench/internal/ports"
)

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

type line = map[string]any

// logFile writes lines (maps are JSON-encoded, strings written as they are) to a temp file.
func logFile(t *testing.T, lines []any) string {
	t.Helper()
	var b bytes.Buffer
	for _, l := range lines {
		switch v := l.(type) {
		case string:
			b.WriteString(v)
		default:
			data, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(data)
		}
		b.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "requests.jsonl")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func req(at time.Time, fields line) line {
	l := line{
		"time":                  at.Format(time.RFC3339Nano),
		"gen_ai.provider.name":  "openai",
		"gen_ai.request.model":  "gpt-4o",
		"gen_ai.operation.name": "chat",
		"route":                 "chat",
		"prompt.name":           "summarise",
	}
	for k, v := range fields {
		l[k] = v
	}
	return l
}

// incidentStory: a baseline of 20 healthy requests on gpt-4o-2024-08-06 / summarise v7, then
// 10 requests in the incident window served by a new model, mostly a new prompt version,
// with errors, slower, shorter and truncated answers.
func incidentStory() []any {
	var lines []any
	for i := 1; i <= 20; i++ { // baseline: 09:31 .. 09:50
		f := line{
			"gen_ai.response.model": "gpt-4o-2024-08-06", "prompt.version": "v7",
			"duration_ms": 100 * i, "cost_usd": 0.01, "gen_ai.usage.input_tokens": 1000,
		}
		if i == 20 {
			f["error.type"] = "5xx"
		} else {
			f["gen_ai.usage.output_tokens"] = 400
			f["gen_ai.response.finish_reasons"] = []string{"stop"}
			f["error.type"] = ""
		}
		lines = append(lines, req(now.Add(-150*time.Minute+time.Duration(i)*time.Minute), f))
	}
	tokens := map[int]int{5: 100, 6: 120, 7: 140, 8: 160, 9: 180, 10: 200}
	for i := 1; i <= 10; i++ { // incident: 11:31 .. 11:40
		f := line{
			"gen_ai.response.model": "gpt-4o-2025-01-01", "prompt.version": "v8",
			"duration_ms": 1000 * i, "cost_usd": 0.02, "gen_ai.usage.input_tokens": 1000,
			"input":  fmt.Sprintf("Summarise the ticket from user%d@example.com, card 4111 1111 1111 1111", i),
			"output": "Summary: refund requested. Call +1 (555) 123-4567.",
		}
		if i >= 9 {
			f["prompt.version"] = "v7"
		}
		switch {
		case i <= 3:
			f["error.type"] = "5xx"
		case i == 4:
			f["error.type"] = "timeout"
		default:
			f["gen_ai.usage.output_tokens"] = tokens[i]
			if i <= 8 {
				f["gen_ai.response.finish_reasons"] = []string{"length"}
			} else {
				f["gen_ai.response.finish_reasons"] = []string{"stop"}
			}
		}
		lines = append(lines, req(now.Add(-30*time.Minute+time.Duration(i)*time.Minute), f))
	}
	lines = append(lines,
		"not json at all",
		`{"time": "yesterday", "gen_ai.provider.name": "openai"}`,
		`{"gen_ai.provider.name": "openai"}`,
		"",
		req(now.Add(-5*time.Minute), line{"route": "search", "gen_ai.response.model": "gpt-4o-2024-08-06"}),
		req(now.Add(5*time.Minute), line{"gen_ai.response.model": "after-now"}),
		req(now.Add(-10*time.Hour), line{"gen_ai.response.model": "before-baseline"}),
	)
	return lines
}

func snapshot(t *testing.T, l *Log, r ports.SnapshotRequest) (bundle.Bundle, ports.TrafficSnapshot) {
	t.Helper()
	snap, err := l.Snapshot(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	var b bundle.Bundle
	if err := json.Unmarshal(snap.Bundle, &b); err != nil {
		t.Fatal(err)
	}
	return b, snap
}

func storyRequest() ports.SnapshotRequest {
	return ports.SnapshotRequest{Window: 30 * time.Minute, Baseline: 2 * time.Hour, Now: now, Route: "chat", Samples: 4}
}

func TestSnapshotAggregates(t *testing.T) {
	b, snap := snapshot(t, New(logFile(t, incidentStory())), storyRequest())

	wantHeadline := ports.TrafficHeadline{Requests: 10, BaselineRequests: 20, ErrorRate: 0.4, BaselineErrorRate: 0.05,
		TopChange:    "new response model gpt-4o-2025-01-01 on provider openai (100.0% of its requests; baseline: gpt-4o-2024-08-06)",
		RequestModel: "gpt-4o", BaselineResponseModel: "gpt-4o-2024-08-06", ResponseModel: "gpt-4o-2025-01-01"}
	if snap.Headline != wantHeadline || b.Headline != wantHeadline {
		t.Fatalf("headline = %+v\nbundle   = %+v\nwant       %+v", snap.Headline, b.Headline, wantHeadline)
	}
	inc, base := b.Totals.Incident, b.Totals.Baseline
	if inc.Errors != 4 || inc.ErrorsByType["5xx"] != 3 || inc.ErrorsByType["timeout"] != 1 || inc.ErrorRateByType["5xx"] != 0.3 {
		t.Errorf("incident errors = %d %v %v", inc.Errors, inc.ErrorsByType, inc.ErrorRateByType)
	}
	if *inc.LatencyMs != (bundle.Percentiles{P50: 5000, P95: 10000, P99: 10000}) {
		t.Errorf("incident latency = %+v", *inc.LatencyMs)
	}
	if *base.LatencyMs != (bundle.Percentiles{P50: 1000, P95: 1900, P99: 2000}) {
		t.Errorf("baseline latency = %+v", *base.LatencyMs)
	}
	if *inc.OutputTokens != (bundle.TokenStats{Mean: 150, P95: 200}) {
		t.Errorf("incident output tokens = %+v (errors must not count as zero-length answers)", *inc.OutputTokens)
	}
	if *base.OutputTokens != (bundle.TokenStats{Mean: 400, P95: 400}) {
		t.Errorf("baseline output tokens = %+v", *base.OutputTokens)
	}
	if inc.FinishReasons["length"] != 4 || inc.FinishReasons["stop"] != 2 || inc.FinishReasonShare["length"] != 0.4 {
		t.Errorf("finish reasons = %v %v", inc.FinishReasons, inc.FinishReasonShare)
	}
	if inc.CostUSD != 0.2 || base.CostUSD != 0.2 || inc.CostPerRequest != 0.02 || base.CostPerRequest != 0.01 {
		t.Errorf("cost = %v/%v per request %v/%v", inc.CostUSD, base.CostUSD, inc.CostPerRequest, base.CostPerRequest)
	}
	if inc.InputTokensMean != 1000 {
		t.Errorf("input tokens mean = %v", inc.InputTokensMean)
	}

	// Groups: (provider, response model, prompt version), busiest in the incident first.
	var keys []string
	for _, g := range b.Groups {
		keys = append(keys, fmt.Sprintf("%s/%s/%s@%s:%d+%d", g.Provider, g.ResponseModel, g.PromptName, g.PromptVersion, g.Incident.Requests, g.Baseline.Requests))
	}
	wantKeys := []string{
		"openai/gpt-4o-2025-01-01/summarise@v8:8+0",
		"openai/gpt-4o-2025-01-01/summarise@v7:2+0",
		"openai/gpt-4o-2024-08-06/summarise@v7:0+20",
	}
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("groups = %v\nwant %v", keys, wantKeys)
	}

	m := b.Manifest
	if m.Malformed != 3 || m.OtherRoutes != 1 || m.Incident != 10 || m.BaselineN != 20 || m.Route != "chat" ||
		!m.Window.From.Equal(now.Add(-30*time.Minute)) || !m.Baseline.From.Equal(now.Add(-150*time.Minute)) || len(m.LinesSHA256) != 64 {
		t.Errorf("manifest = %+v", m)
	}
	if b.Schema != bundle.Schema {
		t.Errorf("schema = %q", b.Schema)
	}
}

func TestSnapshotWhatChangedMost(t *testing.T) {
	b, _ := snapshot(t, New(logFile(t, incidentStory())), storyRequest())
	var kinds []string
	for _, c := range b.Changes {
		kinds = append(kinds, c.Kind+":"+c.Subject)
	}
	want := []string{
		"new_response_model:openai/gpt-4o-2025-01-01",
		"error_rate:openai",
		"latency_p95:openai",
		"finish_reason:summarise length",
		"new_prompt_version:summarise@v8",
		"error_rate:summarise",
		"output_tokens:summarise",
		"cost_per_request:openai",
		"volume:all",
	}
	if !slices.Equal(kinds, want) {
		t.Fatalf("changes =\n  %s\nwant\n  %s", strings.Join(kinds, "\n  "), strings.Join(want, "\n  "))
	}
	texts := map[string]string{}
	for _, c := range b.Changes {
		texts[c.Kind+":"+c.Subject] = c.Text
	}
	for key, want := range map[string]string{
		"error_rate:openai":       "error rate on provider openai up from 5.0% to 40.0% (mostly 5xx)",
		"output_tokens:summarise": "output tokens on prompt summarise down 62% (mean 400 → 150) (versions v7 → v7, v8)",
		"latency_p95:openai":      "p95 latency on provider openai up 5.3x (1900 ms → 10000 ms)",
	} {
		if texts[key] != want {
			t.Errorf("%s: %q, want %q", key, texts[key], want)
		}
	}
}

func TestSnapshotSamplesAreRedactedAndCapped(t *testing.T) {
	b, _ := snapshot(t, New(logFile(t, incidentStory())), storyRequest())
	if len(b.Samples) != 4 || b.Manifest.SamplesKept != 4 {
		t.Fatalf("%d samples, want the cap of 4", len(b.Samples))
	}
	errs := 0
	for i, s := range b.Samples {
		if s.ErrorType != "" {
			errs++
		}
		if i > 0 && s.Time.Before(b.Samples[i-1].Time) {
			t.Error("samples are not in time order")
		}
		if s.Time.Before(now.Add(-30 * time.Minute)) {
			t.Errorf("sample from %v is outside the incident window", s.Time)
		}
		if strings.Contains(s.Input, "@example.com") || strings.Contains(s.Input, "4111") || strings.Contains(s.Output, "555") {
			t.Errorf("sample not redacted: %q / %q", s.Input, s.Output)
		}
		if !strings.Contains(s.Input, "[EMAIL]") || !strings.Contains(s.Input, "[CARD]") || !strings.Contains(s.Output, "[PHONE]") {
			t.Errorf("masks missing: %q / %q", s.Input, s.Output)
		}
		if len(s.InputSHA256) != 64 || s.InputSHA256 == s.OutputSHA256 {
			t.Errorf("digests %q %q", s.InputSHA256, s.OutputSHA256)
		}
	}
	if errs != 2 {
		t.Errorf("%d error samples of 4, want half", errs)
	}
	// The digest is of the raw text, so a responder can match a user report.
	raw := "Summarise the ticket from user4@example.com, card 4111 1111 1111 1111"
	found := false
	for _, s := range b.Samples {
		found = found || s.InputSHA256 == sha(raw)
	}
	if !found {
		t.Error("no sample carries the sha256 of the newest error's raw input")
	}
}

func TestSnapshotIsDeterministic(t *testing.T) {
	path := logFile(t, incidentStory())
	_, a := snapshot(t, New(path), storyRequest())
	_, b := snapshot(t, New(path), storyRequest())
	if !bytes.Equal(a.Bundle, b.Bundle) {
		t.Fatal("two snapshots of the same log and window differ")
	}
}

func TestSnapshotAllRoutesAndEmptyWindows(t *testing.T) {
	path := logFile(t, incidentStory())
	r := storyRequest()
	r.Route = ""
	b, _ := snapshot(t, New(path), r)
	if b.Headline.Requests != 11 || b.Manifest.OtherRoutes != 0 {
		t.Fatalf("all routes: %d requests, %d other-route lines", b.Headline.Requests, b.Manifest.OtherRoutes)
	}
	r.Now = now.Add(-24 * time.Hour)
	b, _ = snapshot(t, New(path), r)
	if b.Headline.Requests != 0 || !strings.Contains(b.Headline.TopChange, "no requests") || b.Changes == nil || b.Groups == nil {
		t.Fatalf("empty windows: %+v changes=%v", b.Headline, b.Changes)
	}
}

func TestSnapshotErrors(t *testing.T) {
	_, err := New(filepath.Join(t.TempDir(), "missing.jsonl")).Snapshot(context.Background(), storyRequest())
	if err == nil || !ports.IsPermanent(err) || !strings.Contains(err.Error(), "--traffic-log") {
		t.Fatalf("missing log: %v", err)
	}
	r := storyRequest()
	r.Window = 0
	if _, err := New(logFile(t, nil)).Snapshot(context.Background(), r); err == nil || !ports.IsPermanent(err) {
		t.Fatalf("zero window: %v", err)
	}
}

func TestMeasure(t *testing.T) {
	l := New(logFile(t, incidentStory()))
	ctx := context.Background()
	in := ports.VerifyInput{Window: 30 * time.Minute, Now: now, Route: "chat"}
	cases := []struct {
		signal string
		value  float64
	}{
		{"error_rate", 0.4},
		{"latency_p95", 10000},
		{"output_tokens", 150},
	}
	for _, c := range cases {
		in.Signal = c.signal
		res, err := l.Measure(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if res.Value != c.value || res.Requests != 10 || res.Detail == "" {
			t.Errorf("%s = %+v, want %v over 10 requests", c.signal, res, c.value)
		}
	}
	in.Signal, in.Now = "error_rate", now.Add(time.Hour)
	if res, err := l.Measure(ctx, in); err != nil || res.Requests != 0 || !strings.Contains(res.Detail, "no requests") {
		t.Errorf("quiet window = %+v, %v", res, err)
	}
	for _, bad := range []string{"promql", "vibes"} {
		in.Signal = bad
		if _, err := l.Measure(ctx, in); err == nil || !ports.IsPermanent(err) {
			t.Errorf("signal %s: %v", bad, err)
		}
	}
}

func TestLongLinesAreSkipped(t *testing.T) {
	long := `{"time":"` + now.Add(-time.Minute).Format(time.RFC3339) + `","input":"` + strings.Repeat("x", maxLine) + `"}`
	path := logFile(t, []any{long, req(now.Add(-time.Minute), line{"error.type": "429"})})
	b, _ := snapshot(t, New(path), storyRequest())
	if b.Manifest.Malformed != 1 || b.Headline.Requests != 1 || b.Headline.ErrorRate != 1 {
		t.Fatalf("manifest %+v headline %+v", b.Manifest, b.Headline)
	}
}

// TestSearchFindsTheWindow checks that starting from a binary search over a large log gives
// the same bundle as reading it from the top.
func TestSearchFindsTheWindow(t *testing.T) {
	var lines []any
	start := now.Add(-72 * time.Hour)
	for i := 0; i < 72*60; i++ { // one request a minute for three days
		f := line{"gen_ai.response.model": "gpt-4o-2024-08-06", "duration_ms": i % 997, "gen_ai.usage.output_tokens": i % 301,
			"input": strings.Repeat("padding ", 40)}
		if i%17 == 0 {
			f["error.type"] = "5xx"
		}
		lines = append(lines, req(start.Add(time.Duration(i)*time.Minute), f))
	}
	path := logFile(t, lines)
	r := storyRequest()
	r.Baseline = 3 * time.Hour
	searched, a := snapshot(t, New(path, WithSearchAbove(0)), r)
	full, b := snapshot(t, New(path, WithSearchAbove(-1)), r)
	if searched.Manifest.StartOffset == 0 {
		t.Fatal("the search did not skip the old part of the log")
	}
	if full.Manifest.StartOffset != 0 {
		t.Fatal("a full scan did not start at the top")
	}
	groupsA, _ := json.Marshal(searched.Groups)
	groupsB, _ := json.Marshal(full.Groups)
	if a.Headline != b.Headline || searched.Manifest.LinesSHA256 != full.Manifest.LinesSHA256 || !bytes.Equal(groupsA, groupsB) {
		t.Fatalf("search %+v / %s\nfull  %+v / %s", a.Headline, searched.Manifest.LinesSHA256, b.Headline, full.Manifest.LinesSHA256)
	}
	if a.Headline.Requests != 30 || a.Headline.BaselineRequests != 180 {
		t.Fatalf("headline = %+v", a.Headline)
	}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// A verify after a switch counts only requests that started after the change, and only on
// the provider the route moved to: the errors that caused the switch must not count.
func TestMeasureSinceChangeOnNewProvider(t *testing.T) {
	change := now.Add(-time.Minute)
	lines := []any{}
	for i := range 10 { // before the change: the failing primary
		lines = append(lines, req(change.Add(-time.Duration(10-i)*time.Second), line{"gen_ai.provider.name": "primary", "error.type": "503"}))
	}
	for i := range 4 { // after: the fallback, one error in four
		fields := line{"gen_ai.provider.name": "fallback"}
		if i == 0 {
			fields["error.type"] = "500"
		}
		lines = append(lines, req(change.Add(time.Duration(i+1)*time.Second), fields))
	}
	// A request in flight on the old provider that started after the change is not the
	// new provider's.
	lines = append(lines, req(change.Add(5*time.Second), line{"gen_ai.provider.name": "primary", "error.type": "503"}))
	l := New(logFile(t, lines))
	in := ports.VerifyInput{Signal: "error_rate", Window: 30 * time.Minute, Now: now, Route: "chat", Since: change, Provider: "fallback"}
	res, err := l.Measure(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 4 || res.Value != 0.25 || !strings.Contains(res.Detail, "served by fallback") || !strings.Contains(res.Detail, "since") {
		t.Fatalf("since the change on fallback = %+v, want 1 of 4 failed", res)
	}

	// Without Since the window reaches back over the failing primary's requests.
	in.Since, in.Provider = time.Time{}, ""
	if res, _ := l.Measure(context.Background(), in); res.Requests != 15 {
		t.Fatalf("whole window = %+v, want all 15 requests", res)
	}

	// A provider name the log never uses: the route is measured, and the detail says so.
	in.Since, in.Provider = change, "openai-fallback"
	res, err = l.Measure(context.Background(), in)
	if err != nil || res.Requests != 5 || !strings.Contains(res.Detail, "all providers counted") {
		t.Fatalf("unknown provider = %+v, %v", res, err)
	}

	// Nothing yet after the change: zero requests, not a value.
	in.Since = now
	if res, _ := l.Measure(context.Background(), in); res.Requests != 0 || !strings.Contains(res.Detail, "no requests") {
		t.Fatalf("nothing since the change = %+v", res)
	}
}
