package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/workflows"
)

type routeView struct {
	Route    string `json:"route"`
	Provider string `json:"provider"`
}

// TestProviderOutageThroughHTTP runs provider-outage through the HTTP API the way a
// script or a small app would: the route an app polls at /v1/routes fails over at once,
// the fail-back waits for an approval given over the API, and the route is back where it
// was at the end.
func TestProviderOutageThroughHTTP(t *testing.T) {
	dev := startDev(t, newDevConfig(t))
	base := "http://" + dev.http

	if got := getRoute(t, base); got.Provider != "primary" {
		t.Fatalf("route before the incident: %+v, want primary", got)
	}
	var started incidents.Started
	doJSON(t, "POST", base+"/api/v1/incidents", dev.token, map[string]any{"runbook": "provider-outage", "params": map[string]string{"route": "chat"}, "act_as": "alice"}, http.StatusCreated, &started)

	w := dev.watch(t, started.IncidentID)
	w.waitFor(t, workflows.EventStepDone, "failover")
	if got := getRoute(t, base); got.Provider != "fallback" {
		t.Fatalf("route after failover: %+v, want fallback", got)
	}
	w.waitFor(t, workflows.EventStepStarted, "recovered")
	doJSON(t, "POST", base+"/api/v1/incidents/"+started.ShortID+"/resolve", dev.token, map[string]string{"reason": "provider status page green", "act_as": "alice"}, http.StatusAccepted, nil)
	w.waitFor(t, workflows.EventApprovalAsked, "failback")

	var st workflows.Status
	doJSON(t, "GET", base+"/api/v1/incidents/"+started.ShortID, dev.token, nil, http.StatusOK, &st)
	if len(st.Pending) != 1 {
		t.Fatalf("pending approvals: %+v", st.Pending)
	}
	// No traffic source here: the fail back asks, saying the primary could not be measured.
	if !strings.Contains(st.Pending[0].Prompt, "Measured: not measured (primary)") {
		t.Fatalf("fail back prompt %q", st.Pending[0].Prompt)
	}
	// No token, no decision; a token nobody holds, neither.
	doJSON(t, "POST", base+"/api/v1/incidents/"+started.ShortID+"/decisions", "", map[string]string{"verdict": "approve", "digest": st.Pending[0].Digest}, http.StatusUnauthorized, nil)
	doJSON(t, "POST", base+"/api/v1/incidents/"+started.ShortID+"/decisions", "forged", map[string]string{"verdict": "approve", "digest": st.Pending[0].Digest}, http.StatusUnauthorized, nil)
	var res workflows.DecisionResult
	doJSON(t, "POST", base+"/api/v1/incidents/"+started.ShortID+"/decisions", dev.token, map[string]string{"verdict": "approve", "digest": st.Pending[0].Digest, "reason": "primary healthy", "act_as": "bob"}, http.StatusOK, &res)
	if res.Outcome != "approved" {
		t.Fatalf("decision outcome %+v", res)
	}
	w.waitFor(t, workflows.EventClosed, "")
	if got := getRoute(t, base); got.Provider != "primary" {
		t.Fatalf("route after fail back: %+v, want primary", got)
	}
	doJSON(t, "GET", base+"/api/v1/incidents/"+started.ShortID, dev.token, nil, http.StatusOK, &st)
	if st.State != workflows.StateResolved {
		t.Fatalf("final state %s", st.State)
	}
	// A start of revision 1 (policy in the input, eager start, the route read in a local
	// activity): its recorded history keeps that command sequence replaying.
	recordClosed(t, dev, started.IncidentID, "provider-outage-revision1-api")
	// Malformed input gets a 4xx that names the problem.
	doJSON(t, "POST", base+"/api/v1/incidents", dev.token, map[string]any{"runbok": "provider-outage"}, http.StatusBadRequest, nil)
	doJSON(t, "POST", base+"/api/v1/incidents", dev.token, map[string]any{"runbook": "nope"}, http.StatusBadRequest, nil)
}

func getRoute(t *testing.T, base string) routeView {
	t.Helper()
	var r routeView
	doJSON(t, "GET", base+"/v1/routes/chat", "", nil, http.StatusOK, &r)
	return r
}

// doJSON sends body as JSON with the bearer token (none when "") and decodes the answer.
func doJSON(t *testing.T, method, url, token string, body any, wantCode int, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantCode {
		t.Fatalf("%s %s: %d %s, want %d", method, url, resp.StatusCode, data, wantCode)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatal(fmt.Errorf("%s %s: decode %s: %w", method, url, data, err))
		}
	}
}
