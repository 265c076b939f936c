package litellm

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/gateway/litellm/litellmfake"
	"github.com/quench-dev/quench/internal/targets/httpapi/apifake"
)

// pinProxy: group gpt-4o served by openai and azure deployments of gpt-4o, plus a
// gpt-4o-mini deployment a pin of gpt-4o must not touch.
func pinProxy(t *testing.T) *litellmfake.Server {
	t.Helper()
	s := litellmfake.New(key,
		litellmfake.Deployment{ModelName: "gpt-4o", LiteLLMParams: map[string]any{"model": "openai/gpt-4o", "order": 1}, ModelInfo: map[string]any{"id": "dep-openai"}},
		litellmfake.Deployment{ModelName: "gpt-4o", LiteLLMParams: map[string]any{"model": "azure/gpt-4o", "api_base": "https://x.example"}, ModelInfo: map[string]any{"id": "dep-azure"}},
		litellmfake.Deployment{ModelName: "gpt-4o", LiteLLMParams: map[string]any{"model": "openai/gpt-4o-mini"}, ModelInfo: map[string]any{"id": "dep-mini"}},
	)
	t.Cleanup(s.Close)
	return s
}

func readPin(t *testing.T, g interface {
	ReadPin(context.Context, string, string) (ports.PinState, error)
}, route, model string) *ports.PinState {
	t.Helper()
	ps, err := g.ReadPin(context.Background(), route, model)
	if err != nil {
		t.Fatalf("read pin: %v", err)
	}
	return &ps
}

func TestPinUnpinIsByteIdentical(t *testing.T) {
	s := pinProxy(t)
	g := gateway(t, s, ModeBlock)
	if why := g.Cannot(ports.CapPinModel); why != "" {
		t.Fatalf("LiteLLM says it cannot pin: %s", why)
	}
	ctx := context.Background()
	before := s.State()
	prev := readPin(t, g, "gpt-4o", "gpt-4o")
	if prev.Pinned != "" || strings.Contains(prev.State, "sk-") || strings.Contains(prev.State, "api_base") {
		t.Fatalf("read: %+v", prev)
	}
	req := ports.PinRequest{Route: "gpt-4o", Model: "gpt-4o", To: "gpt-4o-2024-08-06", Holder: "inc-a", Key: "inc-a/pin", Previous: prev}
	ch, err := g.Pin(ctx, req)
	if err != nil || ch.NoOp || ch.From != "" || ch.To != "gpt-4o-2024-08-06" {
		t.Fatalf("pin: %+v %v", ch, err)
	}
	state := string(s.State())
	for _, want := range []string{`"model":"openai/gpt-4o-2024-08-06"`, `"model":"azure/gpt-4o-2024-08-06"`, `"model":"openai/gpt-4o-mini"`} {
		if !strings.Contains(state, want) {
			t.Fatalf("after the pin the proxy lacks %s: %s", want, state)
		}
	}
	if now := readPin(t, g, "gpt-4o", "gpt-4o"); now.Pinned != "gpt-4o-2024-08-06" {
		t.Fatalf("read after the pin: %+v", now)
	}
	// A retry (same previous) finds the pin set and answers the same change, writing nothing.
	posts := s.Count("POST", "")
	if again, err := g.Pin(ctx, req); err != nil || again.NoOp || again.To != ch.To {
		t.Fatalf("retried pin: %+v %v", again, err)
	}
	if s.Count("POST", "") != posts {
		t.Fatal("a retried pin wrote to the proxy again")
	}
	un, err := g.Unpin(ctx, ports.PinRequest{Route: "gpt-4o", Model: "gpt-4o", Holder: "inc-a", Key: "inc-a/undo", Previous: prev, PinnedTo: ch.To})
	if err != nil || un.NoOp || un.To != "" {
		t.Fatalf("unpin: %+v %v", un, err)
	}
	if after := s.State(); !bytes.Equal(after, before) {
		t.Fatalf("not restored byte for byte:\nbefore %s\nafter  %s", before, after)
	}
}

