package portkey

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/gateway/gwstate"
	"github.com/quench-dev/quench/internal/targets/gateway/portkey/portkeyfake"
)

// worker is one quench worker's adapter: its own, empty data dir.
func worker(t *testing.T, s *portkeyfake.Server) *gwstate.Gateway {
	t.Helper()
	g, err := New(Options{URL: s.URL, APIKey: apiKey, StateDir: t.TempDir(), Routes: map[string]string{"chat": "pc-chat", "batch": "pc-batch"}})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestSwitchOnOneWorkerRestoreOnAnother(t *testing.T) {
	for route, slug := range map[string]string{"chat": "pc-chat", "batch": "pc-batch"} {
		t.Run(route, func(t *testing.T) {
			s := portkeyfake.New(apiKey, map[string]string{"pc-chat": fallbackConfig, "pc-batch": loadbalanceConfig})
			t.Cleanup(s.Close)
			a, b := worker(t, s), worker(t, s)
			ctx := context.Background()
			before := s.Config(slug)

			prev, err := a.ReadRoute(ctx, route)
			if err != nil || prev.State == "" || prev.KeptLocally != "" {
				t.Fatalf("read: %+v %v", prev, err)
			}
			ch, err := a.Switch(ctx, ports.SwitchRequest{Route: route, To: "anthropic-prod", Holder: "inc-1", Key: "inc-1/failover", Previous: &prev})
			if err != nil || ch.From != "openai-prod" || ch.To != "anthropic-prod" || ch.NoOp {
				t.Fatalf("switch on A: %+v %v", ch, err)
			}
			back, err := b.Restore(ctx, ports.RestoreRequest{Route: route, Holder: "inc-1", Key: "inc-1/failback", Previous: &prev, SwitchedTo: ch.To})
			if err != nil || back.NoOp || back.To != "openai-prod" || back.Note != "" {
				t.Fatalf("restore on B: %+v %v", back, err)
			}
			if after := s.Config(slug); !bytes.Equal(after, before) {
				t.Fatalf("B did not restore byte for byte:\nbefore %s\nafter  %s", before, after)
			}
			if s.Count("PUT", "") != 2 {
				t.Fatalf("%d PUTs, want the switch and the restore", s.Count("PUT", ""))
			}
		})
	}
}

func TestSwitchRetriedOnAnotherWorkerWritesOnce(t *testing.T) {
	s := portkeyfake.New(apiKey, map[string]string{"pc-chat": fallbackConfig})
	t.Cleanup(s.Close)
	a, b := worker(t, s), worker(t, s)
	ctx := context.Background()
	prev, err := a.ReadRoute(ctx, "chat")
	if err != nil {
		t.Fatal(err)
	}
	req := ports.SwitchRequest{Route: "chat", To: "fallback", Holder: "inc-1", Key: "inc-1/failover", Previous: &prev}

	// A dies between the read and the set: B's attempt is the one that writes.
	first, err := b.Switch(ctx, req)
	if err != nil || s.Count("PUT", "") != 1 {
		t.Fatalf("first switch: %+v %v, %d PUTs", first, err, s.Count("PUT", ""))
	}
	// B dies after the set, before its result reached Temporal: A's retry changes nothing
	// and answers the same change, so the undo is registered.
	again, err := a.Switch(ctx, req)
	if err != nil || again.NoOp || again.From != first.From || again.To != first.To {
		t.Fatalf("retry: %+v %v, first %+v", again, err, first)
	}
	if s.Count("PUT", "") != 1 {
		t.Fatalf("the retried switch wrote again: %d PUTs", s.Count("PUT", ""))
	}
}

func TestSwitchRefusesARouteChangedSinceTheRead(t *testing.T) {
	s := portkeyfake.New(apiKey, map[string]string{"pc-chat": fallbackConfig})
	t.Cleanup(s.Close)
	g := worker(t, s)
	ctx := context.Background()
	prev, err := g.ReadRoute(ctx, "chat")
	if err != nil {
		t.Fatal(err)
	}
	s.SetConfig("pc-chat", `{"strategy":{"mode":"fallback"},"targets":[{"virtual_key":"azure-eu"},{"virtual_key":"openai-prod"}]}`)
	_, err = g.Switch(ctx, ports.SwitchRequest{Route: "chat", To: "fallback", Holder: "inc-1", Key: "k", Previous: &prev})
	if err == nil || !ports.IsPermanent(err) || !strings.Contains(err.Error(), "between reading it and switching it") {
		t.Fatalf("want a permanent refusal, got %v", err)
	}
	if s.Count("PUT", "") != 0 {
		t.Fatal("a refused switch wrote the config")
	}
}

func TestConfigWithAKeyStaysOutOfHistory(t *testing.T) {
	const withKey = `{"strategy":{"mode":"fallback"},"targets":[{"provider":"openai","api_key":"sk-live-123","override_params":{"max_tokens":100}},{"virtual_key":"anthropic-prod"}]}`
	s := portkeyfake.New(apiKey, map[string]string{"pc-chat": withKey})
	t.Cleanup(s.Close)
	g := worker(t, s)
	ctx := context.Background()
	before := s.Config("pc-chat")
	prev, err := g.ReadRoute(ctx, "chat")
	if err != nil {
		t.Fatal(err)
	}
	if prev.State != "" || !strings.Contains(prev.KeptLocally, `"api_key"`) || strings.Contains(prev.KeptLocally, "sk-live") {
		t.Fatalf("read = %+v: the body holds a key and must stay out of history", prev)
	}
	// The switch and restore fall back to this worker's data dir.
	if _, err := g.Switch(ctx, ports.SwitchRequest{Route: "chat", To: "fallback", Holder: "inc-1", Key: "k", Previous: &prev}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Restore(ctx, ports.RestoreRequest{Route: "chat", Holder: "inc-1", Key: "r", Previous: &prev}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.Config("pc-chat"), before) {
		t.Fatalf("restore from the local memory: %s, want %s", s.Config("pc-chat"), before)
	}
}

func TestNumericTokenFieldsAreNoSecret(t *testing.T) {
	s := portkeyfake.New(apiKey, map[string]string{"pc-chat": `{"targets":[{"virtual_key":"a","override_params":{"max_tokens":100}},{"virtual_key":"b"}]}`})
	t.Cleanup(s.Close)
	prev, err := worker(t, s).ReadRoute(context.Background(), "chat")
	if err != nil || prev.State == "" {
		t.Fatalf("read = %+v %v", prev, err)
	}
}
