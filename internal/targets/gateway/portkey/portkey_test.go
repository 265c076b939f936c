package portkey

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
	"github.com/quench-dev/quench/internal/targets/gateway/portkey/portkeyfake"
	"github.com/quench-dev/quench/internal/targets/httpapi/apifake"
)

const apiKey = "pk-test"

// The fallback config carries fields quench does not know (retry, cache, a nested
// override, characters json.Marshal would escape): a restore must put them back as they were.
const fallbackConfig = `{
  "retry": {"attempts": 3, "on_status_codes": [429, 529]},
  "strategy": {"mode": "fallback", "on_status_codes": [429, 500]},
  "targets": [
    {"provider": "openai", "virtual_key": "openai-prod", "override_params": {"model": "gpt-4o"}},
    {"provider": "anthropic", "virtual_key": "anthropic-prod", "override_params": {"model": "claude-sonnet"}},
    {"provider": "azure-openai", "virtual_key": "azure-eu"}
  ],
  "metadata": {"owner": "ml-platform <oncall@example.com> & friends"}
}`

const loadbalanceConfig = `{"strategy":{"mode":"loadbalance"},"targets":[{"virtual_key":"openai-prod","weight":0.7},{"virtual_key":"anthropic-prod","weight":0.3}]}`

const singleConfig = `{"targets":[{"virtual_key":"openai-prod"}]}`

func setup(t *testing.T) (*portkeyfake.Server, *gwstate.Gateway) {
	t.Helper()
	s := portkeyfake.New(apiKey, map[string]string{"pc-chat": fallbackConfig, "pc-batch": loadbalanceConfig, "pc-single": singleConfig})
	t.Cleanup(s.Close)
	g, err := New(Options{URL: s.URL, APIKey: apiKey, Store: storetest.SQLite(t),
		Routes: map[string]string{"chat": "pc-chat", "batch": "pc-batch", "single": "pc-single"}})
	if err != nil {
		t.Fatal(err)
	}
	return s, g
}

