package langfuse

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/evidence/bundle"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/httpapi/apifake"
	"github.com/quench-dev/quench/internal/targets/traffic/langfuse/langfusefake"
	"github.com/quench-dev/quench/internal/targets/traffic/redact"
)

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

const (
	pk = "pk-lf-test"
	sk = "sk-lf-test"
)

// story: a healthy baseline on summarise v7 (openai), then an incident window where v8
// ships, answers get long and truncated, and a third of the requests are rate limited.
func story(s *langfusefake.Server) (inBaseline, inIncident int) {
	for i := 0; i < 30; i++ { // baseline 10:00 .. 11:27
		s.AddGenerations(langfusefake.Generation{
			ID: fmt.Sprintf("b%d", i), Start: now.Add(-2*time.Hour + time.Duration(i)*3*time.Minute), Duration: 800 * time.Millisecond,
			Model: "gpt-4o", Provider: "openai", Route: "chat", PromptName: "summarise", PromptVersion: 7,
			InputTokens: 900, OutputTokens: 200, Cost: 0.01, FinishReason: "stop",
			Input: "summarise the ticket", Output: "short summary",
		})
		inBaseline++
	}
	for i := 0; i < 24; i++ { // incident 11:31 .. 11:54
		g := langfusefake.Generation{
			ID: fmt.Sprintf("i%d", i), Start: now.Add(-29*time.Minute + time.Duration(i)*time.Minute), Duration: 3 * time.Second,
			Model: "gpt-4o", Provider: "openai", Route: "chat", PromptName: "summarise", PromptVersion: 8,
			InputTokens: 900, OutputTokens: 900, Cost: 0.03, FinishReason: "length",
			Input:  map[string]any{"messages": []map[string]string{{"role": "user", "content": fmt.Sprintf("I am user%d@example.com, card 4111 1111 1111 1111, call +1 (555) 123-4567, key sk-proj-abcdefghijklmnopqrstuvwxyz%06d", i, i)}}},
			Output: "Authorization: Bearer abcdef0123456789 was in the logs",
		}
		if i%3 == 0 {
			g.Level, g.StatusMessage, g.OutputTokens, g.FinishReason = "ERROR", "Error code: 429 - Rate limit reached for gpt-4o", 0, ""
		}
		s.AddGenerations(g)
		inIncident++
	}
	// Noise: another route, and traffic outside both windows.
	s.AddGenerations(
		langfusefake.Generation{ID: "other", Start: now.Add(-10 * time.Minute), Model: "gpt-4o", Provider: "openai", Route: "search"},
		langfusefake.Generation{ID: "old", Start: now.Add(-5 * time.Hour), Model: "gpt-4o", Provider: "openai", Route: "chat"},
	)
	return inBaseline, inIncident
}

