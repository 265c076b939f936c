package runbooks

import (
	"reflect"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/alert"
)

func builtin(t *testing.T, name string) *Spec {
	t.Helper()
	lib, err := LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	s, err := lib.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPlanProviderOutage(t *testing.T) {
	a := &alert.Alert{Labels: map[string]string{"alertname": "LLMProviderErrorRateHigh", "route": "search"}}
	plan, err := Plan(builtin(t, "provider-outage"), map[string]string{"to": "anthropic"}, a)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan) != 4 {
		t.Fatalf("%d steps planned", len(plan))
	}
	failover := plan[0]
	if !reflect.DeepEqual(failover.Params, map[string]string{"route": "search", "to": "anthropic"}) {
		t.Errorf("failover params %v: route from the alert label, to given", failover.Params)
	}
	if !failover.SideEffect || failover.Undo != "gateway.restore" || !failover.KeepChange || failover.Approval != nil {
		t.Errorf("failover: %+v", failover)
	}
	if failover.Digest != ParamsDigest("gateway.switch", failover.Params) || failover.Timeout.D().Seconds() != 30 {
		t.Errorf("failover digest %s timeout %v", failover.Digest, failover.Timeout)
	}
	if ev := plan[1]; ev.SideEffect || ev.Params["window"] != "30m" || ev.Params["samples"] != "20" {
		t.Errorf("evidence: %+v", ev)
	}
	failback := plan[3]
	if failback.Approval == nil || !strings.Contains(failback.Approval.Prompt, "Move route search back from <output of steps.failover.outputs.to> to <output of steps.failover.outputs.from>?") {
		t.Errorf("failback approval prompt not rendered with placeholders: %+v", failback.Approval)
	}
}

func TestPlanPromptRegression(t *testing.T) {
	spec := builtin(t, "prompt-regression")
	plan, err := Plan(spec, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	freeze := plan[0]
	if freeze.Params["reason"] != "incident <short id>: "+spec.Title || freeze.Params["ttl"] != "4h" || freeze.Undo != "prompts.unfreeze" || freeze.KeepChange {
		t.Errorf("freeze: %+v", freeze)
	}
	rollback := plan[3]
	if !reflect.DeepEqual(rollback.Unresolved, []string{"evidence", "good", "through"}) || rollback.Params["good"] != "<output of steps.changes.outputs.last_good>" {
		t.Errorf("rollback's good waits for the changes step: %+v", rollback)
	}
	if rollback.Digest != "" {
		t.Errorf("a digest of unresolved params means nothing: %s", rollback.Digest)
	}
	if rollback.When != `steps.changes.state == "done" && steps.changes.outputs.count > 0` || rollback.WhenResult != nil {
		t.Errorf("the condition depends on outputs and must stay undecided: %+v", rollback)
	}
	if !rollback.Approval.FourEyes {
		t.Errorf("rollback approval %+v", rollback.Approval)
	}

	// Bad given params fail the plan with the same message as a start would.
	if _, err := Plan(spec, map[string]string{"since": "yesterday"}, nil); err == nil || !strings.Contains(err.Error(), `param "since": "yesterday" is not a duration`) {
		t.Errorf("bad since: %v", err)
	}
	if _, err := Plan(spec, map[string]string{"sincee": "1h"}, nil); err == nil || !strings.Contains(err.Error(), `did you mean "since"?`) {
		t.Errorf("unknown param: %v", err)
	}
}

func TestPlanDecidesConditionsWithoutOutputs(t *testing.T) {
	spec, err := Parse([]byte(`name: cond
params:
  level: {default: info}
steps:
  - id: loud
    action: notify
    when: params.level == "critical"
    with: {text: "hi {{ .alert.labels.team }}"}
  - id: team
    action: notify
    when: alert.labels.team == "ml"
    with: {text: hi}
`), "cond.yaml")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Plan(spec, map[string]string{"level": "critical"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := plan[0].WhenResult; r == nil || !*r {
		t.Errorf("params.level == critical: %+v", plan[0])
	}
	// Without an alert the label is missing: the plan says so instead of failing.
	if plan[1].WhenResult != nil || !strings.Contains(plan[1].WhenError, "no such key: team") {
		t.Errorf("missing label: %+v", plan[1])
	}
	plan, err = Plan(spec, nil, &alert.Alert{Labels: map[string]string{"team": "ml"}})
	if err != nil {
		t.Fatal(err)
	}
	if r := plan[0].WhenResult; r == nil || *r {
		t.Errorf("default level info: %+v", plan[0])
	}
	if r := plan[1].WhenResult; r == nil || !*r {
		t.Errorf("team ml: %+v", plan[1])
	}
}
