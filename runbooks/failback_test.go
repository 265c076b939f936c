package runbooks

import (
	"strings"
	"testing"
	"time"
)

const failbackHeader = `name: t
params:
  route: {default: chat}
steps:
  - id: failover
    action: gateway.switch
    with: {route: "{{ .params.route }}", to: fallback}
  - id: failback
    action: gateway.restore
    with: {route: "{{ .params.route }}"}
`

func TestFailbackDecodes(t *testing.T) {
	spec, err := Parse([]byte(failbackHeader+`    approval: {group: sre}
    failback:
      provider: "{{ .steps.failover.outputs.from }}"
      window: 15m
      max_error_rate: 0.02
      max_latency_p95: 8s
      min_requests: 50
      every: 2m
      auto_after_healthy: 10m
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f := spec.Steps[1].Failback
	if f == nil || f.Provider != "{{ .steps.failover.outputs.from }}" || f.WindowOrDefault() != 15*time.Minute || f.ErrorRateOrDefault() != 0.02 ||
		f.MaxLatencyP95.D() != 8*time.Second || f.MinRequestsOrDefault() != 50 || f.EveryOrDefault() != 2*time.Minute || f.AutoAfterHealthy.D() != 10*time.Minute {
		t.Fatalf("failback = %+v", f)
	}
	minimal, err := Parse([]byte(failbackHeader+"    approval: {group: sre}\n    failback: {provider: openai}\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if d := *minimal.Steps[1].Failback; d.WindowOrDefault() != DefaultFailbackWindow || d.ErrorRateOrDefault() != DefaultFailbackErrorRate ||
		d.MinRequestsOrDefault() != DefaultFailbackMinRequests || d.EveryOrDefault() != DefaultFailbackEvery || d.AutoAfterHealthy != 0 {
		t.Fatalf("defaults = %+v", d)
	}
}

func TestFailbackProblems(t *testing.T) {
	const approval = "    approval: {group: sre}\n"
	cases := []struct {
		name, yaml, path, msg string
	}{
		{"no provider", failbackHeader + approval + "    failback: {window: 10m}\n", "steps[1].failback.provider", "failback needs provider:"},
		{"provider reads a later step", failbackHeader + approval + "    failback: {provider: \"{{ .steps.later.outputs.to }}\"}\n  - id: later\n    action: wait.resolved\n",
			"steps[1].failback.provider", `step "later" runs later`},
		{"not a restore", "name: t\nsteps:\n  - id: a\n    action: notify\n    with: {text: hi}\n    approval: {group: sre}\n    failback: {provider: openai}\n", "steps[0].failback", "failback: measures the provider a gateway.restore returns the route to"},
		{"no approval", failbackHeader + "    failback: {provider: openai}\n", "steps[1].failback", "give the step an approval: block"},
		{"error rate above 1", failbackHeader + approval + "    failback: {provider: openai, max_error_rate: 5}\n", "steps[1].failback.max_error_rate", "a fraction above 0 and at most 1"},
		{"error rate zero", failbackHeader + approval + "    failback: {provider: openai, max_error_rate: 0}\n", "steps[1].failback.max_error_rate", "a fraction above 0"},
		{"every too often", failbackHeader + approval + "    failback: {provider: openai, every: 1s}\n", "steps[1].failback.every", "at least 10s"},
		{"bad duration", failbackHeader + approval + "    failback: {provider: openai, auto_after_healthy: soon}\n", "steps[1].failback.auto_after_healthy", "not a duration"},
		{"unknown key", failbackHeader + approval + "    failback: {provider: openai, auto_after: 10m}\n", "steps[1].failback.auto_after", `unknown key "auto_after"; valid: auto_after_healthy`},
		{"proceeds before healthy", failbackHeader + "    approval: {group: sre, timeout: 5m, on_timeout: proceed}\n    failback: {provider: openai, auto_after_healthy: 10m}\n",
			"steps[1].failback.auto_after_healthy", "proceeds on timeout after 5m0s, before 10m0s of health"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			problems := problemsOf(t, tc.yaml)
			for _, p := range problems {
				if p.Path == tc.path && strings.Contains(p.Msg, tc.msg) {
					return
				}
			}
			t.Errorf("no problem at %s containing %q; got:\n%s", tc.path, tc.msg, (&LoadError{Source: "test.yaml", Problems: problems}).Error())
		})
	}
}
