package litellm

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store/storetest"
	"github.com/quench-dev/quench/internal/targets/gateway/gwstate"
	"github.com/quench-dev/quench/internal/targets/gateway/litellm/litellmfake"
	"github.com/quench-dev/quench/internal/targets/httpapi/apifake"
)

const key = "sk-master-test"

// proxy has one model group "chat-model" with three deployments tried in the order openai,
// anthropic, azure (no order sorts last) and an unrelated group; some keys are absent on
// purpose: a restore must not leave an explicit false or null where there was nothing.
func proxy(t *testing.T) *litellmfake.Server {
	t.Helper()
	s := litellmfake.New(key,
		litellmfake.Deployment{ModelName: "chat-model", LiteLLMParams: map[string]any{"model": "openai/gpt-4o", "order": 1}, ModelInfo: map[string]any{"id": "dep-openai"}},
		litellmfake.Deployment{ModelName: "chat-model", LiteLLMParams: map[string]any{"model": "anthropic/claude-sonnet", "order": 2}, ModelInfo: map[string]any{"id": "dep-anthropic", "blocked": false}},
		litellmfake.Deployment{ModelName: "chat-model", LiteLLMParams: map[string]any{"model": "gpt-4o", "custom_llm_provider": "azure"}, ModelInfo: map[string]any{"id": "dep-azure"}},
		litellmfake.Deployment{ModelName: "embed", LiteLLMParams: map[string]any{"model": "openai/text-embedding-3"}, ModelInfo: map[string]any{"id": "dep-embed"}},
	)
	t.Cleanup(s.Close)
	return s
}

