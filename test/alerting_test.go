package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/workflows"
)

// The real payloads recorded by TestAlertingRealAlertmanagerPayload, shared with the
// Alertmanager parser's tests.
const (
	firingFixture   = "../internal/ingest/testdata/alertmanager-real-firing.json"
	resolvedFixture = "../internal/ingest/testdata/alertmanager-real-resolved.json"
)

// TestAlertingPrometheusToQuench is the whole path with real processes: Prometheus scrapes
// a gateway whose primary provider fails, the shipped LLMProviderErrorRateHigh rule fires,
// the shipped Alertmanager config posts the group to quench with its bearer token, and
// provider-outage fails the route over by itself. When the provider recovers Prometheus
// resolves the alert, Alertmanager says so, the incident moves past its wait and fails
// back once approved. A webhook with a wrong or no token is refused and starts nothing.
func TestAlertingPrometheusToQuench(t *testing.T) {
	tokenFile, _ := writeToken(t)
	quenchConfig := filepath.Join(t.TempDir(), "quench.yaml")
	writeFile(t, quenchConfig, "hooks:\n  alertmanager:\n    token: file:"+tokenFile+"\n")
	dev := startDev(t, newDevConfig(t, "--config", quenchConfig))
	base := "http://" + dev.http

	// A real Alertmanager payload with the wrong credentials: refused, nothing started.
	payload, err := os.ReadFile(firingFixture)
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range []string{"Bearer not-the-token", "", "Basic " + "YWxpY2U6c2VjcmV0"} {
		if code := postHook(t, base, auth, payload); code != http.StatusUnauthorized {
			t.Errorf("POST /hooks/alertmanager with Authorization %q: %d, want 401", auth, code)
		}
	}
	if got := listIncidents(t, dev); len(got) != 0 {
		t.Fatalf("incidents after refused webhooks: %+v, want none", got)
	}
	if getRoute(t, base).Provider != "primary" {
		t.Fatal("route chat is not on primary before the alert")
	}

	tap := newWebhookTap(t, base)
	_, amAddr := startAlertmanager(t, alertmanagerConfig(t, tap.url(), tokenFile))
	gateway := newLLMGateway(t)
	gateway.failing.Store(true)
	started := time.Now()
	startPrometheus(t, fastErrorRateRule(t), gateway.hostPort(), amAddr)

	// Alertmanager's notification was accepted, so the incident is in Temporal: its ID is
	// derived from the group key.
	_, firing := awaitNotification(t, tap, "firing")
	incidentID := "inc-provider-outage-" + groupHash(firing.GroupKey)
	t.Logf("alert group %s -> incident %s, %s after Prometheus started", firing.GroupKey, incidentID, time.Since(started).Round(time.Millisecond))
	w := dev.watch(t, incidentID)
	w.waitFor(t, workflows.EventStepDone, "failover")
	if got := getRoute(t, base); got.Provider != "fallback" {
		t.Fatalf("route chat after failover: %+v, want fallback", got)
	}
	w.waitFor(t, workflows.EventStepStarted, "recovered")

	// The provider recovers: the rule stops matching, Alertmanager sends the resolved group.
	gateway.failing.Store(false)
	_, resolved := awaitNotification(t, tap, "resolved")
	if resolved.GroupKey != firing.GroupKey {
		t.Fatalf("resolved group %q, firing group %q", resolved.GroupKey, firing.GroupKey)
	}
	w.waitFor(t, workflows.EventResolved, "")
	w.waitFor(t, workflows.EventStepDone, "recovered")
	w.waitFor(t, workflows.EventApprovalAsked, "failback")
	if got := getRoute(t, base); got.Provider != "fallback" {
		t.Fatalf("route chat moved to %q before the fail back was approved", got.Provider)
	}
	dev.mustQuench(t, "incident", "approve", incidentID, "--as", "bob", "--reason", "primary healthy again")
	w.waitFor(t, workflows.EventClosed, "")
	t.Logf("incident closed %s after Prometheus started", time.Since(started).Round(time.Millisecond))
	if got := getRoute(t, base); got.Provider != "primary" {
		t.Fatalf("route chat after fail back: %+v, want primary", got)
	}

	// One alert group, one incident, and it ended resolved.
	var rows []incidents.Summary
	pollUntil(t, "the incident listed as resolved", time.Minute, func() bool {
		rows = listIncidents(t, dev)
		return len(rows) == 1 && rows[0].State == workflows.StateResolved
	})
	if rows[0].IncidentID != incidentID || rows[0].Runbook != "provider-outage" {
		t.Fatalf("incidents: %+v, want only %s of provider-outage", rows, incidentID)
	}
}

