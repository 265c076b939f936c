package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"

	"github.com/quench-dev/quench/internal/alert"
	"github.com/quench-dev/quench/internal/incidents"
)

const (
	hookToken  = "am-token-0123456789"
	hookSecret = "hmac-secret-0123456789"
)

var hookNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

type hookTest struct {
	t       *testing.T
	fake    *fakeTemporal
	handler *Handler
	metrics *Metrics
}

// newHookTest serves the hooks over a fake Temporal with the built-in runbooks.
// Alertmanager wants a bearer token, Grafana, PagerDuty and generic an HMAC; Datadog
// accepts unauthenticated posts (as on a loopback dev server).
func newHookTest(t *testing.T) *hookTest {
	t.Helper()
	fake := newFakeTemporal()
	metrics := NewMetrics(prometheus.NewRegistry())
	lib := builtinRunbooks(t)
	h := NewHandler(HandlerOptions{
		Credentials: map[string]Credentials{
			SourceAlertmanager: {Token: hookToken},
			SourceGrafana:      {HMACSecret: hookSecret},
			SourcePagerDuty:    {HMACSecret: hookSecret},
			SourceGeneric:      {HMACSecret: hookSecret},
		},
		MaxBodyBytes: 4 << 10,
		Runbooks:     lib,
		Dispatcher:   NewDispatcher(fake, incidents.New(nil, lib, "default"), DispatchOptions{Metrics: metrics}),
		Metrics:      metrics,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:          func() time.Time { return hookNow },
	})
	return &hookTest{t: t, fake: fake, handler: h, metrics: metrics}
}

// post sends body to path with the given headers (Content-Type application/json unless set).
func (h *hookTest) post(path string, body io.Reader, headers map[string]string) *httptest.ResponseRecorder {
	h.t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, body)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	return rec
}

func bearer(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

// hookAMAlert is one alert of an Alertmanager payload.
type hookAMAlert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    string            `json:"startsAt"`
	EndsAt      string            `json:"endsAt"`
	Fingerprint string            `json:"fingerprint"`
}

// amPayload is an Alertmanager v4 webhook for group with the given alerts.
func amPayload(group string, alerts ...hookAMAlert) []byte {
	status := alert.StatusResolved
	for _, a := range alerts {
		if a.Status == alert.StatusFiring {
			status = alert.StatusFiring
		}
	}
	b, _ := json.Marshal(map[string]any{
		"version": "4", "receiver": "quench", "status": status, "groupKey": group, "truncatedAlerts": 0,
		"groupLabels": map[string]string{}, "commonLabels": map[string]string{}, "commonAnnotations": map[string]string{},
		"externalURL": "http://alertmanager:9093", "alerts": alerts,
	})
	return b
}

func amProviderAlert(fp, status string) hookAMAlert {
	ends := "0001-01-01T00:00:00Z"
	if status == alert.StatusResolved {
		ends = "2026-05-01T12:05:00Z"
	}
	return hookAMAlert{
		Status: status, Fingerprint: fp, StartsAt: "2026-05-01T11:55:00Z", EndsAt: ends,
		Labels:      map[string]string{"alertname": "LLMProviderErrorRateHigh", "route": "chat", "instance": fp},
		Annotations: map[string]string{"summary": "errors above 5%"},
	}
}

func testdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v), rec.Body.String())
	return v
}

// unknownLength hides a body's length, as a chunked request does.
type unknownLength struct{ io.Reader }

// anyField: the parser decides which field a truncated payload breaks.
const anyField = "*"