// A 5xx on the second deployment's update: the first is put back, nothing is left half
// pinned, and the step's retry pins both.
func TestPinFaultsLeaveNothingHalfDone(t *testing.T) {
	s := pinProxy(t)
	g := gateway(t, s, ModeBlock)
	ctx := context.Background()
	before := s.State()
	prev := readPin(t, g, "gpt-4o", "gpt-4o")
	req := ports.PinRequest{Route: "gpt-4o", Model: "gpt-4o", To: "gpt-4o-2024-08-06", Holder: "inc-b", Key: "inc-b/pin", Previous: prev}

	s.Inject(apifake.Fault{Method: "POST", Path: "/model/update", Code: 502, Skip: 1})
	if _, err := g.Pin(ctx, req); err == nil || ports.IsPermanent(err) || !strings.Contains(err.Error(), "put back") {
		t.Fatalf("pin with a 502: %v", err)
	}
	if !bytes.Equal(s.State(), before) {
		t.Fatalf("a failed pin left the proxy changed: %s", s.State())
	}
	s.Inject(apifake.Fault{Method: "GET", Path: "/model/info", Code: 429, RetryAfter: "3"})
	if _, err := g.Pin(ctx, req); err == nil || ports.IsPermanent(err) {
		t.Fatalf("pin with a 429: %v", err)
	}
	if ch, err := g.Pin(ctx, req); err != nil || ch.To != "gpt-4o-2024-08-06" {
		t.Fatalf("retried pin: %+v %v", ch, err)
	}
	// Someone re-pins on the proxy meanwhile: the unpin restores anyway and says so.
	s.Set("dep-azure", "litellm_params", "model", "azure/gpt-4o-2024-11-20")
	un, err := g.Unpin(ctx, ports.PinRequest{Route: "gpt-4o", Model: "gpt-4o", Holder: "inc-b", Key: "inc-b/undo", Previous: prev, PinnedTo: "gpt-4o-2024-08-06"})
	if err != nil || !strings.Contains(un.Note, "restored anyway") {
		t.Fatalf("unpin over a change: %+v %v", un, err)
	}
	if !bytes.Equal(s.State(), before) {
		t.Fatalf("not restored byte for byte:\nbefore %s\nafter  %s", before, s.State())
	}
}

func TestPinRefusals(t *testing.T) {
	s := pinProxy(t)
	g := gateway(t, s, ModeBlock)
	ctx := context.Background()
	prev := readPin(t, g, "gpt-4o", "gpt-4o")
	for to, want := range map[string]string{
		"openai/gpt-4o-2024-08-06": "without a provider prefix",
		"gpt-4o-mini":              "not a dated version",
		"gpt-4o":                   "dated version",
	} {
		_, err := g.Pin(ctx, ports.PinRequest{Route: "gpt-4o", Model: "gpt-4o", To: to, Holder: "i", Key: "i/" + to, Previous: prev})
		if err == nil || !ports.IsPermanent(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("pin to %q: %v, want a permanent error about %q", to, err, want)
		}
	}
	// Changed between the read and the pin: refused, nothing written.
	s.Set("dep-openai", "litellm_params", "model", "openai/gpt-4o-2024-05-13")
	if _, err := g.Pin(ctx, ports.PinRequest{Route: "gpt-4o", Model: "gpt-4o", To: "gpt-4o-2024-08-06", Holder: "i", Key: "i/race", Previous: prev}); err == nil || !strings.Contains(err.Error(), "between reading it and pinning it") {
		t.Fatalf("pin over a change: %v", err)
	}
	if _, err := g.ReadPin(ctx, "gpt-4o", "claude-3-5-sonnet"); err == nil || !strings.Contains(err.Error(), "no deployment of model claude-3-5-sonnet") {
		t.Fatalf("read of a model the group does not serve: %v", err)
	}
	if _, err := g.Pin(ctx, ports.PinRequest{Route: "gpt-4o", Model: "gpt-4o", To: "gpt-4o-2024-08-06", Holder: "i", Key: "i/none"}); err == nil || !ports.IsPermanent(err) {
		t.Fatalf("pin without a previous state: %v", err)
	}
}
