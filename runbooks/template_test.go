package runbooks

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/quench-dev/quench/internal/alert"
)

// outputsAfterJSON returns step outputs the way the workflow sees them: after a JSON
// round trip, so numbers are float64 and lists are []any.
func outputsAfterJSON(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func testScope(t *testing.T) Scope {
	return Scope{
		Params: map[string]string{"route": "chat", "since": "24h"},
		Alert: &alert.Alert{
			Source: "alertmanager", Key: "grp-1", Status: alert.StatusFiring, Severity: "critical",
			Title:       "LLM quality dropped",
			Labels:      map[string]string{"alertname": "LLMQualityDrop", "route": "chat", "team": "Search"},
			Annotations: map[string]string{"summary": "answers got worse"},
		},
		Steps: map[string]StepScope{
			"changes": {State: "completed", Outputs: outputsAfterJSON(t, map[string]any{
				"count": 3, "commits": []string{"a1", "b2", "c3"}, "last_good": "0ff1ce", "ratio": 0.25,
			})},
			"skipped": {State: "skipped"},
		},
		Incident: IncidentScope{ID: "inc-prompt-regression-0123456789abcdef", ShortID: "abcdef", Runbook: "prompt-regression", Title: "LLM quality dropped", Requester: "alice"},
	}
}

func TestRenderString(t *testing.T) {
	s := testScope(t)
	cases := map[string]string{
		"plain text":          "plain text",
		"{{ .params.route }}": "chat",
		"{{ .alert.labels.route }}/{{ .alert.key }}":                                       "chat/grp-1",
		"{{ .alert.annotations.summary }}":                                                 "answers got worse",
		"{{ .alert.severity }} {{ .alert.source }} {{ .alert.status }} {{ .alert.title }}": "critical alertmanager firing LLM quality dropped",
		"{{ .steps.changes.outputs.count }}":                                               "3",
		"{{ .steps.changes.outputs.ratio }}":                                               "0.25",
		"{{ .steps.changes.state }}":                                                       "completed",
		"{{ .steps.changes.outputs.commits | join \", \" }}":                               "a1, b2, c3",
		"{{ .incident.id }} {{ .incident.short_id }} {{ .incident.runbook }}":              "inc-prompt-regression-0123456789abcdef abcdef prompt-regression",
		"{{ .incident.title }} by {{ .incident.requester }}":                               "LLM quality dropped by alice",
		"{{ .alert.labels.team | lower }} {{ .alert.labels.team | upper }}":                "search SEARCH",
		"[{{ \"  x  \" | trim }}]":                                                         "[x]",
		// Missing values render empty, never "<no value>".
		"[{{ .alert.labels.nope }}][{{ .steps.skipped.outputs.count }}][{{ .steps.changes.outputs.nope }}]": "[][][]",
		"{{ .alert.labels.nope | default \"fallback\" }}":                                                   "fallback",
		"{{ .steps.skipped.outputs.count | default 0 }}":                                                    "0",
		"{{ if gt (len .steps.changes.outputs.commits) 2 }}many{{ else }}few{{ end }}":                      "many",
		"{{ range .steps.changes.outputs.commits }}{{ . }};{{ end }}":                                       "a1;b2;c3;",
	}
	for tmpl, want := range cases {
		got, err := RenderString(tmpl, s)
		if err != nil || got != want {
			t.Errorf("RenderString(%q) = %q, %v; want %q", tmpl, got, err, want)
		}
	}
}

func TestRenderStringWithoutAlert(t *testing.T) {
	got, err := RenderString("[{{ .alert.labels.route }}][{{ .alert.severity }}][{{ .params.x }}]", Scope{})
	if err != nil || got != "[][][]" {
		t.Errorf("no alert: %q, %v; want [][][]", got, err)
	}
}

func TestRenderStringErrors(t *testing.T) {
	s := testScope(t)
	big := make([]any, MaxRenderedBytes+1)
	for i := range big {
		big[i] = "x"
	}
	s.Steps["big"] = StepScope{Outputs: map[string]any{"list": big}}
	for tmpl, want := range map[string]string{
		"{{ .params.route ":              "unclosed action",
		"{{ .steps.unknown.outputs.x }}": "nil pointer",
		"{{ range 100000000 }}{{end}}":   "range over a number is not allowed",
		"{{ range .steps.changes.outputs.commits }}{{ range 5 }}{{end}}{{end}}": "range over a number is not allowed",
		`{{ define "x" }}{{ range 9 }}{{ end }}{{ end }}`:                       "range over a number",
		"{{ range .steps.big.outputs.list }}{{ . }}{{end}}":                     "longer than",
	} {
		_, err := RenderString(tmpl, s)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), strconv.Quote(tmpl)) {
			t.Errorf("RenderString(%q) error %v, want one naming the template and containing %q", tmpl, err, want)
		}
	}
}

