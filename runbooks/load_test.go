package runbooks

import (
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// header is a valid runbook start; the step under test begins on line 7.
const header = `name: t
params:
  route: {default: chat}
steps:
  - id: changes
    action: prompts.changes
`

func problemsOf(t *testing.T, yamlText string) []Problem {
	t.Helper()
	spec, err := Parse([]byte(yamlText), "test.yaml")
	if err == nil {
		t.Fatalf("Parse accepted a bad runbook: %+v", spec)
	}
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("error is %T, want *LoadError: %v", err, err)
	}
	if spec != nil {
		t.Errorf("Parse returned a spec along with an error")
	}
	return le.Problems
}

func TestParseRejectsBadRunbooks(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		line int
		path string
		msg  string
	}{
		// Structure and keys.
		{"typo in top-level key", "name: t\ntitel: T\nsteps: [{id: a, action: wait.resolved}]\n", 2, "titel", `unknown key "titel"; did you mean "title"?`},
		{"typo in step key", header + "  - id: a\n    action: gateway.restore\n    with: {route: chat}\n    aproval: {group: sre}\n", 10, "steps[1].aproval", `unknown key "aproval"; did you mean "approval"?`},
		{"unknown key with no close match lists the valid ones", header + "  - id: a\n    action: wait.resolved\n    zzzzzz: 1\n", 9, "steps[1].zzzzzz", "valid: action, approval,"},
		{"key defined twice", "name: t\nname: u\nsteps: [{id: a, action: wait.resolved}]\n", 2, "name", `appears twice`},
		{"steps is not a list", "name: t\nsteps: {id: a}\n", 2, "steps", "must be a list of steps"},
		{"with is not a mapping", header + "  - id: a\n    action: gateway.restore\n    with: [chat]\n", 9, "steps[1].with", "must be a mapping"},
		{"bool that is not a bool", header + "  - id: a\n    action: gateway.restore\n    with: {route: chat}\n    approval: {group: sre, four_eyes: yes}\n", 10, "steps[1].approval.four_eyes", `must be true or false, not "yes"`},
		{"bad duration field", header + "  - id: a\n    action: wait.resolved\n    timeout: 5 parsecs\n", 9, "steps[1].timeout", `"5 parsecs" is not a duration`},
		{"document is a list", "- a\n- b\n", 1, "", "a runbook is a mapping"},

		// Name and steps.
		{"name is not a slug", "name: Provider_Outage\nsteps: [{id: a, action: wait.resolved}]\n", 1, "name", `"Provider_Outage" is not a valid name`},
		{"name missing", "title: T\nsteps: [{id: a, action: wait.resolved}]\n", 0, "name", "a runbook needs a name"},
		{"no steps", "name: t\nsteps: []\n", 2, "steps", "at least one step"},
		{"duplicate step id", header + "  - id: changes\n    action: wait.resolved\n", 7, "steps[1].id", `duplicate step id "changes": steps[0] (line 5) already uses it`},
		{"step id format", header + "  - id: Fail-Over\n    action: wait.resolved\n", 7, "steps[1].id", `step id "Fail-Over": use lowercase letters`},
		{"step id missing", header + "  - action: wait.resolved\n", 7, "steps[1].id", "every step needs an id"},
		{"on_error", header + "  - id: a\n    action: wait.resolved\n    on_error: ignore\n", 9, "steps[1].on_error", `on_error must be abort or continue, not "ignore"`},

		// Actions and their params.
		{"unknown action", header + "  - id: a\n    action: gateway.swich\n", 8, "steps[1].action", `unknown action "gateway.swich"; did you mean "gateway.switch"?`},
		{"action missing", header + "  - id: a\n", 7, "steps[1].action", "every step needs an action"},
		{"unknown with key", header + "  - id: a\n    action: gateway.restore\n    with: {route: chat, rout: x}\n", 9, "steps[1].with.rout", `unknown param "rout" for action gateway.restore; did you mean "route"?`},
		{"with on an action without params", header + "  - id: a\n    action: wait.resolved\n    with: {for: 5m}\n", 9, "steps[1].with.for", "action wait.resolved takes no params"},
		{"missing required param", header + "  - id: a\n    action: gateway.switch\n    with: {route: chat}\n", 9, "steps[1].with", `action gateway.switch needs param "to"`},
		{"literal duration", header + "  - id: a\n    action: traffic.snapshot\n    with: {window: 30x}\n", 9, "steps[1].with.window", `"30x" is not a duration`},
		{"literal int", header + "  - id: a\n    action: traffic.snapshot\n    with:\n      samples: many\n", 10, "steps[1].with.samples", `"many" is not a whole number`},
		{"literal enum", header + "  - id: a\n    action: notify\n    with: {text: hi, level: loud}\n", 9, "steps[1].with.level", `"loud" is not one of info, warning, critical`},

		// Templates.
		{"template syntax", header + "  - id: a\n    action: gateway.restore\n    with: {route: \"{{ .params.route \"}\n", 9, "steps[1].with.route", "bad template: line 1: unclosed action"},
		{"template unknown function", header + "  - id: a\n    action: gateway.restore\n    with: {route: \"{{ .params.route | shout }}\"}\n", 9, "steps[1].with.route", `function "shout" not defined`},
		{"template unknown param", header + "  - id: a\n    action: gateway.restore\n    with: {route: \"{{ .params.rout }}\"}\n", 9, "steps[1].with.route", `.params.rout: no param "rout" is declared; did you mean "route"?`},
		{"template unknown root", header + "  - id: a\n    action: gateway.restore\n    with: {route: \"{{ .param.route }}\"}\n", 9, "steps[1].with.route", `.param: unknown field; templates read .params, .alert, .steps and .incident; did you mean "params"?`},
		{"template unknown step", header + "  - id: a\n    action: gateway.restore\n    with: {route: \"{{ .steps.chnages.outputs.count }}\"}\n", 9, "steps[1].with.route", `.steps.chnages: no step has id "chnages"; did you mean "changes"?`},
		{"template reads a later step", "name: t\nsteps:\n  - id: a\n    action: gateway.restore\n    with: {route: \"{{ .steps.b.outputs.count }}\"}\n  - id: b\n    action: prompts.changes\n", 5, "steps[0].with.route", `.steps.b: step "b" runs later (steps[1]); only earlier steps can be read`},
		{"template reads its own step", header + "  - id: a\n    action: gateway.restore\n    with: {route: \"{{ .steps.a.state }}\"}\n", 9, "steps[1].with.route", "a step cannot read its own outputs"},
		{"template unknown output", header + "  - id: a\n    action: gateway.restore\n    with: {route: \"{{ .steps.changes.outputs.cuont }}\"}\n", 9, "steps[1].with.route", `action prompts.changes has no output "cuont"; did you mean "count"?`},
		{"template unknown step field", header + "  - id: a\n    action: gateway.restore\n    with: {route: \"{{ .steps.changes.output.count }}\"}\n", 9, "steps[1].with.route", "a step has only .outputs and .state"},
		{"template unknown alert field", header + "  - id: a\n    action: gateway.restore\n    with: {route: \"{{ .alert.label.route }}\"}\n", 9, "steps[1].with.route", `did you mean "labels"?`},
		{"template via $ inside range", header + "  - id: a\n    action: notify\n    with: {text: \"{{ range .steps.changes.outputs.commits }}{{ $.params.nope }}{{ end }}\"}\n", 9, "steps[1].with.text", `.params.nope: no param "nope"`},
		{"template range over a number", header + "  - id: a\n    action: notify\n    with: {text: \"{{ range 1000000000 }}{{ end }}\"}\n", 9, "steps[1].with.text", "bad template: range over a number is not allowed"},
		{"approval prompt reads a later step", header + "  - id: a\n    action: gateway.restore\n    with: {route: chat}\n    approval: {group: sre, prompt: \"{{ .steps.b.outputs.x }}\"}\n  - id: b\n    action: wait.resolved\n", 10, "steps[1].approval.prompt", `step "b" runs later`},

		// CEL conditions.
		{"CEL syntax", header + "  - id: a\n    action: wait.resolved\n    when: steps.changes.outputs.count >\n", 9, "steps[1].when", "bad CEL: Syntax error"},
		{"CEL undeclared variable", header + "  - id: a\n    action: wait.resolved\n    when: count > 0\n", 9, "steps[1].when", "undeclared reference to 'count'"},
		{"CEL not a bool", header + "  - id: a\n    action: wait.resolved\n    when: \"'yes'\"\n", 9, "steps[1].when", "must be true or false, but this expression gives a string"},
		{"CEL unknown step", header + "  - id: a\n    action: wait.resolved\n    when: steps.change.outputs.count > 0\n", 9, "steps[1].when", `steps.change: no step has id "change"; did you mean "changes"?`},
		{"CEL later step by index", header + "  - id: a\n    action: wait.resolved\n    when: steps[\"b\"].state == \"done\"\n  - id: b\n    action: wait.resolved\n", 9, "steps[1].when", `steps.b: step "b" runs later`},
		{"CEL unknown param", header + "  - id: a\n    action: wait.resolved\n    when: params.rout == \"chat\"\n", 9, "steps[1].when", `params.rout: no param "rout" is declared; did you mean "route"?`},

		// Approvals.
		{"approval without group", header + "  - id: a\n    action: gateway.restore\n    with: {route: chat}\n    approval: {timeout: 5m}\n", 10, "steps[1].approval", "an approval needs group:"},
		{"approval on_timeout", header + "  - id: a\n    action: gateway.restore\n    with: {route: chat}\n    approval: {group: sre, timeout: 5m, on_timeout: escalte}\n", 10, "steps[1].approval.on_timeout", `on_timeout must be escalate, proceed or abort, not "escalte"; did you mean "escalate"?`},
		{"approval on_timeout without timeout", header + "  - id: a\n    action: gateway.restore\n    with: {route: chat}\n    approval: {group: sre, on_timeout: abort}\n", 10, "steps[1].approval.on_timeout", "on_timeout has no effect without timeout"},
		{"approval on_reject", header + "  - id: a\n    action: gateway.restore\n    with: {route: chat}\n    approval: {group: sre, on_reject: ignore}\n", 10, "steps[1].approval.on_reject", `on_reject must be skip or abort, not "ignore"`},
		{"approval quorum 0", header + "  - id: a\n    action: gateway.restore\n    with: {route: chat}\n    approval:\n      group: sre\n      quorum: 0\n", 12, "steps[1].approval.quorum", "quorum must be at least 1"},
		{"gate without approval", header + "  - id: a\n    action: approval\n", 7, "steps[1]", "action approval is a gate: give it an approval: block"},
		{"undo approval without group", header + "  - id: a\n    action: prompts.freeze\n    undo: {approval: {timeout: 1h}}\n", 9, "steps[1].undo.approval", "an approval needs group:"},
		{"undo on an action with nothing to undo", header + "  - id: a\n    action: prompts.changes\n    undo: {keep: true}\n", 9, "steps[1].undo", "action prompts.changes changes nothing that quench can undo"},
		{"retry on a wait", header + "  - id: a\n    action: wait.resolved\n    retry: {max_attempts: 3}\n", 9, "steps[1].retry", "retry has no effect on wait.resolved"},

		// Verify.
		{"verify unknown signal", header + "  - id: a\n    action: gateway.restore\n    with: {route: chat}\n    verify: {signal: error_rat, below: 0.05, within: 5m}\n", 10, "steps[1].verify.signal", `unknown signal "error_rat"; did you mean "error_rate"?`},
		{"verify model_drift off a pin", header + "  - id: a\n    action: gateway.switch\n    with: {route: chat, to: fallback}\n    verify: {signal: model_drift, below: 0.05, within: 5m}\n", 10, "steps[1].verify.signal", "signal model_drift measures what a gateway.pin_model step changed; this step runs gateway.switch"},
		{"verify key_served off a block", header + "  - id: a\n    action: gateway.restore\n    with: {route: chat}\n    verify: {signal: key_served, below: 1, within: 5m}\n", 10, "steps[1].verify.signal", "signal key_served measures what a gateway.block step changed"},
		{"verify without threshold", header + "  - id: a\n    action: gateway.restore\n    with: {route: chat}\n    verify: {signal: error_rate, within: 5m}\n", 10, "steps[1].verify", "verify needs a threshold"},
		{"verify without within", header + "  - id: a\n    action: gateway.restore\n    with: {route: chat}\n    verify: {signal: error_rate, below: 0.05}\n", 10, "steps[1].verify.within", "verify needs within:"},
		{"verify threshold NaN", header + "  - id: a\n    action: gateway.restore\n    with: {route: chat}\n    verify: {signal: error_rate, below: NaN, within: 5m}\n", 10, "steps[1].verify.below", `must be a finite number, not "NaN"`},
		{"verify promql without query", header + "  - id: a\n    action: gateway.restore\n    with: {route: chat}\n    verify:\n      signal: promql\n      below: 1\n      within: 5m\n", 10, "steps[1].verify.query", "signal promql needs query:"},

		{"verify min_requests negative", header + "  - id: a\n    action: gateway.restore\n    with: {route: chat}\n    verify: {signal: error_rate, below: 0.05, within: 5m, min_requests: -1}\n", 10, "steps[1].verify.min_requests", "min_requests must be 0"},
		{"verify after unknown step", header + "  - id: a\n    action: gateway.restore\n    with: {route: chat}\n    verify: {signal: error_rate, below: 0.05, within: 5m, after: evidenc}\n  - id: evidence\n    action: traffic.snapshot\n", 10, "steps[1].verify.after", `no step "evidenc"; did you mean "evidence"?`},
		{"verify after an earlier step", header + "  - id: a\n    action: gateway.restore\n    with: {route: chat}\n    verify: {signal: error_rate, below: 0.05, within: 5m, after: changes}\n", 10, "steps[1].verify.after", "step changes does not come after this one"},
		{"verify after a wait", header + "  - id: a\n    action: gateway.restore\n    with: {route: chat}\n    verify: {signal: error_rate, below: 0.05, within: 5m, after: b}\n  - id: w\n    action: wait.resolved\n  - id: b\n    action: traffic.snapshot\n", 10, "steps[1].verify.after", "step w waits (approval, wait or its own verify) before b ends"},

		// Triggers.
		{"trigger regex", "name: t\ntriggers:\n  alerts:\n    - match_re: {alertname: \"LLM(\"}\nsteps: [{id: a, action: wait.resolved}]\n", 4, "triggers.alerts[0].match_re.alertname", "bad regular expression: error parsing regexp: missing closing )"},
		{"empty trigger", "name: t\ntriggers:\n  alerts:\n    - {}\nsteps: [{id: a, action: wait.resolved}]\n", 4, "triggers.alerts[0]", "an empty one would match every alert"},
		{"match_in without values", "name: t\ntriggers:\n  alerts:\n    - match_in: {alertname: []}\nsteps: [{id: a, action: wait.resolved}]\n", 4, "triggers.alerts[0].match_in.alertname", "needs at least one value"},

		// Params.
		{"param default outside enum", "name: t\nparams:\n  level:\n    enum: [low, high]\n    default: medium\nsteps: [{id: a, action: wait.resolved}]\n", 5, "params.level.default", `default "medium" is not one of the enum values: low, high`},
		{"param from", "name: t\nparams:\n  route: {from: label.route}\nsteps: [{id: a, action: wait.resolved}]\n", 3, "params.route.from", `from "label.route": use labels.NAME`},
		{"param name", "name: t\nparams:\n  my-route: {}\nsteps: [{id: a, action: wait.resolved}]\n", 3, "params.my-route", `param name "my-route"`},
		{"unknown param key", "name: t\nparams:\n  route: {defualt: chat}\nsteps: [{id: a, action: wait.resolved}]\n", 3, "params.route.defualt", `did you mean "default"?`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			problems := problemsOf(t, tc.yaml)
			for _, p := range problems {
				if p.Path == tc.path && strings.Contains(p.Msg, tc.msg) {
					if p.Line != tc.line {
						t.Errorf("problem %q is on line %d, want %d", p.Msg, p.Line, tc.line)
					}
					return
				}
			}
			t.Errorf("no problem at %s containing %q; got:\n%s", tc.path, tc.msg, (&LoadError{Source: "test.yaml", Problems: problems}).Error())
		})
	}
}

