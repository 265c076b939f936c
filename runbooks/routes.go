package runbooks

import "github.com/quench-dev/quench/internal/alert"

// RouteUse is one gateway route a runbook's step would touch.
type RouteUse struct {
	Route  string // the rendered value
	StepID string
	Param  string // the step's `with:` key
}

// RoutesUsed lists the gateway routes an incident of spec would touch, found through the
// catalog (params marked NamesRoute) on the plan of the start: values that depend on a step
// output, and steps whose condition is known to be false, are left out because nothing can
// be said about them before the incident runs.
func RoutesUsed(spec *Spec, params map[string]string, a *alert.Alert) ([]RouteUse, error) {
	plan, err := Plan(spec, params, a)
	if err != nil {
		return nil, err
	}
	var uses []RouteUse
	for _, st := range plan {
		if st.WhenResult != nil && !*st.WhenResult {
			continue
		}
		act := Catalog[st.Action]
		for _, k := range sortedKeys(st.Params) {
			p, ok := act.Param(k)
			if !ok || p.Names != NamesRoute || st.Params[k] == "" || containsString(st.Unresolved, k) {
				continue
			}
			uses = append(uses, RouteUse{Route: st.Params[k], StepID: st.ID, Param: k})
		}
	}
	return uses, nil
}