func source(t *testing.T, s *langfusefake.Server, opts Options) *Source {
	t.Helper()
	opts.URL, opts.PublicKey, opts.SecretKey = s.URL, pk, sk
	src, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func fake(t *testing.T) *langfusefake.Server {
	t.Helper()
	s := langfusefake.New(pk, sk)
	t.Cleanup(s.Close)
	return s
}

func snapshot(t *testing.T, src *Source, req ports.SnapshotRequest) (bundle.Bundle, ports.TrafficSnapshot) {
	t.Helper()
	snap, err := src.Snapshot(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var b bundle.Bundle
	if err := json.Unmarshal(snap.Bundle, &b); err != nil {
		t.Fatal(err)
	}
	return b, snap
}

var storyReq = ports.SnapshotRequest{Window: 30 * time.Minute, Baseline: 2 * time.Hour, Now: now, Route: "chat", Samples: 6}

func TestSnapshotReadsEveryPageAndBuildsTheSameBundle(t *testing.T) {
	s := fake(t)
	nBase, nInc := story(s)
	s.EmptyPageEvery(3) // Langfuse may answer an empty page and a cursor: keep going
	src := source(t, s, Options{PageSize: 7})
	b, snap := snapshot(t, src, storyReq)

	if b.Schema != bundle.Schema {
		t.Fatalf("schema %q", b.Schema)
	}
	if snap.Headline.Requests != nInc || snap.Headline.BaselineRequests != nBase {
		t.Fatalf("headline %+v: want %d incident and %d baseline requests (every page read)", snap.Headline, nInc, nBase)
	}
	if b.Manifest.LinesRead != nInc+nBase || b.Manifest.LinesSHA256 == "" || b.Manifest.Digests["metrics_sha256"] == "" {
		t.Fatalf("manifest: %+v", b.Manifest)
	}
	if pages := s.Count("GET", "/api/public/v2/observations"); pages < (nInc+nBase)/7 {
		t.Fatalf("only %d pages read for %d observations at 7 a page", pages, nInc+nBase)
	}
	if got := b.Totals.Incident.ErrorsByType["429"]; got != nInc/3 {
		t.Fatalf("429s in the incident: %d, want %d (read from the status message)", got, nInc/3)
	}
	if b.Totals.Incident.LatencyMs == nil || b.Totals.Incident.LatencyMs.P50 != 3000 {
		t.Fatalf("latency %+v", b.Totals.Incident.LatencyMs)
	}
	var versions []string
	for _, g := range b.Groups {
		versions = append(versions, g.PromptName+"@"+g.PromptVersion)
	}
	if !strings.Contains(strings.Join(versions, " "), "summarise@8") || !strings.Contains(strings.Join(versions, " "), "summarise@7") {
		t.Fatalf("groups by prompt version: %v", versions)
	}
	var kinds []string
	for _, c := range b.Changes {
		kinds = append(kinds, c.Kind)
	}
	for _, want := range []string{"error_rate", "output_tokens", "finish_reason"} {
		if !strings.Contains(strings.Join(kinds, " "), want) {
			t.Errorf("what changed lacks %s: %v", want, kinds)
		}
	}
	found := false
	for _, n := range b.Manifest.Notes {
		found = found || strings.Contains(n, fmt.Sprintf("v2 metrics count %d generations in the incident window", nInc))
	}
	if !found {
		t.Errorf("no metrics cross-check in the notes: %v", b.Manifest.Notes)
	}
}

func TestSamplesAreRedactedCappedAndHashed(t *testing.T) {
	s := fake(t)
	story(s)
	b, snap := snapshot(t, source(t, s, Options{}), storyReq)
	if len(b.Samples) != 6 || b.Manifest.SamplesKept != 6 {
		t.Fatalf("%d samples, want the cap of 6", len(b.Samples))
	}
	for _, secret := range []string{"@example.com", "4111 1111", "555) 123", "sk-proj-", "abcdef0123456789"} {
		if strings.Contains(string(snap.Bundle), secret) {
			t.Fatalf("the bundle leaks %q", secret)
		}
	}
	for _, smp := range b.Samples {
		for _, mask := range []string{redact.MaskEmail, redact.MaskCard, redact.MaskPhone, redact.MaskAPIKey} {
			if !strings.Contains(smp.Input, mask) {
				t.Errorf("sample input %q lacks %s", smp.Input, mask)
			}
		}
		if !strings.Contains(smp.Output, "Bearer "+redact.MaskToken) {
			t.Errorf("sample output %q: bearer token not masked", smp.Output)
		}
		if len(smp.InputSHA256) != 64 || smp.InputSHA256 == redact.Digest(smp.Input) {
			t.Errorf("input sha256 %q must be the raw text's, not the redacted one's", smp.InputSHA256)
		}
	}
}

func TestObservationCapIsReported(t *testing.T) {
	s := fake(t)
	story(s)
	b, _ := snapshot(t, source(t, s, Options{PageSize: 5, MaxObservations: 10}), storyReq)
	if b.Manifest.LinesRead != 10 || !strings.Contains(strings.Join(b.Manifest.Notes, " "), "capped at 10") {
		t.Fatalf("read %d, notes %v", b.Manifest.LinesRead, b.Manifest.Notes)
	}
	if b.Headline.Requests != 10 || b.Headline.BaselineRequests != 0 {
		t.Fatalf("the incident window is read first: %+v", b.Headline)
	}
}

func TestFailuresAreClassified(t *testing.T) {
	s := fake(t)
	story(s)
	src := source(t, s, Options{PageSize: 10})
	ctx := context.Background()
	s.Inject(apifake.Fault{Path: "/api/public/v2/observations", Code: 429, RetryAfter: "4", Skip: 2})
	_, err := src.Snapshot(ctx, storyReq)
	if d, _ := ports.RetryDelay(err); d != 4*time.Second {
		t.Fatalf("429 mid-pagination: %v (delay %s)", err, d)
	}
	s.Inject(apifake.Fault{Path: "/api/public/v2/metrics", Code: 500})
	if _, err := src.Measure(ctx, ports.VerifyInput{Signal: "error_rate", Window: 30 * time.Minute, Now: now}); err == nil || ports.IsPermanent(err) {
		t.Fatalf("500: want retryable, got %v", err)
	}
	bad, _ := New(Options{URL: s.URL, PublicKey: pk, SecretKey: "wrong"})
	if _, err := bad.Snapshot(ctx, storyReq); !ports.IsPermanent(err) {
		t.Fatalf("401: want permanent, got %v", err)
	}
	if _, err := New(Options{URL: s.URL}); err == nil {
		t.Fatal("missing keys accepted")
	}
}

func TestMeasure(t *testing.T) {
	s := fake(t)
	_, nInc := story(s)
	src := source(t, s, Options{})
	in := ports.VerifyInput{Route: "chat", Window: 30 * time.Minute, Now: now}
	for _, c := range []struct {
		signal string
		want   float64
	}{
		{"error_rate", float64(nInc/3) / float64(nInc)},
		{"latency_p95", 3000},
		{"output_tokens", 900},
	} {
		in.Signal = c.signal
		res, err := src.Measure(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if res.Value != c.want || res.Requests == 0 {
			t.Errorf("%s = %+v, want %g", c.signal, res, c.want)
		}
	}
	// Since a change 10 minutes ago: only the generations that started since count (the
	// last 5 of the incident), not the 30 minutes before.
	since := in
	since.Signal, since.Since, since.Provider = "error_rate", now.Add(-10*time.Minute), "anthropic"
	res, err := src.Measure(context.Background(), since)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 5 || !strings.Contains(res.Detail, "since the change") || !strings.Contains(res.Detail, "all providers") {
		t.Errorf("since the change = %+v, want the 5 generations started since (all providers, Langfuse cannot tell)", res)
	}
	in.Route, in.Signal = "nowhere", "error_rate"
	if res, _ := src.Measure(context.Background(), in); res.Requests != 0 {
		t.Errorf("no traffic must not count: %+v", res)
	}
	in.Signal = "promql"
	if _, err := src.Measure(context.Background(), in); !ports.IsPermanent(err) {
		t.Errorf("promql on Langfuse: %v", err)
	}
}

func TestErrorTypes(t *testing.T) {
	for msg, want := range map[string]string{
		"Error code: 429 - rate limit":   "429",
		"Request timed out":              "timeout",
		"Error code: 503 - overloaded":   "5xx",
		"finish_reason=content_filter":   "content_filter",
		"invalid tool call in the reply": "error",
	} {
		if got := errorType(msg); got != want {
			t.Errorf("errorType(%q) = %s, want %s", msg, got, want)
		}
	}
}