func TestParseReportsEveryProblemWithSourceAndLine(t *testing.T) {
	text := "name: t\nsteps:\n  - id: a\n    action: gateway.swich\n  - id: a\n    action: wait.resolved\n    on_error: later\n"
	_, err := Parse([]byte(text), "runbooks/t.yaml")
	if err == nil {
		t.Fatal("Parse accepted two bad steps")
	}
	want := strings.Join([]string{
		`runbooks/t.yaml:4: steps[0].action: unknown action "gateway.swich"; did you mean "gateway.switch"?`,
		`runbooks/t.yaml:5: steps[1].id: duplicate step id "a": steps[0] (line 3) already uses it`,
		`runbooks/t.yaml:7: steps[1].on_error: on_error must be abort or continue, not "later"`,
	}, "\n")
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
}

func TestParseDocumentProblems(t *testing.T) {
	cases := []struct {
		name string
		data string
		line int
		msg  string
	}{
		{"empty", "", 0, "the file is empty"},
		{"syntax", "name: t\nsteps:\n  - id: a\n   action: x\n", 2, "YAML syntax: did not find expected '-' indicator"},
		{"two documents", "name: t\nsteps: [{id: a, action: wait.resolved}]\n---\nname: u\n", 4, "more than one YAML document"},
		{"too big", "name: t\n" + strings.Repeat("#", MaxSpecBytes), 0, "a runbook may be at most 1048576"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ps := problemsOf(t, tc.data)
			if len(ps) != 1 || ps[0].Line != tc.line || !strings.Contains(ps[0].Msg, tc.msg) {
				t.Errorf("problems %+v, want one on line %d containing %q", ps, tc.line, tc.msg)
			}
		})
	}
}

