package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quench-dev/quench/runbooks"
)

// gatedFailback is the provider-outage shape: switch, then a fail back that needs approval.
func gatedFailback(appr runbooks.Approval) runbooks.Spec {
	failback := restoreStep("failback")
	failback.Approval = &appr
	return testSpec(switchStep("failover"), failback, notifyStep("after", "done"))
}

func TestApprovalAccepted(t *testing.T) {
	h := newHarness(t)
	var pending []PendingApproval
	var stateWhileWaiting string
	h.at(time.Minute, func() {
		st := h.status()
		pending, stateWhileWaiting = st.Pending, st.State
	})
	d := h.decideAt(2*time.Minute, approve("failback", "bob"))
	st := h.run(testInput(gatedFailback(runbooks.Approval{Groups: []string{"sre"}})))

	require.Len(t, pending, 1)
	assert.Equal(t, "failback", pending[0].StepID)
	assert.Equal(t, map[string]string{"route": "chat"}, pending[0].Params)
	assert.Equal(t, runbooks.ParamsDigest(runbooks.ActionGatewayRestore, map[string]string{"route": "chat"}), pending[0].Digest)
	assert.Equal(t, 1, pending[0].Quorum)
	assert.Equal(t, StateAwaiting, stateWhileWaiting)

	require.True(t, d.done)
	require.NoError(t, d.rejected)
	assert.Equal(t, DecisionResult{StepID: "failback", Subject: "step failback (gateway.restore)", Outcome: "approved"}, d.result)
	assert.Equal(t, StepDone, stepByID(st, "failback").State)
	assert.Equal(t, StateCompleted, st.State)
	assert.Empty(t, st.Pending)
	assert.Equal(t, []string{"gateway.switch failover", "gateway.restore failback", "notify after"}, h.sequence())
	decisions := eventsOf(st, EventDecision, "failback")
	require.Len(t, decisions, 1)
	assert.Equal(t, "bob", decisions[0].Actor)
	assert.Equal(t, "cli", decisions[0].Data["via"])
	assert.Equal(t, 2*time.Minute, decisions[0].At.Sub(st.StartedAt))
}

func TestApprovalRejected(t *testing.T) {
	t.Run("skip: the step is rejected and the runbook goes on", func(t *testing.T) {
		h := newHarness(t)
		d := h.decideAt(time.Minute, reject("failback", "carol", "provider still flaky"))
		st := h.run(testInput(gatedFailback(runbooks.Approval{Groups: []string{"sre"}})))

		assert.Equal(t, "rejected", d.result.Outcome)
		assert.Equal(t, StepRejected, stepByID(st, "failback").State)
		assert.Contains(t, stepByID(st, "failback").Summary, "carol")
		assert.Equal(t, StepDone, stepByID(st, "after").State)
		assert.Equal(t, StateCompleted, st.State)
		assert.Len(t, h.callsOf(runbooks.ActionGatewayRestore), 1, "only the close-time undo of the switch")
		decision := eventsOf(st, EventDecision, "failback")
		require.Len(t, decision, 1)
		assert.Equal(t, "carol rejected step failback (gateway.restore) via cli: provider still flaky", decision[0].Text)
	})

	t.Run("abort: the incident is aborted and undone", func(t *testing.T) {
		h := newHarness(t)
		h.decideAt(time.Minute, reject("failback", "carol", "wrong idea"))
		st := h.run(testInput(gatedFailback(runbooks.Approval{Groups: []string{"sre"}, OnReject: runbooks.OnRejectAbort})))

		assert.Equal(t, StateAborted, st.State)
		assert.Equal(t, StepRejected, stepByID(st, "failback").State)
		assert.Equal(t, StepSkipped, stepByID(st, "after").State)
		assert.Equal(t, []string{"gateway.switch failover", "gateway.restore failover/undo"}, h.sequence())
		aborted := eventsOf(st, EventAborted, "")
		require.Len(t, aborted, 1)
		assert.Equal(t, "carol", aborted[0].Actor)
	})
}

