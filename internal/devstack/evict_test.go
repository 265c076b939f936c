package devstack

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/workflows"
)

// With a workflow cache far smaller than the incidents open (quench keeps 512 of them in
// memory), an incident pushed out of it is replayed from its history on its next task: it
// still answers its status, takes a note and a decision, and finishes with its whole
// timeline. The cache of 2 holds one execution (the SDK keeps one slot free), so every
// incident here is evicted between its tasks.
//
// The SDK sizes its cache when the first worker of a process starts, and stacks of earlier
// tests in this binary may still hold it: the test runs in a process of its own.
func TestEvictedIncidentsCarryOn(t *testing.T) {
	if os.Getenv(freshProcessEnv) != "1" {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1")
		cmd.Env = append(os.Environ(), freshProcessEnv+"=1")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "in a process of its own:\n%s", out)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	misses := &cacheMisses{}
	stack, err := StartInDir(ctx, DirOptions{Dir: t.TempDir(), Runbooks: map[string]string{"gate-only.yaml": gateRunbook},
		Config: "people:\n  alice: [cli:alice]\n", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		WorkflowCacheSize: 2, MetricsHandler: misses})
	require.NoError(t, err)
	defer stack.Stop()
	svc := stack.Incidents

	var ids []string
	for range 3 {
		started, err := svc.Start(ctx, incidents.StartRequest{Runbook: "gate-only", Requester: "alice", Source: "cli"})
		require.NoError(t, err)
		ids = append(ids, started.IncidentID)
	}
	for _, id := range ids {
		require.Eventually(t, func() bool {
			st, err := svc.Status(ctx, id)
			return err == nil && len(st.Pending) == 1
		}, time.Minute, 50*time.Millisecond, "incident %s never asked for its approval", id)
	}

	// The first incident, the least recently run, first: each task replays it.
	for i, id := range ids {
		_, err := svc.Signal(ctx, id, workflows.SignalNote, workflows.Note{By: "cli:bob", Text: "looking"})
		require.NoError(t, err)
		res, err := svc.Decide(ctx, id, workflows.Decision{Approver: "bob", Via: "api", Verdict: workflows.VerdictApprove})
		require.NoError(t, err, "incident %d", i)
		assert.Equal(t, "approved", res.Outcome)
	}
	assert.Positive(t, misses.n.Load(), "no workflow task missed the cache: nothing was replayed")
	for _, id := range ids {
		var st workflows.Status
		require.Eventually(t, func() bool {
			st, err = svc.Status(ctx, id)
			return err == nil && st.ClosedAt != nil
		}, time.Minute, 50*time.Millisecond, "incident %s did not close", id)
		assert.Equal(t, workflows.StateCompleted, st.State)
		assert.Equal(t, workflows.StepDone, st.Steps[0].State)
		var kinds []string
		for _, e := range st.Timeline {
			kinds = append(kinds, e.Kind)
		}
		assert.Equal(t, []string{workflows.EventStarted, workflows.EventApprovalAsked, workflows.EventNote,
			workflows.EventDecision, workflows.EventStepDone, workflows.EventClosed}, kinds)
	}
}

// freshProcessEnv marks the child process a test re-runs itself in.
const freshProcessEnv = "QUENCH_DEVSTACK_TEST_FRESH_PROCESS"

// cacheMisses counts the SDK's sticky-cache misses: workflow tasks of an execution no
// longer in the cache, which the worker replayed from history.
type cacheMisses struct{ n atomic.Int64 }

func (m *cacheMisses) WithTags(map[string]string) client.MetricsHandler { return m }
func (m *cacheMisses) Counter(name string) client.MetricsCounter {
	if name == "temporal_sticky_cache_miss" {
		return counterFunc(func(d int64) { m.n.Add(d) })
	}
	return client.MetricsNopHandler.Counter(name)
}
func (m *cacheMisses) Gauge(name string) client.MetricsGauge {
	return client.MetricsNopHandler.Gauge(name)
}
func (m *cacheMisses) Timer(name string) client.MetricsTimer {
	return client.MetricsNopHandler.Timer(name)
}

type counterFunc func(int64)

func (f counterFunc) Inc(d int64) { f(d) }
