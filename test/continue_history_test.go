package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/quench-dev/quench/internal/fixtures"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/runbooks"
	"github.com/quench-dev/quench/workflows"
)

// TestProviderOutageWaitsAcrossContinueAsNew runs provider-outage on quench dev (real
// worker, real activities on the story's traffic log) with a history limit so low that
// the incident hands over to a new run at every safe point. A note while it waits for the
// resolution, and another while it waits for the fail back's approval, make it hand over
// in the middle of each wait; the resolve and the approval then land in the new run,
// which must carry the wait on from where it stood. Every run's history is recorded for
// the replay test.
func TestProviderOutageWaitsAcrossContinueAsNew(t *testing.T) {
	s := startOutageStory(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := client.Dial(client.Options{HostPort: s.dev.temporal})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// The CLI cannot lower the limit, so start the incident as the CLI would (Prepare), with
	// the limit in its input.
	lib, err := runbooks.LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	in, opts, err := incidents.New(c, lib, "default").Prepare(incidents.StartRequest{
		Runbook: "provider-outage", Params: map[string]string{"route": fixtures.Route},
		Requester: "cli:alice", Source: "cli",
	})
	if err != nil {
		t.Fatal(err)
	}
	in.Limits = &workflows.Limits{HistoryLimit: 1}
	in.Speed = 10 // as quench dev --speed 10 would: the verify judges the fallback in seconds
	first, err := c.ExecuteWorkflow(ctx, opts, workflows.IncidentWorkflowName, in)
	if err != nil {
		t.Fatal(err)
	}
	w := s.dev.watch(t, in.IncidentID)

	w.waitFor(t, workflows.EventStepStarted, "recovered")
	runs := s.status(t, in.ShortID).Runs
	s.dev.mustQuench(t, "incident", "note", in.ShortID, "upstream still failing", "--as", "carol")
	s.awaitRuns(t, in.ShortID, runs+1)
	if st := s.status(t, in.ShortID); stepOf(t, st, "recovered").State != workflows.StepRunning {
		t.Fatalf("after the hand-over the wait is %s, want still running", stepOf(t, st, "recovered").State)
	}
	s.dev.mustQuench(t, "incident", "resolve", in.ShortID, "--as", "alice", "--reason", "provider status page green")

	w.waitFor(t, workflows.EventApprovalAsked, "failback")
	runs = s.status(t, in.ShortID).Runs
	s.dev.mustQuench(t, "incident", "note", in.ShortID, "checking primary first", "--as", "carol")
	s.awaitRuns(t, in.ShortID, runs+1)
	st := s.status(t, in.ShortID)
	asked := eventsOf(st, workflows.EventApprovalAsked)
	if len(asked) != 1 || len(st.Pending) != 1 || st.Pending[0].StepID != "failback" || !st.Pending[0].RequestedAt.Equal(asked[0].At) {
		t.Fatalf("after the hand-over pending %+v, asked %+v: want the one failback approval, carried on", st.Pending, asked)
	}
	if got := s.route(t); got.Provider != fixtures.FallbackProvider {
		t.Fatalf("the route moved back before the approval: %+v", got)
	}
	s.dev.mustQuench(t, "incident", "approve", in.ShortID, "--as", "bob", "--reason", "primary healthy")
	w.waitFor(t, workflows.EventClosed, "")

	var final workflows.Status
	if err := c.GetWorkflow(ctx, in.IncidentID, "").Get(ctx, &final); err != nil {
		t.Fatal(err)
	}
	if final.State != workflows.StateResolved || stepOf(t, final, "failback").State != workflows.StepDone {
		t.Fatalf("final: %s, steps %+v", final.State, final.Steps)
	}
	if got := s.route(t); got.Provider != fixtures.PrimaryProvider {
		t.Fatalf("route after fail back: %+v", got)
	}
	if final.Runs < 3 {
		t.Fatalf("the incident ran in %d runs; the low limit should have handed over at each wait", final.Runs)
	}
	if n := len(eventsOf(final, workflows.EventStarted)); n != 1 {
		t.Fatalf("%d started events across runs, want 1", n)
	}

	run := first.GetRunID()
	for i := 1; run != ""; i++ {
		run = recordRun(t, s.dev, in.IncidentID, run, fmt.Sprintf("provider-outage-continue-as-new-run%d", i))
	}
}

// awaitRuns waits until the incident's status counts at least n runs.
func (s *storyRun) awaitRuns(t *testing.T, id string, n int) {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(time.Minute)
	for {
		st := s.status(t, id)
		if st.Runs >= n {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("incident %s is in run %d, want %d", id, st.Runs, n)
		}
	}
}

func eventsOf(st workflows.Status, kind string) []workflows.Event {
	var out []workflows.Event
	for _, e := range st.Timeline {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}
