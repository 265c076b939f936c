package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/ingest"
	"github.com/quench-dev/quench/workflows"
)

// TestAlertingFromTheLLMStack runs the LLM stack's own alerts through the real binary: a
// signed Langfuse latency alert fails route chat over (the route from its metadata filter)
// and its signed recovery moves the incident past its wait; a LiteLLM key over its budget,
// authenticated the way LiteLLM can (the token as the webhook URL's password), starts
// cost-runaway, which blocks that key on the embedded table. Unsigned or wrongly signed
// deliveries start nothing.
func TestAlertingFromTheLLMStack(t *testing.T) {
	tokenFile, token := writeToken(t)
	secretFile := filepath.Join(t.TempDir(), "langfuse-secret")
	const secret = "lf-whsec_e2e0123456789"
	writeFile(t, secretFile, secret+"\n")
	quenchConfig := filepath.Join(t.TempDir(), "quench.yaml")
	writeFile(t, quenchConfig, "hooks:\n  litellm:\n    token: file:"+tokenFile+"\n  langfuse_alerts:\n    hmac_secret: file:"+secretFile+"\n")
	dev := startDev(t, newDevConfig(t, "--config", quenchConfig))
	base := "http://" + dev.http

	firing := readIngestFixture(t, "langfuse_alert_firing.json")
	if code, _ := postLLMHook(t, base+"/hooks/langfuse_alerts", firing, map[string]string{
		ingest.HeaderLangfuseSignature: ingest.SignLangfuse("not-the-secret", time.Now(), firing),
	}); code != http.StatusUnauthorized {
		t.Fatalf("a wrongly signed Langfuse alert: %d, want 401", code)
	}
	if got := listIncidents(t, dev); len(got) != 0 {
		t.Fatalf("incidents after a refused webhook: %+v", got)
	}

	code, resp := postLLMHook(t, base+"/hooks/langfuse_alerts", firing, map[string]string{
		ingest.HeaderLangfuseSignature: ingest.SignLangfuse(secret, time.Now(), firing),
	})
	if code != http.StatusOK || len(resp.Incidents) != 1 || resp.Incidents[0].Runbook != "provider-outage" {
		t.Fatalf("Langfuse alert: %d %+v, want provider-outage started", code, resp)
	}
	outage := resp.Incidents[0].IncidentID
	w := dev.watch(t, outage)
	w.waitFor(t, workflows.EventStepDone, "failover")
	if got := getRoute(t, base); got.Provider != "fallback" {
		t.Fatalf("route chat after the Langfuse alert: %+v, want fallback", got)
	}
	w.waitFor(t, workflows.EventStepStarted, "recovered")
	resolved := readIngestFixture(t, "langfuse_alert_resolved.json")
	code, resp = postLLMHook(t, base+"/hooks/langfuse_alerts", resolved, map[string]string{
		ingest.HeaderLangfuseSignature: ingest.SignLangfuse(secret, time.Now(), resolved),
	})
	if code != http.StatusOK || len(resp.Incidents) != 1 || resp.Incidents[0].IncidentID != outage {
		t.Fatalf("Langfuse recovery: %d %+v, want it delivered to %s", code, resp, outage)
	}
	w.waitFor(t, workflows.EventStepDone, "recovered")
	w.stop()

	budget := readIngestFixture(t, "litellm_key_budget_crossed.json")
	if code, _ := postLLMHook(t, base+"/hooks/litellm", budget, nil); code != http.StatusUnauthorized {
		t.Fatalf("LiteLLM budget event without the URL's credentials: %d, want 401", code)
	}
	code, resp = postLLMHook(t, base+"/hooks/litellm", budget, map[string]string{
		"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("litellm:"+token)),
	})
	if code != http.StatusOK || len(resp.Incidents) != 1 || resp.Incidents[0].Runbook != "cost-runaway" {
		t.Fatalf("LiteLLM budget event: %d %+v, want cost-runaway started", code, resp)
	}
	w = dev.watch(t, resp.Incidents[0].IncidentID)
	w.waitFor(t, workflows.EventStepDone, "block")
	w.stop()
	var route routeState
	doJSON(t, http.MethodGet, base+"/v1/routes/chat", "", nil, http.StatusOK, &route)
	const hashedKey = "9c2f0e8a41d7b3e6f5a8c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2"
	if !slices.Contains(route.BlockedKeys, hashedKey) {
		t.Fatalf("blocked keys on chat: %v, want LiteLLM's hashed key %s", route.BlockedKeys, hashedKey)
	}
}

func readIngestFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "internal", "ingest", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// postLLMHook posts body as JSON with the given headers and decodes a 2xx answer.
func postLLMHook(t *testing.T, url string, body []byte, headers map[string]string) (int, ingest.HookResponse) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out ingest.HookResponse
	if res.StatusCode == http.StatusOK {
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
	}
	return res.StatusCode, out
}