func TestHookRefusalsSignalNothing(t *testing.T) {
	firing := amPayload("{}:{alertname=\"LLMProviderErrorRateHigh\"}", amProviderAlert("fp1", alert.StatusFiring))
	grafana := testdata(t, "grafana_firing.json")
	pagerduty := testdata(t, "pagerduty_annotated.json")
	generic := testdata(t, "generic_single.json")
	staleTS, staleSig := SignGrafana(hookSecret, hookNow.Add(-10*time.Minute), grafana)
	goodTS, goodSig := SignGrafana(hookSecret, hookNow, grafana)
	genTS, genSig := SignGeneric(hookSecret, hookNow, generic)
	tampered := bytes.Replace(grafana, []byte("firing"), []byte("resolved"), 1)
	require.NotEqual(t, grafana, tampered)

	for _, tc := range []struct {
		name      string
		method    string
		path      string
		body      io.Reader
		headers   map[string]string
		code      int
		reason    string // rejected_total reason; "" when not counted
		errSubstr string
		field     string
	}{
		{name: "unknown source", path: "/hooks/nagios", body: bytes.NewReader(firing), code: 404,
			errSubstr: "/hooks/{alertmanager,datadog,generic,grafana,langfuse_alerts,litellm,pagerduty}"},
		{name: "wrong method", method: http.MethodGet, path: "/hooks/alertmanager", code: 405, errSubstr: "POST"},
		{name: "wrong content type", path: "/hooks/alertmanager", body: bytes.NewReader(firing),
			headers: map[string]string{"Content-Type": "text/plain", "Authorization": "Bearer " + hookToken},
			code:    415, reason: ReasonContentType, errSubstr: "application/json"},
		{name: "oversize declared", path: "/hooks/alertmanager", body: bytes.NewReader(make([]byte, 5<<10)), headers: bearer(hookToken),
			code: 413, reason: ReasonTooLarge, errSubstr: "4096 bytes"},
		{name: "oversize chunked", path: "/hooks/alertmanager", body: unknownLength{bytes.NewReader(make([]byte, 5<<10))}, headers: bearer(hookToken),
			code: 413, reason: ReasonTooLarge, errSubstr: "hooks.max_body_bytes"},
		{name: "unsigned alertmanager", path: "/hooks/alertmanager", body: bytes.NewReader(firing),
			code: 401, reason: ReasonUnauthenticated, errSubstr: "Authorization"},
		{name: "wrong token", path: "/hooks/alertmanager", body: bytes.NewReader(firing), headers: bearer("guess"),
			code: 401, reason: ReasonUnauthenticated, errSubstr: "does not match"},
		{name: "unsigned grafana", path: "/hooks/grafana", body: bytes.NewReader(grafana),
			code: 401, reason: ReasonUnauthenticated, errSubstr: HeaderGrafanaSignature},
		{name: "stale grafana signature", path: "/hooks/grafana", body: bytes.NewReader(grafana),
			headers: map[string]string{HeaderGrafanaTimestamp: staleTS, HeaderGrafanaSignature: staleSig},
			code:    401, reason: ReasonUnauthenticated},
		{name: "tampered grafana body", path: "/hooks/grafana", body: bytes.NewReader(tampered),
			headers: map[string]string{HeaderGrafanaTimestamp: goodTS, HeaderGrafanaSignature: goodSig},
			code:    401, reason: ReasonUnauthenticated},
		{name: "tampered pagerduty signature", path: "/hooks/pagerduty", body: bytes.NewReader(pagerduty),
			headers: map[string]string{HeaderPagerDutySignature: SignPagerDuty("another-secret", pagerduty)},
			code:    401, reason: ReasonUnauthenticated},
		{name: "generic signature of another body", path: "/hooks/generic", body: strings.NewReader(`{"alerts":[]}`),
			headers: map[string]string{HeaderQuenchTimestamp: genTS, HeaderQuenchSignature: genSig},
			code:    401, reason: ReasonUnauthenticated},
		{name: "malformed JSON", path: "/hooks/alertmanager", body: strings.NewReader(`{"version":"4","alerts":[`), headers: bearer(hookToken),
			code: 400, reason: ReasonMalformed, field: anyField, errSubstr: "malformed alertmanager webhook"},
		{name: "unknown version", path: "/hooks/alertmanager", body: bytes.NewReader(bytes.Replace(firing, []byte(`"version":"4"`), []byte(`"version":"3"`), 1)),
			headers: bearer(hookToken), code: 400, reason: ReasonMalformed, field: "version", errSubstr: `"3"`},
		{name: "bad alert status", path: "/hooks/alertmanager", body: bytes.NewReader(bytes.Replace(firing, []byte(`"status":"firing","labels"`), []byte(`"status":"burning","labels"`), 1)),
			headers: bearer(hookToken), code: 400, reason: ReasonMalformed, field: "alerts[0].status"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHookTest(t)
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			body := tc.body
			if body == nil {
				body = http.NoBody
			}
			req := httptest.NewRequest(method, tc.path, body)
			req.Header.Set("Content-Type", "application/json")
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.handler.ServeHTTP(rec, req)

			require.Equal(t, tc.code, rec.Code, rec.Body.String())
			got := decode[errorBody](t, rec)
			assert.NotEmpty(t, got.Error)
			assert.Contains(t, got.Error, tc.errSubstr)
			if tc.field != anyField {
				assert.Equal(t, tc.field, got.Field)
			}
			assert.NotContains(t, rec.Body.String(), hookSecret)
			assert.NotContains(t, rec.Body.String(), hookToken)
			if tc.code == 405 {
				assert.Equal(t, "POST", rec.Header().Get("Allow"))
			}
			if tc.reason != "" {
				source := strings.TrimPrefix(tc.path, "/hooks/")
				assert.Equal(t, 1.0, counterValue(t, h.metrics.Rejected.WithLabelValues(source, tc.reason)))
			}
			assert.Empty(t, h.fake.callsOf(""), "a refused webhook signals nothing")
			assert.Empty(t, h.fake.incidents, "a refused webhook starts nothing")
		})
	}
}

