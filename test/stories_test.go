package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/evidence/bundle"
	"github.com/quench-dev/quench/internal/fixtures"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/ingest"
	"github.com/quench-dev/quench/workflows"
)

// The story tests run each built-in runbook end to end on `quench dev` with the traffic
// log of its story (internal/fixtures) and the alert that story fires, and check the
// mitigation (GET /v1/routes), that the evidence names the cause, and the undo at close.

// storyRun is one story on its own dev server.
type storyRun struct {
	dev  *devProcess
	base string
	fx   fixtures.Fixture
}

// startStory generates the story's log with a 20-minute incident window ending three
// minutes ago (and, with after > 0, healthy traffic from then on) and starts quench dev on
// it. The runbooks' 30-minute snapshot window, taken within the next seven minutes, then
// holds the whole incident window and its baseline none of it.
func startStory(t *testing.T, story string, after time.Duration, args ...string) *storyRun {
	t.Helper()
	return startStoryWith(t, story, fixtures.Options{After: after}, args...)
}

// startStoryWith is startStory with more of the fixture's options (Window and Seed are set
// here; Now defaults to three minutes ago).
func startStoryWith(t *testing.T, story string, opt fixtures.Options, args ...string) *storyRun {
	t.Helper()
	if opt.Now.IsZero() {
		opt.Now = time.Now().Add(-3 * time.Minute)
	}
	opt.Window, opt.Seed = 20*time.Minute, 1
	fx, err := fixtures.Generate(story, opt)
	if err != nil {
		t.Fatal(err)
	}
	paths, err := fixtures.Write(t.TempDir(), fx)
	if err != nil {
		t.Fatal(err)
	}
	dev := startDev(t, newDevConfig(t, append([]string{"--traffic-log", paths.Traffic}, args...)...))
	return &storyRun{dev: dev, base: "http://" + dev.http, fx: fx}
}

// fireAlert posts the story's Alertmanager payload, unsigned (loopback, no credentials
// configured), and returns the incident it started.
func (s *storyRun) fireAlert(t *testing.T, runbook string) ingest.IncidentResult {
	t.Helper()
	resp, err := http.Post(s.base+"/hooks/alertmanager", "application/json", bytes.NewReader(s.fx.Alert))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var hr ingest.HookResponse
	if err := json.NewDecoder(resp.Body).Decode(&hr); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /hooks/alertmanager: %d %+v %v", resp.StatusCode, hr, err)
	}
	if len(hr.Incidents) != 1 || hr.Incidents[0].Result != "started" || hr.Incidents[0].Runbook != runbook {
		t.Fatalf("alert %s started %+v, want one %s", s.fx.Labels["alertname"], hr.Incidents, runbook)
	}
	return hr.Incidents[0]
}

func (s *storyRun) status(t *testing.T, id string) workflows.Status {
	t.Helper()
	var st workflows.Status
	doJSON(t, http.MethodGet, s.base+"/api/v1/incidents/"+id, s.dev.token, nil, http.StatusOK, &st)
	return st
}

func (s *storyRun) route(t *testing.T) routeState {
	t.Helper()
	var r routeState
	doJSON(t, http.MethodGet, s.base+"/v1/routes/"+fixtures.Route, "", nil, http.StatusOK, &r)
	return r
}

type routeState struct {
	Provider    string   `json:"provider"`
	BlockedKeys []string `json:"blocked_keys"`
}

// evidence reads the bundle the step's traffic.snapshot stored in the data dir, through
// the URI in the step's outputs.
func (s *storyRun) evidence(t *testing.T, st workflows.Status, stepID string) (bundle.Bundle, string) {
	t.Helper()
	step := stepOf(t, st, stepID)
	if step.State != workflows.StepDone {
		t.Fatalf("step %s is %s (%s %s)", stepID, step.State, step.Summary, step.Error)
	}
	uri, _ := step.Outputs["evidence"].(string)
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "file" {
		t.Fatalf("evidence URI %q: %v", uri, err)
	}
	data, err := os.ReadFile(u.Path)
	if err != nil {
		t.Fatal(err)
	}
	var b bundle.Bundle
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	top, _ := step.Outputs["top_change"].(string)
	if len(b.Changes) == 0 || top != b.Changes[0].Text {
		t.Fatalf("top_change %q, bundle changes %+v", top, b.Changes)
	}
	return b, top
}

