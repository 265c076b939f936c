package e2e

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/workflows"
)

// settled waits until the incident waits on a human or on its resolution, and returns its
// status then.
func settled(t *testing.T, p *devProcess, id string) workflows.Status {
	t.Helper()
	// cost-runaway's verify waits for 5 requests on the sample's route after the block (one
	// every 15 s or so) before it lets the runbook go on.
	deadline := time.Now().Add(4 * time.Minute)
	for {
		var st workflows.Status
		out := p.mustQuench(t, "incident", "show", id, "-o", "json")
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("show -o json: %v\n%s", err, out)
		}
		waiting := st.State == workflows.StateAwaiting || st.ClosedAt != nil
		for _, s := range st.Steps {
			waiting = waiting || (s.Action == "wait.resolved" && s.State == workflows.StepRunning)
		}
		if waiting {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("incident %s did not settle within 4 minutes: %s", id, out)
		}
		time.Sleep(200 * time.Millisecond) // polling the status the incident reaches by itself
	}
}

func startIncident(t *testing.T, p *devProcess, args ...string) string {
	t.Helper()
	out := p.mustQuench(t, append([]string{"incident", "start"}, args...)...)
	m := regexp.MustCompile(`Started incident ([0-9a-f]{6}) `).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("incident start %v printed no ID: %s", args, out)
	}
	return m[1]
}

func noErrorLines(t *testing.T, p *devProcess) {
	t.Helper()
	for _, l := range strings.Split(p.logs.String(), "\n") {
		if strings.Contains(l, "level=ERROR") {
			t.Errorf("quench dev logged an error: %s", l)
		}
	}
}

// With no flags quench dev brings its sample, and every built-in runbook runs on it to
// where it waits for a human or for the resolution, every step done (provider-outage's
// run, verify included, is TestREADMERunsAsWritten's).
func TestBuiltinRunbooksRunOnTheSample(t *testing.T) {
	p := startDev(t, devConfig{DataDir: t.TempDir(), Sample: true})
	defer p.Kill()
	for _, start := range [][]string{
		{"prompt-regression"},
		{"silent-model-change"},
		{"cost-runaway", "key=agent-7f3a"},
		{"manual-investigation", "reason=sample"},
	} {
		id := startIncident(t, p, start...)
		st := settled(t, p, id)
		for _, s := range st.Steps {
			if s.State == workflows.StepSkipped && s.NotConfigured == "" && strings.HasPrefix(s.SkipReason, "`when:") {
				continue // the branch its condition did not take (silent-model-change: pin or switch)
			}
			switch s.State {
			case workflows.StepFailed, workflows.StepSkipped, workflows.StepReverted, workflows.StepCanceled:
				t.Errorf("%s: step %s is %s (%s %s)", start[0], s.ID, s.State, s.Summary, s.Error)
			}
			if s.ID == "evidence" && s.State != workflows.StepDone {
				t.Errorf("%s: no evidence captured from the sample: %s", start[0], s.State)
			}
		}
		for _, e := range st.Timeline {
			if e.Kind == workflows.EventEscalated || e.Kind == workflows.EventStepFailed {
				t.Errorf("%s: %s on the timeline: %s", start[0], e.Kind, e.Text)
			}
		}
		if start[0] == "prompt-regression" && (len(st.Pending) != 1 || st.Pending[0].StepID != "rollback") {
			t.Errorf("prompt-regression on the sample should wait for the rollback's approval: %+v", st.Pending)
		}
	}
	noErrorLines(t, p)
}

// Without the sample and with nothing configured, the steps that need traffic or prompts
// are skipped with the reason: not failed, not escalated, logged at INFO.
func TestNotConfiguredIsASkippedStep(t *testing.T) {
	p := startDev(t, newDevConfig(t)) // the harness passes --sample=false
	defer p.Kill()
	if !strings.Contains(p.logs.String(), "sample off (--sample=false)") {
		t.Fatalf("quench dev does not say the sample is off:\n%s", p.logs.String())
	}

	pr := settled(t, p, startIncident(t, p, "prompt-regression"))
	if pr.State == workflows.StateFailed {
		t.Fatalf("prompt-regression failed without prompts or traffic: %+v", pr.Steps)
	}
	want := map[string]string{"evidence": "traffic", "changes": "prompts", "rollback": ""}
	for _, s := range pr.Steps {
		port, ok := want[s.ID]
		if !ok {
			continue
		}
		if s.State != workflows.StepSkipped || s.NotConfigured != port || s.SkipReason == "" || s.Error != "" {
			t.Errorf("step %s: state %s, not_configured %q, skip_reason %q, error %q; want skipped for %q",
				s.ID, s.State, s.NotConfigured, s.SkipReason, s.Error, port)
		}
	}
	if s := stepOf(t, pr, "evidence"); !strings.Contains(s.SkipReason, "--traffic-log") {
		t.Errorf("the evidence step does not say what to configure: %q", s.SkipReason)
	}
	if s := stepOf(t, pr, "changes"); !strings.Contains(s.SkipReason, "--prompts-repo") {
		t.Errorf("the changes step does not say what to configure: %q", s.SkipReason)
	}
	skipped := 0
	for _, e := range pr.Timeline {
		if e.Kind == workflows.EventStepSkipped && e.Data["not_configured"] != "" {
			skipped++
		}
	}
	if skipped != 2 {
		t.Errorf("%d step_skipped events for a port not configured, want 2", skipped)
	}
	show := p.mustQuench(t, "incident", "show", pr.ShortID)
	if !regexp.MustCompile(`evidence\s+traffic\.snapshot\s+skipped\s+skipped: no traffic source configured`).MatchString(show) {
		t.Errorf("show does not give the skip and its reason:\n%s", show)
	}

	// provider-outage: the switch happens; its verify has nothing to measure and is
	// skipped, not escalated.
	po := settled(t, p, startIncident(t, p, "provider-outage", "route=chat"))
	if s := stepOf(t, po, "failover"); s.State != workflows.StepDone {
		t.Fatalf("failover is %s", s.State)
	}
	verify := ""
	for _, e := range po.Timeline {
		switch e.Kind {
		case workflows.EventVerify:
			verify = e.Data["result"]
		case workflows.EventEscalated, workflows.EventStepFailed:
			t.Errorf("%s on the timeline: %s", e.Kind, e.Text)
		}
	}
	if verify != "skipped" {
		t.Errorf("verify result %q, want skipped", verify)
	}
	if !strings.Contains(p.logs.String(), "level=INFO msg=\"step skipped: traffic not configured\"") ||
		!strings.Contains(p.logs.String(), "level=INFO msg=\"verify skipped: traffic not configured\"") {
		t.Errorf("the skips are not logged at INFO:\n%s", p.logs.String())
	}
	noErrorLines(t, p)
}
