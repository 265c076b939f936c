package incident

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/incidents/incidentsfake"
	"github.com/quench-dev/quench/workflows"
)

const (
	incID      = "inc-provider-outage-00000000001a2b3c"
	shortID    = "1a2b3c"
	digestA    = "aaaaaaaa11111111111111111111111111111111111111111111111111111111"
	digestB    = "bbbbbbbb22222222222222222222222222222222222222222222222222222222"
	otherID    = "inc-prompt-regression-0000000000ffee01"
	otherShort = "ffee01"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func client(f *incidentsfake.Fake) func() (incidents.Client, error) {
	return func() (incidents.Client, error) { return f, nil }
}

func as(who string) func() string { return func() string { return who } }

// streams returns test streams, a terminal or not.
func streams(tty bool) (*cmdutil.IOStreams, *bytes.Buffer, *bytes.Buffer) {
	ios, _, out, errOut := cmdutil.Test()
	ios.TTY = tty
	return ios, out, errOut
}

func failback(pending ...workflows.PendingApproval) workflows.Status {
	if pending == nil {
		pending = []workflows.PendingApproval{{StepID: "failback", Action: "gateway.restore", Digest: digestA, Groups: []string{"sre"}, Quorum: 1,
			Params: map[string]string{"route": "chat"}, RequestedAt: t0}}
	}
	return workflows.Status{
		IncidentID: incID, ShortID: shortID, Runbook: "provider-outage", Title: "LLM provider outage", State: workflows.StateAwaiting,
		Severity: "critical", Requester: "alice", Source: "cli", StartedAt: t0, Params: map[string]string{"route": "chat"},
		Steps: []workflows.StepState{
			{ID: "failover", Action: "gateway.switch", State: workflows.StepDone, Summary: "switched chat from primary to fallback"},
			{ID: "recovered", Action: "wait.resolved", State: workflows.StepDone},
			{ID: "failback", Action: "gateway.restore", State: workflows.StepAwaiting},
		},
		Pending: pending,
		Timeline: []workflows.Event{
			{At: t0, Kind: workflows.EventStarted, Actor: "alice", Text: "started from runbook provider-outage"},
			{At: t0.Add(time.Second), Kind: workflows.EventStepDone, StepID: "failover", Text: "switched chat from primary to fallback"},
			{At: t0.Add(2 * time.Second), Kind: workflows.EventApprovalAsked, StepID: "failback", Text: "approval requested"},
		},
	}
}

// checkErr asserts err: wantErr "" means success; otherwise err must contain it, and
// usage says whether it must be a usage error (exit 2) rather than a failure (exit 1).
func checkErr(t *testing.T, err error, wantErr string, usage bool) {
	t.Helper()
	if wantErr == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), wantErr) {
		t.Fatalf("error %v, want one containing %q", err, wantErr)
	}
	var flagErr *cmdutil.FlagError
	if errors.As(err, &flagErr) != usage {
		t.Fatalf("error %v: usage error %v, want %v", err, !usage, usage)
	}
}

// noStderr fails when a run that should only print its result wrote to stderr.
func noStderr(t *testing.T, errOut fmt.Stringer) {
	t.Helper()
	if s := errOut.String(); s != "" {
		t.Errorf("stderr: %s", s)
	}
}

func checkOutput(t *testing.T, name string, got string, want []string, unwanted []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", name, w, got)
		}
	}
	for _, u := range unwanted {
		if strings.Contains(got, u) {
			t.Errorf("%s has %q:\n%s", name, u, got)
		}
	}
}