func TestParseGoodRunbook(t *testing.T) {
	text := `# a comment
name: good
title: Good
defaults: &gate
  group: sre
  timeout: 10m
`
	// "defaults" is not a key: anchors must live inside known keys. Use a step field instead.
	if _, err := Parse([]byte(text+"steps: [{id: a, action: wait.resolved}]\n"), "x"); err == nil {
		t.Fatal("an unknown top-level key used as an anchor holder was accepted")
	}

	text = `name: good
title: Good runbook
severity: warning
params:
  route: {from: labels.route, default: chat, description: the route}
  to: {default: fallback}
  level: {enum: [info, critical], default: info}
steps:
  - id: failover
    action: gateway.switch
    with: {route: "{{ .params.route }}", to: "{{ .params.to }}"}
    retry: {max_attempts: 3, initial_interval: 1s, backoff: 2}
    verify: {signal: error_rate, below: 0.05, within: 5m}
  - id: changes
    action: prompts.changes
    with: {since: 2d}
  - id: tell
    action: notify
    when: steps.changes.outputs.count > 0 && params.level == "critical"
    on_error: continue
    with:
      text: "{{ .steps.changes.outputs.count }} changes; {{ .alert.labels.team | default \"nobody\" }}"
      level: "{{ .params.level }}"
  - id: back
    action: gateway.restore
    with: {route: "{{ .params.route }}"}
    approval: &gate
      group: sre
      groups: [oncall]
      timeout: 10m
  - id: gate
    action: approval
    approval:
      <<: *gate
      quorum: 2
      on_timeout: abort
`
	spec, err := Parse([]byte(text), "good.yaml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := []string{spec.Params[0].Name, spec.Params[1].Name, spec.Params[2].Name}; !reflect.DeepEqual(got, []string{"route", "to", "level"}) {
		t.Errorf("params in order %v, want route, to, level", got)
	}
	if spec.Source != "good.yaml" || len(spec.Digest) != 64 {
		t.Errorf("source %q digest %q", spec.Source, spec.Digest)
	}
	if lines := []int{spec.Steps[0].Line, spec.Steps[1].Line, spec.Steps[2].Line}; !reflect.DeepEqual(lines, []int{9, 14, 17}) {
		t.Errorf("step lines %v, want [9 14 17]", lines)
	}
	if d := spec.Steps[1].With["since"]; d != "2d" {
		t.Errorf("with.since = %q", d)
	}
	back := spec.Steps[3].Approval
	if !reflect.DeepEqual(back.Groups, []string{"sre", "oncall"}) || back.Group != "" {
		t.Errorf("group not folded into groups: %+v", back)
	}
	if back.Quorum != 1 || back.OnReject != OnRejectSkip || back.OnTimeout != OnTimeoutEscalate {
		t.Errorf("approval defaults not filled: %+v", back)
	}
	gate := spec.Steps[4].Approval
	if gate.Quorum != 2 || gate.OnTimeout != OnTimeoutAbort || gate.Timeout.D().Minutes() != 10 || !reflect.DeepEqual(gate.Groups, []string{"sre", "oncall"}) {
		t.Errorf("merged approval: %+v", gate)
	}
	if spec.Steps[0].OnError != OnErrorAbort || spec.Steps[2].OnError != OnErrorContinue {
		t.Errorf("on_error: %q %q", spec.Steps[0].OnError, spec.Steps[2].OnError)
	}
	if v := spec.Steps[0].Verify; v == nil || v.Below == nil || *v.Below != 0.05 || v.Within.D().Minutes() != 5 {
		t.Errorf("verify: %+v", v)
	}
	if r := spec.Steps[0].Retry; r == nil || r.MaxAttempts != 3 || r.Backoff != 2 || r.InitialInterval.D().Seconds() != 1 {
		t.Errorf("retry: %+v", r)
	}
}