func gateway(t *testing.T, s *litellmfake.Server, mode string) *gwstate.Gateway {
	t.Helper()
	g, err := New(Options{URL: s.URL, MasterKey: key, Mode: mode, Routes: map[string]string{"chat": "chat-model"}, Store: storetest.SQLite(t)})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func blockedOf(t *testing.T, s *litellmfake.Server) map[string]bool {
	t.Helper()
	var info struct {
		Data []litellmfake.Deployment `json:"data"`
	}
	if err := json.Unmarshal(s.State(), &info); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, d := range info.Data {
		out[d.ModelInfo["id"].(string)] = d.ModelInfo["blocked"] == true
	}
	return out
}

func TestSwitchRestoreRoundTripIsByteIdentical(t *testing.T) {
	for _, mode := range []string{ModeBlock, ModeOrder} {
		t.Run(mode, func(t *testing.T) {
			s := proxy(t)
			g := gateway(t, s, mode)
			ctx := context.Background()
			before := s.State()

			ch, err := g.Switch(ctx, ports.SwitchRequest{Route: "chat", To: "fallback", Holder: "inc-1", Key: "inc-1/failover"})
			if err != nil {
				t.Fatal(err)
			}
			if ch.From != "openai" || ch.To != "anthropic" || ch.NoOp {
				t.Fatalf("switch: %+v, want openai → anthropic", ch)
			}
			if bytes.Equal(s.State(), before) {
				t.Fatal("the switch changed nothing on the proxy")
			}
			switch mode {
			case ModeBlock:
				if b := blockedOf(t, s); !b["dep-openai"] || b["dep-anthropic"] || !b["dep-azure"] || b["dep-embed"] {
					t.Fatalf("blocked after switch: %v", b)
				}
			case ModeOrder:
				if !strings.Contains(string(s.State()), `"model":"anthropic/claude-sonnet","order":1`) {
					t.Fatalf("anthropic is not first after switch: %s", s.State())
				}
			}

			// A retry of the same step returns the first result and writes nothing.
			writes := s.Count("POST", "/model/")
			again, err := g.Switch(ctx, ports.SwitchRequest{Route: "chat", To: "fallback", Holder: "inc-1", Key: "inc-1/failover"})
			if err != nil || again != ch {
				t.Fatalf("retry: %+v %v, want %+v", again, err, ch)
			}
			if n := s.Count("POST", "/model/"); n != writes {
				t.Fatalf("the retry wrote %d more times", n-writes)
			}

			back, err := g.Restore(ctx, ports.RestoreRequest{Route: "chat", Holder: "inc-1", Key: "inc-1/failover/undo"})
			if err != nil {
				t.Fatal(err)
			}
			if back.From != "anthropic" || back.To != "openai" || back.NoOp {
				t.Fatalf("restore: %+v", back)
			}
			if got := s.State(); !bytes.Equal(got, before) {
				t.Fatalf("state after the round trip differs:\nbefore %s\nafter  %s", before, got)
			}
			if _, ok, _ := g.Saved("inc-1", "chat"); ok {
				t.Fatal("the saved state outlived the restore")
			}
			nothing, err := g.Restore(ctx, ports.RestoreRequest{Route: "chat", Holder: "inc-1", Key: "inc-1/failback"})
			if err != nil || !nothing.NoOp {
				t.Fatalf("a second restore: %+v %v, want a no-op", nothing, err)
			}
		})
	}
}

func TestSecondSwitchKeepsTheFirstSavedState(t *testing.T) {
	s := proxy(t)
	g := gateway(t, s, ModeBlock)
	ctx := context.Background()
	before := s.State()
	if _, err := g.Switch(ctx, ports.SwitchRequest{Route: "chat", To: "anthropic", Holder: "inc-1", Key: "k1"}); err != nil {
		t.Fatal(err)
	}
	// An operator unblocks azure; the incident then moves the route to azure.
	s.Set("dep-azure", "model_info", "blocked", false)
	if ch, err := g.Switch(ctx, ports.SwitchRequest{Route: "chat", To: "azure", Holder: "inc-1", Key: "k2"}); err != nil || ch.To != "azure" {
		t.Fatalf("second switch: %+v %v", ch, err)
	}
	if _, err := g.Restore(ctx, ports.RestoreRequest{Route: "chat", Holder: "inc-1", Key: "k3"}); err != nil {
		t.Fatal(err)
	}
	if got := s.State(); !bytes.Equal(got, before) {
		t.Fatalf("restore did not go back to the state before the first switch:\nbefore %s\nafter  %s", before, got)
	}
}

func TestSwitchLeavingNoUsableProviderIsRefused(t *testing.T) {
	s := proxy(t)
	g := gateway(t, s, ModeBlock)
	s.Set("dep-anthropic", "model_info", "blocked", true)
	before := s.State()
	_, err := g.Switch(context.Background(), ports.SwitchRequest{Route: "chat", To: "anthropic", Holder: "inc-1", Key: "k"})
	if err == nil || !ports.IsPermanent(err) || !strings.Contains(err.Error(), "no usable provider") {
		t.Fatalf("want a permanent refusal naming the reason, got %v", err)
	}
	if !bytes.Equal(s.State(), before) || s.Count("POST", "") != 0 {
		t.Fatal("a refused switch touched the proxy")
	}
	_, err = g.Switch(context.Background(), ports.SwitchRequest{Route: "chat", To: "mistral", Holder: "inc-1", Key: "k2"})
	if err == nil || !ports.IsPermanent(err) || !strings.Contains(err.Error(), "openai, anthropic, azure") {
		t.Fatalf("unknown provider: %v", err)
	}
	_, err = g.Switch(context.Background(), ports.SwitchRequest{Route: "nope", To: "fallback", Holder: "inc-1", Key: "k3"})
	if err == nil || !ports.IsPermanent(err) || !strings.Contains(err.Error(), "chat-model, embed") {
		t.Fatalf("unknown group: %v", err)
	}
}

func TestRateLimitsAndServerErrorsAreRetryable(t *testing.T) {
	s := proxy(t)
	g := gateway(t, s, ModeBlock)
	ctx := context.Background()
	req := ports.SwitchRequest{Route: "chat", To: "fallback", Holder: "inc-1", Key: "k"}

	s.Inject(apifake.Fault{Method: "GET", Path: "/model/info", Code: 429, RetryAfter: "12"})
	_, err := g.Switch(ctx, req)
	if d, ok := ports.RetryDelay(err); !ok || d != 12*time.Second || ports.IsPermanent(err) {
		t.Fatalf("429: want a retryable error with a 12s delay, got %v (delay %s)", err, d)
	}
	// A 5xx in the middle of the writes: what was written is put back, the step retries.
	before := s.State()
	s.Inject(apifake.Fault{Method: "POST", Path: "/model/block", Code: 502, Skip: 1})
	_, err = g.Switch(ctx, req)
	if err == nil || ports.IsPermanent(err) || !strings.Contains(err.Error(), "put back") {
		t.Fatalf("502: want a retryable error after a revert, got %v", err)
	}
	if !bytes.Equal(s.State(), before) {
		t.Fatalf("a failed switch left a half-done change:\n%s", s.State())
	}
	if _, ok, _ := g.Saved("inc-1", "chat"); ok {
		t.Fatal("a failed first switch left a saved state behind")
	}
	ch, err := g.Switch(ctx, req)
	if err != nil || ch.To != "anthropic" {
		t.Fatalf("the retry: %+v %v", ch, err)
	}
	s.Inject(apifake.Fault{Path: "/model/info", Code: 401})
	if _, err := g.Restore(ctx, ports.RestoreRequest{Route: "chat", Holder: "inc-1", Key: "r"}); !ports.IsPermanent(err) {
		t.Fatalf("401 must be permanent: %v", err)
	}
}

func TestAChangeThatDoesNotTakeIsReported(t *testing.T) {
	s := proxy(t)
	g := gateway(t, s, ModeOrder)
	s.IgnoreWrites(true)
	_, err := g.Switch(context.Background(), ports.SwitchRequest{Route: "chat", To: "fallback", Holder: "inc-1", Key: "k"})
	if err == nil || ports.IsPermanent(err) || !strings.Contains(err.Error(), "did not take the change") {
		t.Fatalf("want a retryable read-back failure, got %v", err)
	}
}

func TestLostReadBackIsFinishedByTheRetry(t *testing.T) {
	s := proxy(t)
	g := gateway(t, s, ModeBlock)
	ctx := context.Background()
	req := ports.SwitchRequest{Route: "chat", To: "fallback", Holder: "inc-1", Key: "k"}
	// The switch's writes land but the read-back fails, as if the worker crashed there.
	s.Inject(apifake.Fault{Method: "GET", Path: "/model/info", Code: 500, Skip: 1})
	if _, err := g.Switch(ctx, req); err == nil {
		t.Fatal("first attempt: the injected failure did not surface")
	}
	if b := blockedOf(t, s); !b["dep-openai"] {
		t.Fatalf("the first attempt's writes did not land: %v", b)
	}
	// The retry must report the switch that happened, not a no-op, so an undo is registered.
	ch, err := g.Switch(ctx, req)
	if err != nil || ch.NoOp || ch.From != "openai" || ch.To != "anthropic" {
		t.Fatalf("retry after a lost read-back: %+v %v", ch, err)
	}
}

func TestMasterKeyAndModeAreChecked(t *testing.T) {
	if _, err := New(Options{URL: "http://x", Store: storetest.SQLite(t)}); err == nil {
		t.Error("no master key accepted")
	}
	if _, err := New(Options{URL: "http://x", MasterKey: "k", Mode: "shuffle", Store: storetest.SQLite(t)}); err == nil {
		t.Error("unknown mode accepted")
	}
	s := proxy(t)
	g, _ := New(Options{URL: s.URL, MasterKey: "wrong", Store: storetest.SQLite(t)})
	_, err := g.Switch(context.Background(), ports.SwitchRequest{Route: "chat-model", To: "fallback", Holder: "h", Key: "k"})
	if !ports.IsPermanent(err) || !strings.Contains(err.Error(), "API key") {
		t.Fatalf("wrong key: %v", err)
	}
}

func TestLostReadBackOfARestoreIsFinishedByTheRetry(t *testing.T) {
	s := proxy(t)
	g := gateway(t, s, ModeOrder)
	ctx := context.Background()
	before := s.State()
	if _, err := g.Switch(ctx, ports.SwitchRequest{Route: "chat", To: "azure", Holder: "inc-1", Key: "k"}); err != nil {
		t.Fatal(err)
	}
	req := ports.RestoreRequest{Route: "chat", Holder: "inc-1", Key: "r"}
	s.Inject(apifake.Fault{Method: "GET", Path: "/model/info", Code: 503, Skip: 1})
	if _, err := g.Restore(ctx, req); err == nil || ports.IsPermanent(err) {
		t.Fatalf("first attempt: want a retryable error, got %v", err)
	}
	if !bytes.Equal(s.State(), before) {
		t.Fatal("the restore's writes did not land")
	}
	ch, err := g.Restore(ctx, req)
	if err != nil || ch.NoOp || ch.From != "azure" || ch.To != "openai" {
		t.Fatalf("retry after a lost read-back: %+v %v; want the restore reported as done", ch, err)
	}
	if _, ok, _ := g.Saved("inc-1", "chat"); ok {
		t.Fatal("the saved state outlived the finished restore")
	}
}
