package bundle

import (
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/ports"
)

// The headline names, for one request model, the response model its successful requests
// were answered with in the baseline and in the incident window: what a pin goes back to.
func TestHeadlineNamesTheResponseModels(t *testing.T) {
	add := func(b *Builder, at time.Time, reqModel, respModel, errType string, n int) {
		for i := range n {
			b.Add(Request{Time: at.Add(time.Duration(i) * time.Second), Route: "chat", RequestModel: reqModel, ResponseModel: respModel, ErrorType: errType}, nil)
		}
	}
	build := func(want string) ports.TrafficHeadline {
		b, err := NewBuilder(ports.SnapshotRequest{Window: 30 * time.Minute, Baseline: time.Hour, Now: now, Route: "chat", RequestModel: want})
		if err != nil {
			t.Fatal(err)
		}
		base, inc := now.Add(-time.Hour), now.Add(-20*time.Minute)
		add(b, base, "gpt-4o", "gpt-4o-2024-08-06", "", 30)
		add(b, base, "gpt-4o-mini", "gpt-4o-mini-2024-07-18", "", 40)
		add(b, inc, "gpt-4o", "gpt-4o-2024-11-20", "", 25)
		add(b, inc, "gpt-4o", "gpt-4o-2024-08-06", "", 5)
		// Failures carry no response model: many of them must not make gpt-4o the answer.
		add(b, inc, "gpt-4o", "", "503", 40)
		add(b, inc, "gpt-4o-mini", "gpt-4o-mini-2024-07-18", "", 40)
		snap, err := b.Build(Manifest{Source: "test"})
		if err != nil {
			t.Fatal(err)
		}
		return snap.Headline
	}
	// No model asked for: the alias whose answers moved (gpt-4o), not the busier one.
	if h := build(""); h.RequestModel != "gpt-4o" || h.BaselineResponseModel != "gpt-4o-2024-08-06" || h.ResponseModel != "gpt-4o-2024-11-20" {
		t.Fatalf("headline %+v, want gpt-4o answered by gpt-4o-2024-08-06 then gpt-4o-2024-11-20", h)
	}
	if h := build("gpt-4o-mini"); h.RequestModel != "gpt-4o-mini" || h.BaselineResponseModel != "gpt-4o-mini-2024-07-18" || h.ResponseModel != "gpt-4o-mini-2024-07-18" {
		t.Fatalf("headline for gpt-4o-mini %+v", h)
	}
	// A model the windows never saw: named, with nothing to pin to.
	if h := build("o3"); h.RequestModel != "o3" || h.BaselineResponseModel != "" || h.ResponseModel != "" {
		t.Fatalf("headline for an unseen model %+v", h)
	}
}
