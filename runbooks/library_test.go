package runbooks

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/alert"
)

func TestBuiltinRunbooks(t *testing.T) {
	lib, err := LoadLibrary("")
	if err != nil {
		t.Fatalf("built-ins do not load: %v", err)
	}
	var names []string
	for _, s := range lib.List() {
		names = append(names, s.Name)
		if ps := Validate(s); len(ps) != 0 {
			t.Errorf("%s: %v", s.Name, ps)
		}
		if s.Title == "" || s.Description == "" {
			t.Errorf("%s: an on-call engineer needs a title and a description", s.Name)
		}
		for _, p := range s.Params {
			if p.Description == "" {
				t.Errorf("%s: param %s is undocumented", s.Name, p.Name)
			}
		}
		for _, st := range s.Steps {
			if st.Title == "" {
				t.Errorf("%s: step %s has no title", s.Name, st.ID)
			}
		}
	}
	if strings.Join(names, ",") != "cost-runaway,manual-investigation,prompt-regression,provider-outage,silent-model-change" {
		t.Errorf("built-ins %v", names)
	}

	po, _ := lib.Get("provider-outage")
	if got := stepSummary(po); got != "failover:gateway.switch evidence:traffic.snapshot recovered:wait.resolved failback:gateway.restore" {
		t.Errorf("provider-outage steps: %s", got)
	}
	if a := po.Steps[0].Approval; a != nil {
		t.Errorf("failover must not wait for an approval: %+v", a)
	}
	fb := po.Steps[3].Approval
	if fb == nil || fb.Groups[0] != "sre" || fb.Timeout.D().Minutes() != 30 || fb.OnTimeout != OnTimeoutEscalate {
		t.Errorf("failback approval: %+v", fb)
	}
	if po.Steps[2].Timeout.D().Hours() != 6 {
		t.Errorf("recovered timeout %v", po.Steps[2].Timeout)
	}
	if v := po.Steps[0].Verify; v == nil || v.Signal != "error_rate" || v.Below == nil || *v.Below != 0.05 || v.Within.D().Minutes() != 5 {
		t.Errorf("failover must verify the error rate falls below 5%% within 5m: %+v", v)
	}

	pr, _ := lib.Get("prompt-regression")
	if got := stepSummary(pr); got != "freeze:prompts.freeze evidence:traffic.snapshot changes:prompts.changes rollback:prompts.rollback_pr recovered:wait.resolved" {
		t.Errorf("prompt-regression steps: %s", got)
	}
	rb := pr.Steps[3]
	if rb.When != `steps.changes.state == "done" && steps.changes.outputs.count > 0` || rb.Approval == nil || !rb.Approval.FourEyes || rb.Approval.Groups[0] != "sre" {
		t.Errorf("rollback step: %+v %+v", rb, rb.Approval)
	}
	if pr.Steps[0].With["ttl"] != "4h" || pr.Steps[0].Undo != nil {
		t.Errorf("freeze must last 4h and be undone (unfrozen) on close: %+v", pr.Steps[0])
	}

	for labels, want := range map[string]string{
		"LLMResponseModelChanged":  "silent-model-change",
		"LLMCostVelocityHigh":      "cost-runaway",
		"LLMTokenVelocityHigh":     "cost-runaway",
		"LLMProviderErrorRateHigh": "provider-outage",
		"LLMProviderLatencyHigh":   "provider-outage",
		"LLMQualityDrop":           "prompt-regression",
		"LLMOutputLengthDrift":     "prompt-regression",
		// The LLM stack's own alerts (internal/ingest parse_litellm.go, parse_langfuse.go).
		"LiteLLMKeyBudgetAlert":   "cost-runaway",
		"LangfuseCostAlert":       "cost-runaway",
		"LiteLLMDeploymentOutage": "provider-outage",
		"LiteLLMRegionOutage":     "provider-outage",
		"LangfuseLatencyAlert":    "provider-outage",
		"LangfuseErrorAlert":      "provider-outage",
		"LangfuseScoreAlert":      "prompt-regression",
		"LiteLLMBudgetAlert":      "",
		"LiteLLMSlowResponses":    "",
		"LiteLLMProviderError":    "",
		"LangfuseWarning":         "",
		"DiskFull":                "",
	} {
		var got []string
		for _, s := range lib.Match(alert.Alert{Labels: map[string]string{"alertname": labels}}) {
			got = append(got, s.Name)
		}
		if strings.Join(got, ",") != want {
			t.Errorf("alert %s matches %v, want %q", labels, got, want)
		}
	}
}

