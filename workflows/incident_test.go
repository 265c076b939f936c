package workflows

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/alert"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/runbooks"
)

func TestStepsRunInOrderWithRenderedParams(t *testing.T) {
	h := newHarness(t)
	in := testInput(testSpec(
		runbooks.Step{ID: "snap", Action: runbooks.ActionTrafficSnapshot, With: map[string]string{"route": "{{ .params.route }}"}},
		runbooks.Step{ID: "failover", Action: runbooks.ActionGatewaySwitch, With: map[string]string{
			"route": "{{ .params.route }}", "to": "{{ .alert.labels.fallback }}"}},
		notifyStep("tell", "{{ .incident.short_id }}: {{ .steps.snap.outputs.requests }} requests, now on {{ .steps.failover.outputs.to }}"),
	))
	in.Alert = &alert.Alert{Source: "alertmanager", Key: "g1", Fingerprint: "fp1", Status: alert.StatusFiring,
		Labels: map[string]string{"fallback": "mistral"}}

	st := h.run(in)

	assert.Equal(t, StateCompleted, st.State)
	assert.Equal(t, []string{
		"traffic.snapshot snap",
		"gateway.switch failover",
		"notify tell",
		"gateway.restore failover/undo",
	}, h.sequence())
	assert.Equal(t, map[string]string{"route": "chat", "to": "mistral", "previous": mustEncode(t, harnessRouteState)}, h.callsOf(runbooks.ActionGatewaySwitch)[0].Params,
		"the switch gets the state gateway.read found")
	assert.Equal(t, "abcdef: 120 requests, now on mistral", h.callsOf(runbooks.ActionNotify)[0].Params["text"])
	assert.Equal(t, testIncidentID+"/failover", h.callsOf(runbooks.ActionGatewaySwitch)[0].IdempotencyKey)
	for _, s := range st.Steps {
		assert.Equal(t, StepDone, s.State, s.ID)
	}
	assert.Len(t, st.Evidence, 1, "the snapshot's evidence reference is kept")
	assert.NotNil(t, st.ClosedAt)
	assert.Len(t, eventsOf(st, EventClosed, ""), 1)
}

func TestWhenConditions(t *testing.T) {
	h := newHarness(t)
	st := h.run(testInput(testSpec(
		runbooks.Step{ID: "snap", Action: runbooks.ActionTrafficSnapshot},
		runbooks.Step{ID: "never", Action: runbooks.ActionNotify, When: "false", With: map[string]string{"text": "never"}},
		runbooks.Step{ID: "busy", Action: runbooks.ActionNotify, When: "steps.snap.outputs.requests > 100", With: map[string]string{"text": "busy"}},
		runbooks.Step{ID: "quiet", Action: runbooks.ActionNotify, When: "steps.snap.outputs.requests < 100", With: map[string]string{"text": "quiet"}},
		runbooks.Step{ID: "chat", Action: runbooks.ActionNotify, When: `params.route == "chat"`, With: map[string]string{"text": "chat"}},
	)))

	assert.Equal(t, StepSkipped, stepByID(st, "never").State)
	assert.Equal(t, StepDone, stepByID(st, "busy").State)
	assert.Equal(t, StepSkipped, stepByID(st, "quiet").State)
	assert.Equal(t, StepDone, stepByID(st, "chat").State)
	var texts []string
	for _, c := range h.callsOf(runbooks.ActionNotify) {
		texts = append(texts, c.Params["text"])
	}
	assert.Equal(t, []string{"busy", "chat"}, texts)
	skipped := eventsOf(st, EventStepSkipped, "quiet")
	require.Len(t, skipped, 1)
	assert.Contains(t, skipped[0].Text, "steps.snap.outputs.requests < 100", "the reason is on the timeline")
}

