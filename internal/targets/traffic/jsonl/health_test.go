package jsonl

import (
	"context"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/ports"
)

// A provider's health counts its requests on every route in the window, and only its own.
func TestProviderHealth(t *testing.T) {
	var lines []any
	for i := 1; i <= 10; i++ {
		f := line{"duration_ms": 100 * i, "route": "batch"} // the primary still serves another route
		if i == 10 {
			f["error.type"] = "500"
		}
		lines = append(lines, req(now.Add(-time.Duration(i)*time.Minute), f))
	}
	for i := 1; i <= 5; i++ { // the fallback serves the failed-over route: not counted
		lines = append(lines, req(now.Add(-time.Duration(i)*time.Minute), line{"gen_ai.provider.name": "anthropic", "error.type": "503"}))
	}
	lines = append(lines, req(now.Add(-time.Hour), line{"error.type": "503"})) // before the window
	l := New(logFile(t, lines))

	fig, err := l.ProviderHealth(context.Background(), ports.HealthInput{Provider: "OpenAI", Window: 15 * time.Minute, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if fig.Requests != 10 || fig.Errors != 1 || fig.ErrorRate != 0.1 || fig.LatencyP95Ms < 900 || fig.Source == "" {
		t.Fatalf("openai health %+v, want 1 error in 10 requests and a p95 near 1 s", fig)
	}
	quiet, err := l.ProviderHealth(context.Background(), ports.HealthInput{Provider: "mistral", Window: 15 * time.Minute, Now: now})
	if err != nil || quiet.Requests != 0 {
		t.Fatalf("a provider without requests: %+v, %v", quiet, err)
	}
	for _, bad := range []ports.HealthInput{{Provider: "openai", Now: now}, {Window: time.Minute, Now: now}} {
		if _, err := l.ProviderHealth(context.Background(), bad); !ports.IsPermanent(err) {
			t.Errorf("%+v: %v, want a permanent error", bad, err)
		}
	}
}