// TestStoryRunbooks pins what each story's runbook promises: which step acts at once,
// which waits for a human, and what happens at close.
func TestStoryRunbooks(t *testing.T) {
	lib, err := LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	sm, _ := lib.Get("silent-model-change")
	if got := stepSummary(sm); got != "evidence:traffic.snapshot card:notify pin:gateway.pin_model switch:gateway.switch recovered:wait.resolved" {
		t.Errorf("silent-model-change steps: %s", got)
	}
	for _, st := range sm.Steps {
		if st.ID != "pin" && st.ID != "switch" {
			continue
		}
		if st.Approval == nil || st.Undo == nil || st.Undo.Approval == nil || st.Undo.Keep {
			t.Errorf("step %s and its undo both need an approval: %+v %+v", st.ID, st.Approval, st.Undo)
		}
		// Exactly one of the two runs: the pin where the gateway can pin and the version is
		// known, from pin_to or from the evidence's baseline response model (none when the
		// snapshot failed, or when the baseline answered under the alias itself).
		evidences := map[string]map[string]StepScope{
			"no snapshot": nil,
			"failed":      {"evidence": {State: "failed"}},
			"no model":    {"evidence": {State: "done", Outputs: map[string]any{"baseline_response_model": ""}}},
			"alias":       {"evidence": {State: "done", Outputs: map[string]any{"baseline_response_model": "gpt-4o"}}},
			"dated":       {"evidence": {State: "done", Outputs: map[string]any{"baseline_response_model": "gpt-4o-2024-05-13"}}},
		}
		for _, can := range []bool{true, false} {
			for _, pinTo := range []string{"", "gpt-4o-2024-08-06"} {
				for name, steps := range evidences {
					sc := Scope{Params: map[string]string{"request_model": "gpt-4o", "pin_to": pinTo}, Steps: steps}
					if can {
						sc.Incident.Gateway = []string{NeedsPinModel}
					}
					runs, err := EvalWhen(st.When, sc)
					want := (st.ID == "pin") == (can && (pinTo != "" || name == "dated"))
					if err != nil || runs != want {
						t.Errorf("step %s with pin_model=%v pin_to=%q evidence %s: runs=%v err=%v, want %v", st.ID, can, pinTo, name, runs, err, want)
					}
					if st.ID != "switch" {
						continue
					}
					// A pin whose verify failed was reverted: the provider switch is offered.
					reverted := map[string]StepScope{"pin": {State: "reverted"}}
					for k, v := range steps {
						reverted[k] = v
					}
					sc.Steps = reverted
					if runs, err := EvalWhen(st.When, sc); err != nil || !runs {
						t.Errorf("switch after a reverted pin (pin_model=%v pin_to=%q evidence %s): runs=%v err=%v", can, pinTo, name, runs, err)
					}
				}
			}
		}
	}

	cr, _ := lib.Get("cost-runaway")
	if got := stepSummary(cr); got != "block:gateway.block evidence:traffic.snapshot card:notify recovered:wait.resolved" {
		t.Errorf("cost-runaway steps: %s", got)
	}
	if b := cr.Steps[0]; b.Approval != nil || b.Undo == nil || b.Undo.Approval == nil || b.With["key"] != "{{ .params.key }}" {
		t.Errorf("block at once, unblock with approval: %+v", b)
	}
	if p := cr.Params[1]; p.Name != "key" || p.From != "labels.agent" || !p.Required {
		t.Errorf("the key comes from the alert's agent label: %+v", p)
	}

	mi, _ := lib.Get("manual-investigation")
	if got := stepSummary(mi); got != "evidence:traffic.snapshot freeze:prompts.freeze changes:prompts.changes card:notify switch:gateway.switch rollback:prompts.rollback_pr resolved:wait.resolved" {
		t.Errorf("manual-investigation steps: %s", got)
	}
	for _, i := range []int{4, 5} {
		if a := mi.Steps[i].Approval; a == nil || a.OnReject != OnRejectSkip {
			t.Errorf("option %s must be approval-gated and skipped on reject: %+v", mi.Steps[i].ID, a)
		}
	}
	if len(mi.Triggers.Alerts) != 0 {
		t.Errorf("manual-investigation is started by hand only: %+v", mi.Triggers)
	}
}