func TestFailedStepAbortsByDefaultAndUndoes(t *testing.T) {
	h := newHarness(t)
	h.failStep(runbooks.ActionTrafficSnapshot, "traffic log unreadable")
	st := h.run(testInput(testSpec(
		switchStep("failover"),
		runbooks.Step{ID: "snap", Action: runbooks.ActionTrafficSnapshot},
		notifyStep("after", "not reached"),
	)))

	assert.Equal(t, StateFailed, st.State)
	assert.Equal(t, StepFailed, stepByID(st, "snap").State)
	assert.Contains(t, stepByID(st, "snap").Error, "traffic log unreadable")
	assert.Equal(t, StepSkipped, stepByID(st, "after").State)
	assert.Empty(t, h.callsOf(runbooks.ActionNotify))
	assert.Equal(t, []string{"gateway.switch failover", "traffic.snapshot snap", "gateway.restore failover/undo"}, h.sequence())
}

func TestFailedStepWithOnErrorContinueGoesOn(t *testing.T) {
	h := newHarness(t)
	h.failStep(runbooks.ActionTrafficSnapshot, "traffic log unreadable")
	st := h.run(testInput(testSpec(
		runbooks.Step{ID: "snap", Action: runbooks.ActionTrafficSnapshot, OnError: runbooks.OnErrorContinue},
		notifyStep("after", "reached"),
	)))

	assert.Equal(t, StateCompleted, st.State)
	assert.Equal(t, StepFailed, stepByID(st, "snap").State)
	assert.Equal(t, StepDone, stepByID(st, "after").State)
	assert.Len(t, eventsOf(st, EventStepFailed, "snap"), 1)
}

func TestRetryPolicyFromTheStep(t *testing.T) {
	h := newHarness(t)
	var attempts atomic.Int32
	h.onStep(runbooks.ActionTrafficSnapshot, func(activities.StepInput) (activities.StepResult, error) {
		if attempts.Add(1) < 3 {
			return activities.StepResult{}, assert.AnError
		}
		return activities.StepResult{Summary: "third time lucky"}, nil
	})
	st := h.run(testInput(testSpec(runbooks.Step{ID: "snap", Action: runbooks.ActionTrafficSnapshot,
		Retry: &runbooks.Retry{MaxAttempts: 3, InitialInterval: runbooks.Duration(time.Second)}})))
	assert.Equal(t, StepDone, stepByID(st, "snap").State)
	assert.Equal(t, int32(3), attempts.Load())

	h = newHarness(t)
	h.onStep(runbooks.ActionTrafficSnapshot, func(activities.StepInput) (activities.StepResult, error) {
		return activities.StepResult{}, assert.AnError
	})
	st = h.run(testInput(testSpec(runbooks.Step{ID: "snap", Action: runbooks.ActionTrafficSnapshot, Retry: &runbooks.Retry{MaxAttempts: 2}})))
	assert.Equal(t, StepFailed, stepByID(st, "snap").State)
	assert.Len(t, h.callsOf(runbooks.ActionTrafficSnapshot), 2, "max_attempts bounds the retries")
}

func TestUndoStackRunsNewestFirstAndHonoursKeep(t *testing.T) {
	h := newHarness(t)
	kept := freezeStep("freeze-kept")
	kept.With = map[string]string{"scope": "evals"}
	kept.Undo = &runbooks.Undo{Keep: true}
	st := h.run(testInput(testSpec(
		freezeStep("freeze"),
		switchStep("failover"),
		kept,
	)))

	assert.Equal(t, []string{
		"prompts.freeze freeze",
		"gateway.switch failover",
		"prompts.freeze freeze-kept",
		"gateway.restore failover/undo",
		"prompts.unfreeze freeze/undo",
	}, h.sequence(), "undos run newest first, the kept one not at all")
	assert.Equal(t, map[string]string{"freeze": undoDone, "failover": undoDone, "freeze-kept": undoKept}, undoStates(st))
	assert.Equal(t, map[string]string{"scope": "prompts"}, h.callsOf(runbooks.ActionPromptsUnfreeze)[0].Params)
}

