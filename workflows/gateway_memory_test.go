package workflows

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/runbooks"
)

func mustEncode(t *testing.T, rs ports.RouteState) string {
	t.Helper()
	s, err := activities.EncodeRouteState(rs)
	require.NoError(t, err)
	return s
}

func TestSwitchReadsTheRouteFirstAndTheFailBackCarriesIt(t *testing.T) {
	h := newHarness(t)
	st := h.run(testInput(testSpec(switchStep("failover"), restoreStep("failback"))))

	assert.Equal(t, StateCompleted, st.State)
	prev := mustEncode(t, harnessRouteState)
	require.Len(t, h.reads, 1, "one read before the switch")
	assert.Equal(t, testIncidentID+"/failover/read", h.reads[0].IdempotencyKey)
	assert.Equal(t, prev, h.callsOf(runbooks.ActionGatewaySwitch)[0].Params["previous"])
	restore := h.callsOf(runbooks.ActionGatewayRestore)
	require.Len(t, restore, 1)
	assert.Equal(t, map[string]string{"route": "chat", "previous": prev, "switched_to": "anthropic"}, restore[0].Params,
		"the fail-back step gets the state the switch replaced from its undo, so any worker restores it")
	assert.Equal(t, map[string]string{"route": "chat"}, st.Steps[1].Params, "the step's own (signed) params stay as rendered")
}

func TestUndoCarriesTheSavedState(t *testing.T) {
	h := newHarness(t)
	st := h.run(testInput(testSpec(switchStep("failover"))))

	assert.Equal(t, StateCompleted, st.State)
	restore := h.callsOf(runbooks.ActionGatewayRestore)
	require.Len(t, restore, 1)
	assert.Equal(t, testIncidentID+"/failover/undo", restore[0].IdempotencyKey)
	assert.Equal(t, mustEncode(t, harnessRouteState), restore[0].Params["previous"])
	assert.Equal(t, "anthropic", restore[0].Params["switched_to"])
}

func TestFailBackOfAnotherRouteInheritsNothing(t *testing.T) {
	h := newHarness(t)
	other := runbooks.Step{ID: "failback", Action: runbooks.ActionGatewayRestore, With: map[string]string{"route": "batch"}}
	h.run(testInput(testSpec(switchStep("failover"), other)))

	restore := h.callsOf(runbooks.ActionGatewayRestore)
	require.NotEmpty(t, restore)
	assert.Equal(t, map[string]string{"route": "batch"}, restore[0].Params, "the undo of route chat is not the fail back of route batch")
}

func TestFailBackAfterTwoSwitchesRestoresTheStateFromBeforeTheIncident(t *testing.T) {
	h := newHarness(t)
	h.readAnswer = func(in activities.StepInput) ports.RouteState {
		if in.StepID == "failover" {
			return ports.RouteState{Provider: "openai", State: "before"}
		}
		return ports.RouteState{Provider: "anthropic", State: "after-first"}
	}
	second := runbooks.Step{ID: "again", Action: runbooks.ActionGatewaySwitch, With: map[string]string{"route": "{{ .params.route }}", "to": "local"}}
	st := h.run(testInput(testSpec(switchStep("failover"), second, restoreStep("failback"))))

	assert.Equal(t, StateCompleted, st.State)
	restore := h.callsOf(runbooks.ActionGatewayRestore)
	require.Len(t, restore, 1, "the fail back cleared both undos of the route")
	assert.Equal(t, mustEncode(t, ports.RouteState{Provider: "openai", State: "before"}), restore[0].Params["previous"],
		"the fail back goes to where the route was before the incident, not to the first switch's result")
	assert.Equal(t, "local", restore[0].Params["switched_to"], "and knows what the route was last switched to")
}