func TestDigestIsStableAndMeaningful(t *testing.T) {
	base := "name: d\nsteps:\n  - id: a\n    action: prompts.changes\n    with: {since: 6h}\n"
	parse := func(text, source string) string {
		t.Helper()
		s, err := Parse([]byte(text), source)
		if err != nil {
			t.Fatal(err)
		}
		if s.Digest != s.ComputeDigest() {
			t.Fatalf("Digest %s != ComputeDigest %s", s.Digest, s.ComputeDigest())
		}
		return s.Digest
	}
	d := parse(base, "a.yaml")
	if again := parse(base, "a.yaml"); again != d {
		t.Errorf("same text, different digests: %s %s", d, again)
	}
	if moved := parse("# moved and commented\n\n"+base, "elsewhere/b.yaml"); moved != d {
		t.Errorf("comments, blank lines and the file's path changed the digest")
	}
	if changed := parse(strings.Replace(base, "6h", "7h", 1), "a.yaml"); changed == d {
		t.Errorf("changing a param kept the digest")
	}
	// The digest of a built-in is pinned: changing it changes what running incidents were
	// started from, so it must be a deliberate edit of this test too.
	lib, err := LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range lib.List() {
		if len(s.Digest) != 64 || s.Digest != s.ComputeDigest() {
			t.Errorf("%s: digest %q", s.Name, s.Digest)
		}
	}
}