func TestClearsRemovesTheSwitchUndo(t *testing.T) {
	h := newHarness(t)
	st := h.run(testInput(testSpec(switchStep("failover"), restoreStep("failback"))))

	assert.Equal(t, []string{"gateway.switch failover", "gateway.restore failback"}, h.sequence(),
		"the fail back cleared the switch's undo, so close restores nothing twice")
	assert.Empty(t, st.Undo)
	assert.NotEmpty(t, eventsOf(st, EventUndo, "failback"))
}

func TestUndoWithApproval(t *testing.T) {
	gated := func() runbooks.Spec {
		s := switchStep("failover")
		s.Undo = &runbooks.Undo{Approval: &runbooks.Approval{Groups: []string{"sre"}}}
		return testSpec(s)
	}

	t.Run("approved undo runs", func(t *testing.T) {
		h := newHarness(t)
		var pending []PendingApproval
		h.at(time.Minute, func() { pending = h.status().Pending })
		d := h.decideAt(2*time.Minute, approve("failover", "bob"))
		st := h.run(testInput(gated()))

		require.Len(t, pending, 1)
		assert.True(t, pending[0].Undo)
		assert.Equal(t, runbooks.ActionGatewayRestore, pending[0].Action)
		assert.Equal(t, runbooks.ParamsDigest(runbooks.ActionGatewayRestore, map[string]string{"route": "chat"}), pending[0].Digest,
			"the approval covers the route, not the saved state the undo carries")
		assert.Equal(t, map[string]string{"route": "chat"}, pending[0].Params)
		assert.Equal(t, DecisionResult{StepID: "failover", Undo: true, Subject: "the undo of step failover (gateway.restore)", Outcome: "approved"}, d.result,
			"the result says the undo was approved, not the step")
		decided := eventsOf(st, EventDecision, "failover")
		require.Len(t, decided, 1)
		assert.Equal(t, "bob approved the undo of step failover (gateway.restore) via cli", decided[0].Text)
		assert.Len(t, h.callsOf(runbooks.ActionGatewayRestore), 1)
		assert.Equal(t, mustEncode(t, harnessRouteState), h.callsOf(runbooks.ActionGatewayRestore)[0].Params["previous"],
			"the approved undo still restores the saved state")
		assert.Equal(t, undoDone, undoStates(st)["failover"])
		assert.Equal(t, StateCompleted, st.State)
	})

	t.Run("rejected undo does not run", func(t *testing.T) {
		h := newHarness(t)
		d := h.decideAt(time.Minute, reject("failover", "carol", "keep the fallback over the weekend"))
		st := h.run(testInput(gated()))

		assert.Equal(t, "rejected", d.result.Outcome)
		assert.Empty(t, h.callsOf(runbooks.ActionGatewayRestore))
		assert.Equal(t, undoRejected, undoStates(st)["failover"])
		assert.Len(t, eventsOf(st, EventDecision, "failover"), 1)
	})

	t.Run("abort while the undo waits ends the wait", func(t *testing.T) {
		h := newHarness(t)
		h.at(time.Hour, func() { h.env.SignalWorkflow(SignalAbort, Abort{By: "cli:bob", Reason: "leave it"}) })
		st := h.run(testInput(gated()))

		assert.Equal(t, StateAborted, st.State)
		assert.Empty(t, h.callsOf(runbooks.ActionGatewayRestore))
		assert.Equal(t, undoCanceled, undoStates(st)["failover"])
		assert.Empty(t, st.Pending)
	})
}

