package runbooks

import (
	"fmt"
	"strings"

	"github.com/quench-dev/quench/internal/alert"
)

// PlannedStep is one step as `quench runbook plan` shows it: what would run, with which
// params, behind which gate, and what it would leave to undo.
type PlannedStep struct {
	ID     string `json:"id"`
	Action string `json:"action"`
	Title  string `json:"title"`
	// Params are rendered; a param that reads an earlier step's output shows a placeholder
	// such as "<output of steps.changes.outputs.last_good>" and is listed in Unresolved.
	Params     map[string]string `json:"params,omitempty"`
	Unresolved []string          `json:"unresolved,omitempty"`
	// Digest is the approval digest of Params (ParamsDigest); empty while any is unresolved.
	Digest string `json:"digest,omitempty"`
	When   string `json:"when,omitempty"`
	// WhenResult is the condition's value, nil when it depends on step outputs (or failed
	// to evaluate: see WhenError).
	WhenResult *bool  `json:"when_result,omitempty"`
	WhenError  string `json:"when_error,omitempty"`
	SideEffect bool   `json:"side_effect"`
	// Undo is the action registered to reverse this one ("" when nothing to undo);
	// KeepChange: the runbook keeps the change on close; UndoApproval gates the undo.
	Undo         string    `json:"undo,omitempty"`
	KeepChange   bool      `json:"keep_change,omitempty"`
	UndoApproval *Approval `json:"undo_approval,omitempty"`
	Approval     *Approval `json:"approval,omitempty"`
	Verify       *Verify   `json:"verify,omitempty"`
	Timeout      Duration  `json:"timeout,omitempty"` // the step's, else the action's default
}

// Plan shows what an incident of spec would do, without doing anything. params are given
// as on `incident start` (k=v; already resolved params work too) and resolved with the
// alert like a real start. Step outputs are not known beforehand: params reading them show
// placeholders and conditions reading them are left undecided.
func Plan(spec *Spec, params map[string]string, a *alert.Alert) ([]PlannedStep, error) {
	return PlanFor(spec, params, a, nil)
}

// PlanFor is Plan on a gateway that can do what gateway lists (GatewayCapabilities), so
// conditions reading incident.gateway are decided; nil leaves them undecided.
func PlanFor(spec *Spec, params map[string]string, a *alert.Alert, gateway []string) ([]PlannedStep, error) {
	resolved, err := ResolveParams(spec, params, a)
	if err != nil {
		return nil, err
	}
	scope := Scope{
		Params: resolved,
		Alert:  a,
		Steps:  map[string]StepScope{},
		Incident: IncidentScope{ID: "<incident id>", ShortID: "<short id>", Runbook: spec.Name, Title: spec.Title, Requester: "<requester>",
			Gateway: gateway},
	}
	if a != nil && a.Title != "" {
		scope.Incident.Title = a.Title
	}
	// Every output any template or condition reads gets a placeholder, plus the outputs the
	// catalog declares.
	placeholders := map[string]map[string]any{}
	addPlaceholder := func(id, key string) {
		if placeholders[id] == nil {
			placeholders[id] = map[string]any{}
		}
		placeholders[id][key] = fmt.Sprintf("<output of steps.%s.outputs.%s>", id, key)
	}
	for _, st := range spec.Steps {
		for _, out := range Catalog[st.Action].Outputs {
			addPlaceholder(st.ID, out)
		}
		for _, tmpl := range st.With {
			for _, ref := range stepOutputRefs(tmpl) {
				if parts := strings.Split(ref, "."); len(parts) >= 4 && parts[2] == "outputs" {
					addPlaceholder(parts[1], parts[3])
				}
			}
		}
	}

	var plan []PlannedStep
	for _, st := range spec.Steps {
		act, ok := Catalog[st.Action]
		if !ok {
			return nil, fmt.Errorf("step %s: unknown action %q%s", st.ID, st.Action, didYouMean(st.Action, ActionNames()))
		}
		ps := PlannedStep{
			ID:         st.ID,
			Action:     st.Action,
			Title:      st.Title,
			When:       st.When,
			SideEffect: act.SideEffect,
			Undo:       act.Undo,
			Approval:   st.Approval,
			Verify:     st.Verify,
			Timeout:    st.Timeout,
		}
		if ps.Title == "" {
			ps.Title = act.Description
		}
		if ps.Timeout == 0 {
			ps.Timeout = act.DefaultTimeout
		}
		if st.Undo != nil && act.Undo != "" {
			ps.KeepChange = st.Undo.Keep
			ps.UndoApproval = st.Undo.Approval
		}

		unchecked := map[string]bool{}
		for _, k := range sortedKeys(st.With) {
			if len(stepOutputRefs(st.With[k])) > 0 {
				unchecked[k] = true
				ps.Unresolved = append(ps.Unresolved, k)
			}
		}
		ps.Params, err = renderParams(st, scope, unchecked, Catalog)
		if err != nil {
			return nil, err
		}
		if len(ps.Unresolved) == 0 {
			ps.Digest = ParamsDigest(st.Action, ps.Params)
		}

		if st.Approval != nil {
			// Show the question approvers will get, with placeholders for step outputs.
			gate := *st.Approval
			if prompt, err := RenderString(gate.Prompt, scope); err == nil {
				gate.Prompt = prompt
			}
			ps.Approval = &gate
		}

		if strings.TrimSpace(st.When) != "" && !whenReadsSteps(st.When) && (gateway != nil || !whenReadsAnyGateway(st.When)) {
			if ok, err := EvalWhen(st.When, scope); err != nil {
				ps.WhenError = err.Error()
			} else {
				ps.WhenResult = &ok
			}
		}
		plan = append(plan, ps)
		scope.Steps[st.ID] = StepScope{State: "<state of steps." + st.ID + ">", Outputs: placeholders[st.ID]}
	}
	return plan, nil
}