func stepOf(t *testing.T, st workflows.Status, id string) workflows.StepState {
	t.Helper()
	for _, s := range st.Steps {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("no step %s in %+v", id, st.Steps)
	return workflows.StepState{}
}

// undoStates lists "step:action:state" for the incident's undo stack.
func undoStates(st workflows.Status) []string {
	var out []string
	for _, u := range st.Undo {
		out = append(out, u.StepID+":"+u.Undo.Action+":"+u.State)
	}
	return out
}

func TestStoriesProviderOutage(t *testing.T) {
	s := startOutageStory(t, false)
	inc := s.fireAlert(t, "provider-outage")
	w := s.dev.watch(t, inc.IncidentID)

	// Fail over at once, capture the evidence, then check the fallback's error rate on the
	// requests sent after the switch.
	w.waitFor(t, workflows.EventStepDone, "failover")
	if got := s.route(t); got.Provider != fixtures.FallbackProvider {
		t.Fatalf("route after failover: %+v", got)
	}
	w.waitFor(t, workflows.EventStepDone, "evidence")
	b, top := s.evidence(t, s.status(t, inc.ShortID), "evidence")
	if c := b.Changes[0]; c.Kind != "error_rate" || c.Subject != s.fx.Cause.Provider || c.Incident <= c.Baseline {
		t.Fatalf("top change %+v (%s), want the error rate of %s", c, top, s.fx.Cause.Provider)
	}
	w.waitFor(t, workflows.EventVerifying, "failover")
	v := w.waitFor(t, workflows.EventVerify, "failover")
	checkVerdict(t, v, "passed")

	w.waitFor(t, workflows.EventStepStarted, "recovered")
	s.dev.mustQuench(t, "incident", "resolve", inc.ShortID, "--as", "alice", "--reason", "provider status page green")
	w.waitFor(t, workflows.EventApprovalAsked, "failback")
	if got := s.route(t); got.Provider != fixtures.FallbackProvider {
		t.Fatalf("the route moved back before the approval: %+v", got)
	}
	s.dev.mustQuench(t, "incident", "approve", inc.ShortID, "--as", "bob", "--reason", "primary healthy")
	w.waitFor(t, workflows.EventClosed, "")
	if got := s.route(t); got.Provider != fixtures.PrimaryProvider {
		t.Fatalf("route after fail back: %+v", got)
	}
	if st := s.status(t, inc.ShortID); st.State != workflows.StateResolved || stepOf(t, st, "failback").State != workflows.StepDone {
		t.Fatalf("final: %s, steps %+v", st.State, st.Steps)
	}
	recordClosed(t, s.dev, inc.IncidentID, "provider-outage-verify-since-change-passed")
}

// TestStoriesManualInvestigation: a human starts it from the CLI on the prompt-regression
// story, rejects the provider switch and approves the prompt rollback.
func TestStoriesManualInvestigation(t *testing.T) {
	repo := promptsRepo(t)
	s := startStory(t, fixtures.PromptRegression, 0, "--prompts-repo", repo)
	started := decodeJSON[incidents.Started](t, s.dev.mustQuench(t, "incident", "start", "manual-investigation",
		"route=chat", "reason=answers look short", "--as", "alice", "-o", "json"))
	w := s.dev.watch(t, started.IncidentID)

	w.waitFor(t, workflows.EventApprovalAsked, "switch")
	st := s.status(t, started.ShortID)
	if _, top := s.evidence(t, st, "evidence"); !strings.Contains(top, s.fx.Cause.PromptVersion) {
		t.Fatalf("top change %q does not name %s", top, s.fx.Cause.PromptVersion)
	}
	if stepOf(t, st, "freeze").State != workflows.StepDone || stepOf(t, st, "card").State != workflows.StepDone {
		t.Fatalf("freeze and card must be done before the options: %+v", st.Steps)
	}
	s.dev.mustQuench(t, "incident", "reject", started.ShortID, "--as", "bob", "--reason", "the provider is fine")
	w.waitFor(t, workflows.EventStepSkipped, "switch")
	w.waitFor(t, workflows.EventApprovalAsked, "rollback")
	s.dev.mustQuench(t, "incident", "approve", started.ShortID, "--as", "bob", "--reason", "v2 made answers short")
	w.waitFor(t, workflows.EventStepDone, "rollback")
	branches := rollbackBranches(t, repo)
	if len(branches) != 1 {
		t.Fatalf("rollback branches %v", keys(branches))
	}
	for _, c := range branches {
		if got := fileAt(t, c, "prompts/answer.txt"); got != goodPrompt {
			t.Fatalf("rollback restores %q, want the good prompt", got)
		}
	}

	w.waitFor(t, workflows.EventStepStarted, "resolved")
	s.dev.mustQuench(t, "incident", "resolve", started.ShortID, "--as", "alice", "--reason", "rollback merged")
	w.waitFor(t, workflows.EventClosed, "")
	if got := s.route(t); got.Provider != fixtures.PrimaryProvider {
		t.Fatalf("the rejected switch moved the route: %+v", got)
	}
	assertFrozenOnce(t, s.dev, started.IncidentID)
}

// TestStoriesPromptRegression: the quality alert of the prompt-regression story starts the
// runbook; the evidence names the bad prompt version, the rollback restores the good prompt
// under four-eyes, and the freeze is lifted on close.
func TestStoriesPromptRegression(t *testing.T) {
	repo := promptsRepo(t)
	s := startStory(t, fixtures.PromptRegression, 0, "--prompts-repo", repo)
	inc := s.fireAlert(t, "prompt-regression")
	w := s.dev.watch(t, inc.IncidentID)

	w.waitFor(t, workflows.EventApprovalAsked, "rollback")
	st := s.status(t, inc.ShortID)
	b, top := s.evidence(t, st, "evidence")
	if !strings.Contains(top, s.fx.Cause.PromptVersion) || len(b.Changes) == 0 {
		t.Fatalf("top change %q does not name the bad prompt %s", top, s.fx.Cause.PromptVersion)
	}
	if res := s.dev.quench(t, "freeze", "check"); res.ExitCode == 0 {
		t.Fatalf("prompt deploys must be frozen while the incident runs: %s", res.Stdout)
	}
	s.dev.mustQuench(t, "incident", "approve", inc.ShortID, "--as", "bob", "--reason", "v2 shortened the answers")
	w.waitFor(t, workflows.EventStepDone, "rollback")
	branches := rollbackBranches(t, repo)
	c, ok := branches["quench/rollback-"+inc.ShortID]
	if len(branches) != 1 || !ok {
		t.Fatalf("rollback branches %v, want quench/rollback-%s", keys(branches), inc.ShortID)
	}
	if got := fileAt(t, c, "prompts/answer.txt"); got != goodPrompt {
		t.Fatalf("rollback restores %q, want the good prompt", got)
	}

	w.waitFor(t, workflows.EventStepStarted, "recovered")
	s.dev.mustQuench(t, "incident", "resolve", inc.ShortID, "--as", "bob", "--reason", "rollback merged, answers long again")
	w.waitFor(t, workflows.EventClosed, "")
	assertFrozenOnce(t, s.dev, inc.IncidentID)
}