func TestWaitResolvedPassesOnResolve(t *testing.T) {
	h := newHarness(t)
	var during Status
	h.at(10*time.Minute, func() { during = h.status() })
	h.at(20*time.Minute, func() {
		h.env.SignalWorkflow(SignalResolve, Resolve{By: "cli:bob", Reason: "provider recovered"})
	})
	st := h.run(testInput(testSpec(
		switchStep("failover"),
		runbooks.Step{ID: "recovered", Action: runbooks.ActionWaitResolved, Timeout: runbooks.Duration(6 * time.Hour)},
		restoreStep("failback"),
	)))

	assert.Equal(t, StepRunning, stepByID(during, "recovered").State)
	assert.Equal(t, StateRunning, during.State)
	assert.Equal(t, StateResolved, st.State)
	assert.True(t, st.Resolved)
	assert.Equal(t, "resolved", stepByID(st, "recovered").Summary)
	resolved := eventsOf(st, EventResolved, "")
	require.Len(t, resolved, 1)
	assert.Equal(t, "cli:bob", resolved[0].Actor)
	assert.Equal(t, "incident resolved: provider recovered", resolved[0].Text, "the actor is not repeated in the text")
	assert.Len(t, h.callsOf(runbooks.ActionGatewayRestore), 1)
}

func TestWaitResolvedTimesOutAndGoesOn(t *testing.T) {
	h := newHarness(t)
	st := h.run(testInput(testSpec(
		runbooks.Step{ID: "recovered", Action: runbooks.ActionWaitResolved, Timeout: runbooks.Duration(time.Hour)},
		notifyStep("after", "still broken"),
	)))

	assert.Equal(t, StateCompleted, st.State)
	assert.Equal(t, StepDone, stepByID(st, "recovered").State)
	assert.Contains(t, stepByID(st, "recovered").Summary, "timed out")
	assert.Len(t, h.callsOf(runbooks.ActionNotify), 1)
	assert.Equal(t, time.Hour, stepByID(st, "recovered").EndedAt.Sub(*stepByID(st, "recovered").StartedAt))
}

func TestWaitDuration(t *testing.T) {
	h := newHarness(t)
	st := h.run(testInput(testSpec(
		runbooks.Step{ID: "settle", Action: runbooks.ActionWaitDuration, With: map[string]string{"for": "15m"}},
	)))
	s := stepByID(st, "settle")
	assert.Equal(t, StepDone, s.State)
	assert.Equal(t, 15*time.Minute, s.EndedAt.Sub(*s.StartedAt))
}

func TestAbortMidActivityCancelsItSkipsTheRestAndUndoes(t *testing.T) {
	h := newHarness(t)
	// The snapshot takes an hour; the abort comes ten minutes in.
	h.env.OnActivity(runbooks.ActionTrafficSnapshot, mock.Anything, mock.Anything).After(time.Hour).Return(activities.StepResult{Summary: "late"}, nil)
	var canceled []string
	h.env.SetOnActivityCanceledListener(func(info *activity.Info) { canceled = append(canceled, info.ActivityType.Name) })
	h.at(10*time.Minute, func() { h.env.SignalWorkflow(SignalAbort, Abort{By: "cli:bob", Reason: "wrong runbook"}) })

	st := h.run(testInput(testSpec(
		freezeStep("freeze"),
		runbooks.Step{ID: "snap", Action: runbooks.ActionTrafficSnapshot},
		switchStep("failover"),
	)))

	assert.Equal(t, StateAborted, st.State)
	assert.Equal(t, []string{runbooks.ActionTrafficSnapshot}, canceled)
	assert.Equal(t, StepDone, stepByID(st, "freeze").State)
	assert.Equal(t, StepCanceled, stepByID(st, "snap").State)
	assert.Equal(t, StepSkipped, stepByID(st, "failover").State)
	assert.Empty(t, h.callsOf(runbooks.ActionGatewaySwitch))
	assert.Len(t, h.callsOf(runbooks.ActionPromptsUnfreeze), 1, "the freeze is undone")
	aborted := eventsOf(st, EventAborted, "")
	require.Len(t, aborted, 1)
	assert.Contains(t, aborted[0].Text, "wrong runbook")
}

