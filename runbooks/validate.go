package runbooks

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// What a step does when its action fails (after retries).
const (
	OnErrorAbort    = "abort"    // abort the incident; undos run (default)
	OnErrorContinue = "continue" // record the failure and go on with the next step
)

// Signals a verify block may watch.
const (
	SignalErrorRate    = "error_rate"
	SignalLatencyP95   = "latency_p95"
	SignalOutputTokens = "output_tokens"
	SignalPromQL       = "promql" // needs query:
	// SignalModelDrift (gateway.pin_model steps only): the share of the pinned alias's
	// answers given by another model than the one it was pinned to.
	SignalModelDrift = "model_drift"
	// SignalKeyServed (gateway.block steps only): how many requests of the blocked key
	// were still served after the block.
	SignalKeyServed = "key_served"
)

var verifySignals = []string{SignalErrorRate, SignalLatencyP95, SignalOutputTokens, SignalPromQL, SignalModelDrift, SignalKeyServed}

// signalAction is the action a step must run for a signal that judges that action only.
var signalAction = map[string]string{SignalModelDrift: ActionGatewayPinModel, SignalKeyServed: ActionGatewayBlock}

var (
	// Runbook names become part of workflow IDs and search attributes: a DNS label.
	nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	// Step ids and param names are read as steps.<id> and params.<name> in templates and
	// CEL, where '-' would be a minus.
	identRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	fromRE  = regexp.MustCompile(`^(labels|annotations)\.\S+$|^alert\.(severity|key|title|source|status|fingerprint)$`)
)

// Param returns the action's param of that name.
func (a Action) Param(name string) (ActionParam, bool) {
	for _, p := range a.Params {
		if p.Name == name {
			return p, true
		}
	}
	return ActionParam{}, false
}

func (a Action) paramNames() []string {
	names := make([]string, len(a.Params))
	for i, p := range a.Params {
		names[i] = p.Name
	}
	return names
}

