package runbooks

import (
	"fmt"
	"slices"
)

// GatewayProblems lists the steps of spec that need a gateway capability the gateway lacks
// (cannot says why, "" when it can): each would fail when it runs, mid-incident, after the
// steps before it acted. A step whose `when` reads incident.gateway.<capability> chooses
// itself whether to run (it runs only where the gateway can), so it is no problem.
func GatewayProblems(spec *Spec, cannot func(capability string) string) []Problem {
	var out []Problem
	for i, st := range spec.Steps {
		a, ok := spec.Action(st.Action)
		if !ok || a.Needs == "" || WhenReadsGateway(st.When, a.Needs) {
			continue
		}
		why := cannot(a.Needs)
		if why == "" {
			continue
		}
		out = append(out, Problem{Path: fmt.Sprintf("steps[%d].action", i), Line: st.Line,
			Msg: fmt.Sprintf("step %s (%s) cannot run on the configured gateway: %s. Remove the step, or guard it with `when: incident.gateway.%s` and give the other gateways a step of their own",
				st.ID, st.Action, why, a.Needs)})
	}
	return out
}

// WhenReadsGateway reports whether a condition reads incident.gateway.<capability>.
func WhenReadsGateway(expr, capability string) bool {
	if expr == "" {
		return false
	}
	ast, err := compileWhen(expr)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(celRefs(ast), func(ref []string) bool {
		return len(ref) >= 3 && ref[0] == "incident" && ref[1] == "gateway" && ref[2] == capability
	})
}

// whenReadsAnyGateway reports whether a condition reads any gateway capability.
func whenReadsAnyGateway(expr string) bool {
	return slices.ContainsFunc(GatewayCapabilities, func(c string) bool { return WhenReadsGateway(expr, c) })
}
