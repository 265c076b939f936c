package workflows

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/alert"
	"github.com/quench-dev/quench/runbooks"
)

// handOverOften lowers an input's history limit so that, with the test environment's
// history length set past it, the incident hands over at every safe point.
func handOverOften(in IncidentInput) IncidentInput {
	in.Limits = &Limits{HistoryLimit: 10}
	return in
}

func TestContinueAsNewKeepsState(t *testing.T) {
	in := handOverOften(testInput(testSpec(
		runbooks.Step{ID: "snap", Action: runbooks.ActionTrafficSnapshot},
		switchStep("failover"),
		runbooks.Step{ID: "recovered", Action: runbooks.ActionWaitResolved},
		runbooks.Step{ID: "busy", Action: runbooks.ActionNotify, When: "steps.snap.outputs.requests > 100",
			With: map[string]string{"text": "on {{ .steps.failover.outputs.to }} after {{ .steps.snap.outputs.requests }} requests"}},
		runbooks.Step{ID: "gate", Action: runbooks.ActionApproval, Approval: &runbooks.Approval{Groups: []string{"sre"}}},
	)))

	var (
		sequence               []string
		nudgedWait, nudgedGate bool
		gateAskedAt            []time.Time
		clock                  = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		final                  Status
		generations            int
	)
	for generations = 1; ; generations++ {
		require.Less(t, generations, 15, "the incident never finished")
		h := newHarness(t)
		h.env.SetStartTime(clock)
		h.env.SetCurrentHistoryLength(100) // past the lowered limit: hand over at every safe point
		// One minute into each run, do whatever the incident waits for; the first time it
		// waits for something, only nudge it with signals (which makes it hand over mid-wait).
		h.at(time.Minute, func() {
			st := h.status()
			switch {
			case stepByID(st, "recovered").State == StepRunning && !nudgedWait:
				nudgedWait = true
				h.env.SignalWorkflowSkippingWorkflowTask(SignalNote, Note{By: "cli:bob", Text: "still down"})
				h.env.SignalWorkflow(SignalAlert, alert.Alert{Source: "alertmanager", Key: "g1", Fingerprint: "fp9", Status: alert.StatusFiring})
			case stepByID(st, "recovered").State == StepRunning:
				h.env.SignalWorkflow(SignalResolve, Resolve{By: "cli:bob"})
			case len(st.Pending) == 1 && !nudgedGate:
				nudgedGate = true
				gateAskedAt = append(gateAskedAt, st.Pending[0].RequestedAt)
				h.env.SignalWorkflow(SignalNote, Note{By: "cli:carol", Text: "looking"})
			case len(st.Pending) == 1:
				gateAskedAt = append(gateAskedAt, st.Pending[0].RequestedAt)
				d := approve("gate", "bob")
				d.Digest = st.Pending[0].Digest
				h.env.UpdateWorkflow(UpdateDecide, "", &testsuite.TestUpdateCallback{}, h.sign(d, nil))
			}
		})
		h.env.ExecuteWorkflow(IncidentWorkflowName, in)
		require.True(t, h.env.IsWorkflowCompleted())
		sequence = append(sequence, h.sequence()...)
		clock = h.env.Now()

		var can *workflow.ContinueAsNewError
		if err := h.env.GetWorkflowError(); errors.As(err, &can) {
			var next IncidentInput
			require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
			require.NotNil(t, next.State, "generation %d handed over no state", generations)
			in = next
			continue
		}
		final = closedStatus(t, h.env)
		break
	}

	assert.Equal(t, 7, generations, "one step per run, plus one hand-over mid-wait and one mid-approval")
	assert.Equal(t, 7, final.Runs)
	assert.Equal(t, []string{
		"traffic.snapshot snap",
		"gateway.switch failover",
		"notify busy",
		"gateway.restore failover/undo",
	}, sequence, "no step ran twice across generations")
	assert.Equal(t, StateResolved, final.State)
	for _, s := range final.Steps {
		assert.Equal(t, StepDone, s.State, s.ID)
	}
	assert.EqualValues(t, 120, stepByID(final, "snap").Outputs["requests"], "outputs survive")
	assert.Equal(t, map[string]string{"failover": undoDone}, undoStates(final), "the undo stack survives")
	require.Len(t, gateAskedAt, 2)
	assert.Equal(t, gateAskedAt[0], gateAskedAt[1], "the resumed approval is the same request")
	assert.Len(t, eventsOf(final, EventStarted, ""), 1)
	assert.Len(t, eventsOf(final, EventNote, ""), 2, "signals of every generation are on the timeline")
	assert.Len(t, eventsOf(final, EventAlert, ""), 1)
	assert.Equal(t, 1, final.Alerts.Received)
	assert.Len(t, eventsOf(final, EventStepDone, ""), 5, "each step done once on the timeline")
}

func TestTimelineIsCapped(t *testing.T) {
	h := newHarness(t)
	h.at(time.Minute, func() {
		for i := range 10 {
			h.env.SignalWorkflow(SignalNote, Note{By: "cli:bob", Text: fmt.Sprint("note ", i)})
		}
	})
	in := testInput(testSpec(runbooks.Step{ID: "settle", Action: runbooks.ActionWaitDuration, With: map[string]string{"for": "5m"}}))
	in.Limits = &Limits{TimelineCap: 5}
	st := h.run(in)

	assert.Len(t, st.Timeline, 5)
	assert.Positive(t, st.TimelineDropped)
	assert.Equal(t, EventClosed, st.Timeline[len(st.Timeline)-1].Kind, "the newest events are kept")
}

func TestContinueAsNewDrainsBufferedSignals(t *testing.T) {
	h := newHarness(t)
	h.env.SetCurrentHistoryLength(100)
	h.env.OnActivity(runbooks.ActionTrafficSnapshot, mock.Anything, mock.Anything).After(10*time.Minute).Return(activities.StepResult{Summary: "ok"}, nil)
	// Buffered while the step runs; handled in the same workflow task in which the step ends
	// and the run hands over.
	h.at(5*time.Minute, func() {
		h.env.SignalWorkflowSkippingWorkflowTask(SignalNote, Note{By: "cli:bob", Text: "do not lose me"})
		h.env.SignalWorkflowSkippingWorkflowTask(SignalResolve, Resolve{By: "cli:bob"})
	})
	spec := testSpec(
		runbooks.Step{ID: "snap", Action: runbooks.ActionTrafficSnapshot},
		notifyStep("after", "next run"),
	)
	spec.Actions = runbooks.ActionsFor(&spec)
	h.env.ExecuteWorkflow(IncidentWorkflowName, handOverOften(testInput(spec)))

	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.env.GetWorkflowError(), &can), "expected continue-as-new, got %v", h.env.GetWorkflowError())
	var next IncidentInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.State)
	assert.Equal(t, 1, next.State.NextStep)
	assert.Equal(t, &Limits{HistoryLimit: 10}, next.Limits, "the limits travel to the next run")
	assert.Equal(t, spec.Actions, next.Spec.Actions, "so does the saved catalog")
	assert.Len(t, eventsOf(next.State.Status, EventNote, ""), 1)
	assert.True(t, next.State.Status.Resolved)
}
