package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/targets/gateway/litellm/litellmfake"
	"github.com/quench-dev/quench/internal/targets/traffic/langfuse/langfusefake"
	"github.com/quench-dev/quench/internal/targets/traffic/prometheus/promtest"
	"github.com/quench-dev/quench/workflows"
)

// llmVerifyRunbook fails route chat over and verifies the error rate recovered; the same
// for route search with a PromQL verify; then captures evidence from Prometheus.
const llmVerifyRunbook = `name: failover-verify
title: Fail over, verify, revert when it does not help
params:
  route: {default: chat}
steps:
  - id: failover
    action: gateway.switch
    with: {route: "{{ .params.route }}", to: fallback}
    verify: {signal: error_rate, below: 0.05, within: 6s, every: 2s, window: 20s}
  - id: search
    action: gateway.switch
    with: {route: search, to: fallback}
    verify:
      signal: promql
      query: '(sum(increase(llm_requests_total{route="$route", status=~"5.."}[$window])) or vector(0)) / sum(increase(llm_requests_total{route="$route"}[$window]))'
      below: 0.05
      within: 6s
      every: 2s
      window: 20s
  - id: evidence
    action: traffic.snapshot
    with: {window: 20s, baseline: 20s, route: "{{ .params.route }}"}
  - id: recovered
    action: wait.resolved
    timeout: 1h
`