func TestAbortDuringWaitResolved(t *testing.T) {
	h := newHarness(t)
	h.at(time.Hour, func() { h.env.SignalWorkflow(SignalAbort, Abort{By: "slack:U1"}) })
	st := h.run(testInput(testSpec(
		switchStep("failover"),
		runbooks.Step{ID: "recovered", Action: runbooks.ActionWaitResolved},
		restoreStep("failback"),
	)))

	assert.Equal(t, StateAborted, st.State)
	assert.Equal(t, StepCanceled, stepByID(st, "recovered").State)
	assert.Equal(t, StepSkipped, stepByID(st, "failback").State)
	assert.Equal(t, []string{"gateway.switch failover", "gateway.restore failover/undo"}, h.sequence())
}

func TestAlertSignalsAreDeduplicated(t *testing.T) {
	h := newHarness(t)
	firing1 := alert.Alert{Source: "alertmanager", Key: "g1", Fingerprint: "fp1", Status: alert.StatusFiring, Title: "errors high"}
	firing2 := firing1
	firing2.Fingerprint = "fp2"
	resolved1, resolved2 := firing1, firing2
	resolved1.Status, resolved2.Status = alert.StatusResolved, alert.StatusResolved

	var afterStorm, afterFirstResolved Status
	h.at(time.Minute, func() {
		for range 50 {
			h.env.SignalWorkflow(SignalAlert, firing1) // a storm of re-sends
		}
		h.env.SignalWorkflow(SignalAlert, firing2)
	})
	h.at(2*time.Minute, func() {
		afterStorm = h.status()
		h.env.SignalWorkflow(SignalAlert, resolved1)
	})
	h.at(3*time.Minute, func() {
		afterFirstResolved = h.status()
		// Both arrive in one workflow task, as they would from a real server.
		h.env.SignalWorkflowSkippingWorkflowTask(SignalAlert, resolved2)
		h.env.SignalWorkflow(SignalAlert, resolved2)
	})
	in := testInput(testSpec(runbooks.Step{ID: "recovered", Action: runbooks.ActionWaitResolved}))
	in.Alert = &firing1

	st := h.run(in)

	assert.Equal(t, AlertSummary{Received: 52, Distinct: 2, Firing: 2}, withoutTimes(afterStorm.Alerts))
	assert.Len(t, eventsOf(afterStorm, EventAlert, ""), 1, "only the new fingerprint reached the timeline")
	assert.False(t, afterFirstResolved.Resolved, "one alert of the group still fires")
	assert.Equal(t, 1, afterFirstResolved.Alerts.Firing)
	assert.Equal(t, StateResolved, st.State)
	assert.Equal(t, 55, st.Alerts.Received)
	assert.Equal(t, 4, st.Alerts.Distinct)
	assert.Equal(t, 0, st.Alerts.Firing)
	assert.Len(t, eventsOf(st, EventAlert, ""), 3)
}

func withoutTimes(s AlertSummary) AlertSummary {
	s.LastAt, s.LastStatus = nil, ""
	return s
}

func TestNotesGoOnTheTimeline(t *testing.T) {
	h := newHarness(t)
	h.at(time.Minute, func() { h.env.SignalWorkflow(SignalNote, Note{By: "cli:bob", Text: "customer reports fixed"}) })
	st := h.run(testInput(testSpec(runbooks.Step{ID: "settle", Action: runbooks.ActionWaitDuration, With: map[string]string{"for": "5m"}})))
	notes := eventsOf(st, EventNote, "")
	require.Len(t, notes, 1)
	assert.Equal(t, "cli:bob", notes[0].Actor)
	assert.Equal(t, "customer reports fixed", notes[0].Text)
}

func TestRollbackProposalOnTheTimeline(t *testing.T) {
	h := newHarness(t)
	st := h.run(testInput(testSpec(runbooks.Step{ID: "rollback", Action: runbooks.ActionPromptsRollback})))
	proposals := eventsOf(st, EventRollbackProposal, "rollback")
	require.Len(t, proposals, 1)
	assert.Equal(t, "quench/rollback-abcdef", proposals[0].Data["branch"])
	assert.Equal(t, "file:///repo#quench/rollback-abcdef", proposals[0].Data["link:branch"])
}