func stepSummary(s *Spec) string {
	var parts []string
	for _, st := range s.Steps {
		parts = append(parts, st.ID+":"+st.Action)
	}
	return strings.Join(parts, " ")
}

func TestLibraryUserDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("mine.yml", "name: mine\ntitle: Mine\nsteps: [{id: wait, action: wait.resolved}]\n")
	write("outage.yaml", "name: provider-outage\ntitle: Our outage\nsteps: [{id: wait, action: wait.resolved}]\n")
	write("README.md", "not a runbook")
	if err := os.Mkdir(filepath.Join(dir, "sub.yaml"), 0o700); err != nil {
		t.Fatal(err)
	}

	lib, err := LoadLibrary(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(lib.List()) != 6 {
		t.Errorf("want 5 built-ins + mine = 6 runbooks, got %d", len(lib.List()))
	}
	po, _ := lib.Get("provider-outage")
	if po.Title != "Our outage" || po.Source != filepath.Join(dir, "outage.yaml") {
		t.Errorf("the user's provider-outage did not replace the built-in: %s from %s", po.Title, po.Source)
	}
	ov := lib.Overrides()
	if len(ov) != 1 || ov[0] != (Override{Name: "provider-outage", Builtin: "builtin:provider-outage.yaml", By: filepath.Join(dir, "outage.yaml")}) {
		t.Errorf("overrides %+v", ov)
	}

	_, err = lib.Get("provder-outage")
	if err == nil || err.Error() != `unknown runbook "provder-outage"; known: cost-runaway, manual-investigation, mine, prompt-regression, provider-outage, silent-model-change; did you mean "provider-outage"?` {
		t.Errorf("Get of an unknown runbook: %v", err)
	}
}

func TestLibraryReportsEveryBadFile(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"a.yaml":    "name: a\nsteps:\n  - id: x\n    action: nope\n",
		"b.yaml":    "name: b\nsteps: [{id: x, action: wait.resolved, aproval: {}}]\n",
		"good.yaml": "name: good\nsteps: [{id: x, action: wait.resolved}]\n",
		"dup.yaml":  "name: good\nsteps: [{id: y, action: wait.resolved}]\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	lib, err := LoadLibrary(dir)
	if err == nil {
		t.Fatal("bad files were accepted")
	}
	msg := err.Error()
	for _, want := range []string{
		filepath.Join(dir, "a.yaml") + `:4: steps[0].action: unknown action "nope"`,
		filepath.Join(dir, "b.yaml") + `:2: steps[0].aproval: unknown key "aproval"`,
		`runbook "good" is already defined in ` + filepath.Join(dir, "dup.yaml"),
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not report %q:\n%s", want, msg)
		}
	}
	var le *LoadError
	if !errors.As(err, &le) {
		t.Errorf("no *LoadError inside %T", err)
	}
	// What loaded is still usable, e.g. for `runbook list`.
	if lib == nil {
		t.Fatal("no library returned with the errors")
	}
	if _, err := lib.Get("good"); err != nil {
		t.Errorf("the good runbook is missing: %v", err)
	}
	if _, err := LoadLibrary(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "--runbooks-dir") {
		t.Errorf("missing dir: %v", err)
	}
}
