package litellm

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/ports"
)

// Each gateway(t, …) is one worker: its own adapter with its own, empty data dir.
func TestSwitchOnOneWorkerRestoreOnAnother(t *testing.T) {
	for _, mode := range []string{ModeBlock, ModeOrder} {
		t.Run(mode, func(t *testing.T) {
			s := proxy(t)
			a, b := gateway(t, s, mode), gateway(t, s, mode)
			ctx := context.Background()
			before := s.State()

			prev, err := a.ReadRoute(ctx, "chat")
			if err != nil || prev.Provider != "openai" || prev.State == "" || prev.KeptLocally != "" {
				t.Fatalf("read: %+v %v", prev, err)
			}
			if strings.Contains(prev.State, key) {
				t.Fatal("the master key is in the state for history")
			}
			ch, err := a.Switch(ctx, ports.SwitchRequest{Route: "chat", To: "fallback", Holder: "inc-1", Key: "inc-1/failover", Previous: &prev})
			if err != nil || ch.From != "openai" || ch.To != "anthropic" || ch.NoOp {
				t.Fatalf("switch on A: %+v %v", ch, err)
			}
			if bytes.Equal(s.State(), before) {
				t.Fatal("the switch changed nothing on the proxy")
			}
			back, err := b.Restore(ctx, ports.RestoreRequest{Route: "chat", Holder: "inc-1", Key: "inc-1/failover/undo", Previous: &prev, SwitchedTo: ch.To})
			if err != nil || back.NoOp || back.To != "openai" {
				t.Fatalf("restore on B: %+v %v", back, err)
			}
			if after := s.State(); !bytes.Equal(after, before) {
				t.Fatalf("B did not restore byte for byte:\nbefore %s\nafter  %s", before, after)
			}
			// The fail back ran first; the undo at close finds nothing left to do.
			writes := s.Count("POST", "/model/")
			undo, err := a.Restore(ctx, ports.RestoreRequest{Route: "chat", Holder: "inc-1", Key: "inc-1/failback", Previous: &prev, SwitchedTo: ch.To})
			if err != nil || !undo.NoOp || s.Count("POST", "/model/") != writes {
				t.Fatalf("second restore: %+v %v (%d writes more)", undo, err, s.Count("POST", "/model/")-writes)
			}
		})
	}
}

func TestSwitchRetriedOnAnotherWorkerWritesOnce(t *testing.T) {
	s := proxy(t)
	a, b := gateway(t, s, ModeOrder), gateway(t, s, ModeOrder)
	ctx := context.Background()
	prev, err := a.ReadRoute(ctx, "chat")
	if err != nil {
		t.Fatal(err)
	}
	req := ports.SwitchRequest{Route: "chat", To: "fallback", Holder: "inc-1", Key: "inc-1/failover", Previous: &prev}

	// A dies between the read and the set; B's attempt writes.
	first, err := b.Switch(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	writes := s.Count("POST", "/model/")
	if writes == 0 {
		t.Fatal("the switch wrote nothing")
	}
	// B dies after the set, before its result was recorded: A's retry finds the route
	// switched, writes nothing and answers the same change.
	again, err := a.Switch(ctx, req)
	if err != nil || again.NoOp || again.From != first.From || again.To != first.To {
		t.Fatalf("retry: %+v %v, first %+v", again, err, first)
	}
	if n := s.Count("POST", "/model/"); n != writes {
		t.Fatalf("the retried switch wrote %d more times", n-writes)
	}
}

func TestSwitchFromHistoryAlreadyOnTargetIsANoOp(t *testing.T) {
	s := proxy(t)
	g := gateway(t, s, ModeBlock)
	ctx := context.Background()
	prev, err := g.ReadRoute(ctx, "chat")
	if err != nil {
		t.Fatal(err)
	}
	ch, err := g.Switch(ctx, ports.SwitchRequest{Route: "chat", To: "openai", Holder: "inc-1", Key: "k", Previous: &prev})
	if err != nil || !ch.NoOp || s.Count("POST", "/model/") != 0 {
		t.Fatalf("switch to the active provider: %+v %v", ch, err)
	}
}

func TestSwitchFromHistoryThatDoesNotTakeIsReportedAndRetried(t *testing.T) {
	s := proxy(t)
	a, b := gateway(t, s, ModeBlock), gateway(t, s, ModeBlock)
	ctx := context.Background()
	before := s.State()
	prev, err := a.ReadRoute(ctx, "chat")
	if err != nil {
		t.Fatal(err)
	}
	req := ports.SwitchRequest{Route: "chat", To: "fallback", Holder: "inc-1", Key: "inc-1/failover", Previous: &prev}
	s.IgnoreWrites(true)
	if _, err := a.Switch(ctx, req); err == nil || ports.IsPermanent(err) || !strings.Contains(err.Error(), "did not take") {
		t.Fatalf("want a retryable error saying the change did not take, got %v", err)
	}
	if !bytes.Equal(s.State(), before) {
		t.Fatal("a switch that did not take left the proxy changed")
	}
	s.IgnoreWrites(false)
	ch, err := b.Switch(ctx, req)
	if err != nil || ch.To != "anthropic" || ch.NoOp {
		t.Fatalf("retry on B: %+v %v", ch, err)
	}
}
