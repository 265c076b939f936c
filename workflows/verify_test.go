package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/quench-dev/quench/internal/alert"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/runbooks"
)

// verifiedSwitch is a failover with a verify: error rate below 5% within 5 minutes, polled
// every minute, over at least 20 requests.
func verifiedSwitch(edit func(*runbooks.Verify)) runbooks.Step {
	below := 0.05
	s := switchStep("failover")
	s.Verify = &runbooks.Verify{Signal: "error_rate", Below: &below, Within: runbooks.Duration(5 * time.Minute),
		Every: runbooks.Duration(time.Minute), Window: runbooks.Duration(2 * time.Minute), MinRequests: 20}
	if edit != nil {
		edit(s.Verify)
	}
	return s
}

func snapshotStep(id string) runbooks.Step {
	return runbooks.Step{ID: id, Action: runbooks.ActionTrafficSnapshot, With: map[string]string{"window": "30m", "baseline": "24h"}}
}

func TestVerifyMeasuresOnlyAfterTheChangeOnTheNewProvider(t *testing.T) {
	h := newHarness(t)
	h.measures = []ports.VerifyResult{{Value: 0.01, Requests: 40}}
	st := h.run(testInput(testSpec(verifiedSwitch(nil), notifyStep("after", "going on"))))

	require.Len(t, h.measureIns, 1)
	in := h.measureIns[0]
	ended := stepByID(st, "failover").EndedAt
	require.NotNil(t, ended)
	assert.True(t, in.Since.Equal(*ended), "since %s, want the switch's end %s", in.Since, *ended)
	assert.Equal(t, "anthropic", in.Provider, "the provider the switch moved the route to")
	assert.Equal(t, "chat", in.Route)
	assert.Equal(t, 2*time.Minute, in.Window)
	assert.Equal(t, "passed", eventsOf(st, EventVerify, "failover")[0].Data["result"])
	assert.Nil(t, st.Verifying, "no verify in progress once closed")
}

func TestVerifyWaitsForEnoughRequests(t *testing.T) {
	h := newHarness(t)
	// A perfect rate over 3 requests is not a pass: the window must hold 20 first.
	h.measures = []ports.VerifyResult{{Value: 0, Requests: 3}, {Value: 0, Requests: 12}, {Value: 0.02, Requests: 25}}
	st := h.run(testInput(testSpec(verifiedSwitch(nil), notifyStep("after", "going on"))))

	assert.Equal(t, 3, h.measured)
	ev := eventsOf(st, EventVerify, "failover")
	require.Len(t, ev, 1)
	assert.Equal(t, "passed", ev[0].Data["result"])
	assert.Equal(t, "25", ev[0].Data["requests"])
	assert.Equal(t, StepDone, stepByID(st, "failover").State)
}

func TestVerifyTooLittleTrafficIsInconclusiveNotReverted(t *testing.T) {
	h := newHarness(t)
	h.measures = []ports.VerifyResult{{Value: 0.5, Requests: 4, Detail: "2 of 4 requests failed"}}
	st := h.run(testInput(testSpec(verifiedSwitch(nil), notifyStep("after", "going on"))))

	ev := eventsOf(st, EventVerify, "failover")
	require.Len(t, ev, 1)
	assert.Equal(t, "inconclusive", ev[0].Data["result"])
	assert.Contains(t, ev[0].Text, "need 20 requests")
	assert.Equal(t, StepDone, stepByID(st, "failover").State, "not reverted blind")
	assert.Len(t, eventsOf(st, EventEscalated, "failover"), 1)
}

func TestVerifyFailsOnEnoughBadTrafficAndReverts(t *testing.T) {
	h := newHarness(t)
	h.measures = []ports.VerifyResult{{Value: 0.4, Requests: 60, Detail: "24 of 60 requests failed"}}
	st := h.run(testInput(testSpec(verifiedSwitch(nil), notifyStep("after", "going on"))))

	assert.Equal(t, 6, h.measured, "polled at the change and every minute up to the deadline")
	ev := eventsOf(st, EventVerify, "failover")
	require.Len(t, ev, 1)
	assert.Equal(t, "failed", ev[0].Data["result"])
	assert.Contains(t, ev[0].Text, "24 of 60 requests failed")
	assert.Equal(t, StepReverted, stepByID(st, "failover").State)
	assert.Equal(t, []string{"gateway.switch failover", "gateway.restore failover/undo", "notify failover/verify/escalate", "notify after"}, h.sequence())
}