// TestAlertingRealAlertmanagerPayload pins what a real Alertmanager with the shipped config
// sends for a group that fires and then resolves: the bearer token read from its
// credentials file, webhook version 4, one group key for both notifications. With
// QUENCH_RECORD_ALERTMANAGER_PAYLOADS=1 it rewrites the parser's real-payload fixtures.
func TestAlertingRealAlertmanagerPayload(t *testing.T) {
	tokenFile, token := writeToken(t)
	tap := newWebhookTap(t, "")
	_, amAddr := startAlertmanager(t, alertmanagerConfig(t, tap.url(), tokenFile))
	gateway := newLLMGateway(t)
	gateway.failing.Store(true)
	startPrometheus(t, fastErrorRateRule(t), gateway.hostPort(), amAddr)

	firingCall, firing := awaitNotification(t, tap, "firing")
	if firingCall.Authorization != "Bearer "+token {
		t.Errorf("Authorization %q, want the bearer token from credentials_file", firingCall.Authorization)
	}
	if !strings.HasPrefix(firingCall.ContentType, "application/json") {
		t.Errorf("Content-Type %q, want application/json", firingCall.ContentType)
	}
	if firing.Version != "4" || firing.GroupKey == "" || firing.Receiver != "quench" {
		t.Errorf("firing notification: version %q, groupKey %q, receiver %q", firing.Version, firing.GroupKey, firing.Receiver)
	}
	if len(firing.Alerts) != 1 {
		t.Fatalf("firing notification has %d alerts, want 1: %s", len(firing.Alerts), firingCall.Body)
	}
	a := firing.Alerts[0]
	want := map[string]string{"alertname": "LLMProviderErrorRateHigh", "route": "chat", "provider": "primary", "severity": "critical"}
	for k, v := range want {
		if a.Labels[k] != v {
			t.Errorf("alert label %s = %q, want %q (labels %v)", k, a.Labels[k], v, a.Labels)
		}
	}
	if a.Status != "firing" || !a.EndsAt.IsZero() || a.Fingerprint == "" || a.Annotations["summary"] == "" {
		t.Errorf("firing alert: %+v", a)
	}

	gateway.failing.Store(false)
	resolvedCall, resolved := awaitNotification(t, tap, "resolved")
	if resolved.GroupKey != firing.GroupKey || len(resolved.Alerts) != 1 {
		t.Fatalf("resolved notification: group %q (firing %q), %d alerts", resolved.GroupKey, firing.GroupKey, len(resolved.Alerts))
	}
	r := resolved.Alerts[0]
	if r.Status != "resolved" || r.Fingerprint != a.Fingerprint || !r.EndsAt.After(r.StartsAt) {
		t.Errorf("resolved alert: %+v (firing fingerprint %s)", r, a.Fingerprint)
	}

	if os.Getenv("QUENCH_RECORD_ALERTMANAGER_PAYLOADS") == "1" {
		if err := os.MkdirAll(filepath.Dir(firingFixture), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, firingFixture, string(firingCall.Body))
		writeFile(t, resolvedFixture, string(resolvedCall.Body))
		t.Logf("recorded %s and %s", firingFixture, resolvedFixture)
	}
}

// TestAlertingDeployExamples checks the shipped examples with the tools that load them:
// the rules parse and pass their unit tests, the Alertmanager config loads and routes the
// LLM alerts to quench (and on to the team) and everything else to the team only.
func TestAlertingDeployExamples(t *testing.T) {
	promtool := lookBinary(t, "promtool")
	amtool := lookBinary(t, "amtool")
	rules := filepath.Join(deployDir, "rules")
	run(t, rules, promtool, "check", "rules", "llm.rules.yml")
	run(t, rules, promtool, "test", "rules", "llm.rules.test.yml")
	run(t, deployDir, amtool, "check-config", "alertmanager.yml")
	for labels, receivers := range map[string]string{
		"alertname=LLMProviderErrorRateHigh route=chat": "quench,team",
		"alertname=LLMOutputLengthDrift route=chat":     "quench,team",
		"alertname=DiskFull":                            "team",
	} {
		args := append([]string{"config", "routes", "test", "--config.file=alertmanager.yml", "--verify.receivers=" + receivers}, strings.Fields(labels)...)
		run(t, deployDir, amtool, args...)
	}
}

// amNotification is the part of Alertmanager's webhook (version 4) the tests look at.
type amNotification struct {
	Version  string `json:"version"`
	GroupKey string `json:"groupKey"`
	Status   string `json:"status"`
	Receiver string `json:"receiver"`
	Alerts   []struct {
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		StartsAt    time.Time         `json:"startsAt"`
		EndsAt      time.Time         `json:"endsAt"`
		Fingerprint string            `json:"fingerprint"`
	} `json:"alerts"`
}

// awaitNotification waits for Alertmanager's next notification with the given status,
// passing over re-sends of the other one; each must have been accepted with a 2xx.
func awaitNotification(t *testing.T, tap *webhookTap, status string) (webhookCall, amNotification) {
	t.Helper()
	for {
		call := tap.next(t, status)
		if call.Status < 200 || call.Status > 299 {
			t.Fatalf("quench answered Alertmanager's notification with %d: %s", call.Status, call.Body)
		}
		var n amNotification
		if err := json.Unmarshal(call.Body, &n); err != nil {
			t.Fatalf("Alertmanager sent a body that is not JSON: %v: %s", err, call.Body)
		}
		if n.Status == status {
			return call, n
		}
	}
}

// groupHash is the incident-ID suffix quench derives from an Alertmanager group key.
func groupHash(groupKey string) string {
	sum := sha256.Sum256([]byte("alertmanager/" + groupKey))
	return hex.EncodeToString(sum[:])[:16]
}

// writeToken writes a fresh random bearer token to a private file.
func writeToken(t *testing.T) (path, token string) {
	t.Helper()
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	token = hex.EncodeToString(b)
	path = filepath.Join(t.TempDir(), "alertmanager-token")
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, token
}

// postHook posts body to /hooks/alertmanager with the given Authorization header ("" none).
func postHook(t *testing.T, base, authorization string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/hooks/alertmanager", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// listIncidents lists every incident, open or closed, through the HTTP API.
func listIncidents(t *testing.T, dev *devProcess) []incidents.Summary {
	t.Helper()
	var rows []incidents.Summary
	doJSON(t, http.MethodGet, "http://"+dev.http+"/api/v1/incidents?all=1", dev.token, nil, http.StatusOK, &rows)
	return rows
}

// run runs a command in dir and fails the test with its output unless it exits 0.
func run(t *testing.T, dir, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
}