func TestHookAcceptsSignedDeliveries(t *testing.T) {
	h := newHookTest(t)
	grafana := testdata(t, "grafana_firing.json")
	ts, sig := SignGrafana(hookSecret, hookNow, grafana)
	rec := h.post("/hooks/grafana", bytes.NewReader(grafana), map[string]string{HeaderGrafanaTimestamp: ts, HeaderGrafanaSignature: sig})
	assert.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

	pd := testdata(t, "pagerduty_annotated.json")
	rec = h.post("/hooks/pagerduty", bytes.NewReader(pd), map[string]string{HeaderPagerDutySignature: SignPagerDuty(hookSecret, pd)})
	assert.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

	dd := testdata(t, "datadog_triggered.json")
	rec = h.post("/hooks/datadog", bytes.NewReader(dd), nil)
	assert.Equal(t, http.StatusOK, rec.Code, "a source without credentials accepts unauthenticated posts: %s", rec.Body.String())
}

func TestHookStartsDeduplicatesAndKeepsUnmatchedVisible(t *testing.T) {
	h := newHookTest(t)
	group := `{}:{alertname="LLMProviderErrorRateHigh"}`
	unknown := hookAMAlert{Status: alert.StatusFiring, Fingerprint: "fp9", StartsAt: "2026-05-01T11:55:00Z", EndsAt: "0001-01-01T00:00:00Z",
		Labels: map[string]string{"alertname": "DiskFull"}}
	body := amPayload(group, amProviderAlert("fp1", alert.StatusFiring), amProviderAlert("fp2", alert.StatusFiring), unknown)

	rec := h.post("/hooks/alertmanager", bytes.NewReader(body), bearer(hookToken))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	first := decode[HookResponse](t, rec)
	assert.Equal(t, 3, first.Accepted)
	assert.Equal(t, 1, first.Unmatched)
	require.Len(t, first.Incidents, 1)
	inc := first.Incidents[0]
	assert.Equal(t, "provider-outage", inc.Runbook)
	assert.Equal(t, ResultStarted, inc.Result)
	assert.Equal(t, h.fake.incidents[inc.IncidentID].runID, inc.RunID)
	assert.Equal(t, 2, inc.Alerts)
	assert.Equal(t, incidents.ShortID(inc.IncidentID), inc.ShortID)
	assert.True(t, strings.HasPrefix(inc.IncidentID, "inc-provider-outage-"))
	assert.Equal(t, "inc-provider-outage-"+alert.IncidentHash(SourceAlertmanager, group), inc.IncidentID)
	assert.Len(t, h.fake.received(inc.IncidentID), 2)

	// Alertmanager re-sends the group: acknowledged, nothing new reaches the incident.
	rec = h.post("/hooks/alertmanager", bytes.NewReader(body), bearer(hookToken))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	again := decode[HookResponse](t, rec)
	assert.Equal(t, 2, again.Deduplicated)
	assert.Equal(t, ResultDeduplicated, again.Incidents[0].Result)
	assert.Len(t, h.fake.callsOf(""), 1, "the re-send signalled nothing")

	// The group resolves: the running incident hears it.
	resolved := amPayload(group, amProviderAlert("fp1", alert.StatusResolved), amProviderAlert("fp2", alert.StatusResolved))
	rec = h.post("/hooks/alertmanager", bytes.NewReader(resolved), bearer(hookToken))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, ResultSignalled, decode[HookResponse](t, rec).Incidents[0].Result)
	assert.Len(t, h.fake.callsOf("SignalWithStart"), 1, "resolved alerts only signal")
	assert.Len(t, h.fake.callsOf("Signal"), 1)
	assert.Equal(t, []string{"firing", "firing", "resolved", "resolved"}, statuses(h.fake.received(inc.IncidentID)))

	report := h.handler.Unmatched().Report(0)
	require.Len(t, report.Alerts, 1)
	assert.Equal(t, "DiskFull", report.Alerts[0].Alertname)
	assert.Equal(t, 2, report.Alerts[0].Count)
	assert.Equal(t, ReasonNoRunbook, report.Alerts[0].Reason)
	assert.Equal(t, 2.0, counterValue(t, h.metrics.Unmatched.WithLabelValues(SourceAlertmanager, "DiskFull")))
	assert.Equal(t, 8.0, counterValue(t, h.metrics.Accepted.WithLabelValues(SourceAlertmanager)))
	assert.Equal(t, 2.0, counterValue(t, h.metrics.Deduplicated.WithLabelValues(SourceAlertmanager)))
	assert.Equal(t, 3.0, counterValue(t, h.metrics.Received.WithLabelValues(SourceAlertmanager)))
	assert.Equal(t, 2.0, counterValue(t, h.metrics.Commits))
}