// ActionNames lists the catalog's action names, sorted.
func ActionNames() []string {
	names := make([]string, 0, len(Catalog))
	for n := range Catalog {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// CheckParamValue checks a rendered value against the catalog's type and enum for it.
func CheckParamValue(p ActionParam, v string) error {
	switch p.Type {
	case TypeDuration:
		if _, err := ParseDuration(v); err != nil {
			return err
		}
	case TypeInt:
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
	case TypeFloat:
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
	case TypeBool:
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
	}
	if len(p.Enum) > 0 && !containsString(p.Enum, v) {
		return fmt.Errorf("%q is not one of %s", v, strings.Join(p.Enum, ", "))
	}
	return nil
}

// lineIndex maps a problem path to the line of its YAML value. A path without an entry
// takes the line of its closest parent (steps[2].with.x -> steps[2]).
type lineIndex map[string]int

func (l lineIndex) at(path string) int {
	for p := path; p != ""; {
		if n, ok := l[p]; ok {
			return n
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

// Validate checks a spec against the catalog and the rules of the format. Parse calls it;
// call it yourself on a Spec built in code. Lines are those of the steps (Step.Line).
func Validate(s *Spec) []Problem {
	lines := lineIndex{}
	for i, st := range s.Steps {
		if st.Line > 0 {
			lines[fmt.Sprintf("steps[%d]", i)] = st.Line
		}
	}
	return sortProblems(validate(s, lines))
}

type validator struct {
	s          *Spec
	lines      lineIndex
	problems   []Problem
	stepAt     map[string]int // step id -> index of its first use
	params     map[string]bool
	paramNames []string
}

func validate(s *Spec, lines lineIndex) []Problem {
	v := &validator{s: s, lines: lines, stepAt: map[string]int{}, params: map[string]bool{}}
	v.name()
	v.severity()
	v.triggers()
	v.declaredParams()
	v.steps()
	return v.problems
}

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{Line: v.lines.at(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) name() {
	switch n := v.s.Name; {
	case n == "":
		v.add("name", "a runbook needs a name: a short slug like provider-outage")
	case !nameRE.MatchString(n):
		v.add("name", "%q is not a valid name: use lowercase letters, digits and '-', start and end with a letter or digit, at most 63 characters (it becomes part of workflow IDs)", n)
	}
}

// Severities are the values a runbook's severity (and a human's --severity) may take. Alerts
// keep whatever severity their source sends; these are what a person or a runbook chooses,
// so a typo ("urgent", "crit") is caught instead of landing in search attributes.
var Severities = []string{"critical", "warning", "info"}

// CheckSeverity refuses a severity outside Severities, naming the allowed ones.
func CheckSeverity(s string) error {
	if containsString(Severities, s) {
		return nil
	}
	hint := ""
	if n := nearest(s, Severities); n != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", n)
	}
	return fmt.Errorf("severity %q is not one of %s%s", s, strings.Join(Severities, ", "), hint)
}

func (v *validator) severity() {
	if v.s.Severity == "" {
		return
	}
	if err := CheckSeverity(v.s.Severity); err != nil {
		v.add("severity", "%v", err)
	}
}

func (v *validator) triggers() {
	for i, t := range v.s.Triggers.Alerts {
		p := fmt.Sprintf("triggers.alerts[%d]", i)
		if len(t.Match)+len(t.MatchRE)+len(t.MatchIn) == 0 {
			v.add(p, "a trigger needs match, match_re or match_in; an empty one would match every alert")
		}
		for _, k := range sortedKeys(t.MatchRE) {
			if _, err := compileAnchored(t.MatchRE[k]); err != nil {
				v.add(p+".match_re."+k, "bad regular expression: %v", err)
			}
		}
		for _, k := range sortedKeys(t.MatchIn) {
			if len(t.MatchIn[k]) == 0 {
				v.add(p+".match_in."+k, "needs at least one value")
			}
		}
	}
}

func (v *validator) declaredParams() {
	for _, p := range v.s.Params {
		path := "params." + p.Name
		if !identRE.MatchString(p.Name) {
			v.add(path, "param name %q: use lowercase letters, digits and _, starting with a letter (templates read it as .params.NAME)", p.Name)
		}
		if v.params[p.Name] {
			v.add(path, "param %q is declared twice", p.Name)
		}
		v.params[p.Name] = true
		v.paramNames = append(v.paramNames, p.Name)
		if p.From != "" && !fromRE.MatchString(p.From) {
			v.add(path+".from", "from %q: use labels.NAME, annotations.NAME, alert.severity, alert.key or alert.title", p.From)
		}
		if len(p.Enum) > 0 && p.Default != "" && !containsString(p.Enum, p.Default) {
			v.add(path+".default", "default %q is not one of the enum values: %s", p.Default, strings.Join(p.Enum, ", "))
		}
		if p.Required && p.Default != "" {
			v.add(path+".required", "a param with a default is never missing; drop required: or the default")
		}
	}
}

func (v *validator) steps() {
	if len(v.s.Steps) == 0 {
		v.add("steps", "a runbook needs at least one step")
		return
	}
	for i, st := range v.s.Steps {
		p := fmt.Sprintf("steps[%d].id", i)
		switch first, dup := v.stepAt[st.ID]; {
		case st.ID == "":
			v.add(p, "every step needs an id (like failover); templates read its outputs as .steps.ID.outputs")
		case !identRE.MatchString(st.ID):
			v.add(p, "step id %q: use lowercase letters, digits and _, starting with a letter (it is read as steps.ID in templates and CEL)", st.ID)
		case dup:
			v.add(p, "duplicate step id %q: steps[%d] (line %d) already uses it", st.ID, first, v.s.Steps[first].Line)
		}
		if _, dup := v.stepAt[st.ID]; !dup && st.ID != "" {
			v.stepAt[st.ID] = i
		}
	}
	for i := range v.s.Steps {
		v.step(i)
	}
}

func (v *validator) step(i int) {
	st := v.s.Steps[i]
	p := fmt.Sprintf("steps[%d]", i)
	act, known := Catalog[st.Action]
	switch {
	case st.Action == "":
		v.add(p+".action", "every step needs an action, one of: %s", strings.Join(ActionNames(), ", "))
	case !known:
		v.add(p+".action", "unknown action %q%s", st.Action, didYouMean(st.Action, ActionNames()))
	}
	v.with(i, act, known)
	if strings.TrimSpace(st.When) != "" {
		if ast, err := compileWhen(st.When); err != nil {
			v.add(p+".when", "%v", err)
		} else {
			for _, r := range celRefs(ast) {
				v.ref(p+".when", r, i, "")
			}
		}
	}
	if st.Retry != nil {
		v.retry(p+".retry", st.Retry, act, known)
	}
	if st.Approval != nil {
		v.approval(p+".approval", st.Approval, i)
	} else if known && act.Kind == KindGate {
		v.add(p, "action %s is a gate: give it an approval: block with group: (who decides)", act.Name)
	}
	if st.Verify != nil {
		v.verify(p+".verify", st.Verify, i)
		if want, ok := signalAction[st.Verify.Signal]; ok && st.Action != want {
			v.add(p+".verify.signal", "signal %s measures what a %s step changed; this step runs %s", st.Verify.Signal, want, st.Action)
		}
	}
	if st.Failback != nil {
		v.failback(p+".failback", i)
	}
	if u := st.Undo; u != nil {
		if known && act.Undo == "" {
			v.add(p+".undo", "action %s changes nothing that quench can undo; remove undo:", act.Name)
		}
		if u.Keep && u.Approval != nil {
			v.add(p+".undo", "keep: true leaves the change in place, so the undo approval is never asked; remove one of them")
		}
		if u.Approval != nil {
			// The undo runs when the incident closes, after every step.
			v.approval(p+".undo.approval", u.Approval, len(v.s.Steps))
		}
	}
	switch st.OnError {
	case "", OnErrorAbort, OnErrorContinue:
	default:
		v.add(p+".on_error", "on_error must be abort or continue, not %q", st.OnError)
	}
}

func (v *validator) with(i int, act Action, known bool) {
	st := v.s.Steps[i]
	p := fmt.Sprintf("steps[%d].with", i)
	for _, k := range sortedKeys(st.With) {
		val, kp := st.With[k], p+"."+k
		ap, ok := act.Param(k)
		switch {
		case !known:
			// The action is already reported; still check templates.
		case !ok && len(act.Params) == 0:
			v.add(kp, "action %s takes no params", act.Name)
			continue
		case !ok:
			v.add(kp, "unknown param %q for action %s%s", k, act.Name, didYouMean(k, act.paramNames()))
			continue
		}
		if isTemplate(val) {
			v.template(kp, val, i)
			continue
		}
		if !known || val == "" {
			continue
		}
		if err := CheckParamValue(ap, val); err != nil {
			v.add(kp, "%v", err)
		}
	}
	if !known {
		return
	}
	for _, ap := range act.Params {
		if ap.Required && st.With[ap.Name] == "" {
			v.add(p, "action %s needs param %q (%s)", act.Name, ap.Name, ap.Description)
		}
	}
}

// template checks a template's syntax and that what it reads exists when it is rendered:
// declared params, alert and incident fields, and steps before stepIdx.
func (v *validator) template(path, text string, stepIdx int) {
	t, err := parseTemplate(text)
	if err != nil {
		v.add(path, "bad template: %v", err)
		return
	}
	for _, r := range templateRefs(t) {
		v.ref(path, r, stepIdx, ".")
	}
}

// ref checks one data path read by a template (prefix ".") or a CEL condition (prefix "").
func (v *validator) ref(path string, ref []string, stepIdx int, prefix string) {
	show := func(n int) string { return prefix + strings.Join(ref[:min(n, len(ref))], ".") }
	switch ref[0] {
	case "params":
		if len(ref) < 2 || v.params[ref[1]] {
			return
		}
		if len(v.paramNames) == 0 {
			v.add(path, "%s: this runbook declares no params (add a params: section)", show(2))
			return
		}
		v.add(path, "%s: no param %q is declared%s", show(2), ref[1], didYouMean(ref[1], v.paramNames))
	case "steps":
		if len(ref) < 2 {
			return
		}
		j, ok := v.stepAt[ref[1]]
		switch {
		case !ok:
			v.add(path, "%s: no step has id %q%s", show(2), ref[1], didYouMean(ref[1], sortedKeys(v.stepAt)))
			return
		case j == stepIdx:
			v.add(path, "%s: a step cannot read its own outputs or state, only those of earlier steps", show(2))
			return
		case j > stepIdx:
			v.add(path, "%s: step %q runs later (steps[%d]); only earlier steps can be read", show(2), ref[1], j)
			return
		}
		if len(ref) < 3 {
			return
		}
		if !containsString(stepFields, ref[2]) {
			v.add(path, "%s: a step has only %soutputs and %sstate", show(3), prefix, prefix)
			return
		}
		if ref[2] == "outputs" && len(ref) >= 4 {
			act := Catalog[v.s.Steps[j].Action]
			if len(act.Outputs) > 0 && !containsString(act.Outputs, ref[3]) {
				v.add(path, "%s: action %s has no output %q%s", show(4), act.Name, ref[3], didYouMean(ref[3], act.Outputs))
			}
		}
	case "alert":
		if len(ref) >= 2 && !containsString(alertFields, ref[1]) {
			v.add(path, "%s: an alert has %s%s", show(2), strings.Join(alertFields, ", "), didYouMean(ref[1], alertFields))
		}
	case "incident":
		if len(ref) >= 2 && !containsString(incidentFields, ref[1]) {
			v.add(path, "%s: an incident has %s%s", show(2), strings.Join(incidentFields, ", "), didYouMean(ref[1], incidentFields))
			return
		}
		if len(ref) >= 3 && ref[1] == "gateway" && !containsString(GatewayCapabilities, ref[2]) {
			v.add(path, "%s: the gateway's capabilities are %s%s", show(3), strings.Join(GatewayCapabilities, ", "), didYouMean(ref[2], GatewayCapabilities))
		}
	default:
		// In CEL an unknown root is a comprehension variable (the checker rejects the rest).
		if prefix == "." {
			v.add(path, "%s: unknown field; templates read .params, .alert, .steps and .incident%s", show(1), didYouMean(ref[0], scopeRoots))
		}
	}
}

func (v *validator) stepIDs() []string {
	ids := make([]string, 0, len(v.s.Steps))
	for _, st := range v.s.Steps {
		ids = append(ids, st.ID)
	}
	return ids
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