func TestRenderParams(t *testing.T) {
	s := testScope(t)
	step := Step{ID: "evidence", Action: "traffic.snapshot", With: map[string]string{
		"window": "{{ .params.since }}",
		"route":  "{{ .alert.labels.route }}",
	}}
	got, err := RenderParams(step, s)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"window": "24h", "route": "chat", "baseline": "24h", "samples": "20"}
	if !equalMaps(got, want) {
		t.Errorf("RenderParams = %v, want %v (rendered plus catalog defaults)", got, want)
	}

	// An optional param rendered empty is left out; a defaulted one gets its default.
	step.With = map[string]string{"route": "{{ .alert.labels.nope }}", "window": "{{ .alert.labels.nope }}"}
	got, err = RenderParams(step, s)
	if err != nil || got["window"] != "30m" || len(got) != 3 {
		t.Errorf("empty renders: %v, %v; want window=30m default and no route", got, err)
	}

	bad := []struct {
		step Step
		want string
	}{
		{Step{ID: "evidence", Action: "traffic.snapshot", With: map[string]string{"window": "{{ .alert.labels.team }}"}},
			`step evidence (traffic.snapshot): param "window": "Search" is not a duration (use e.g. 30s, 5m, 4h, 2d) (rendered from "{{ .alert.labels.team }}"); traffic.snapshot expects a duration`},
		{Step{ID: "evidence", Action: "traffic.snapshot", With: map[string]string{"samples": "{{ .steps.changes.outputs.ratio }}"}},
			`param "samples": "0.25" is not a whole number`},
		{Step{ID: "tell", Action: "notify", With: map[string]string{"text": "x", "level": "{{ .alert.labels.team }}"}},
			`param "level": "Search" is not one of info, warning, critical`},
		{Step{ID: "failover", Action: "gateway.switch", With: map[string]string{"route": "{{ .alert.labels.nope }}", "to": "b"}},
			`param "route": required, but "{{ .alert.labels.nope }}" rendered empty`},
		{Step{ID: "failover", Action: "gateway.switch", With: map[string]string{"route": "chat"}},
			`param "to": required (provider to switch to`},
		{Step{ID: "failover", Action: "gateway.switch", With: map[string]string{"route": "chat", "to": "b", "too": "c"}},
			`param "too": action gateway.switch has no such param; did you mean "to"?`},
		{Step{ID: "x", Action: "gateway.swtich"}, `step x: unknown action "gateway.swtich"; did you mean "gateway.switch"?`},
	}
	for _, tc := range bad {
		_, err := RenderParams(tc.step, s)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("RenderParams(%s %v) error %v, want %q", tc.step.Action, tc.step.With, err, tc.want)
		}
	}
}

func TestCheckParamValueTypes(t *testing.T) {
	for _, tc := range []struct {
		typ       ParamType
		good, bad string
	}{
		{TypeDuration, "2d", "2 days"},
		{TypeInt, "-3", "3.5"},
		{TypeFloat, "0.05", "five"},
		{TypeBool, "true", "yes"},
		{TypeString, "anything", ""},
	} {
		p := ActionParam{Name: "x", Type: tc.typ}
		if err := CheckParamValue(p, tc.good); err != nil {
			t.Errorf("%s %q: %v", tc.typ, tc.good, err)
		}
		if tc.bad != "" {
			if err := CheckParamValue(p, tc.bad); err == nil {
				t.Errorf("%s accepted %q", tc.typ, tc.bad)
			}
		}
	}
}

