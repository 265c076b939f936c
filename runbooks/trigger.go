package runbooks

import (
	"regexp"
	"sync"

	"github.com/quench-dev/quench/internal/alert"
)

// Trigger regexes are compiled once per pattern and shared; compiled regexps are safe for
// concurrent use. Patterns come from loaded runbooks, so the set stays small.
var triggerRegexps sync.Map // pattern -> *regexp.Regexp (nil when it does not compile)

// compileAnchored compiles a match_re pattern so that it must match the whole value,
// as in Prometheus and Alertmanager.
func compileAnchored(pattern string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + pattern + ")$")
}

func triggerRegexp(pattern string) *regexp.Regexp {
	if re, ok := triggerRegexps.Load(pattern); ok {
		return re.(*regexp.Regexp)
	}
	re, err := compileAnchored(pattern)
	if err != nil {
		re = nil // the validator rejects such runbooks; a bad pattern never matches
	}
	triggerRegexps.Store(pattern, re)
	return re
}

// Matches reports whether the alert's labels satisfy every condition of the trigger.
// A trigger without conditions matches nothing (the validator rejects it).
func (t AlertTrigger) Matches(a alert.Alert) bool {
	if len(t.Match)+len(t.MatchRE)+len(t.MatchIn) == 0 {
		return false
	}
	for k, want := range t.Match {
		if got, ok := a.Labels[k]; !ok || got != want {
			return false
		}
	}
	for k, pattern := range t.MatchRE {
		re := triggerRegexp(pattern)
		if re == nil || !re.MatchString(a.Labels[k]) {
			return false
		}
	}
	for k, values := range t.MatchIn {
		got, ok := a.Labels[k]
		if !ok || !containsString(values, got) {
			return false
		}
	}
	return true
}

// MatchesAlert reports whether any of the runbook's alert triggers matches.
func (s Spec) MatchesAlert(a alert.Alert) bool {
	for _, t := range s.Triggers.Alerts {
		if t.Matches(a) {
			return true
		}
	}
	return false
}
