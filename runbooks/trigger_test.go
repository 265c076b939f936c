package runbooks

import (
	"testing"

	"github.com/quench-dev/quench/internal/alert"
)

func TestAlertTriggerMatches(t *testing.T) {
	labels := func(kv ...string) alert.Alert {
		a := alert.Alert{Labels: map[string]string{}}
		for i := 0; i+1 < len(kv); i += 2 {
			a.Labels[kv[i]] = kv[i+1]
		}
		return a
	}
	cases := []struct {
		name string
		trig AlertTrigger
		a    alert.Alert
		want bool
	}{
		{"equals", AlertTrigger{Match: map[string]string{"alertname": "X"}}, labels("alertname", "X"), true},
		{"equals differs", AlertTrigger{Match: map[string]string{"alertname": "X"}}, labels("alertname", "Y"), false},
		{"equals empty needs the label", AlertTrigger{Match: map[string]string{"team": ""}}, labels("alertname", "X"), false},
		{"all conditions", AlertTrigger{Match: map[string]string{"alertname": "X", "env": "prod"}}, labels("alertname", "X", "env", "dev"), false},
		{"regex anchored", AlertTrigger{MatchRE: map[string]string{"alertname": "LLM.*High"}}, labels("alertname", "LLMProviderErrorRateHigh"), true},
		{"regex not a substring match", AlertTrigger{MatchRE: map[string]string{"alertname": "Provider"}}, labels("alertname", "LLMProviderErrorRateHigh"), false},
		{"regex alternation anchored as a whole", AlertTrigger{MatchRE: map[string]string{"env": "prod|staging"}}, labels("env", "preprod"), false},
		{"regex can match an absent label as empty", AlertTrigger{MatchRE: map[string]string{"env": "|prod"}}, labels(), true},
		{"bad regex never matches", AlertTrigger{MatchRE: map[string]string{"alertname": "("}}, labels("alertname", "("), false},
		{"one of", AlertTrigger{MatchIn: map[string][]string{"alertname": {"A", "B"}}}, labels("alertname", "B"), true},
		{"none of", AlertTrigger{MatchIn: map[string][]string{"alertname": {"A", "B"}}}, labels("alertname", "C"), false},
		{"empty trigger matches nothing", AlertTrigger{}, labels("alertname", "X"), false},
	}
	for _, tc := range cases {
		if got := tc.trig.Matches(tc.a); got != tc.want {
			t.Errorf("%s: Matches = %v, want %v", tc.name, got, tc.want)
		}
	}

	spec := Spec{Triggers: Triggers{Alerts: []AlertTrigger{
		{Match: map[string]string{"alertname": "A"}},
		{MatchIn: map[string][]string{"alertname": {"B"}}},
	}}}
	if !spec.MatchesAlert(labels("alertname", "B")) || spec.MatchesAlert(labels("alertname", "C")) {
		t.Errorf("MatchesAlert must be true when any trigger matches, and only then")
	}
	if (Spec{}).MatchesAlert(labels("alertname", "A")) {
		t.Errorf("a runbook without triggers matched an alert")
	}
}
