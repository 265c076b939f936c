package runbooks

import (
	"errors"
	"fmt"
	"strings"

	"github.com/quench-dev/quench/internal/alert"
)

// ResolveParams gives every declared param its value for a new incident: the given k=v
// wins (an empty value counts as not given), else the `from` field of the alert, else the
// default. The result holds every
// declared param ("" when none applies), so templates and CEL can read any of them.
// All problems are reported at once: unknown given keys (with the declared list), missing
// required params (with where they could have come from), values outside an enum.
func ResolveParams(spec *Spec, given map[string]string, a *alert.Alert) (map[string]string, error) {
	var problems []string
	declared := make([]string, len(spec.Params))
	for i, p := range spec.Params {
		declared[i] = p.Name
	}
	for _, k := range sortedKeys(given) {
		if !containsString(declared, k) {
			if len(declared) == 0 {
				problems = append(problems, fmt.Sprintf("unknown param %q: runbook %s takes no params", k, spec.Name))
				continue
			}
			problems = append(problems, fmt.Sprintf("unknown param %q for runbook %s (it takes: %s)%s",
				k, spec.Name, strings.Join(declared, ", "), didYouMeanOnly(k, declared)))
		}
	}
	out := make(map[string]string, len(spec.Params))
	for _, p := range spec.Params {
		v, source := given[p.Name], "given"
		if v == "" {
			v, source = fromAlert(p.From, a), p.From
		}
		if v == "" {
			v, source = p.Default, "default"
		}
		out[p.Name] = v
		switch {
		case v == "" && p.Required:
			hint := "give it as " + p.Name + "=VALUE"
			if p.From != "" {
				hint += " or send an alert with " + p.From
			}
			problems = append(problems, fmt.Sprintf("param %q is required: %s", p.Name, hint))
		case v != "" && len(p.Enum) > 0 && !containsString(p.Enum, v):
			problems = append(problems, fmt.Sprintf("param %q is %q (%s), not one of %s", p.Name, v, source, strings.Join(p.Enum, ", ")))
		}
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return out, nil
}

func didYouMeanOnly(s string, candidates []string) string {
	if n := nearest(s, candidates); n != "" {
		return fmt.Sprintf("; did you mean %q?", n)
	}
	return ""
}

// fromAlert reads a param's `from` (labels.X, annotations.X, alert.severity, ...).
func fromAlert(from string, a *alert.Alert) string {
	if from == "" || a == nil {
		return ""
	}
	if k, ok := strings.CutPrefix(from, "labels."); ok {
		return a.Labels[k]
	}
	if k, ok := strings.CutPrefix(from, "annotations."); ok {
		return a.Annotations[k]
	}
	switch from {
	case "alert.severity":
		return a.Severity
	case "alert.key":
		return a.Key
	case "alert.title":
		return a.Title
	case "alert.source":
		return a.Source
	case "alert.status":
		return a.Status
	case "alert.fingerprint":
		return a.Fingerprint
	}
	return ""
}

// RenderParams renders a step's `with` over the scope, fills the catalog defaults for
// params left out or rendered empty, and checks every value against the catalog type. The
// error names the step, the param and what is wrong with it. Empty optional params are
// left out of the result, so the approval digest does not depend on them.
func RenderParams(step Step, s Scope) (map[string]string, error) {
	return renderParams(step, s, nil, Catalog)
}

// Spec.RenderParams is RenderParams with the action definitions saved in the spec (Spec.Action):
// the workflow renders with these, so a newer catalog's param defaults or types never
// change what a running incident's steps do or what its approvers approve.
func (spec *Spec) RenderParams(step Step, s Scope) (map[string]string, error) {
	return renderParams(step, s, nil, spec)
}

// actionSource is where renderParams finds an action: the live Catalog or a Spec's saved
// definitions.
type actionSource interface {
	Action(name string) (Action, bool)
}

// Action looks an action up in the set; with Spec.Action it makes both an actionSource.
func (c Actions) Action(name string) (Action, bool) {
	a, ok := c[name]
	return a, ok
}

// renderParams is RenderParams with some params exempt from checks (Plan: params whose
// value waits for an earlier step's output and shows a placeholder).
func renderParams(step Step, s Scope, unchecked map[string]bool, actions actionSource) (map[string]string, error) {
	act, ok := actions.Action(step.Action)
	if !ok {
		return nil, fmt.Errorf("step %s: unknown action %q%s", step.ID, step.Action, didYouMean(step.Action, ActionNames()))
	}
	var problems []string
	bad := func(name, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("param %q: ", name)+fmt.Sprintf(format, args...))
	}
	out := make(map[string]string, len(act.Params))
	for _, k := range sortedKeys(step.With) {
		if _, ok := act.Param(k); !ok {
			bad(k, "action %s has no such param%s", act.Name, didYouMean(k, act.paramNames()))
			continue
		}
		v, err := RenderString(step.With[k], s)
		if err != nil {
			bad(k, "%v", err)
			continue
		}
		out[k] = v
	}
	for _, ap := range act.Params {
		v := out[ap.Name]
		if v == "" {
			v = ap.Default
		}
		if v == "" {
			delete(out, ap.Name)
			if ap.Required {
				if tmpl := step.With[ap.Name]; tmpl != "" {
					bad(ap.Name, "required, but %q rendered empty", tmpl)
				} else {
					bad(ap.Name, "required (%s) and not given", ap.Description)
				}
			}
			continue
		}
		out[ap.Name] = v
		if unchecked[ap.Name] {
			continue
		}
		if err := CheckParamValue(ap, v); err != nil {
			if tmpl := step.With[ap.Name]; isTemplate(tmpl) {
				bad(ap.Name, "%v (rendered from %q); %s expects a %s", err, tmpl, act.Name, ap.Type)
			} else {
				bad(ap.Name, "%v; %s expects a %s", err, act.Name, ap.Type)
			}
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("step %s (%s): %s", step.ID, act.Name, strings.Join(problems, "; "))
	}
	return out, nil
}