// The decoder's key lists must cover the yaml tags of spec.go's types, or a field added
// there would be rejected as unknown (or, worse, silently dropped).
func TestDecoderKnowsEveryField(t *testing.T) {
	cases := []struct {
		typ  any
		keys []string
	}{
		{Spec{}, specKeys}, {Triggers{}, triggersKeys}, {AlertTrigger{}, alertTriggerKeys},
		{Param{}, paramKeys}, {Step{}, stepKeys}, {Retry{}, retryKeys},
		{Approval{}, approvalKeys}, {Verify{}, verifyKeys}, {Undo{}, undoKeys}, {Failback{}, failbackKeys},
	}
	for _, tc := range cases {
		typ := reflect.TypeOf(tc.typ)
		var tags []string
		for i := range typ.NumField() {
			tag := strings.Split(typ.Field(i).Tag.Get("yaml"), ",")[0]
			if tag != "" && tag != "-" {
				tags = append(tags, tag)
			}
		}
		if typ == reflect.TypeOf(Spec{}) {
			tags = append(tags, "params") // read from a map into the ordered Params
		}
		if !reflect.DeepEqual(sortedCopy(tags), sortedCopy(tc.keys)) {
			t.Errorf("%s: yaml tags %v, decoder keys %v", typ.Name(), sortedCopy(tags), sortedCopy(tc.keys))
		}
	}
}

