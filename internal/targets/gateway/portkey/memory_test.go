package portkey

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store/storetest"
	"github.com/quench-dev/quench/internal/targets/gateway/gwstate"
	"github.com/quench-dev/quench/internal/targets/gateway/portkey/portkeyfake"
)

// worker is one quench worker's adapter: its own, empty data dir.
func worker(t *testing.T, s *portkeyfake.Server) *gwstate.Gateway {
	t.Helper()
	g, err := New(Options{URL: s.URL, APIKey: apiKey, Store: storetest.SQLite(t), Routes: map[string]string{"chat": "pc-chat", "batch": "pc-batch"}})
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

// Keys in a config: "sk-live" inline, one escaped, one in a nested object, and a
// max_tokens number that is no secret.
const withKeys = `{"strategy":{"mode":"fallback"},"targets":[` +
	`{"provider":"openai","api_key":"sk-live-123","override_params":{"max_tokens":100}},` +
	`{"provider":"azure-openai","azure":{"client_secret":"c\u0073-456"},"virtual_key":"azure-eu"},` +
	`{"virtual_key":"anthropic-prod","authorization":"Bearer sk-ant-789"}]}`

func TestKeysStayOutOfHistoryAndComeBackOnRestore(t *testing.T) {
	s := portkeyfake.New(apiKey, map[string]string{"pc-chat": withKeys})
	t.Cleanup(s.Close)
	a, b := worker(t, s), worker(t, s)
	ctx := context.Background()
	before := s.Config("pc-chat")
	prev, err := a.ReadRoute(ctx, "chat")
	if err != nil || prev.State == "" || prev.KeptLocally != "" {
		t.Fatalf("read = %+v %v", prev, err)
	}
	for _, secret := range []string{"sk-live-123", "c\\u0073-456", "cs-456", "sk-ant-789"} {
		if strings.Contains(prev.State, secret) {
			t.Fatalf("secret %q in the state for history: %s", secret, prev.State)
		}
	}
	if !strings.Contains(prev.State, `"max_tokens":100`) || strings.Count(prev.State, placeholderPrefix) != 3 {
		t.Fatalf("redacted state: %s", prev.State)
	}
	ch, err := a.Switch(ctx, ports.SwitchRequest{Route: "chat", To: "fallback", Holder: "inc-1", Key: "k", Previous: &prev})
	if err != nil || ch.To != "azure-eu" {
		t.Fatalf("switch on A: %+v %v", ch, err)
	}
	if !strings.Contains(string(s.Config("pc-chat")), "sk-live-123") {
		t.Fatalf("the switch wrote a placeholder instead of the key: %s", s.Config("pc-chat"))
	}
	again, err := b.Switch(ctx, ports.SwitchRequest{Route: "chat", To: "fallback", Holder: "inc-1", Key: "k", Previous: &prev})
	if err != nil || again.NoOp || s.Count("PUT", "") != 1 {
		t.Fatalf("retry on B: %+v %v, %d PUTs", again, err, s.Count("PUT", ""))
	}
	if _, err := b.Restore(ctx, ports.RestoreRequest{Route: "chat", Holder: "inc-1", Key: "r", Previous: &prev}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.Config("pc-chat"), before) {
		t.Fatalf("restore on B:\n%s\nwant\n%s", s.Config("pc-chat"), before)
	}
}

func TestRestoreRefusesWhenAKeyChangedMeanwhile(t *testing.T) {
	s := portkeyfake.New(apiKey, map[string]string{"pc-chat": withKeys})
	t.Cleanup(s.Close)
	g := worker(t, s)
	ctx := context.Background()
	prev, err := g.ReadRoute(ctx, "chat")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Switch(ctx, ports.SwitchRequest{Route: "chat", To: "fallback", Holder: "inc-1", Key: "k", Previous: &prev}); err != nil {
		t.Fatal(err)
	}
	s.SetConfig("pc-chat", strings.Replace(string(s.Config("pc-chat")), "sk-live-123", "sk-live-rotated", 1))
	puts := s.Count("PUT", "")
	_, err = g.Restore(ctx, ports.RestoreRequest{Route: "chat", Holder: "inc-1", Key: "r", Previous: &prev})
	if err == nil || !ports.IsPermanent(err) || !strings.Contains(err.Error(), "restore it by hand") || strings.Contains(err.Error(), "sk-live") {
		t.Fatalf("want a permanent refusal naming no key, got %v", err)
	}
	if s.Count("PUT", "") != puts {
		t.Fatal("a refused restore wrote the config")
	}
}

func TestConfigWithoutKeysGoesToHistoryAsIs(t *testing.T) {
	const body = `{"targets":[{"virtual_key":"a","override_params":{"max_tokens":100,"token_budget":{"n":1}}},{"virtual_key":"b","api_key":""}]}`
	s := portkeyfake.New(apiKey, map[string]string{"pc-chat": body})
	t.Cleanup(s.Close)
	prev, err := worker(t, s).ReadRoute(context.Background(), "chat")
	if err != nil || prev.State != string(s.Config("pc-chat")) {
		t.Fatalf("read = %+v %v, want the body unchanged (no string secret in it)", prev, err)
	}
}
