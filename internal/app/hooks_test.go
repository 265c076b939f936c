package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/ingest"
	"github.com/quench-dev/quench/runbooks"
)

func hooksConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "quench.yaml")
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
	cfg, err := config.Load(path)
	require.NoError(t, err)
	return cfg
}

func hooksServer(t *testing.T, cfg *config.Config) (*HTTP, error) {
	t.Helper()
	lib, err := runbooks.LoadLibrary("")
	require.NoError(t, err)
	cfg.DataDir = t.TempDir()
	a, err := Resolve(cfg, nil)
	require.NoError(t, err)
	_, err = a.ApplyRoutes(context.Background(), cfg, "test")
	require.NoError(t, err)
	// No Temporal: these requests never reach a commit.
	return HTTPServer(cfg, incidents.New(nil, lib, "default"), a, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

const allHooksConfigured = `
api:
  tokens:
    ops: env:QUENCH_TEST_API
hooks:
  alertmanager: {token: env:QUENCH_TEST_AM}
  grafana: {hmac_secret: env:QUENCH_TEST_HMAC}
  pagerduty: {hmac_secret: env:QUENCH_TEST_HMAC}
  datadog: {token: env:QUENCH_TEST_AM}
  generic: {disabled: true}
`

func TestHTTPServerHookExposure(t *testing.T) {
	t.Setenv("QUENCH_TEST_API", "api-token")
	t.Setenv("QUENCH_TEST_AM", "am-token")
	t.Setenv("QUENCH_TEST_HMAC", "hmac-secret")

	t.Run("loopback without credentials accepts unauthenticated posts", func(t *testing.T) {
		web, err := hooksServer(t, hooksConfig(t, "http:\n  listen: 127.0.0.1:0\n"))
		require.NoError(t, err)
		assert.Equal(t, config.HookSources, web.UnauthenticatedHooks)
		assert.Equal(t, config.HookSources, web.HookSources)
	})
	t.Run("exposed without credentials refuses to start", func(t *testing.T) {
		_, err := hooksServer(t, hooksConfig(t, "http:\n  listen: 0.0.0.0:0\napi:\n  tokens:\n    ops: env:QUENCH_TEST_API\nhooks:\n  alertmanager: {token: env:QUENCH_TEST_AM}\n"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "grafana, pagerduty, datadog, generic")
		assert.Contains(t, err.Error(), "hooks.<source>.token")
	})
	t.Run("exposed with every source configured or disabled", func(t *testing.T) {
		web, err := hooksServer(t, hooksConfig(t, "http:\n  listen: 0.0.0.0:0\n"+allHooksConfigured))
		require.NoError(t, err)
		assert.Empty(t, web.UnauthenticatedHooks)
		assert.Equal(t, []string{"alertmanager", "grafana", "pagerduty", "datadog"}, web.HookSources)
	})
	t.Run("a secret that is not set", func(t *testing.T) {
		_, err := hooksServer(t, hooksConfig(t, "hooks:\n  alertmanager: {token: env:QUENCH_TEST_UNSET}\n"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "hooks.alertmanager.token")
		assert.Contains(t, err.Error(), "QUENCH_TEST_UNSET")
	})
	t.Run("an HMAC secret for a source that cannot sign", func(t *testing.T) {
		_, err := hooksServer(t, hooksConfig(t, "hooks:\n  alertmanager: {hmac_secret: env:QUENCH_TEST_HMAC}\n"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "hooks.alertmanager")
	})
}

// The LLM stack's hooks came after the others: a config from before them keeps starting on
// an exposed listener, with them off and saying how to turn them on; with credentials they
// are served and demand them.
func TestHTTPServerLLMHooksAreOptIn(t *testing.T) {
	t.Setenv("QUENCH_TEST_API", "api-token")
	t.Setenv("QUENCH_TEST_AM", "am-token")
	t.Setenv("QUENCH_TEST_HMAC", "hmac-secret")
	post := func(t *testing.T, web *HTTP, path string) (int, string) {
		t.Helper()
		srv := httptest.NewServer(web.Server.Handler)
		defer srv.Close()
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(`{"type":"monitor-alert"}`))
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	web, err := hooksServer(t, hooksConfig(t, "http:\n  listen: 0.0.0.0:0\n"+allHooksConfigured))
	require.NoError(t, err, "a config written before the LLM hooks must keep starting")
	assert.NotContains(t, web.HookSources, "litellm")
	code, body := post(t, web, "/hooks/litellm")
	assert.Equal(t, http.StatusNotFound, code)
	assert.Contains(t, body, "hooks.litellm.token")
	code, body = post(t, web, "/hooks/langfuse_alerts")
	assert.Equal(t, http.StatusNotFound, code)
	assert.Contains(t, body, "hooks.langfuse_alerts.hmac_secret")

	web, err = hooksServer(t, hooksConfig(t, "http:\n  listen: 0.0.0.0:0\n"+allHooksConfigured+
		"  litellm: {token: env:QUENCH_TEST_AM}\n  langfuse_alerts: {hmac_secret: env:QUENCH_TEST_HMAC}\n"))
	require.NoError(t, err)
	assert.Subset(t, web.HookSources, []string{"litellm", "langfuse_alerts"})
	assert.Empty(t, web.UnauthenticatedHooks)
	code, body = post(t, web, "/hooks/litellm")
	assert.Equal(t, http.StatusUnauthorized, code, body)
	code, body = post(t, web, "/hooks/langfuse_alerts")
	assert.Equal(t, http.StatusUnauthorized, code, body)
	assert.Contains(t, body, ingest.HeaderLangfuseSignature)

	_, err = hooksServer(t, hooksConfig(t, "hooks:\n  litellm: {hmac_secret: env:QUENCH_TEST_HMAC}\n"))
	require.Error(t, err, "LiteLLM cannot sign")
	assert.Contains(t, err.Error(), "hooks.litellm")
}

func TestHTTPServerServesHooksUnmatchedAndMetrics(t *testing.T) {
	t.Setenv("QUENCH_TEST_API", "api-token")
	t.Setenv("QUENCH_TEST_AM", "am-token")
	t.Setenv("QUENCH_TEST_HMAC", "hmac-secret")
	web, err := hooksServer(t, hooksConfig(t, "http:\n  listen: 127.0.0.1:0\n"+allHooksConfigured))
	require.NoError(t, err)
	srv := httptest.NewServer(web.Server.Handler)
	defer srv.Close()

	resp, err := http.Post(srv.URL+"/hooks/alertmanager", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the configured token is required")

	resp, err = http.Post(srv.URL+"/hooks/generic", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "a disabled source is not served")

	resp, err = http.Get(srv.URL + "/api/v1/alerts/unmatched")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the unmatched list is behind the API's tokens")

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/alerts/unmatched", nil)
	req.Header.Set("Authorization", "Bearer api-token")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	var report ingest.UnmatchedReport
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&report))
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Zero(t, report.Total)

	resp, err = http.Get(srv.URL + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(body), `quench_ingest_rejected_total{reason="unauthenticated",source="alertmanager"} 1`)
	assert.Contains(t, string(body), "go_goroutines", "the runtime's metrics are served too")
}

// With the embedded table as the gateway, the API refuses a start naming a route the live
// table does not have, before anything reaches Temporal (there is none in this test).
func TestHTTPServerRefusesUnknownRoutesFromTheLiveTable(t *testing.T) {
	t.Setenv("QUENCH_TEST_ALICE_TOKEN", "alice-token")
	web, err := hooksServer(t, hooksConfig(t, "http:\n  listen: 127.0.0.1:0\ngateway:\n  routes:\n    chat: [openai, anthropic]\napi:\n  tokens:\n    alice: env:QUENCH_TEST_ALICE_TOKEN\n"))
	require.NoError(t, err)
	srv := httptest.NewServer(web.Server.Handler)
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/incidents",
		strings.NewReader(`{"runbook":"provider-outage","params":{"route":"nosuchroute"}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer alice-token")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, string(body))
	assert.Contains(t, string(body), "nosuchroute")
	assert.Contains(t, string(body), "chat", "the refusal names the known routes")

	// The hooks refuse a browser's cross-origin post too, before they parse it.
	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/hooks/generic", strings.NewReader(`{"key":"k","status":"firing","labels":{"alertname":"x"}}`))
	req.Header.Set("Origin", "https://evil.example")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
}

func TestAPIIdentity(t *testing.T) {
	assert.Equal(t, "api:deploy-bot", APIIdentity("deploy-bot"))
	assert.Equal(t, "cli:alice", APIIdentity("cli:alice"), "a name that says what it is stays")
}
