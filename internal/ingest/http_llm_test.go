package ingest

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quench-dev/quench/internal/alert"
	"github.com/quench-dev/quench/internal/incidents"
)

const (
	litellmHookToken   = "litellm-hook-token-0123456789"
	langfuseHookSecret = "lf-whsec_0123456789abcdef"
)

// newLLMHookTest serves the LiteLLM hook (token, sent by LiteLLM as Basic auth from its
// webhook URL) and the Langfuse alerts hook (Langfuse's HMAC) over a fake Temporal with the
// built-in runbooks.
func newLLMHookTest(t *testing.T) *hookTest {
	t.Helper()
	fake := newFakeTemporal()
	metrics := NewMetrics(prometheus.NewRegistry())
	lib := builtinRunbooks(t)
	h := NewHandler(HandlerOptions{
		Credentials: map[string]Credentials{
			SourceAlertmanager:   {Token: hookToken},
			SourceLiteLLM:        {Token: litellmHookToken},
			SourceLangfuseAlerts: {HMACSecret: langfuseHookSecret},
		},
		MaxBodyBytes: 16 << 10,
		Runbooks:     lib,
		Dispatcher:   NewDispatcher(fake, incidents.New(nil, lib, "default"), DispatchOptions{Metrics: metrics}),
		Metrics:      metrics,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:          func() time.Time { return hookNow },
	})
	return &hookTest{t: t, fake: fake, handler: h, metrics: metrics}
}

func litellmAuth() map[string]string {
	return map[string]string{"Authorization": basic("litellm", litellmHookToken)}
}

func langfuseAuth(body []byte, at time.Time) map[string]string {
	return map[string]string{HeaderLangfuseSignature: SignLangfuse(langfuseHookSecret, at, body)}
}

// A LiteLLM key over its budget starts cost-runaway against that key; the warning that came
// before and the crossing share the incident.
func TestHookLiteLLMBudgetStartsCostRunaway(t *testing.T) {
	h := newLLMHookTest(t)
	rec := h.post("/hooks/litellm", bytes.NewReader(testdata(t, "litellm_key_threshold_crossed.json")), litellmAuth())
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	resp := decode[HookResponse](t, rec)
	require.Len(t, resp.Incidents, 1, rec.Body.String())
	inc := resp.Incidents[0]
	assert.Equal(t, "cost-runaway", inc.Runbook)
	assert.Equal(t, ResultStarted, inc.Result)
	started := h.fake.incidents[inc.IncidentID]
	require.NotNil(t, started)
	assert.Equal(t, litellmKeyToken, started.input.Params["key"], "the key to block is LiteLLM's hashed token")

	rec = h.post("/hooks/litellm", bytes.NewReader(testdata(t, "litellm_key_budget_crossed.json")), litellmAuth())
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	resp = decode[HookResponse](t, rec)
	require.Len(t, resp.Incidents, 1)
	assert.Equal(t, inc.IncidentID, resp.Incidents[0].IncidentID)
	assert.Equal(t, ResultSignalled, resp.Incidents[0].Result)
	assert.Len(t, h.fake.received(inc.IncidentID), 2)

	// spend_tracked (one per customer request) is answered and starts nothing.
	rec = h.post("/hooks/litellm", bytes.NewReader(testdata(t, "litellm_spend_tracked.json")), litellmAuth())
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, 0, decode[HookResponse](t, rec).Accepted)
	assert.Len(t, h.fake.incidents, 1)
}

// LiteLLM's outage alert names a deployment, not a route: the hook URL's ?route= does.
func TestHookLiteLLMOutageFailsOverTheRouteOfTheURL(t *testing.T) {
	h := newLLMHookTest(t)
	rec := h.post("/hooks/litellm?route=support", bytes.NewReader(testdata(t, "litellm_outage_minor.json")), litellmAuth())
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	resp := decode[HookResponse](t, rec)
	require.Len(t, resp.Incidents, 1, rec.Body.String())
	assert.Equal(t, "provider-outage", resp.Incidents[0].Runbook)
	started := h.fake.incidents[resp.Incidents[0].IncidentID]
	require.NotNil(t, started)
	assert.Equal(t, "support", started.input.Params["route"])

	// The major alert of the same deployment is a new alert of the same incident.
	rec = h.post("/hooks/litellm?route=support", bytes.NewReader(testdata(t, "litellm_outage_major.json")), litellmAuth())
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, ResultSignalled, decode[HookResponse](t, rec).Incidents[0].Result)

	// A single slow request is kept visible, not failed over.
	rec = h.post("/hooks/litellm", bytes.NewReader(testdata(t, "litellm_slow_response.json")), litellmAuth())
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, 1, decode[HookResponse](t, rec).Unmatched)
	assert.Len(t, h.fake.incidents, 1)
}

