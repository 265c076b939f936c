package runbooks

import (
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/alert"
)

func paramsSpec(t *testing.T) *Spec {
	t.Helper()
	spec, err := Parse([]byte(`name: p
params:
  route: {from: labels.route, default: chat}
  to: {default: fallback}
  team: {from: annotations.team}
  severity: {from: alert.severity, enum: [critical, warning], default: warning}
  key: {from: alert.key}
  title: {from: alert.title}
  ticket: {required: true}
steps: [{id: a, action: wait.resolved}]
`), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func TestResolveParams(t *testing.T) {
	spec := paramsSpec(t)
	a := &alert.Alert{
		Key: "grp", Severity: "critical", Title: "Errors",
		Labels:      map[string]string{"route": "search"},
		Annotations: map[string]string{"team": "ml"},
	}
	got, err := ResolveParams(spec, map[string]string{"ticket": "INC-1", "to": "anthropic"}, a)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"route": "search", "to": "anthropic", "team": "ml", "severity": "critical", "key": "grp", "title": "Errors", "ticket": "INC-1"}
	if !equalMaps(got, want) {
		t.Errorf("from the alert: %v, want %v", got, want)
	}

	// Given wins over the alert; without an alert the defaults apply and every declared
	// param is present.
	got, err = ResolveParams(spec, map[string]string{"ticket": "INC-1", "route": "chat2"}, a)
	if err != nil || got["route"] != "chat2" {
		t.Errorf("given route: %v, %v", got, err)
	}
	got, err = ResolveParams(spec, map[string]string{"ticket": "INC-1"}, nil)
	want = map[string]string{"route": "chat", "to": "fallback", "team": "", "severity": "warning", "key": "", "title": "", "ticket": "INC-1"}
	if err != nil || !equalMaps(got, want) {
		t.Errorf("defaults: %v, %v; want %v", got, err, want)
	}
}

func TestResolveParamsErrors(t *testing.T) {
	spec := paramsSpec(t)
	cases := []struct {
		given map[string]string
		a     *alert.Alert
		want  []string
	}{
		{map[string]string{}, nil, []string{`param "ticket" is required: give it as ticket=VALUE`}},
		{map[string]string{"ticket": "x", "rout": "chat"}, nil, []string{
			`unknown param "rout" for runbook p (it takes: route, to, team, severity, key, title, ticket); did you mean "route"?`}},
		{map[string]string{"ticket": "x", "severity": "low"}, nil, []string{`param "severity" is "low" (given), not one of critical, warning`}},
		{map[string]string{"ticket": "x"}, &alert.Alert{Severity: "info"}, []string{`param "severity" is "info" (alert.severity), not one of critical, warning`}},
		// Several problems are reported together.
		{map[string]string{"bogus": "1"}, nil, []string{`unknown param "bogus"`, `param "ticket" is required`}},
	}
	for _, tc := range cases {
		_, err := ResolveParams(spec, tc.given, tc.a)
		if err == nil {
			t.Errorf("ResolveParams(%v) accepted", tc.given)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ResolveParams(%v) error %q, want it to contain %q", tc.given, err, w)
			}
		}
	}

	none := &Spec{Name: "none"}
	if _, err := ResolveParams(none, map[string]string{"x": "1"}, nil); err == nil || !strings.Contains(err.Error(), "runbook none takes no params") {
		t.Errorf("params for a runbook without params: %v", err)
	}
}
