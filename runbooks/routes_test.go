package runbooks

import (
	"strings"
	"testing"
)

func TestRoutesUsedFollowsTheCatalog(t *testing.T) {
	lib, err := LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := lib.Get("provider-outage")
	if err != nil {
		t.Fatal(err)
	}
	uses, err := RoutesUsed(spec, map[string]string{"route": "search"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(uses) == 0 {
		t.Fatal("provider-outage switches a route: want at least one use")
	}
	for _, u := range uses {
		if u.Route != "search" || u.Param != "route" || u.StepID == "" {
			t.Errorf("use %+v: want route search on a named step", u)
		}
	}
}

func TestRoutesUsedSkipsFalseConditionsAndOutputs(t *testing.T) {
	spec, err := Parse([]byte(`name: r
title: Routes
params:
  route: {default: chat}
  other: {default: spare}
steps:
  - id: snap
    action: traffic.snapshot
  - id: never
    action: gateway.switch
    when: "false"
    with: {route: "{{ .params.other }}", to: fallback}
  - id: later
    action: gateway.restore
    with: {route: "{{ .steps.snap.outputs.top_change }}"}
  - id: now
    action: gateway.switch
    with: {route: "{{ .params.route }}", to: fallback}
`), "r.yaml")
	if err != nil {
		t.Fatal(err)
	}
	uses, err := RoutesUsed(spec, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range uses {
		got = append(got, u.StepID+":"+u.Route)
	}
	// snap's route is optional and empty; never is off; later reads an output.
	if strings.Join(got, ",") != "now:chat" {
		t.Fatalf("routes used: %v, want only now:chat", got)
	}
}

func TestSeverityIsChecked(t *testing.T) {
	_, err := Parse([]byte("name: s\ntitle: S\nseverity: urgent\nsteps:\n  - id: tell\n    action: notify\n    with: {text: hi}\n"), "s.yaml")
	if err == nil {
		t.Fatal("severity: urgent must be refused")
	}
	for _, want := range []string{"s.yaml:3:", `"urgent"`, "critical, warning, info"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	for _, ok := range Severities {
		if err := CheckSeverity(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	if err := CheckSeverity("critcal"); err == nil || !strings.Contains(err.Error(), `did you mean "critical"`) {
		t.Errorf("a near miss should be named: %v", err)
	}
}