// A Langfuse latency alert starts provider-outage on the route its filters name; its
// recovery reaches the same incident as resolved.
func TestHookLangfuseAlertFiresAndResolves(t *testing.T) {
	h := newLLMHookTest(t)
	firing := testdata(t, "langfuse_alert_firing.json")
	rec := h.post("/hooks/langfuse_alerts", bytes.NewReader(firing), langfuseAuth(firing, hookNow))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	resp := decode[HookResponse](t, rec)
	require.Len(t, resp.Incidents, 1, rec.Body.String())
	id := resp.Incidents[0].IncidentID
	assert.Equal(t, "provider-outage", resp.Incidents[0].Runbook)
	assert.Equal(t, "chat", h.fake.incidents[id].input.Params["route"])

	resolved := testdata(t, "langfuse_alert_resolved.json")
	rec = h.post("/hooks/langfuse_alerts", bytes.NewReader(resolved), langfuseAuth(resolved, hookNow.Add(time.Minute)))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	resp = decode[HookResponse](t, rec)
	require.Len(t, resp.Incidents, 1, rec.Body.String())
	assert.Equal(t, id, resp.Incidents[0].IncidentID)
	got := h.fake.received(id)
	require.Len(t, got, 2)
	assert.Equal(t, alert.StatusResolved, got[1].Status)

	// A warning is kept visible and starts nothing.
	warning := testdata(t, "langfuse_alert_warning.json")
	rec = h.post("/hooks/langfuse_alerts", bytes.NewReader(warning), langfuseAuth(warning, hookNow))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, 1, decode[HookResponse](t, rec).Unmatched)
	assert.Len(t, h.fake.incidents, 1)
}

func TestHookLLMRefusals(t *testing.T) {
	firing := testdata(t, "langfuse_alert_firing.json")
	prompt := testdata(t, "langfuse_prompt_version.json")
	budget := testdata(t, "litellm_key_budget_crossed.json")
	am := amPayload("g", amProviderAlert("fp1", alert.StatusFiring))
	for _, tc := range []struct {
		name, path string
		body       []byte
		headers    map[string]string
		code       int
		errSubstr  string
		field      string
	}{
		{"litellm without the URL's credentials", "/hooks/litellm", budget, nil, 401, "missing Authorization header", ""},
		{"litellm wrong token", "/hooks/litellm", budget, map[string]string{"Authorization": basic("litellm", "guess")}, 401, "does not match", ""},
		{"litellm unknown event", "/hooks/litellm", []byte(`{"spend":1,"event":"budget_exploded","event_group":"key","token":"t"}`), litellmAuth(), 400, "malformed litellm webhook", "event"},
		{"litellm two routes", "/hooks/litellm?route=a&route=b", budget, litellmAuth(), 400, "route parameter", "route"},
		{"litellm route with a slash", "/hooks/litellm?route=a%2Fb", budget, litellmAuth(), 400, "route parameter", "route"},
		{"route on a source that names its own", "/hooks/alertmanager?route=chat", am, bearer(hookToken), 400, "takes no route parameter", "route"},
		{"langfuse unsigned", "/hooks/langfuse_alerts", firing, nil, 401, HeaderLangfuseSignature, ""},
		{"langfuse replayed", "/hooks/langfuse_alerts", firing, langfuseAuth(firing, hookNow.Add(-time.Hour)), 401, "replay protection", ""},
		{"langfuse signature of another body", "/hooks/langfuse_alerts", firing, langfuseAuth(prompt, hookNow), 401, "does not match", ""},
		{"langfuse prompt event at the alerts hook", "/hooks/langfuse_alerts", prompt, langfuseAuth(prompt, hookNow), 400, "/hooks/langfuse", "type"},
		{"langfuse not JSON", "/hooks/langfuse_alerts", []byte("severity=ALERT"), langfuseAuth([]byte("severity=ALERT"), hookNow), 400, "malformed langfuse_alerts webhook", "body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newLLMHookTest(t)
			rec := h.post(tc.path, bytes.NewReader(tc.body), tc.headers)
			require.Equal(t, tc.code, rec.Code, rec.Body.String())
			got := decode[errorBody](t, rec)
			assert.Contains(t, got.Error, tc.errSubstr)
			assert.Equal(t, tc.field, got.Field)
			for _, secret := range []string{litellmHookToken, langfuseHookSecret, hookToken} {
				assert.NotContains(t, rec.Body.String(), secret)
			}
			assert.Empty(t, h.fake.callsOf(""), "a refused webhook signals nothing")
		})
	}
}

// A hook turned off for want of credentials says how to turn it on.
func TestHookOffSaysWhy(t *testing.T) {
	h := NewHandler(HandlerOptions{
		Disabled:       map[string]bool{SourceLiteLLM: true},
		DisabledReason: map[string]string{SourceLiteLLM: "set hooks.litellm.token"},
	})
	rec := httptestPost(h, "/hooks/litellm", `{}`)
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.True(t, strings.Contains(rec.Body.String(), "set hooks.litellm.token"), rec.Body.String())
}

func httptestPost(h http.Handler, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