func TestVerify(t *testing.T) {
	below := 0.05
	verified := func() runbooks.Spec {
		s := switchStep("failover")
		s.Verify = &runbooks.Verify{Signal: "error_rate", Below: &below, Within: runbooks.Duration(5 * time.Minute), Every: runbooks.Duration(time.Minute)}
		return testSpec(s, notifyStep("after", "going on"))
	}

	t.Run("pass keeps the change", func(t *testing.T) {
		h := newHarness(t)
		h.measures = []ports.VerifyResult{{Value: 0.3, Requests: 50}, {Value: 0.01, Requests: 50}}
		st := h.run(testInput(verified()))

		assert.Equal(t, StepDone, stepByID(st, "failover").State)
		assert.Equal(t, 2, h.measured)
		assert.Equal(t, "passed", eventsOf(st, EventVerify, "failover")[0].Data["result"])
		assert.Empty(t, eventsOf(st, EventEscalated, ""))
		assert.Equal(t, []string{"gateway.switch failover", "notify after", "gateway.restore failover/undo"}, h.sequence())
	})

	t.Run("fail reverts at once and escalates", func(t *testing.T) {
		h := newHarness(t)
		h.measures = []ports.VerifyResult{{Value: 0.3, Requests: 50}}
		st := h.run(testInput(verified()))

		assert.Equal(t, StepReverted, stepByID(st, "failover").State)
		assert.Equal(t, 6, h.measured, "polled every minute for five minutes")
		assert.Equal(t, []string{
			"gateway.switch failover",
			"gateway.restore failover/undo",
			"notify failover/verify/escalate",
			"notify after",
		}, h.sequence(), "reverted right away, not again at close")
		assert.Equal(t, "critical", h.callsOf(runbooks.ActionNotify)[0].Params["level"])
		assert.Len(t, eventsOf(st, EventEscalated, "failover"), 1)
		assert.Equal(t, undoDone, undoStates(st)["failover"])
		assert.Equal(t, StateCompleted, st.State)
	})

	t.Run("no traffic source is inconclusive at once and keeps the change", func(t *testing.T) {
		h := newHarness(t)
		h.measureErr = temporal.NewNonRetryableApplicationError("no traffic source configured", activities.ErrTypeNotConfigured, nil)
		st := h.run(testInput(verified()))

		assert.Equal(t, StepDone, stepByID(st, "failover").State)
		assert.Equal(t, 1, h.measured, "a permanent failure is not polled again")
		assert.Equal(t, "inconclusive", eventsOf(st, EventVerify, "failover")[0].Data["result"])
		assert.Contains(t, eventsOf(st, EventVerify, "failover")[0].Text, "no traffic source configured")
		assert.Equal(t, []string{
			"gateway.switch failover",
			"notify failover/verify/escalate",
			"notify after",
			"gateway.restore failover/undo",
		}, h.sequence(), "not reverted blind; a human is told to check")
	})
}

func TestSearchAttributesFollowTheState(t *testing.T) {
	h := newHarness(t)
	var statuses []string
	h.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		if v, ok := sa.GetKeyword(searchStatusKey); ok {
			statuses = append(statuses, v)
		}
	}).Return(nil)
	h.decideAt(time.Minute, approve("gate", "bob"))
	st := h.run(testInput(testSpec(runbooks.Step{ID: "gate", Action: runbooks.ActionApproval, Approval: &runbooks.Approval{Groups: []string{"sre"}}})))

	assert.Equal(t, StateCompleted, st.State)
	assert.Equal(t, []string{StateRunning, StateAwaiting, StateRunning, StateClosing, StateCompleted}, statuses)
}