func TestValidateOnSpecBuiltInCode(t *testing.T) {
	spec := &Spec{Name: "code", Steps: []Step{
		{ID: "a", Action: "prompts.changes", Line: 3},
		{ID: "b", Action: "wait.duration", Line: 7},
	}}
	ps := Validate(spec)
	if len(ps) != 1 || ps[0].Line != 7 || ps[0].Path != "steps[1].with" || !strings.Contains(ps[0].Msg, `needs param "for"`) {
		t.Errorf("problems %+v, want the missing for on line 7", ps)
	}
	spec.Steps[1].With = map[string]string{"for": "5m"}
	if ps := Validate(spec); len(ps) != 0 {
		t.Errorf("valid spec has problems: %+v", ps)
	}
	if spec.ComputeDigest() == "" {
		t.Errorf("no digest for a valid spec")
	}

	nan := math.NaN()
	spec.Steps[0] = Step{ID: "a", Action: "gateway.restore", With: map[string]string{"route": "chat"}, Line: 3,
		Verify: &Verify{Signal: SignalErrorRate, Below: &nan, Within: Duration(time.Minute)}}
	if ps := Validate(spec); len(ps) != 1 || ps[0].Path != "steps[0].verify.below" {
		t.Errorf("NaN threshold: %+v", ps)
	}
	if d := spec.ComputeDigest(); d != "" {
		t.Errorf("digest of a spec JSON cannot encode: %q", d)
	}
}

