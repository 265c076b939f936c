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

// A notify step is told the card's thread; once it posted there, the thread does not get
// its step-done line again, while the timeline keeps it.
func TestNotifyPostsInTheCardsThreadOnce(t *testing.T) {
	h := newHarness(t)
	chat := withChat(h)
	h.onStep(runbooks.ActionNotify, func(in activities.StepInput) (activities.StepResult, error) {
		res := activities.StepResult{Summary: in.Params["text"]}
		if in.Chat != nil && in.Chat.Thread != nil && in.Chat.Skip == "" {
			res.Posted = &ports.ChatRef{Channel: in.Chat.Thread.Channel, TS: "2.1"}
		}
		return res, nil
	})
	spec := testSpec(
		runbooks.Step{ID: "pause", Action: runbooks.ActionWaitDuration, With: map[string]string{"for": "1m"}},
		notifyStep("tell", "key k1 blocked"),
	)
	spec.Channel = "incidents"
	st := h.run(testInput(spec))

	calls := h.callsOf(runbooks.ActionNotify)
	require.Len(t, calls, 1)
	require.NotNil(t, calls[0].Chat)
	require.NotNil(t, calls[0].Chat.Thread, "the card was posted during the pause: the step knows its thread")
	assert.Equal(t, ports.ChatRef{Channel: "Cincidents", TS: "1.1"}, *calls[0].Chat.Thread)
	assert.Empty(t, calls[0].Chat.Skip)

	done := eventsOf(st, EventStepDone, "tell")
	require.Len(t, done, 1)
	assert.Contains(t, done[0].Text, "key k1 blocked", "the timeline has the message")
	assert.Equal(t, "Cincidents", done[0].Data[chatPostedKey])
	assert.NotContains(t, chat.kinds(), "step_done tell", "the thread has the message once, from the step")
	assert.Contains(t, chat.kinds(), "step_done pause")
}

// An escalation is in the thread with its mention already: its notify stays out of chat.
// Without chat, a notify step is given the runbook's channel and no thread.
func TestNotifyTargets(t *testing.T) {
	t.Run("escalation with chat", func(t *testing.T) {
		h := newHarness(t)
		withChat(h)
		h.decideAt(45*time.Minute, approve("failback", "bob"))
		h.run(testInput(gatedFailback(runbooks.Approval{Groups: []string{"sre"}, Timeout: runbooks.Duration(30 * time.Minute)})))
		var escalations int
		for _, c := range h.callsOf(runbooks.ActionNotify) {
			if c.Params["level"] == "critical" {
				escalations++
				require.NotNil(t, c.Chat)
				assert.NotEmpty(t, c.Chat.Skip)
			}
		}
		assert.Equal(t, 1, escalations)
	})
	t.Run("no chat", func(t *testing.T) {
		h := newHarness(t)
		spec := testSpec(notifyStep("tell", "hello"))
		spec.Channel = "C77"
		h.run(testInput(spec))
		calls := h.callsOf(runbooks.ActionNotify)
		require.Len(t, calls, 1)
		require.NotNil(t, calls[0].Chat)
		assert.Equal(t, activities.ChatTarget{Channel: "C77"}, *calls[0].Chat)
	})
}
