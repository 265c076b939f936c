package workflows

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/runbooks"
)

// pinHarness is the harness with a fake gateway.read_pin and pin/unpin steps answering as
// the real activities do: the read state travels with the undo.
func pinHarness(t *testing.T) (*harness, *[]activities.StepInput) {
	t.Helper()
	h := newHarness(t)
	var mu sync.Mutex
	var reads []activities.StepInput
	h.env.RegisterActivityWithOptions(func(_ context.Context, in activities.StepInput) (ports.PinState, error) {
		mu.Lock()
		defer mu.Unlock()
		reads = append(reads, in)
		return ports.PinState{Model: in.Params["model"], State: `[{"id":"dep-1","model":"openai/gpt-4o"}]`}, nil
	}, activity.RegisterOptions{Name: activities.GatewayReadPinActivity})
	h.onStep(runbooks.ActionGatewayPinModel, func(in activities.StepInput) (activities.StepResult, error) {
		p := in.Params
		if p["previous"] == "" {
			return activities.StepResult{}, fmt.Errorf("pin without its previous state")
		}
		return activities.StepResult{
			Summary: "pinned",
			Outputs: map[string]any{"route": p["route"], "model": p["model"], "to": p["to"]},
			Undo: &activities.UndoAction{Key: "gateway-pin/" + p["route"] + "/" + p["model"], Action: runbooks.ActionGatewayUnpin,
				Params:      map[string]string{"route": p["route"], "model": p["model"], "previous": p["previous"], "pinned_to": p["to"]},
				Description: "unpin " + p["model"]},
		}, nil
	})
	h.onStep(runbooks.ActionGatewayUnpin, func(in activities.StepInput) (activities.StepResult, error) {
		return activities.StepResult{Summary: "unpinned", Clears: []string{"gateway-pin/" + in.Params["route"] + "/" + in.Params["model"]}}, nil
	})
	return h, &reads
}

func pinStep(id string) runbooks.Step {
	return runbooks.Step{ID: id, Action: runbooks.ActionGatewayPinModel,
		With: map[string]string{"route": "{{ .params.route }}", "model": "gpt-4o", "to": "gpt-4o-2024-08-06"}}
}

func TestPinReadsTheModelFirstAndItsUndoRestoresIt(t *testing.T) {
	for _, revision := range []int{0, StartRevision} {
		t.Run(fmt.Sprint("revision ", revision), func(t *testing.T) {
			h, reads := pinHarness(t)
			in := testInput(testSpec(pinStep("pin")))
			in.Revision = revision
			st := h.run(in)

			require.Equal(t, StateCompleted, st.State, "%+v", st.Steps)
			require.Len(t, *reads, 1, "one read before the pin")
			assert.Equal(t, testIncidentID+"/pin/read", (*reads)[0].IdempotencyKey)
			prev := `{"model":"gpt-4o","state":"[{\"id\":\"dep-1\",\"model\":\"openai/gpt-4o\"}]"}`
			pin := h.callsOf(runbooks.ActionGatewayPinModel)
			require.Len(t, pin, 1)
			assert.Equal(t, prev, pin[0].Params["previous"])
			assert.Equal(t, map[string]string{"route": "chat", "model": "gpt-4o", "to": "gpt-4o-2024-08-06"}, st.Steps[0].Params,
				"the step's own (signed) params stay as rendered")
			unpin := h.callsOf(runbooks.ActionGatewayUnpin)
			require.Len(t, unpin, 1, "the pin is undone when the incident closes")
			assert.Equal(t, testIncidentID+"/pin/undo", unpin[0].IdempotencyKey)
			assert.Equal(t, map[string]string{"route": "chat", "model": "gpt-4o", "previous": prev, "pinned_to": "gpt-4o-2024-08-06"}, unpin[0].Params)
		})
	}
}

// The silent-model-change shape: the pin runs where the gateway can pin, the switch
// everywhere else; what the gateway can do comes from the input, the same in every replay.
func TestPinOrSwitchFollowsTheGatewaysCapabilities(t *testing.T) {
	pin := pinStep("pin")
	pin.When = "incident.gateway.pin_model"
	sw := switchStep("switch")
	sw.When = "!incident.gateway.pin_model"
	for _, tc := range []struct {
		gateway []string
		want    string
	}{
		{[]string{"switch", "block_key", "pin_model"}, runbooks.ActionGatewayPinModel},
		{[]string{"switch"}, runbooks.ActionGatewaySwitch},
		{nil, runbooks.ActionGatewaySwitch}, // started before the input carried it
	} {
		h, _ := pinHarness(t)
		in := testInput(testSpec(pin, sw))
		in.Gateway = tc.gateway
		st := h.run(in)
		require.Equal(t, StateCompleted, st.State)
		ran := map[string]bool{}
		for _, c := range h.calls {
			ran[c.Action] = true
		}
		assert.True(t, ran[tc.want], "gateway %v: %s must run (ran %v)", tc.gateway, tc.want, ran)
		other := runbooks.ActionGatewaySwitch
		if tc.want == other {
			other = runbooks.ActionGatewayPinModel
		}
		assert.False(t, ran[other], "gateway %v: %s must not run", tc.gateway, other)
	}
}