func TestParseDurationRejectsJunk(t *testing.T) {
	for _, s := range []string{"1xd", "NaNd", "-1d", "1e300d", "5", "abc"} {
		if _, err := ParseDuration(s); err == nil {
			t.Errorf("ParseDuration(%q) accepted junk", s)
		}
	}
	for s, want := range map[string]float64{"2d": 48, "0.5d": 12, "90m": 1.5, "": 0} {
		d, err := ParseDuration(s)
		if err != nil || d.D().Hours() != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %vh", s, d, err, want)
		}
	}
}

// A small file must not be able to ask for unbounded work.
func TestParseBoundsWork(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: long\nsteps:\n")
	for i := range MaxSteps + 1 {
		b.WriteString("  - {id: s" + strconv.Itoa(i) + ", action: wait.resolved}\n")
	}
	ps := problemsOf(t, b.String())
	if len(ps) != 1 || ps[0].Line != MaxSteps+3 || !strings.Contains(ps[0].Msg, "at most 100 steps, this one has 101") {
		t.Errorf("too many steps: %+v", ps)
	}

	// A mapping that merges itself (directly and through a list) is expanded once.
	bomb := "name: t\nsteps:\n  - &s\n    id: a\n    action: wait.resolved\n    <<: [" + strings.Repeat("*s, ", 200) + "*s]\n"
	spec, err := Parse([]byte(bomb), "bomb.yaml")
	if err != nil || len(spec.Steps) != 1 || spec.Steps[0].ID != "a" {
		t.Errorf("self merge: %v %+v", err, spec)
	}
}
