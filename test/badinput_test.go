package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/workflows"
)

// TestBadInputIsRefusedAndChangesNothing drives the CLI with the mistakes people make:
// each gets a message saying what to do, a non-zero exit code, and nothing changes.
func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	cfgDir := t.TempDir()
	cfgFile := filepath.Join(cfgDir, "quench.yaml")
	writeFile(t, cfgFile, "approvers:\n  sre: [alice, bob]\n")
	dev := startDev(t, newDevConfig(t, "--config", cfgFile))

	countIncidents := func() int {
		return len(decodeJSON[[]incidents.Summary](t, dev.mustQuench(t, "incident", "list", "--all", "-o", "json")))
	}

	for _, tc := range []struct {
		name     string
		args     []string
		exitCode int
		stderr   string
	}{
		{"unknown runbook", []string{"incident", "start", "no-such-runbook"}, 1, "unknown runbook"},
		{"unknown param", []string{"incident", "start", "provider-outage", "rout=chat"}, 1, "rout"},
		{"malformed param", []string{"incident", "start", "provider-outage", "route"}, 2, "key=value"},
		{"unknown incident", []string{"incident", "approve", "abcdef", "--as", "alice"}, 1, "no incident"},
		{"not an incident id", []string{"incident", "show", "not-an-id"}, 1, "not an incident ID"},
		{"reject without reason", []string{"incident", "reject", "abcdef"}, 2, "--reason"},
		{"bad output format", []string{"incident", "list", "-o", "xml"}, 2, "output format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := dev.quench(t, tc.args...)
			if res.ExitCode != tc.exitCode || !strings.Contains(res.Stderr, tc.stderr) {
				t.Fatalf("quench %s: exit %d, stderr %q; want exit %d mentioning %q", strings.Join(tc.args, " "), res.ExitCode, res.Stderr, tc.exitCode, tc.stderr)
			}
		})
	}
	if n := countIncidents(); n != 0 {
		t.Fatalf("bad starts created %d incidents", n)
	}

	// An incident waiting for the fail-back approval.
	started := decodeJSON[incidents.Started](t, dev.mustQuench(t, "incident", "start", "provider-outage", "route=chat", "--as", "alice", "-o", "json"))
	w := dev.watch(t, started.IncidentID)
	w.waitFor(t, workflows.EventStepStarted, "recovered")
	dev.mustQuench(t, "incident", "resolve", started.ShortID, "--as", "alice")
	w.waitFor(t, workflows.EventApprovalAsked, "failback")

	res := dev.quench(t, "incident", "approve", started.ShortID, "--as", "mallory")
	if res.ExitCode != 1 || !strings.Contains(res.Stderr, "not a member of sre") {
		t.Fatalf("approval by a non-member: exit %d, stderr %q; want a refusal naming the group", res.ExitCode, res.Stderr)
	}
	res = dev.quench(t, "incident", "approve", started.ShortID, "--as", "bob", "--digest", "0123456789ab")
	if res.ExitCode != 1 || !strings.Contains(res.Stderr, "params changed") {
		t.Fatalf("approval with a stale digest: exit %d, stderr %q; want a refusal saying the params changed", res.ExitCode, res.Stderr)
	}
	st := decodeJSON[workflows.Status](t, dev.mustQuench(t, "incident", "show", started.ShortID, "-o", "json"))
	if len(st.Pending) != 1 || len(st.Pending[0].Approvals) != 0 {
		t.Fatalf("refused decisions changed the pending approval: %+v", st.Pending)
	}

	dev.mustQuench(t, "incident", "approve", started.ShortID, "--as", "bob", "--reason", "primary is healthy again")
	w.waitFor(t, workflows.EventClosed, "")

	res = dev.quench(t, "incident", "approve", started.ShortID, "--as", "alice")
	if res.ExitCode != 1 || !strings.Contains(res.Stderr, "closed") {
		t.Fatalf("approving twice / after close: exit %d, stderr %q; want a refusal saying it is closed", res.ExitCode, res.Stderr)
	}
	res = dev.quench(t, "incident", "resolve", started.ShortID)
	if res.ExitCode != 1 || !strings.Contains(res.Stderr, "closed") {
		t.Fatalf("resolving a closed incident: exit %d, stderr %q", res.ExitCode, res.Stderr)
	}

	final := decodeJSON[workflows.Status](t, dev.mustQuench(t, "incident", "show", started.ShortID, "-o", "json"))
	decisions := 0
	for _, e := range final.Timeline {
		if e.Kind == workflows.EventDecision {
			decisions++
			if e.Actor != "bob" {
				t.Errorf("decision by %q on the timeline, want only bob's", e.Actor)
			}
		}
	}
	if decisions != 1 {
		t.Fatalf("%d decisions on the timeline, want exactly bob's", decisions)
	}
	if countIncidents() != 1 {
		t.Fatalf("want exactly one incident")
	}
}

// TestRunbookValidateReportsLines checks that a broken runbook file is reported with its
// line numbers and a non-zero exit, and a good one passes.
func TestRunbookValidateReportsLines(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, `name: broken
title: A broken runbook
steps:
  - id: one
    action: gateway.swtich
    with: {route: chat}
  - id: one
    action: notify
    with: {text: "{{ .params.nope }}"}
`)
	res := runQuench(t, "runbook", "validate", bad, "../runbooks/builtin/provider-outage.yaml")
	if res.ExitCode != 1 {
		t.Fatalf("validate of a bad file: exit %d, want 1; stderr %s", res.ExitCode, res.Stderr)
	}
	for _, want := range []string{"bad.yaml:5:", "gateway.switch", "bad.yaml:7:", "duplicate", "bad.yaml:9:", "nope"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("validate output lacks %q:\n%s", want, res.Stderr)
		}
	}
	if !strings.Contains(res.Stdout, "provider-outage.yaml: ok") {
		t.Errorf("the good file should pass: %s", res.Stdout)
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