func TestEvalWhen(t *testing.T) {
	s := testScope(t)
	cases := []struct {
		expr string
		want bool
	}{
		{"", true},
		{"   ", true},
		{"steps.changes.outputs.count > 0", true}, // a float64 from JSON against an int literal
		{"steps.changes.outputs.count == 3", true},
		{"steps.changes.outputs.count >= 4", false},
		{"steps.changes.outputs.ratio < 1", true},
		{`steps.changes.state == "completed" && params.route == "chat"`, true},
		{`alert.labels.alertname == "LLMQualityDrop" && alert.severity == "critical"`, true},
		{`"nope" in alert.labels`, false},
		{`has(steps.skipped.outputs.count)`, false},
		{`incident.requester != "alice"`, false},
		{`size(steps.changes.outputs.commits) == 3`, true},
	}
	for _, tc := range cases {
		got, err := EvalWhen(tc.expr, s)
		if err != nil || got != tc.want {
			t.Errorf("EvalWhen(%q) = %v, %v; want %v", tc.expr, got, err, tc.want)
		}
	}

	// A missing alert is an alert with no labels and empty fields, not a crash.
	if got, err := EvalWhen(`alert.severity == "" && !("route" in alert.labels)`, Scope{}); err != nil || !got {
		t.Errorf("no alert: %v, %v", got, err)
	}

	for expr, want := range map[string]string{
		`"yes"`:                           "must be true or false",
		`steps.changes.outputs.last_good`: "not true or false", // dyn at check time, a string at run time
		`steps.skipped.outputs.count > 0`: "no such key: count",
		`steps.changes.outputs.count >`:   "Syntax error",
		`now() > 0`:                       "undeclared reference to 'now'",
	} {
		_, err := EvalWhen(expr, testScope(t))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("EvalWhen(%q) error %v, want %q", expr, err, want)
		}
	}
}

// The workflow calls these from many workflow goroutines and workers at once; the caches
// must be safe (run with -race).
func TestRenderAndEvalConcurrently(t *testing.T) {
	s := testScope(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				expr := "steps.changes.outputs.count > " + string(rune('0'+(i+j)%5))
				if _, err := EvalWhen(expr, s); err != nil {
					errs <- err
				}
				if got, err := RenderString("{{ .params.route }}-{{ .steps.changes.outputs.count }}", s); err != nil || got != "chat-3" {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestParamsDigest(t *testing.T) {
	a := ParamsDigest("gateway.switch", map[string]string{"route": "chat", "to": "fallback"})
	b := ParamsDigest("gateway.switch", map[string]string{"to": "fallback", "route": "chat"})
	if a != b || len(a) != 64 {
		t.Errorf("digest depends on map order: %s %s", a, b)
	}
	// Pinned: pending approvals in running incidents carry digests computed by older
	// binaries, so the canonical form must not change by accident.
	if want := "79236b4db8d33c8aa47b4640ccc8af35d0afd558a727aca4f6bfa988fc1881b3"; a != want {
		t.Errorf("ParamsDigest changed: %s, want %s", a, want)
	}
	for _, other := range []string{
		ParamsDigest("gateway.restore", map[string]string{"route": "chat", "to": "fallback"}),
		ParamsDigest("gateway.switch", map[string]string{"route": "chat", "to": "openai"}),
		ParamsDigest("gateway.switch", map[string]string{"route": "chat=to", "": "fallback"}),
	} {
		if other == a {
			t.Errorf("different action or params, same digest %s", a)
		}
	}
	if ParamsDigest("x", nil) != ParamsDigest("x", map[string]string{}) {
		t.Errorf("nil and empty params differ")
	}
	if got := ShortDigest(a); got != a[:12] {
		t.Errorf("ShortDigest = %q", got)
	}
	if got := ShortDigest("abc"); got != "abc" {
		t.Errorf("ShortDigest of a short string = %q", got)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}