func TestVerifyingStateShowsConditionMeasurementAndDeadline(t *testing.T) {
	h := newHarness(t)
	h.measures = []ports.VerifyResult{{Value: 0.2, Requests: 8, Detail: "2 of 8 requests failed"}, {Value: 0.01, Requests: 30}}
	var mid Status
	var statuses []string
	h.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		if v, ok := args.Get(0).(temporal.SearchAttributes).GetKeyword(searchStatusKey); ok {
			statuses = append(statuses, v)
		}
	}).Return(nil)
	h.at(30*time.Second, func() { mid = h.status() })
	st := h.run(testInput(testSpec(verifiedSwitch(nil), notifyStep("after", "going on"))))

	assert.Equal(t, StateVerifying, mid.State)
	assert.Equal(t, StepVerifying, stepByID(mid, "failover").State)
	v := mid.Verifying
	require.NotNil(t, v)
	assert.Equal(t, "failover", v.StepID)
	assert.Equal(t, "error_rate below 0.05 over at least 20 requests that started after the change, served by anthropic", v.Condition)
	assert.Equal(t, 20, v.MinRequests)
	assert.True(t, v.Deadline.Equal(v.Since.Add(5*time.Minute)), "deadline %s, since %s", v.Deadline, v.Since)
	require.NotNil(t, v.Last)
	assert.Equal(t, 8, v.Last.Requests)
	assert.False(t, v.Last.Enough)
	assert.Equal(t, "2 of 8 requests failed", v.Last.Detail)
	progress := eventsOf(mid, EventVerifying, "failover")
	require.Len(t, progress, 2, "the start and the first measurement")
	assert.Contains(t, progress[0].Text, v.Condition)
	assert.Contains(t, progress[1].Text, "error_rate = 0.2 over 8 requests since the change, too few to judge (need 20)")

	assert.Nil(t, st.Verifying)
	assert.Equal(t, StepDone, stepByID(st, "failover").State)
	assert.Contains(t, statuses, StateVerifying)
	assert.Equal(t, StateCompleted, statuses[len(statuses)-1])
}

func TestResolveDuringVerifyStopsItAtOnce(t *testing.T) {
	h := newHarness(t)
	h.measures = []ports.VerifyResult{{Value: 0.2, Requests: 5}}
	h.at(20*time.Second, func() { h.env.SignalWorkflow(SignalResolve, Resolve{By: "cli:bob", Reason: "looks fine"}) })
	spec := testSpec(verifiedSwitch(nil), runbooks.Step{ID: "recovered", Action: runbooks.ActionWaitResolved})
	st := h.run(testInput(spec))

	assert.Equal(t, 1, h.measured, "no poll after the resolve")
	ev := eventsOf(st, EventVerify, "failover")
	require.Len(t, ev, 1)
	assert.Equal(t, "stopped", ev[0].Data["result"])
	assert.Contains(t, ev[0].Text, "the change stays")
	assert.Equal(t, StepDone, stepByID(st, "failover").State)
	assert.Equal(t, StepDone, stepByID(st, "recovered").State)
	assert.Equal(t, StateResolved, st.State)
	assert.Empty(t, eventsOf(st, EventEscalated, ""))
	// The recovered wait ended at the resolve, not at the next poll.
	assert.True(t, stepByID(st, "recovered").EndedAt.Before(stepByID(st, "failover").EndedAt.Add(time.Minute)))
}

func TestAbortDuringVerifyCancelsItAndUndoesAtClose(t *testing.T) {
	h := newHarness(t)
	h.measures = []ports.VerifyResult{{Value: 0.2, Requests: 5}}
	h.at(20*time.Second, func() { h.env.SignalWorkflow(SignalAbort, Abort{By: "cli:bob", Reason: "wrong route"}) })
	st := h.run(testInput(testSpec(verifiedSwitch(nil), notifyStep("after", "going on"))))

	assert.Equal(t, 1, h.measured)
	assert.Empty(t, eventsOf(st, EventVerify, "failover"), "no verdict on an aborted verify")
	assert.Equal(t, StateAborted, st.State)
	assert.Equal(t, []string{"gateway.switch failover", "gateway.restore failover/undo"}, h.sequence())
}

