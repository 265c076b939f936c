package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/runbooks"
)

// A port that is not configured skips the steps that need it, with the reason: the incident
// does not fail, nobody is paged, and the later steps see the skip in `when`.
func TestNotConfiguredSkipsTheStep(t *testing.T) {
	h := newHarness(t)
	const reason = "no prompts repository configured: start quench with --prompts-repo PATH"
	h.onStep(runbooks.ActionPromptsChanges, func(in activities.StepInput) (activities.StepResult, error) {
		return activities.StepResult{Summary: "skipped: " + reason, Skipped: &activities.Skip{Port: activities.PortPrompts, Reason: reason}}, nil
	})
	changes := runbooks.Step{ID: "changes", Action: runbooks.ActionPromptsChanges, With: map[string]string{"since": "24h"}}
	rollback := runbooks.Step{ID: "rollback", Action: runbooks.ActionPromptsRollback, When: `steps.changes.state == "done"`,
		With: map[string]string{"since": "24h"}}
	st := h.run(testInput(testSpec(changes, rollback, notifyStep("after", "going on"))))

	assert.Equal(t, StateCompleted, st.State, "a skipped step does not fail the incident")
	c := stepByID(st, "changes")
	assert.Equal(t, StepSkipped, c.State)
	assert.Equal(t, reason, c.SkipReason)
	assert.Equal(t, "prompts", c.NotConfigured)
	assert.Equal(t, "skipped: "+reason, c.Summary)
	assert.Empty(t, c.Error)
	require.NotNil(t, c.EndedAt)

	r := stepByID(st, "rollback")
	assert.Equal(t, StepSkipped, r.State, "the rollback's `when` sees the skip")
	assert.Equal(t, "`when: steps.changes.state == \"done\"` is false", r.SkipReason)
	assert.Empty(t, r.NotConfigured)
	assert.Equal(t, StepDone, stepByID(st, "after").State)

	ev := eventsOf(st, EventStepSkipped, "changes")
	require.Len(t, ev, 1)
	assert.Equal(t, "prompts", ev[0].Data["not_configured"])
	assert.Equal(t, reason, ev[0].Data["reason"])
	assert.Contains(t, ev[0].Text, "skipped: "+reason)
	assert.Empty(t, eventsOf(st, EventStepFailed, ""))
	assert.Empty(t, eventsOf(st, EventEscalated, ""))
	assert.Equal(t, []string{"prompts.changes changes", "notify after"}, h.sequence())
}

// Without a traffic source a verify is skipped: the change stays, nobody is paged.
func TestVerifyWithoutTrafficSourceIsSkipped(t *testing.T) {
	below := 0.05
	s := switchStep("failover")
	s.Verify = &runbooks.Verify{Signal: "error_rate", Below: &below, Within: runbooks.Duration(5 * time.Minute), Every: runbooks.Duration(time.Minute)}
	h := newHarness(t)
	h.measures = []ports.VerifyResult{{NotConfigured: "no traffic source configured: start quench with --traffic-log FILE"}}
	st := h.run(testInput(testSpec(s, notifyStep("after", "going on"))))

	assert.Equal(t, StepDone, stepByID(st, "failover").State)
	assert.Equal(t, 1, h.measured, "not polled again")
	ev := eventsOf(st, EventVerify, "failover")
	require.Len(t, ev, 1)
	assert.Equal(t, "skipped", ev[0].Data["result"])
	assert.Equal(t, "traffic", ev[0].Data["not_configured"])
	assert.Contains(t, ev[0].Text, "--traffic-log")
	assert.Empty(t, eventsOf(st, EventEscalated, ""))
	assert.Equal(t, []string{"gateway.switch failover", "notify after", "gateway.restore failover/undo"}, h.sequence(),
		"no escalation notify, the change kept until close")
	assert.Equal(t, StateCompleted, st.State)
}
