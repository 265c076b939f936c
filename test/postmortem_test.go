package e2e

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/postmortem"
	"github.com/quench-dev/quench/workflows"
)

// TestPostmortemOfACompletedIncident runs provider-outage to completion on `quench dev`
// (fail over, evidence, resolve, fail back approved by bob) and reads its postmortem back
// with `quench incident postmortem`, as Markdown and as JSON.
func TestPostmortemOfACompletedIncident(t *testing.T) {
	// The log has no request after the switch: the verify waits for some until its
	// deadline (15 s at --speed 20), says it is inconclusive and pages SRE.
	cfg := newDevConfig(t, "--traffic-log", writeTraffic(t, t.TempDir()), "--speed", "20")
	dev := startDev(t, cfg)
	base := "http://" + dev.http

	var started incidents.Started
	doJSON(t, "POST", base+"/api/v1/incidents", dev.token, map[string]any{"runbook": "provider-outage", "params": map[string]string{"route": "chat"}, "act_as": "alice"}, http.StatusCreated, &started)
	w := dev.watch(t, started.IncidentID)
	w.waitFor(t, workflows.EventStepStarted, "recovered")
	dev.mustQuench(t, "incident", "note", started.ShortID, "--as", "alice", "primary status page says degraded")
	dev.mustQuench(t, "incident", "resolve", started.ShortID, "--as", "alice", "--reason", "primary green again")
	w.waitFor(t, workflows.EventApprovalAsked, "failback")
	dev.mustQuench(t, "incident", "approve", started.ShortID, "--as", "bob", "--reason", "error rate back to baseline")
	w.waitFor(t, workflows.EventClosed, "")

	md := dev.mustQuench(t, "incident", "postmortem", started.ShortID, "--data-dir", cfg.DataDir)
	for _, want := range []string{
		"# Postmortem: incident " + started.ShortID,
		"**Started by**: alice (via cli)",
		"**Final state**: resolved",
		"**Resolution**: resolved by alice",
		"| failover | `gateway.switch` | done | 1 |",
		"| evidence | `traffic.snapshot` | done | 1 |",
		"| recovered | `wait.resolved` | done |",
		"| failback | `gateway.restore` | done | 1 |",
		"| failback | bob | approve | cli | error rate back to baseline |",
		"undo `gateway.restore`",
		"cleared: step failback already reversed it",
		"| note |  | alice | primary status page says degraded |",
		"### Bundle `evidence` (route chat)",
		"verified against the incident's record",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("postmortem lacks %q:\n%s", want, md)
		}
	}

	rep := decodeJSON[postmortem.Report](t, dev.mustQuench(t, "incident", "postmortem", started.ShortID, "-o", "json", "--data-dir", cfg.DataDir))
	if rep.Schema != postmortem.Schema || rep.Summary.IncidentID != started.IncidentID || rep.Summary.State != workflows.StateResolved {
		t.Errorf("summary %+v", rep.Summary)
	}
	var steps []string
	for _, s := range rep.Steps {
		steps = append(steps, s.ID+"="+s.State)
	}
	if got := strings.Join(steps, " "); got != "failover=done evidence=done recovered=done failback=done" {
		t.Errorf("steps %s", got)
	}
	if len(rep.Decisions) != 1 || rep.Decisions[0].Approver != "bob" || rep.Decisions[0].Reason != "error rate back to baseline" ||
		rep.Decisions[0].Via != "cli" || rep.Decisions[0].Outcome != "approved" || rep.Decisions[0].At.IsZero() {
		t.Errorf("decisions %+v", rep.Decisions)
	}
	if !rep.Evidence.Verified || len(rep.Evidence.Bundles) != 1 {
		t.Errorf("evidence %+v", rep.Evidence)
	}

	// Elsewhere than the worker's data dir, the postmortem still renders and says why the
	// evidence is missing.
	md = dev.mustQuench(t, "incident", "postmortem", started.ShortID, "--data-dir", t.TempDir())
	if !strings.Contains(md, "The evidence store could not be read") || !strings.Contains(md, "sha256 `") {
		t.Errorf("postmortem without the store:\n%s", md)
	}
}

// TestDemo runs `quench demo --yes` with its clock compressed: it must finish, leave the
// route on primary and print the postmortem.
func TestDemo(t *testing.T) {
	res := runQuench(t, "demo", "--yes", "--speed", "10", "--as", "demo-tester", "--dir", t.TempDir())
	if res.ExitCode != 0 {
		t.Fatalf("quench demo: exit %d\nstdout:\n%s\nstderr:\n%s", res.ExitCode, res.Stdout, res.Stderr)
	}
	for _, want := range []string{
		"Injecting a fault on provider primary",
		"Alert LLMProviderErrorRateHigh firing",
		"route chat now → fallback",
		"alert resolved",
		"Approve fail back of route chat to primary? [y/N] y (--yes)",
		"fail back approved by demo-tester",
		"closed: resolved; route chat → primary",
		"# Postmortem: incident ",
		"| failback | demo-tester | approve | cli |",
		"error rate on provider primary up",
		"follow it in the Temporal Web UI: http://127.0.0.1:",
		"/namespaces/default/workflows/inc-provider-outage-",
		"incident: verifying [failover] verifying step failover until",
		"incident: verify [failover] verify passed: error_rate = 0 below 0.05",
		"served by fallback",
		// The fail back measured the primary with its probe, after the fault cleared.
		"measured before asking: primary probed now: error rate 0.0% (0 of 5 requests)",
		"healthy (error rate below",
		"from probe 127.0.0.1:",
	} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, res.Stdout)
		}
	}
	// Evidence first: the snapshot is in before the verify judges the fallback.
	evidence := strings.Index(res.Stdout, "incident: step_done [evidence]")
	verdict := strings.Index(res.Stdout, "incident: verify [failover]")
	if evidence < 0 || verdict < 0 || evidence > verdict {
		t.Errorf("evidence at %d, verify verdict at %d: want the evidence first\n%s", evidence, verdict, res.Stdout)
	}
}

// TestDemoAsksInTheTerminal answers the fail back question with "n" on stdin: the route
// stays on the fallback and the postmortem records the rejection.
func TestDemoAsksInTheTerminal(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, quenchBin, "demo", "--speed", "10", "--as", "demo-tester", "--dir", t.TempDir())
	cmd.Env = append(os.Environ(), "QUENCH_CONFIG=")
	cmd.Stdin = strings.NewReader("n\n")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("quench demo: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	for _, want := range []string{
		"Approve fail back of route chat to primary? [y/N] ",
		"fail back rejected by demo-tester",
		"route chat → fallback",
		"| failback | demo-tester | reject | cli | declined in the demo terminal",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "(--yes)") {
		t.Error("the demo did not ask: it auto-approved")
	}
}
