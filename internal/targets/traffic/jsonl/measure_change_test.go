package jsonl

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/ports"
)

// model_drift counts the pinned alias's successful answers since the pin, logged under
// the alias or under the version the gateway rewrote it to; failed requests, other models
// and requests from before the pin do not count.
func TestMeasureModelDrift(t *testing.T) {
	pin := now.Add(-2 * time.Minute)
	lines := []any{
		// Before the pin: the new model, which must not count against it.
		req(pin.Add(-30*time.Second), line{"gen_ai.response.model": "gpt-4o-2024-11-20"}),
		req(pin.Add(-10*time.Second), line{"gen_ai.response.model": "gpt-4o-2024-11-20"}),
	}
	for i := range 8 {
		lines = append(lines, req(pin.Add(time.Duration(i+1)*time.Second), line{"gen_ai.response.model": "gpt-4o-2024-08-06"}))
	}
	lines = append(lines,
		// Logged after the gateway's rewrite: the request names the pinned version.
		req(pin.Add(10*time.Second), line{"gen_ai.request.model": "gpt-4o-2024-08-06", "gen_ai.response.model": "gpt-4o-2024-08-06"}),
		// One answer still from the new model.
		req(pin.Add(11*time.Second), line{"gen_ai.response.model": "gpt-4o-2024-11-20"}),
		// A failure (the provider names no response model) and another alias: not counted.
		req(pin.Add(12*time.Second), line{"error.type": "503"}),
		req(pin.Add(13*time.Second), line{"gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "gpt-4o-mini-2024-07-18"}),
		// Another route.
		req(pin.Add(14*time.Second), line{"route": "search", "gen_ai.response.model": "gpt-4o-2024-11-20"}),
	)
	l := New(logFile(t, lines))
	in := ports.VerifyInput{Signal: ports.SignalModelDrift, Window: 10 * time.Minute, Now: now, Route: "chat", Since: pin,
		Model: "gpt-4o", PinnedModel: "gpt-4o-2024-08-06"}
	res, err := l.Measure(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 10 || res.Value != 0.1 ||
		!strings.Contains(res.Detail, "1 of 10 successful requests for gpt-4o answered by another model than gpt-4o-2024-08-06 (mostly gpt-4o-2024-11-20) since the change") {
		t.Fatalf("model_drift = %+v, want 1 of 10", res)
	}

	in.Since = now // nothing after: no value, zero requests
	if res, err := l.Measure(context.Background(), in); err != nil || res.Requests != 0 || !strings.Contains(res.Detail, "no successful request for gpt-4o") {
		t.Fatalf("model_drift with nothing since the pin = %+v, %v", res, err)
	}
}

// key_served counts the blocked key's successful requests since the block, out of every
// request of the route: refused retries are requests that show the log flows, not served.
func TestMeasureKeyServed(t *testing.T) {
	block := now.Add(-time.Minute)
	lines := []any{
		req(block.Add(-5*time.Second), line{"agent.key": "agent-loop"}), // before the block
	}
	for i := range 4 {
		lines = append(lines, req(block.Add(time.Duration(i+1)*time.Second), line{"agent.key": "agent-loop", "error.type": "403"}))
		lines = append(lines, req(block.Add(time.Duration(i+1)*time.Second+500*time.Millisecond), line{"agent.key": "agent-support"}))
	}
	lines = append(lines, req(block.Add(10*time.Second), line{"agent.key": "agent-loop", "route": "search"}))
	path := logFile(t, lines)
	in := ports.VerifyInput{Signal: ports.SignalKeyServed, Window: 10 * time.Minute, Now: now, Route: "chat", Since: block, Key: "agent-loop"}
	res, err := New(path).Measure(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Value != 0 || res.Requests != 8 || !strings.Contains(res.Detail, "0 requests of key agent-loop served, of 8 requests since the change") {
		t.Fatalf("key_served on a block that holds = %+v", res)
	}

	// A key the log never names: nothing served, and the detail says this proves little.
	other := in
	other.Key = "sk-hash-9c2f"
	if res, err := New(path).Measure(context.Background(), other); err != nil || res.Value != 0 || !strings.Contains(res.Detail, "no request names key sk-hash-9c2f at all") {
		t.Fatalf("key_served of a key the log does not name = %+v, %v", res, err)
	}

	lines = append(lines, req(block.Add(20*time.Second), line{"agent.key": "agent-loop"}))
	res, err = New(logFile(t, lines)).Measure(context.Background(), in)
	if err != nil || res.Value != 1 || res.Requests != 9 {
		t.Fatalf("key_served with one served = %+v, %v", res, err)
	}
}
