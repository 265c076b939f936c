package devstack

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/worker"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/workflows"
)

// gateTimeoutRunbook is the shape of provider-outage's fail back: a wait the resolve signal ends,
// then a gate whose approval has a timeout, so a decision cancels a pending timer.
const gateTimeoutRunbook = `name: gate-timeout
title: an approval with a timeout after a wait
steps:
  - id: recovered
    action: wait.resolved
    timeout: 6h
  - id: failback
    action: approval
    with:
      question: fail back?
    approval:
      timeout: 30m
      group: sre
      on_timeout: escalate
`

// Deciding an approval while its timeout timer is pending (rejected or approved, alone or
// next to a signal) leaves a history that replays, both in the replayer and through a query
// on the closed incident (which the worker no longer caches, so it replays from the start).
// The races are timing-dependent: QUENCH_REPLAY_ROUNDS=N repeats them, QUENCH_DUMP=DIR
// keeps each history as JSON. (The query that failed in `quench demo` needs a query
// dispatched before the decision: see query_race_test.go.)
func TestDecidedGateWithPendingTimerReplays(t *testing.T) {
	rounds := 1
	if s := os.Getenv("QUENCH_REPLAY_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err)
		rounds = n
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := t.TempDir()
	stack, err := StartInDir(ctx, DirOptions{Dir: dir, Runbooks: map[string]string{"gate-timeout.yaml": gateTimeoutRunbook},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	defer stack.Stop()

	type variant struct {
		name    string
		verdict string
		note    bool // a note signal races the decision
	}
	variants := []variant{
		{"reject", workflows.VerdictReject, false},
		{"approve", workflows.VerdictApprove, false},
		{"reject-with-note", workflows.VerdictReject, true},
		{"approve-with-note", workflows.VerdictApprove, true},
	}
	for round := 0; round < rounds; round++ {
		for _, v := range variants {
			if !t.Run(fmt.Sprintf("%s/%d", v.name, round), func(t *testing.T) {
				runDecidedGate(ctx, t, stack, v.verdict, v.note)
			}) {
				return
			}
		}
	}
}

func runDecidedGate(ctx context.Context, t *testing.T, stack *Stack, verdict string, note bool) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	started, err := stack.Incidents.Start(ctx, incidents.StartRequest{Runbook: "gate-timeout", Requester: "cli:tester", Source: "cli"})
	require.NoError(t, err)
	id := started.IncidentID

	// Decide the moment the watch shows the approval, as the demo does.
	decided := make(chan error, 1)
	asked := false
	st, err := stack.Incidents.Watch(ctx, id, func(e workflows.Event, _ workflows.Status) {
		switch {
		case e.Kind == workflows.EventStarted:
			_, err := stack.Incidents.Signal(ctx, id, workflows.SignalResolve, workflows.Resolve{By: "cli:tester", Reason: "back"})
			require.NoError(t, err)
		case e.Kind == workflows.EventApprovalAsked && !asked:
			asked = true
			go func() {
				if note {
					go func() {
						_, _ = stack.Incidents.Signal(ctx, id, workflows.SignalNote, workflows.Note{By: "cli:tester", Text: "racing"})
					}()
				}
				_, err := stack.Incidents.Decide(ctx, id, workflows.Decision{StepID: "failback", Approver: "cli:other", Via: "cli", Verdict: verdict})
				decided <- err
			}()
		}
	})
	if err != nil {
		dumpHistory(t, stack, id)
	}
	require.NoError(t, err, "watching %s", id)
	require.True(t, asked, "the approval was asked")
	require.NoError(t, <-decided)
	require.NotNil(t, st.ClosedAt)

	// The worker evicts a closed workflow: this query replays its whole history.
	if _, err := stack.Incidents.Status(ctx, id); err != nil {
		dumpHistory(t, stack, id)
		t.Fatalf("querying closed %s: %v", id, err)
	}
	hist := dumpHistory(t, stack, id)
	replayer := worker.NewWorkflowReplayer()
	workflows.Register(replayer)
	if err := replayer.ReplayWorkflowHistory(nil, hist); err != nil {
		for _, ev := range hist.Events {
			t.Logf("%3d %s", ev.GetEventId(), ev.GetEventType())
		}
		t.Fatalf("replaying %s: %v", id, err)
	}
}

func dumpHistory(t *testing.T, stack *Stack, id string) *historypb.History {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hist := &historypb.History{}
	it := stack.Client.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		hist.Events = append(hist.Events, ev)
	}
	if os.Getenv("QUENCH_DUMP") != "" {
		b, _ := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
		_ = os.WriteFile(os.Getenv("QUENCH_DUMP")+"/"+id+".json", b, 0o644)
	}
	return hist
}