func TestRefusedDecisionsChangeNothing(t *testing.T) {
	h := newHarness(t)
	other := "0000000000000000000000000000000000000000000000000000000000000000"
	refused := map[string]*decision{
		"four eyes":       h.decideAt(time.Minute, approve("failback", "alice")), // the requester, cli:alice
		"not in group":    h.decideAt(time.Minute, approve("failback", "mallory")),
		"wrong digest":    h.decideAt(time.Minute, Decision{StepID: "failback", Digest: other, Approver: "bob", Verdict: VerdictApprove}),
		"unknown step":    h.decideAt(time.Minute, Decision{StepID: "failover", Digest: other, Approver: "bob", Verdict: VerdictApprove}),
		"unknown verdict": h.decideAt(time.Minute, Decision{StepID: "failback", Approver: "bob", Verdict: "maybe"}),
		"no approver":     h.decideAt(time.Minute, approve("failback", "")),
	}
	var afterRefusals Status
	h.at(2*time.Minute, func() { afterRefusals = h.status() })
	ok := h.decideAt(3*time.Minute, approve("failback", "bob"))
	tooLate := h.decideAt(3*time.Minute, approve("failback", "carol"))

	st := h.run(testInput(gatedFailback(runbooks.Approval{Groups: []string{"sre"}, FourEyes: true})))

	want := map[string]string{
		"four eyes":       "four eyes",
		"not in group":    "not a member of sre",
		"wrong digest":    "the step's params changed: review again",
		"unknown step":    "step failover is not waiting for approval",
		"unknown verdict": `unknown verdict "maybe"`,
		"no approver":     "no identity",
	}
	for name, d := range refused {
		require.True(t, d.done, name)
		require.Error(t, d.refusal(), name)
		assert.Contains(t, d.refusal().Error(), want[name], name)
	}
	require.Len(t, afterRefusals.Pending, 1)
	assert.Empty(t, afterRefusals.Pending[0].Approvals, "refused decisions do not count")
	assert.Empty(t, eventsOf(afterRefusals, EventDecision, ""))
	assert.Len(t, eventsOf(afterRefusals, EventDecisionRefused, ""), len(refused), "each refusal is on the timeline")
	assert.Equal(t, StepAwaiting, stepByID(afterRefusals, "failback").State)

	require.NoError(t, ok.refusal())
	assert.Equal(t, "approved", ok.result.Outcome)
	require.Error(t, tooLate.refusal(), "the first decision that completes wins")
	assert.Regexp(t, "no pending approval|already decided", tooLate.refusal().Error())
	assert.Len(t, eventsOf(st, EventDecision, ""), 1)
	assert.Equal(t, StepDone, stepByID(st, "failback").State)
}

func TestQuorumCountsDistinctApprovers(t *testing.T) {
	h := newHarness(t)
	first := h.decideAt(time.Minute, approve("failback", "bob"))
	again := h.decideAt(2*time.Minute, approve("failback", "cli:bob")) // the same person through the CLI
	var between Status
	restoresBetween := -1
	h.at(3*time.Minute, func() {
		between = h.status()
		restoresBetween = len(h.callsOf(runbooks.ActionGatewayRestore))
	})
	second := h.decideAt(4*time.Minute, approve("failback", "carol"))

	st := h.run(testInput(gatedFailback(runbooks.Approval{Groups: []string{"sre"}, Quorum: 2})))

	assert.Equal(t, DecisionResult{StepID: "failback", Subject: "step failback (gateway.restore)", Outcome: "counted", Remaining: 1}, first.result)
	require.Error(t, again.refusal())
	assert.Contains(t, again.refusal().Error(), "already decided")
	require.Len(t, between.Pending, 1)
	assert.Len(t, between.Pending[0].Approvals, 1)
	assert.Equal(t, StepAwaiting, stepByID(between, "failback").State)
	assert.Equal(t, 0, restoresBetween, "one approval of two does not run the step")
	assert.Equal(t, "approved", second.result.Outcome)
	assert.Equal(t, StepDone, stepByID(st, "failback").State)
	assert.Equal(t, "route chat restored to openai (approved by bob, carol)", stepByID(st, "failback").Summary)
	// Ran once as the step; the switch's undo was cleared by it.
	assert.Len(t, h.callsOf(runbooks.ActionGatewayRestore), 1)
}

func TestOpenGroups(t *testing.T) {
	h := newHarness(t)
	h.policy.OpenGroups = true
	d := h.decideAt(time.Minute, approve("failback", "anyone"))
	h.run(testInput(gatedFailback(runbooks.Approval{Groups: []string{"not-configured"}})))
	assert.Equal(t, "approved", d.result.Outcome, "open groups admit anyone to a group with no members configured")

	h = newHarness(t)
	h.policy.OpenGroups = true
	d = h.decideAt(time.Minute, approve("failback", "anyone"))
	h.decideAt(2*time.Minute, approve("failback", "bob"))
	h.run(testInput(gatedFailback(runbooks.Approval{Groups: []string{"sre"}})))
	require.Error(t, d.refusal(), "a configured group stays closed")
}