func TestHookResolvedWithoutIncidentStartsNothing(t *testing.T) {
	h := newHookTest(t)
	body := amPayload("g-resolved", amProviderAlert("fp1", alert.StatusResolved))
	rec := h.post("/hooks/alertmanager", bytes.NewReader(body), bearer(hookToken))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	resp := decode[HookResponse](t, rec)
	assert.Equal(t, 1, resp.ResolvedWithoutIncident)
	assert.Equal(t, ResultResolvedWithoutIncident, resp.Incidents[0].Result)
	assert.Empty(t, h.fake.callsOf("SignalWithStart"))
	assert.Empty(t, h.fake.incidents)
	assert.Equal(t, 1.0, counterValue(t, h.metrics.ResolvedWithoutIncident.WithLabelValues(SourceAlertmanager)))
}

func TestHookAnswers503WhenTemporalIsDown(t *testing.T) {
	h := newHookTest(t)
	h.fake.setFail(serviceerror.NewUnavailable("connection refused"))
	body := amPayload("g1", amProviderAlert("fp1", alert.StatusFiring))

	rec := h.post("/hooks/alertmanager", bytes.NewReader(body), bearer(hookToken))

	assert.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	assert.Equal(t, retryAfterSeconds, rec.Header().Get("Retry-After"))
	assert.Contains(t, decode[errorBody](t, rec).Error, "retry")
	assert.Equal(t, 1.0, counterValue(t, h.metrics.Rejected.WithLabelValues(SourceAlertmanager, ReasonUnavailable)))
	assert.Zero(t, counterValue(t, h.metrics.Accepted.WithLabelValues(SourceAlertmanager)))

	h.fake.setFail(nil)
	rec = h.post("/hooks/alertmanager", bytes.NewReader(body), bearer(hookToken))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, ResultStarted, decode[HookResponse](t, rec).Incidents[0].Result, "the sender's retry lands")
}

func TestDisabledSourceIsNotServed(t *testing.T) {
	h := newHookTest(t)
	h.handler.opts.Disabled = map[string]bool{SourceDatadog: true}
	rec := h.post("/hooks/datadog", bytes.NewReader(testdata(t, "datadog_triggered.json")), nil)
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.Contains(t, decode[errorBody](t, rec).Error, "hooks.datadog.disabled")
	assert.Empty(t, h.fake.callsOf(""))
}

func TestUnmatchedEndpoint(t *testing.T) {
	store := NewUnmatchedStore(2)
	for i := range 3 {
		a := alert.Alert{Source: SourceGeneric, Key: fmt.Sprintf("k%d", i), Status: alert.StatusFiring, Labels: map[string]string{"alertname": "Foo"}}
		store.Record(a, ReasonNoRunbook, hookNow.Add(time.Duration(i)*time.Second))
	}
	isNew, _ := store.Record(alert.Alert{Source: SourceGeneric, Key: "k2", Status: alert.StatusFiring, Labels: map[string]string{"alertname": "Foo"}}, ReasonNoRunbook, hookNow)
	assert.False(t, isNew, "a re-send of a kept alert is not new")

	rec := httptest.NewRecorder()
	store.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/alerts/unmatched?limit=1", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	report := decode[UnmatchedReport](t, rec)
	assert.Equal(t, int64(4), report.Total)
	assert.Equal(t, []AlertnameCount{{Source: SourceGeneric, Alertname: "Foo", Count: 4}}, report.ByAlertname)
	require.Len(t, report.Alerts, 1)
	assert.Equal(t, "k2", report.Alerts[0].Key, "newest first")
	assert.Equal(t, 2, report.Alerts[0].Count)
	assert.Len(t, store.Report(0).Alerts, 2, "only the newest N are kept")

	rec = httptest.NewRecorder()
	store.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/alerts/unmatched?limit=x", nil))
	assert.Equal(t, http.StatusBadRequest, rec.Code)
}

// counterValue reads a counter's current value.
func counterValue(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
}
