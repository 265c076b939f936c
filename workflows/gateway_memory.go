package workflows

import (
	"fmt"
	"maps"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/runbooks"
)

// gatewayReadVersion guards the gateway.read activity scheduled before gateway.switch:
// incidents recorded before it switch without it (their gateway keeps the state locally).
const gatewayReadVersion = "gateway-read-before-switch"

// activityParams are the params an activity step runs with: the rendered ones, plus what
// the incident's history holds for it. A gateway.switch gets the route's state read just
// before (so what it replaces is in history before the gateway is touched); a step that
// runs the action of a registered undo (the fail back) gets that undo's saved state. Only
// the activity input gains them: the step's params, which approvals sign, stay as rendered.
//
// From revision 1 on (IncidentInput.Revision) the read is a local activity: it runs inside
// the workflow task that then schedules the switch, and its result is recorded (a marker)
// by the same completion that schedules it, so it is still in history before the gateway
// is touched, without an activity round trip or a version marker in front of the
// mitigation. Older incidents keep the command sequence they were recorded with.
func (w *incident) activityParams(ctx workflow.Context, step runbooks.Step, params map[string]string, timeout time.Duration) (map[string]string, error) {
	switch step.Action {
	case runbooks.ActionGatewaySwitch:
		if params["previous"] != "" {
			return params, nil
		}
		local := w.in.Revision >= 1
		if !local && workflow.GetVersion(ctx, gatewayReadVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
			return params, nil
		}
		var rs ports.RouteState
		if err := w.readBefore(ctx, step, activities.GatewayReadActivity, params, timeout, local, &rs); err != nil {
			return nil, err
		}
		prev, err := activities.EncodeRouteState(rs)
		if err != nil {
			return nil, fmt.Errorf("reading route %s before the switch: %w", params["route"], err)
		}
		out := maps.Clone(params)
		out["previous"] = prev
		return out, nil
	case runbooks.ActionGatewayPinModel:
		// As a switch: the model's state is read first, into history, and travels in
		// params to the pin and its undo. No incident recorded before gateway.pin_model
		// existed has a pin step, so the version only marks revision 0 incidents' reads.
		if params["previous"] != "" {
			return params, nil
		}
		local := w.in.Revision >= 1
		if !local && workflow.GetVersion(ctx, gatewayReadPinVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
			return params, nil // the pin refuses to run without its previous state
		}
		var ps ports.PinState
		if err := w.readBefore(ctx, step, activities.GatewayReadPinActivity, params, timeout, local, &ps); err != nil {
			return nil, err
		}
		prev, err := activities.EncodePinState(ps)
		if err != nil {
			return nil, fmt.Errorf("reading model %s on route %s before the pin: %w", params["model"], params["route"], err)
		}
		out := maps.Clone(params)
		out["previous"] = prev
		return out, nil
	case runbooks.ActionGatewayRestore, runbooks.ActionGatewayUnpin:
		return w.inheritUndo(step.Action, params), nil
	}
	return params, nil
}

// gatewayReadPinVersion guards the gateway.read_pin activity of incidents of revision 0.
const gatewayReadPinVersion = "gateway-read-before-pin"

// readBefore runs the read activity that records a gateway's state before a step changes
// it: a local activity in the same workflow task from revision 1 on, else an activity.
func (w *incident) readBefore(ctx workflow.Context, step runbooks.Step, activity string, params map[string]string,
	timeout time.Duration, local bool, out any) error {
	in := w.stepInput(ctx, step.ID, activity, params, "read")
	var read workflow.Future
	if local {
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			StartToCloseTimeout: timeout,
			RetryPolicy:         retryPolicy(step.Retry),
			Summary:             step.ID + "/read",
		})
		read = workflow.ExecuteLocalActivity(lctx, activity, in)
	} else {
		read = workflow.ExecuteActivity(ctx, activity, in)
	}
	return read.Get(ctx, out)
}

// inheritUndo fills params the fail-back step lacks from the switch's undo: the step names
// only the route, the undo also carries the state to restore. Of the registered undos of
// the same action whose params agree with every param the step has, the oldest holds the
// state from before the incident (a second switch of the route saved the first one's
// result), and the newest says what the route was last switched to.
func (w *incident) inheritUndo(action string, params map[string]string) map[string]string {
	var oldest, newest map[string]string
	for _, e := range w.status.Undo {
		if e.State != undoRegistered || e.Undo.Action != action || !agrees(params, e.Undo.Params) {
			continue
		}
		if oldest == nil {
			oldest = e.Undo.Params
		}
		newest = e.Undo.Params
	}
	if oldest == nil {
		return params
	}
	out := maps.Clone(params)
	if out == nil {
		out = map[string]string{}
	}
	for key, v := range oldest {
		if _, ok := out[key]; !ok {
			out[key] = v
		}
	}
	for _, k := range []string{"switched_to", "pinned_to"} {
		if v, ok := newest[k]; ok && params[k] == "" && oldest["previous"] != "" {
			out[k] = v
		}
	}
	return out
}

func agrees(params, undo map[string]string) bool {
	for k, v := range params {
		if u, ok := undo[k]; !ok || u != v {
			return false
		}
	}
	return true
}

// savedStateParams are the params an undo carries as the state it restores: recorded by
// the step, not chosen by anyone, and up to a few KB (a Portkey config).
var savedStateParams = []string{"previous", "switched_to", "pinned_to"}

// approvalParams are the undo params a human approves and the digest covers: the saved
// state is left out, as it was before undos carried it, so a card shows what a person can
// judge (restore route chat) and stays within chat message limits.
func approvalParams(params map[string]string) map[string]string {
	for _, k := range savedStateParams {
		if _, ok := params[k]; ok {
			out := maps.Clone(params)
			for _, k := range savedStateParams {
				delete(out, k)
			}
			return out
		}
	}
	return params
}