func TestApprovalTimeoutEscalates(t *testing.T) {
	h := newHarness(t)
	var escalated Status
	notifiesBeforeApproval := -1
	h.at(45*time.Minute, func() {
		escalated = h.status()
		notifiesBeforeApproval = len(h.callsOf(runbooks.ActionNotify))
	})
	d := h.decideAt(5*time.Hour, approve("failback", "bob"))
	st := h.run(testInput(gatedFailback(runbooks.Approval{
		Groups: []string{"sre"}, Timeout: runbooks.Duration(30 * time.Minute), OnTimeout: runbooks.OnTimeoutEscalate, Escalate: "leads",
	})))

	require.Len(t, escalated.Pending, 1, "still waiting after the escalation")
	assert.True(t, escalated.Pending[0].Escalated)
	assert.Equal(t, StateAwaiting, escalated.State)
	assert.Equal(t, 1, notifiesBeforeApproval)
	escalation := h.callsOf(runbooks.ActionNotify)[0]
	assert.Contains(t, escalation.Params["text"], "@leads")
	assert.Equal(t, "critical", escalation.Params["level"])
	assert.Equal(t, testIncidentID+"/failback/escalate", escalation.IdempotencyKey)
	assert.Len(t, eventsOf(st, EventEscalated, "failback"), 1)
	assert.Len(t, eventsOf(st, EventApprovalTimeout, "failback"), 1, "no further deadline after escalating")

	assert.Equal(t, "approved", d.result.Outcome)
	assert.Equal(t, StepDone, stepByID(st, "failback").State)
	assert.Equal(t, StateCompleted, st.State)
}

func TestApprovalTimeoutEscalatesToThePolicyGroup(t *testing.T) {
	h := newHarness(t)
	h.decideAt(time.Hour, approve("failback", "bob"))
	h.run(testInput(gatedFailback(runbooks.Approval{Groups: []string{"sre"}, Timeout: runbooks.Duration(30 * time.Minute)})))
	require.NotEmpty(t, h.callsOf(runbooks.ActionNotify))
	assert.Contains(t, h.callsOf(runbooks.ActionNotify)[0].Params["text"], "@incident-commanders")
}

func TestApprovalTimeoutProceeds(t *testing.T) {
	h := newHarness(t)
	st := h.run(testInput(gatedFailback(runbooks.Approval{
		Groups: []string{"sre"}, Timeout: runbooks.Duration(30 * time.Minute), OnTimeout: runbooks.OnTimeoutProceed,
	})))

	assert.Equal(t, StepDone, stepByID(st, "failback").State)
	assert.Contains(t, stepByID(st, "failback").Summary, "(approved by timeout)")
	decisions := eventsOf(st, EventDecision, "failback")
	require.Len(t, decisions, 1)
	assert.Equal(t, "timeout", decisions[0].Actor)
	assert.Equal(t, 30*time.Minute, decisions[0].At.Sub(st.StartedAt))
	assert.Equal(t, []string{"gateway.switch failover", "gateway.restore failback", "notify after"}, h.sequence())
}

func TestApprovalTimeoutAborts(t *testing.T) {
	h := newHarness(t)
	st := h.run(testInput(gatedFailback(runbooks.Approval{
		Groups: []string{"sre"}, Timeout: runbooks.Duration(30 * time.Minute), OnTimeout: runbooks.OnTimeoutAbort,
	})))

	assert.Equal(t, StateAborted, st.State)
	assert.Equal(t, StepRejected, stepByID(st, "failback").State)
	assert.Equal(t, StepSkipped, stepByID(st, "after").State)
	assert.Equal(t, []string{"gateway.switch failover", "gateway.restore failover/undo"}, h.sequence(), "undos ran")
	assert.Len(t, eventsOf(st, EventApprovalTimeout, "failback"), 1)
}

func TestStandaloneApprovalGate(t *testing.T) {
	h := newHarness(t)
	var pending []PendingApproval
	h.at(time.Minute, func() { pending = h.status().Pending })
	h.decideAt(2*time.Minute, approve("", "bob")) // the only pending approval
	st := h.run(testInput(testSpec(
		runbooks.Step{ID: "go-ahead", Action: runbooks.ActionApproval, With: map[string]string{"question": "fail over {{ .params.route }}?"},
			Approval: &runbooks.Approval{Groups: []string{"sre"}}},
		switchStep("failover"),
	)))

	require.Len(t, pending, 1)
	assert.Equal(t, "fail over chat?", pending[0].Prompt)
	assert.Equal(t, StepDone, stepByID(st, "go-ahead").State)
	assert.Len(t, h.callsOf(runbooks.ActionGatewaySwitch), 1)
}

func TestAbortWhileAwaitingApproval(t *testing.T) {
	h := newHarness(t)
	h.at(time.Hour, func() { h.env.SignalWorkflow(SignalAbort, Abort{By: "cli:bob", Reason: "handled by hand"}) })
	st := h.run(testInput(gatedFailback(runbooks.Approval{Groups: []string{"sre"}})))

	assert.Equal(t, StateAborted, st.State)
	assert.Equal(t, StepCanceled, stepByID(st, "failback").State)
	assert.Empty(t, st.Pending)
	assert.Equal(t, []string{"gateway.switch failover", "gateway.restore failover/undo"}, h.sequence())
}