// TestVerifyFailureRevertsAndEscalates runs quench dev with the embedded routing table and
// a real Prometheus as its traffic source. Route chat keeps failing a third of its
// requests whichever provider serves it, so the fail-over's verify fails: the switch is
// reverted (the route is back on primary) and the incident escalates. Route search is
// healthy, so its PromQL verify passes and its switch stays. The evidence captured from
// Prometheus is then readable with `quench evidence show`.
func TestVerifyFailureRevertsAndEscalates(t *testing.T) {
	exp := promtest.NewExporter(t)
	for _, provider := range []string{"primary", "fallback"} {
		exp.Steady("chat", provider, "gpt-4o", "200", 10)
		exp.Steady("chat", provider, "gpt-4o", "503", 5)
	}
	exp.Steady("search", "primary", "gpt-4o-mini", "200", 10)
	prom := promtest.Start(t, exp.URL)
	prom.AwaitQuery(t, `sum(increase(llm_requests_total{route="chat"}[20s]))`, func(v float64) bool { return v > 100 })

	cfg := newDevConfig(t)
	confPath := filepath.Join(cfg.DataDir, "quench.yaml")
	conf := fmt.Sprintf("gateway:\n  routes: {chat: [primary, fallback], search: [primary, fallback]}\ntraffic:\n  kind: prometheus\n  prometheus: {url: %q}\n", prom.URL)
	rbDir := filepath.Join(cfg.DataDir, "runbooks")
	if err := os.MkdirAll(rbDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for path, body := range map[string]string{confPath: conf, filepath.Join(rbDir, "failover-verify.yaml"): llmVerifyRunbook} {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Args = []string{"--config", confPath, "--runbooks-dir", rbDir}
	dev := startDev(t, cfg)
	base := "http://" + dev.http

	started := decodeJSON[incidents.Started](t, dev.mustQuench(t, "--config", confPath, "--runbooks-dir", rbDir,
		"incident", "start", "failover-verify", "--as", "alice", "-o", "json"))
	w := dev.watch(t, started.IncidentID)
	done := w.waitFor(t, workflows.EventStepDone, "failover")
	if text, _ := done["text"].(string); !strings.Contains(text, "switched from primary to fallback") {
		t.Fatalf("failover step: %v", done)
	}
	verdict := w.waitFor(t, workflows.EventVerify, "failover")
	if data, _ := verdict["data"].(map[string]any); data["result"] != "failed" {
		t.Fatalf("verify of failover: %v, want failed", verdict)
	}
	esc := w.waitFor(t, workflows.EventEscalated, "failover")
	if text, _ := esc["text"].(string); !strings.Contains(text, "its change was reverted") {
		t.Fatalf("escalation: %v", esc)
	}
	if got := llmRoute(t, base, "chat"); got.Provider != "primary" {
		t.Fatalf("route chat after the revert: %+v, want primary", got)
	}
	passed := w.waitFor(t, workflows.EventVerify, "search")
	if data, _ := passed["data"].(map[string]any); data["result"] != "passed" {
		t.Fatalf("verify of search: %v, want passed", passed)
	}
	if got := llmRoute(t, base, "search"); got.Provider != "fallback" {
		t.Fatalf("route search after a passed verify: %+v, want fallback", got)
	}
	w.waitFor(t, workflows.EventStepDone, "evidence")

	st := decodeJSON[workflows.Status](t, dev.mustQuench(t, "incident", "show", started.ShortID, "-o", "json"))
	states := map[string]string{}
	for _, s := range st.Steps {
		states[s.ID] = s.State
	}
	if states["failover"] != workflows.StepReverted || states["search"] != workflows.StepDone || states["evidence"] != workflows.StepDone {
		t.Fatalf("step states %v", states)
	}

	out := dev.mustQuench(t, "evidence", "show", started.ShortID, "--data-dir", cfg.DataDir)
	for _, want := range []string{"verified against the incident's record", "By provider", "primary", "fallback", "5xx"} {
		if !strings.Contains(out, want) {
			t.Errorf("evidence show lacks %q:\n%s", want, out)
		}
	}

	dev.mustQuench(t, "incident", "resolve", started.ShortID, "--as", "alice")
	w.waitFor(t, workflows.EventClosed, "")
	if got := llmRoute(t, base, "search"); got.Provider != "primary" {
		t.Fatalf("route search after close: %+v, want primary (its undo runs at close)", got)
	}
	// Recorded under a new name since switches read the route first (gateway.read):
	// failover-verify-revert.json stays as the history of an incident from before it.
	recordClosed(t, dev, started.IncidentID, "failover-verify-revert-gateway-read")
}

func llmRoute(t *testing.T, base, route string) routeView {
	t.Helper()
	var r routeView
	doJSON(t, "GET", base+"/v1/routes/"+route, "", nil, 200, &r)
	return r
}

// TestLiteLLMAndLangfuseThroughQuenchDev runs the built-in provider-outage runbook with
// quench dev configured for a LiteLLM proxy (gateway.kind: litellm) and Langfuse as the
// traffic source and prompt store, against their stateful fakes: the fail-over blocks the
// primary deployment on the proxy, the evidence comes from Langfuse observations, and the
// approved fail-back leaves the proxy byte for byte as it was. The Langfuse prompt webhook
// is mounted and checks signatures.
func TestLiteLLMAndLangfuseThroughQuenchDev(t *testing.T) {
	proxy := litellmfake.New("sk-master-e2e",
		litellmfake.Deployment{ModelName: "chat-model", LiteLLMParams: map[string]any{"model": "openai/gpt-4o", "order": 1}, ModelInfo: map[string]any{"id": "dep-openai"}},
		litellmfake.Deployment{ModelName: "chat-model", LiteLLMParams: map[string]any{"model": "anthropic/claude-sonnet", "order": 2}, ModelInfo: map[string]any{"id": "dep-anthropic"}},
	)
	defer proxy.Close()
	lf := langfusefake.New("pk-lf-e2e", "sk-lf-e2e")
	defer lf.Close()
	now := time.Now()
	// Half of openai's answers failed over the last half hour; in the last two minutes the
	// route has been served by anthropic without errors (the traffic after the fail-over
	// that provider-outage's verify measures).
	for i := 0; i < 30; i++ {
		g := langfusefake.Generation{ID: fmt.Sprintf("g%d", i), Start: now.Add(-150*time.Second - time.Duration(i)*55*time.Second), Duration: time.Second,
			Model: "openai/gpt-4o", Route: "chat", OutputTokens: 100, Input: "hello from ops@example.com"}
		if i%2 == 0 {
			g.Level, g.StatusMessage = "ERROR", "Error code: 503 - service unavailable"
		}
		lf.AddGenerations(g)
	}
	for i := 0; i < 5; i++ {
		lf.AddGenerations(langfusefake.Generation{ID: fmt.Sprintf("after%d", i), Start: now.Add(-time.Duration(10+15*i) * time.Second), Duration: time.Second,
			Model: "anthropic/claude-sonnet-4", Route: "chat", OutputTokens: 100, Input: "hello"})
	}
	lf.AddPromptVersion("summarise", "Summarise: {{ticket}}", now.Add(-time.Hour), "production")

	t.Setenv("QUENCH_E2E_LITELLM_KEY", "sk-master-e2e")
	t.Setenv("QUENCH_E2E_LF_PK", "pk-lf-e2e")
	t.Setenv("QUENCH_E2E_LF_SK", "sk-lf-e2e")
	t.Setenv("QUENCH_E2E_LF_WH", "lf-whsec-e2e")
	cfg := newDevConfig(t)
	confPath := filepath.Join(cfg.DataDir, "quench.yaml")
	conf := fmt.Sprintf(`gateway:
  kind: litellm
  litellm: {url: %q, master_key: env:QUENCH_E2E_LITELLM_KEY, routes: {chat: chat-model}}
traffic:
  kind: langfuse
  langfuse: {url: %q, public_key: env:QUENCH_E2E_LF_PK, secret_key: env:QUENCH_E2E_LF_SK, page_size: 7}
prompts:
  kind: langfuse
  langfuse: {prompts: [summarise], webhook_secret: env:QUENCH_E2E_LF_WH}
`, proxy.URL, lf.URL)
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// Langfuse holds no generation after the switch: the verify waits for some until its
	// deadline (15 s at --speed 20) and is inconclusive.
	cfg.Args = []string{"--config", confPath, "--speed", "20"}
	dev := startDev(t, cfg)
	before := proxy.State()

	started := decodeJSON[incidents.Started](t, dev.mustQuench(t, "incident", "start", "provider-outage", "route=chat", "--as", "alice", "-o", "json"))
	w := dev.watch(t, started.IncidentID)
	done := w.waitFor(t, workflows.EventStepDone, "failover")
	if text, _ := done["text"].(string); !strings.Contains(text, "switched from openai to anthropic") {
		t.Fatalf("failover: %v", done)
	}
	if !strings.Contains(string(proxy.State()), `"blocked":true,"id":"dep-openai"`) {
		t.Fatalf("the proxy's openai deployment is not blocked: %s", proxy.State())
	}
	ev := w.waitFor(t, workflows.EventStepDone, "evidence")
	if text, _ := ev["text"].(string); !strings.Contains(text, "35 requests") || !strings.Contains(text, "error rate 42.9%") {
		t.Fatalf("evidence from Langfuse: %v", ev)
	}
	w.waitFor(t, workflows.EventStepStarted, "recovered")
	dev.mustQuench(t, "incident", "resolve", started.ShortID, "--as", "alice")
	w.waitFor(t, workflows.EventApprovalAsked, "failback")
	dev.mustQuench(t, "incident", "approve", started.ShortID, "--as", "bob", "--reason", "openai healthy")
	w.waitFor(t, workflows.EventClosed, "")
	if after := proxy.State(); !bytes.Equal(after, before) {
		t.Fatalf("the proxy after fail-back differs from before the incident:\nbefore %s\nafter  %s", before, after)
	}

	out := dev.mustQuench(t, "evidence", "show", started.ShortID, "--data-dir", cfg.DataDir, "--format", "markdown")
	if !strings.Contains(out, "| openai |") || strings.Contains(out, "ops@example.com") {
		t.Fatalf("markdown evidence report:\n%s", out)
	}

	// The prompt webhook: a bad signature is refused; a good one while nothing is frozen
	// changes nothing.
	body := []byte(`{"type":"prompt-version","action":"updated","prompt":{"name":"summarise","version":1,"labels":["production"]}}`)
	for sig, want := range map[string]int{
		"t=1,v1=00": http.StatusUnauthorized,
		langfusefake.Sign("lf-whsec-e2e", body, time.Now()): http.StatusOK,
	} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+dev.http+"/hooks/langfuse", bytes.NewReader(body))
		req.Header.Set("x-langfuse-signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("webhook with signature %q: %d, want %d", sig, resp.StatusCode, want)
		}
	}
	if n := lf.Count("PATCH", ""); n != 0 {
		t.Fatalf("the webhook moved labels while nothing was frozen (%d PATCHes)", n)
	}
}