func TestVerifyAfterRunsTheEvidenceFirst(t *testing.T) {
	h := newHarness(t)
	h.measures = []ports.VerifyResult{{Value: 0.01, Requests: 40}}
	spec := testSpec(verifiedSwitch(func(v *runbooks.Verify) { v.After = "evidence" }), snapshotStep("evidence"), notifyStep("after", "going on"))
	st := h.run(testInput(spec))

	assert.Equal(t, []string{"gateway.switch failover", "traffic.snapshot evidence", "notify after", "gateway.restore failover/undo"}, h.sequence())
	require.Len(t, h.measureIns, 1)
	// The snapshot ran between the switch and the verify; the verify still counts only
	// requests from the switch's end on, and its deadline runs from there.
	fo, ev := stepByID(st, "failover"), stepByID(st, "evidence")
	assert.True(t, h.measureIns[0].Since.Equal(*fo.EndedAt))
	assert.False(t, ev.StartedAt.Before(*fo.EndedAt))
	verifyAt := eventsOf(st, EventVerify, "failover")[0].At
	assert.False(t, verifyAt.Before(*ev.EndedAt), "verify judged after the evidence")
	notifyStarted := stepByID(st, "after").StartedAt
	assert.False(t, notifyStarted.Before(verifyAt), "the next step waits for the verify")
}

func TestVerifyAfterEvidenceRevertsOnFailure(t *testing.T) {
	h := newHarness(t)
	h.measures = []ports.VerifyResult{{Value: 0.4, Requests: 60}}
	spec := testSpec(verifiedSwitch(func(v *runbooks.Verify) { v.After = "evidence" }), snapshotStep("evidence"), notifyStep("after", "going on"))
	st := h.run(testInput(spec))

	assert.Equal(t, StepReverted, stepByID(st, "failover").State)
	assert.Equal(t, []string{"gateway.switch failover", "traffic.snapshot evidence", "gateway.restore failover/undo",
		"notify failover/verify/escalate", "notify after"}, h.sequence())
}

func TestSpeedScalesVerifyWaits(t *testing.T) {
	h := newHarness(t)
	h.measures = []ports.VerifyResult{{Value: 0.4, Requests: 60}}
	in := testInput(testSpec(verifiedSwitch(nil)))
	in.Speed = 10
	var mid Status
	h.at(time.Second, func() { mid = h.status() })
	st := h.run(in)

	require.NotNil(t, mid.Verifying)
	assert.Equal(t, 6*time.Second, mid.Verifying.Every.D())
	assert.Equal(t, 12*time.Second, mid.Verifying.Window.D())
	assert.True(t, mid.Verifying.Deadline.Equal(mid.Verifying.Since.Add(30*time.Second)))
	assert.Equal(t, 12*time.Second, h.measureIns[0].Window)
	assert.Equal(t, 6, h.measured, "the same polls in a tenth of the time")
	assert.Equal(t, StepReverted, stepByID(st, "failover").State)
}

// An alert resolving says the primary is back, not that the fallback serves well: the
// verify goes on to its verdict.
func TestAlertResolvedDoesNotStopTheVerify(t *testing.T) {
	h := newHarness(t)
	h.measures = []ports.VerifyResult{{Value: 0, Requests: 5}, {Value: 0.01, Requests: 30}}
	h.at(20*time.Second, func() {
		h.env.SignalWorkflow(SignalAlert, alert.Alert{Key: "k", Fingerprint: "f1", Status: alert.StatusResolved, Source: "alertmanager"})
	})
	in := testInput(testSpec(verifiedSwitch(nil), runbooks.Step{ID: "recovered", Action: runbooks.ActionWaitResolved}))
	in.Alert = &alert.Alert{Key: "k", Fingerprint: "f1", Status: alert.StatusFiring, Source: "alertmanager"}
	st := h.run(in)

	assert.Equal(t, 2, h.measured)
	assert.Equal(t, "passed", eventsOf(st, EventVerify, "failover")[0].Data["result"])
	assert.Equal(t, StateResolved, st.State)
}

// The chat card follows the verify: the condition, the deadline and each measurement, and
// no verify once it is over.
func TestCardShowsTheVerify(t *testing.T) {
	h := newHarness(t)
	chat := withChat(h)
	h.measures = []ports.VerifyResult{{Value: 0.2, Requests: 8}, {Value: 0.01, Requests: 30}}
	h.run(testInput(testSpec(verifiedSwitch(nil), notifyStep("after", "going on"))))

	chat.mu.Lock()
	defer chat.mu.Unlock()
	var during []ports.CardVerifying
	for _, c := range chat.cards {
		if c.Verifying != nil {
			during = append(during, *c.Verifying)
		}
	}
	require.NotEmpty(t, during, "no card showed the verify")
	assert.Equal(t, "failover", during[0].StepID)
	assert.Contains(t, during[0].Condition, "error_rate below 0.05 over at least 20 requests")
	assert.False(t, during[0].Deadline.IsZero())
	found := false
	for _, v := range during {
		found = found || v.Latest == "error_rate = 0.2 over 8 requests: too few to judge (need 20)"
	}
	assert.True(t, found, "no card showed the latest measurement: %+v", during)
	assert.Nil(t, chat.cards[len(chat.cards)-1].Verifying, "the last card still shows a verify")
}
