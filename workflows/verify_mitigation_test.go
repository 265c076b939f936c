package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/runbooks"
)

// A pin's model_drift verify measures the alias the pin fixed against the version it
// fixed it to, from the step's params; a drift over the threshold lifts the pin.
func TestPinVerifyMeasuresThePinnedModelAndLiftsAPinThatDoesNotHold(t *testing.T) {
	below := 0.05
	pin := pinStep("pin")
	pin.Verify = &runbooks.Verify{Signal: runbooks.SignalModelDrift, Below: &below, Within: runbooks.Duration(2 * time.Minute),
		Every: runbooks.Duration(time.Minute), Window: runbooks.Duration(time.Minute), MinRequests: 20}

	for _, tc := range []struct {
		name   string
		value  float64
		result string
		state  string
	}{
		{"holds", 0, "passed", StepDone},
		{"ignored", 1, "failed", StepReverted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := pinHarness(t)
			h.measures = []ports.VerifyResult{{Value: tc.value, Requests: 30, Detail: "answers of gpt-4o"}}
			in := testInput(testSpec(pin, notifyStep("after", "going on")))
			in.Gateway = []string{"pin_model"}
			st := h.run(in)

			require.NotEmpty(t, h.measureIns)
			m := h.measureIns[0]
			assert.Equal(t, ports.VerifyInput{Signal: "model_drift", Model: "gpt-4o", PinnedModel: "gpt-4o-2024-08-06", Route: "chat"},
				ports.VerifyInput{Signal: m.Signal, Model: m.Model, PinnedModel: m.PinnedModel, Route: m.Route, Key: m.Key, Provider: m.Provider})
			ev := eventsOf(st, EventVerify, "pin")
			require.Len(t, ev, 1)
			assert.Equal(t, tc.result, ev[0].Data["result"])
			assert.Equal(t, tc.state, stepByID(st, "pin").State)
			if tc.result == "failed" {
				assert.Len(t, h.callsOf(runbooks.ActionGatewayUnpin), 1, "the pin is lifted once, by the revert")
				assert.Len(t, eventsOf(st, EventEscalated, "pin"), 1)
			}
		})
	}
}

// A block's key_served verify measures the key the step blocked.
func TestBlockVerifyMeasuresTheBlockedKey(t *testing.T) {
	below := 1.0
	h := newHarness(t)
	h.measures = []ports.VerifyResult{{Value: 0, Requests: 8}}
	block := runbooks.Step{ID: "block", Action: runbooks.ActionGatewayBlock, With: map[string]string{"route": "chat", "key": "agent-7f3a"},
		Verify: &runbooks.Verify{Signal: runbooks.SignalKeyServed, Below: &below, Within: runbooks.Duration(time.Minute), MinRequests: 5}}
	st := h.run(testInput(testSpec(block)))

	require.Len(t, h.measureIns, 1)
	m := h.measureIns[0]
	assert.Equal(t, "agent-7f3a", m.Key)
	assert.Empty(t, m.Model+m.PinnedModel+m.Provider)
	assert.Equal(t, "passed", eventsOf(st, EventVerify, "block")[0].Data["result"])
	assert.Contains(t, eventsOf(st, EventVerifying, "block")[0].Text, "requests of the blocked key served below 1")
}