func targetsOf(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var c struct {
		Targets []map[string]any `json:"targets"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatal(err)
	}
	return c.Targets
}

func TestFallbackRoundTripPutsBackTheSavedBody(t *testing.T) {
	s, g := setup(t)
	ctx := context.Background()
	before := s.Config("pc-chat")

	ch, err := g.Switch(ctx, ports.SwitchRequest{Route: "chat", To: "fallback", Holder: "inc-1", Key: "inc-1/failover"})
	if err != nil {
		t.Fatal(err)
	}
	if ch.From != "openai-prod" || ch.To != "anthropic-prod" {
		t.Fatalf("switch: %+v", ch)
	}
	targets := targetsOf(t, s.Config("pc-chat"))
	if targets[0]["virtual_key"] != "anthropic-prod" || targets[1]["virtual_key"] != "openai-prod" || len(targets) != 3 {
		t.Fatalf("targets after switch: %v", targets)
	}
	if !strings.Contains(string(s.Config("pc-chat")), `"on_status_codes":[429,529]`) {
		t.Fatalf("the switch lost fields it does not manage: %s", s.Config("pc-chat"))
	}
	if _, err := g.Restore(ctx, ports.RestoreRequest{Route: "chat", Holder: "inc-1", Key: "inc-1/failover/undo"}); err != nil {
		t.Fatal(err)
	}
	if after := s.Config("pc-chat"); !bytes.Equal(after, before) {
		t.Fatalf("config after the round trip differs:\nbefore %s\nafter  %s", before, after)
	}
}

func TestLoadbalanceSwitchMovesTheWeight(t *testing.T) {
	s, g := setup(t)
	ctx := context.Background()
	before := s.Config("pc-batch")
	ch, err := g.Switch(ctx, ports.SwitchRequest{Route: "batch", To: "anthropic-prod", Holder: "inc-1", Key: "k"})
	if err != nil || ch.From != "openai-prod" || ch.To != "anthropic-prod" {
		t.Fatalf("switch: %+v %v", ch, err)
	}
	targets := targetsOf(t, s.Config("pc-batch"))
	if targets[0]["weight"] != 0.0 || targets[1]["weight"] != 1.0 {
		t.Fatalf("weights after switch: %v", targets)
	}
	if _, err := g.Restore(ctx, ports.RestoreRequest{Route: "batch", Holder: "inc-1", Key: "r"}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.Config("pc-batch"), before) {
		t.Fatalf("config after the round trip: %s, want %s", s.Config("pc-batch"), before)
	}
}

func TestRestoreAfterSomeoneElseEditedSaysSo(t *testing.T) {
	s, g := setup(t)
	ctx := context.Background()
	before := s.Config("pc-chat")
	if _, err := g.Switch(ctx, ports.SwitchRequest{Route: "chat", To: "azure-eu", Holder: "inc-1", Key: "k"}); err != nil {
		t.Fatal(err)
	}
	s.SetConfig("pc-chat", `{"strategy":{"mode":"fallback"},"targets":[{"virtual_key":"anthropic-prod"},{"virtual_key":"openai-prod"}]}`)
	ch, err := g.Restore(ctx, ports.RestoreRequest{Route: "chat", Holder: "inc-1", Key: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ch.Note, "changed on Portkey by someone else") {
		t.Fatalf("restore note %q", ch.Note)
	}
	if !bytes.Equal(s.Config("pc-chat"), before) {
		t.Fatal("restore did not put the saved body back")
	}
}

func TestSwitchWithNoFallbackIsRefused(t *testing.T) {
	s, g := setup(t)
	_, err := g.Switch(context.Background(), ports.SwitchRequest{Route: "single", To: "fallback", Holder: "inc-1", Key: "k"})
	if err == nil || !ports.IsPermanent(err) || !strings.Contains(err.Error(), "no usable provider") {
		t.Fatalf("want a permanent refusal, got %v", err)
	}
	if s.Count("PUT", "") != 0 {
		t.Fatal("a refused switch wrote the config")
	}
	_, err = g.Switch(context.Background(), ports.SwitchRequest{Route: "missing", To: "fallback", Holder: "inc-1", Key: "k2"})
	if err == nil || !ports.IsPermanent(err) || !strings.Contains(err.Error(), "no config") {
		t.Fatalf("unknown config: %v", err)
	}
}

func TestRetriesAndIdempotency(t *testing.T) {
	s, g := setup(t)
	ctx := context.Background()
	req := ports.SwitchRequest{Route: "chat", To: "fallback", Holder: "inc-1", Key: "k"}
	s.Inject(apifake.Fault{Method: "PUT", Code: 429, RetryAfter: "30"})
	_, err := g.Switch(ctx, req)
	if d, _ := ports.RetryDelay(err); d != 30*time.Second || ports.IsPermanent(err) {
		t.Fatalf("429: %v (delay %s)", err, d)
	}
	s.Inject(apifake.Fault{Method: "GET", Code: 503})
	if _, err := g.Switch(ctx, req); err == nil || ports.IsPermanent(err) {
		t.Fatalf("503: want retryable, got %v", err)
	}
	first, err := g.Switch(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	puts := s.Count("PUT", "")
	again, err := g.Switch(ctx, req)
	if err != nil || again != first || s.Count("PUT", "") != puts {
		t.Fatalf("retry of a done switch: %+v %v (puts %d → %d)", again, err, puts, s.Count("PUT", ""))
	}
}

func TestPortkeySaysItCannotBlockOrPin(t *testing.T) {
	s := portkeyfake.New(apiKey, map[string]string{"pc-chat": fallbackConfig})
	t.Cleanup(s.Close)
	g, err := New(Options{URL: s.URL, APIKey: "pk-test", Store: storetest.SQLite(t)})
	if err != nil {
		t.Fatal(err)
	}
	if why := g.Cannot(ports.CapSwitch); why != "" {
		t.Fatalf("Portkey says it cannot switch: %s", why)
	}
	for _, c := range []ports.Capability{ports.CapBlockKey, ports.CapPinModel} {
		if why := g.Cannot(c); why == "" || ports.GatewayCannot(g, c) != why {
			t.Fatalf("Portkey %s: %q", c, why)
		}
	}
	_, err = g.Block(context.Background(), ports.BlockRequest{Route: "chat", AgentKey: "a", Holder: "i", Key: "k"})
	if err == nil || !ports.IsPermanent(err) || !strings.Contains(err.Error(), "Portkey's admin API") {
		t.Fatalf("block on Portkey: %v", err)
	}
	if s.Count("", "") != 0 {
		t.Fatal("a refused block called Portkey")
	}
}
