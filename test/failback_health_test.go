package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/workflows"
)

// autoFailback fails over, then fails back by itself once the primary was healthy for 20 s
// (measured every 10 s from the traffic log), unless someone decides first.
const autoFailback = `name: auto-failback
title: Fail over; fail back once the primary is healthy
params:
  route: {default: chat}
steps:
  - id: failover
    action: gateway.switch
    with: {route: "{{ .params.route }}", to: fallback}
    undo: {keep: true}
  - id: failback
    action: gateway.restore
    with: {route: "{{ .params.route }}"}
    approval:
      group: sre
      prompt: "Move route {{ .params.route }} back to {{ .steps.failover.outputs.from }}?"
    failback:
      provider: "{{ .steps.failover.outputs.from }}"
      max_latency_p95: 5s
      every: 10s
      auto_after_healthy: 20s
`

// TestFailbackOnMeasuredHealth: on quench dev with a traffic log where the primary serves
// other traffic cleanly, the fail back asks with the primary's figure and then runs by
// itself after the healthy time; an aborted incident closes its workflow as failed and
// `incident list` shows both states.
func TestFailbackOnMeasuredHealth(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "runbooks"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "runbooks", "auto-failback.yaml"), []byte(autoFailback), 0o600); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	now := time.Now().UTC()
	for i := 0; i < 40; i++ { // the primary's last ten minutes, on another route
		fmt.Fprintf(&log, `{"time":%q,"gen_ai.provider.name":"primary","route":"batch","duration_ms":300}`+"\n",
			now.Add(-time.Duration(i*14)*time.Second).Format(time.RFC3339Nano))
	}
	logPath := filepath.Join(dir, "requests.jsonl")
	if err := os.WriteFile(logPath, []byte(log.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	dev := startDev(t, newDevConfig(t, "--runbooks-dir", filepath.Join(dir, "runbooks"), "--traffic-log", logPath))
	base := "http://" + dev.http

	var started incidents.Started
	doJSON(t, "POST", base+"/api/v1/incidents", dev.token, map[string]any{"runbook": "auto-failback", "act_as": "alice"}, http.StatusCreated, &started)
	w := dev.watch(t, started.IncidentID)
	w.waitFor(t, workflows.EventApprovalAsked, "failback")
	if got := getRoute(t, base); got.Provider != "fallback" {
		t.Fatalf("route while the fail back waits: %+v", got)
	}
	var st workflows.Status
	doJSON(t, "GET", base+"/api/v1/incidents/"+started.ShortID, dev.token, nil, http.StatusOK, &st)
	if len(st.Pending) != 1 || !strings.Contains(st.Pending[0].Prompt, "Move route chat back to primary?\n\nMeasured: primary over the last 10m0s: error rate 0.0% (0 of 40 requests), p95 latency 300 ms — healthy") {
		t.Fatalf("the fail back asks without the primary's figure: %+v", st.Pending)
	}
	if h := stepOf(t, st, "failback").Health; h == nil || !h.Healthy || h.Requests != 40 {
		t.Fatalf("failback health %+v", h)
	}
	d := w.waitFor(t, workflows.EventDecision, "failback")
	if d["actor"] != "quench" || !strings.Contains(fmt.Sprint(d["text"]), "on measured health") {
		t.Fatalf("the fail back was decided by %v: %v", d["actor"], d["text"])
	}
	w.waitFor(t, workflows.EventClosed, "")
	if got := getRoute(t, base); got.Provider != "primary" {
		t.Fatalf("route after the fail back: %+v", got)
	}

	// An aborted incident: its workflow closes as failed, and the list says both.
	var aborted incidents.Started
	doJSON(t, "POST", base+"/api/v1/incidents", dev.token, map[string]any{"runbook": "auto-failback", "act_as": "alice"}, http.StatusCreated, &aborted)
	w2 := dev.watch(t, aborted.IncidentID)
	w2.waitFor(t, workflows.EventApprovalAsked, "failback")
	dev.mustQuench(t, "incident", "abort", aborted.ShortID, "--as", "alice", "--reason", "drill over")
	w2.waitFor(t, workflows.EventClosed, "")
	var states map[string]string
	pollUntil(t, "incident list shows both closes", time.Minute, func() bool { // visibility is eventually consistent
		states = map[string]string{}
		for _, r := range decodeJSON[[]incidents.Summary](t, dev.mustQuench(t, "incident", "list", "--all", "-o", "json")) {
			states[r.ShortID] = r.State + "/" + r.Workflow
		}
		return states[started.ShortID] == "completed/Completed" && states[aborted.ShortID] == "aborted/Failed"
	})
	// Both ends replay on the current code: the auto decision, and the failed close.
	recordClosed(t, dev, started.IncidentID, "auto-failback-on-measured-health")
	recordClosed(t, dev, aborted.IncidentID, "auto-failback-aborted-closes-failed")
	table := dev.mustQuench(t, "incident", "list", "--all")
	if !strings.Contains(table, aborted.ShortID+"\tauto-failback\taborted") {
		t.Fatalf("incident list: %s", table)
	}
}
