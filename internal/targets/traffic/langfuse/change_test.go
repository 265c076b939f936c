package langfuse

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/traffic/langfuse/langfusefake"
)

// Langfuse's generations carry the response model (metadata gen_ai.response.model) and the
// agent (userId): the snapshot names the alias's answers before and now, and model_drift
// and key_served are measured on the generations since the change.
func TestResponseModelsAndChangeSignals(t *testing.T) {
	s := fake(t)
	pin := now.Add(-2 * time.Minute)
	gen := func(id string, at time.Time, resp, user, level string) langfusefake.Generation {
		return langfusefake.Generation{ID: id, Start: at, Duration: time.Second, Model: "gpt-4o", Provider: "openai", Route: "chat",
			ResponseModel: resp, UserID: user, Level: level, OutputTokens: 100}
	}
	for i := range 20 {
		s.AddGenerations(gen(fmt.Sprintf("b%d", i), now.Add(-2*time.Hour+time.Duration(i)*time.Minute), "gpt-4o-2024-08-06", "agent-support", ""))
		s.AddGenerations(gen(fmt.Sprintf("i%d", i), pin.Add(-time.Duration(i+1)*time.Minute), "gpt-4o-2024-11-20", "agent-loop", ""))
	}
	for i := range 9 {
		s.AddGenerations(gen(fmt.Sprintf("a%d", i), pin.Add(time.Duration(i+1)*time.Second), "gpt-4o-2024-08-06", "agent-support", ""))
	}
	s.AddGenerations(
		gen("late", pin.Add(20*time.Second), "gpt-4o-2024-11-20", "agent-loop", ""), // drifted, and the blocked key served
		gen("refused", pin.Add(21*time.Second), "", "agent-loop", "ERROR"),          // refused: not served, no model
		gen("unnamed", pin.Add(22*time.Second), "", "agent-support", ""),            // names no version: left out of the drift
	)
	src := source(t, s, Options{})

	snap, err := src.Snapshot(context.Background(), ports.SnapshotRequest{Window: 30 * time.Minute, Baseline: 3 * time.Hour, Now: pin, Route: "chat"})
	if err != nil {
		t.Fatal(err)
	}
	if h := snap.Headline; h.RequestModel != "gpt-4o" || h.BaselineResponseModel != "gpt-4o-2024-08-06" || h.ResponseModel != "gpt-4o-2024-11-20" {
		t.Fatalf("headline %+v", h)
	}

	in := ports.VerifyInput{Signal: ports.SignalModelDrift, Route: "chat", Window: 10 * time.Minute, Now: now, Since: pin,
		Model: "gpt-4o", PinnedModel: "gpt-4o-2024-08-06"}
	res, err := src.Measure(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 10 || res.Value != 0.1 || !strings.Contains(res.Detail, "1 of 10 successful requests") || !strings.Contains(res.Detail, "1 answers named no model") {
		t.Fatalf("model_drift = %+v", res)
	}
	in.Signal, in.Key = ports.SignalKeyServed, "agent-loop"
	res, err = src.Measure(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 12 || res.Value != 1 || !strings.Contains(res.Detail, "1 requests of key agent-loop served, of 12 requests") {
		t.Fatalf("key_served = %+v", res)
	}
}
