package langfuse

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/httpapi/apifake"
	"github.com/quench-dev/quench/internal/targets/traffic/langfuse/langfusefake"
)

// A provider's health counts its generations on every route in the window, and only its own.
func TestProviderHealth(t *testing.T) {
	s := fake(t)
	story(s) // openai: 24 in the last 29 minutes on chat (8 rate limited, 3 s each), 1 on search
	for i := 0; i < 5; i++ {
		s.AddGenerations(langfusefake.Generation{ID: fmt.Sprintf("a%d", i), Start: now.Add(-time.Duration(i+1) * time.Minute), Duration: 400 * time.Millisecond,
			Model: "claude-sonnet", Provider: "anthropic", Route: "chat"})
	}
	src := source(t, s, Options{PageSize: 7})
	ctx := context.Background()
	in := ports.HealthInput{Provider: "openai", Window: 30 * time.Minute, Now: now}

	fig, err := src.ProviderHealth(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if fig.Requests != 25 || fig.Errors != 8 || fig.LatencyP95Ms < 2000 || fig.Source != "Langfuse observations" {
		t.Fatalf("openai %+v: want 25 generations, 8 failed, p95 near 3 s", fig)
	}
	in.Provider = "Anthropic"
	if fig, err := src.ProviderHealth(ctx, in); err != nil || fig.Requests != 5 || fig.Errors != 0 || fig.LatencyP95Ms > 1000 {
		t.Fatalf("anthropic %+v, %v", fig, err)
	}

	capped := source(t, s, Options{PageSize: 7, MaxObservations: 10})
	if fig, err := capped.ProviderHealth(ctx, in); err != nil || !strings.Contains(fig.Source, "the first 10") {
		t.Fatalf("capped read %+v, %v: the figure must say it saw part of the window", fig, err)
	}

	s.Inject(apifake.Fault{Path: "/api/public/v2/observations", Code: 429, RetryAfter: "3", Skip: 1})
	if _, err := src.ProviderHealth(ctx, in); err == nil {
		t.Fatal("a 429 mid-read was swallowed")
	} else if d, _ := ports.RetryDelay(err); d != 3*time.Second {
		t.Fatalf("429: %v (delay %s)", err, d)
	}
	if _, err := src.ProviderHealth(ctx, ports.HealthInput{Provider: "openai", Now: now}); !ports.IsPermanent(err) {
		t.Fatalf("no window: %v", err)
	}
}
