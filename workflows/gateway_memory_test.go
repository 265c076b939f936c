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
