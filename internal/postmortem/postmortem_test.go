package postmortem

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/quench-dev/quench/internal/evidence/bundle"
	"github.com/quench-dev/quench/internal/evidence/report"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/workflows"
)

// recorded is a prompt-regression incident recorded by test/crash_test.go: the worker was
// killed while the rollback waited for approval; dave approved, then resolved it.
const recorded = "../../workflows/testdata/histories/prompt-regression-kill-awaiting-approval.json"

func loadHistory(t *testing.T, path string) []*historypb.HistoryEvent {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return h.GetEvents()
}

func recordedInput(t *testing.T) Input {
	t.Helper()
	events := loadHistory(t, recorded)
	st, ok := StatusFromHistory(events)
	if !ok {
		t.Fatal("the recorded history has no completed run to read the status from")
	}
	return Input{Status: st, History: events, UIURL: "http://localhost:8233", Namespace: "default",
		EvidenceError: "no evidence store at /gone/evidence"}
}

func TestRecordedHistoryPostmortem(t *testing.T) {
	in := recordedInput(t)
	rep := Build(in)

	if rep.Summary.Runbook != "prompt-regression" || rep.Summary.State != workflows.StateResolved || rep.Summary.Requester != "carol" {
		t.Errorf("summary %+v", rep.Summary)
	}
	if !strings.Contains(rep.Summary.Resolution, "dave") {
		t.Errorf("resolution %q should name who resolved it (dave)", rep.Summary.Resolution)
	}
	if rep.Summary.Duration == "" || rep.Summary.ClosedAt == nil {
		t.Errorf("a closed incident has a duration: %+v", rep.Summary)
	}
	wantSteps := []string{"freeze", "evidence", "changes", "rollback", "recovered"}
	if len(rep.Steps) != len(wantSteps) {
		t.Fatalf("steps %+v, want %v", rep.Steps, wantSteps)
	}
	for i, id := range wantSteps {
		wantAttempts := 1 // from the history's ActivityTaskStarted
		if id == "recovered" {
			wantAttempts = 0 // wait.resolved waits in the workflow: no activity
		}
		if rep.Steps[i].ID != id || rep.Steps[i].State != workflows.StepDone || rep.Steps[i].Attempts != wantAttempts {
			t.Errorf("step %d = %+v, want %s done after %d attempt(s)", i, rep.Steps[i], id, wantAttempts)
		}
	}
	// The decision comes from the history's decide update: who, why, via, and its outcome.
	if len(rep.Decisions) != 1 {
		t.Fatalf("decisions %+v", rep.Decisions)
	}
	d := rep.Decisions[0]
	if d.StepID != "rollback" || d.Approver != "dave" || d.Verdict != workflows.VerdictApprove ||
		d.Reason != "diff looks right" || d.Via != "cli" || d.Outcome != "approved" || d.At.IsZero() {
		t.Errorf("decision %+v", d)
	}
	// The freeze was put back on close.
	if len(rep.Undos) != 1 || rep.Undos[0].StepID != "freeze" || rep.Undos[0].Action != "prompts.unfreeze" || rep.Undos[0].State != "done" {
		t.Errorf("undos %+v", rep.Undos)
	}
	var freeze, rollback *Mitigation
	for i := range rep.Mitigations {
		switch rep.Mitigations[i].StepID {
		case "freeze":
			freeze = &rep.Mitigations[i]
		case "rollback":
			rollback = &rep.Mitigations[i]
		case "evidence", "changes", "recovered":
			t.Errorf("%s only reads or waits; it is not a mitigation", rep.Mitigations[i].StepID)
		}
	}
	if freeze == nil || freeze.Undo == nil || freeze.Undo.State != "done" || rollback == nil {
		t.Errorf("mitigations %+v", rep.Mitigations)
	}
	if len(rep.Retries) != 0 {
		t.Errorf("the recorded run needed no retries: %+v", rep.Retries)
	}
	// The store was not reachable: say so and list the refs.
	if rep.Evidence.Verified || rep.Evidence.Error == "" || len(rep.Evidence.Refs) != 1 || rep.Evidence.Refs[0].Name != "evidence" {
		t.Errorf("evidence %+v", rep.Evidence)
	}
	var ui, branch bool
	for _, l := range rep.Links {
		ui = ui || l.URL == "http://localhost:8233/namespaces/default/workflows/"+in.Status.IncidentID
		branch = branch || strings.Contains(l.URL, "quench/rollback-bcefc1")
	}
	if !ui || !branch {
		t.Errorf("links %+v: want the Web UI and the rollback branch", rep.Links)
	}

	var md bytes.Buffer
	if err := WriteMarkdown(&md, rep); err != nil {
		t.Fatal(err)
	}
	out := md.String()
	for _, want := range []string{
		"# Postmortem: incident bcefc1",
		"**Started by**: carol (via cli)",
		"**Final state**: resolved",
		"| rollback | `prompts.rollback_pr` | done |",
		"| rollback | dave | approve | cli | diff looks right |",
		"undo `prompts.unfreeze` (lift this incident's freeze of prompts): **done**",
		"The evidence store could not be read: no evidence store at /gone/evidence",
		"`evidence`: file://",
		"## Timeline",
		"| decision | rollback | dave |",
		"## Links",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
	for _, id := range wantSteps {
		if !strings.Contains(out, "| "+id+" | ") {
			t.Errorf("markdown lacks step %s", id)
		}
	}
}

// TestRetriesFromHistory marks one recorded activity as having taken three attempts, as the
// history records a retried activity, and expects the postmortem to show it.
func TestRetriesFromHistory(t *testing.T) {
	in := recordedInput(t)
	var changed bool
	for _, ev := range in.History {
		if ev.GetEventType() != enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED || changed {
			continue
		}
		a := ev.GetActivityTaskStartedEventAttributes()
		a.Attempt = 3
		a.LastFailure = &failurepb.Failure{Message: "gateway answered 503"}
		changed = true
	}
	rep := Build(in)
	if len(rep.Retries) != 1 || rep.Retries[0].StepID != "freeze" || rep.Retries[0].Attempts != 3 || rep.Retries[0].LastFailure != "gateway answered 503" {
		t.Fatalf("retries %+v", rep.Retries)
	}
	if rep.Steps[0].Attempts != 3 {
		t.Errorf("step freeze attempts %d, want 3", rep.Steps[0].Attempts)
	}
	var onTimeline bool
	for _, e := range rep.Timeline {
		onTimeline = onTimeline || (e.Kind == workflows.EventStepRetry && e.StepID == "freeze")
	}
	if !onTimeline {
		t.Error("the retry is not on the timeline")
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "## Retries") || !strings.Contains(md.String(), "3 attempts; last failure: gateway answered 503") {
		t.Errorf("markdown does not show the retry:\n%s", md.String())
	}
}

// TestEvidenceTables renders verified bundles: the per provider / model / prompt table and
// what changed most.
func TestEvidenceTables(t *testing.T) {
	in := recordedInput(t)
	in.EvidenceError = ""
	ref := in.Status.Evidence[0]
	doc := bundle.Bundle{Schema: bundle.Schema,
		Headline: ports.TrafficHeadline{Requests: 120, BaselineRequests: 900, ErrorRate: 0.4, BaselineErrorRate: 0.01, TopChange: "error rate on primary up 39 pts"},
		Groups: []bundle.Group{
			{Provider: "primary", ResponseModel: "gpt-x", PromptName: "answer", PromptVersion: "v2",
				Incident: bundle.Stats{Requests: 100, ErrorRate: 0.48}, Baseline: bundle.Stats{Requests: 800, ErrorRate: 0.01}},
			{Provider: "fallback", ResponseModel: "claude-y", Incident: bundle.Stats{Requests: 20}, Baseline: bundle.Stats{Requests: 100}},
		},
		Changes: []bundle.Change{{Kind: "error_rate", Text: "error rate on primary up 39 pts (1.0% → 48.0%)"}},
	}
	doc.Manifest.Route = "chat"
	in.Bundles = []report.Bundle{{Ref: ref, Step: ref.Name, Verified: true, Doc: doc}}
	rep := Build(in)
	if !rep.Evidence.Verified || len(rep.Evidence.Bundles) != 1 || len(rep.Evidence.Bundles[0].Groups) != 2 {
		t.Fatalf("evidence %+v", rep.Evidence)
	}
	if g := rep.Evidence.Bundles[0].Groups[0]; g.Provider != "primary" || g.Prompt != "answer@v2" || g.Requests != 100 || g.BaselineRequests != 800 {
		t.Errorf("group %+v", g)
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"### Bundle `evidence` (route chat)",
		"verified against the incident's record",
		"1. error rate on primary up 39 pts",
		"| primary | gpt-x | answer@v2 | 100 / 800 | 48.0% / 1.0% |",
		"| fallback | claude-y | - | 20 / 100 | 0.0% / 0.0% |",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
}

// TestJSONIsStable pins the top-level keys scripts read.
func TestJSONIsStable(t *testing.T) {
	b, err := json.Marshal(Build(recordedInput(t)))
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema", "summary", "steps", "decisions", "retries", "mitigations", "undos", "timeline", "evidence", "links"} {
		if _, ok := top[k]; !ok {
			t.Errorf("postmortem JSON lacks %q", k)
		}
	}
	if string(top["schema"]) != `"`+Schema+`"` {
		t.Errorf("schema %s", top["schema"])
	}
}

// TestStatusOnlyStillNamesDecisions: without a history (an old incident, a trimmed export)
// decisions come from the timeline.
func TestStatusOnlyStillNamesDecisions(t *testing.T) {
	in := recordedInput(t)
	in.History = nil
	rep := Build(in)
	if len(rep.Decisions) != 1 || rep.Decisions[0].Approver != "dave" || rep.Decisions[0].Reason != "diff looks right" || rep.Decisions[0].Via != "cli" {
		t.Errorf("decisions from the timeline: %+v", rep.Decisions)
	}
}

// A failed or aborted incident closes its workflow as failed with its Status in the
// failure's details; the postmortem reads it from there. Other failures carry no status.
func TestStatusFromAFailedClose(t *testing.T) {
	details, err := converter.GetDefaultDataConverter().ToPayloads(workflows.Status{IncidentID: "inc-1", State: workflows.StateAborted})
	if err != nil {
		t.Fatal(err)
	}
	failed := func(typ string) []*historypb.HistoryEvent {
		return []*historypb.HistoryEvent{{
			EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
			Attributes: &historypb.HistoryEvent_WorkflowExecutionFailedEventAttributes{WorkflowExecutionFailedEventAttributes: &historypb.WorkflowExecutionFailedEventAttributes{
				Failure: &failurepb.Failure{Message: "incident aborted", FailureInfo: &failurepb.Failure_ApplicationFailureInfo{
					ApplicationFailureInfo: &failurepb.ApplicationFailureInfo{Type: typ, NonRetryable: true, Details: details}}},
			}},
		}}
	}
	st, ok := StatusFromHistory(failed(workflows.FailureIncidentAborted))
	if !ok || st.IncidentID != "inc-1" || st.State != workflows.StateAborted {
		t.Fatalf("status %+v, ok %v", st, ok)
	}
	if st, ok := StatusFromHistory(failed("PanicError")); ok {
		t.Fatalf("another failure read as a status: %+v", st)
	}
}

// A fail back quench approved on measured health (recorded by test/failback_health_test.go)
// is among the decisions, though no decide update carried it.
func TestPostmortemListsTheHealthDecision(t *testing.T) {
	events := loadHistory(t, "../../workflows/testdata/histories/auto-failback-on-measured-health.json")
	st, ok := StatusFromHistory(events)
	if !ok {
		t.Fatal("no final status in the recorded history")
	}
	rep := Build(Input{Status: st, History: events})
	if len(rep.Decisions) != 1 {
		t.Fatalf("decisions %+v, want quench's one", rep.Decisions)
	}
	d := rep.Decisions[0]
	if d.StepID != "failback" || d.Approver != "quench" || d.Via != workflows.ViaHealth || d.Verdict != workflows.VerdictApprove || !strings.Contains(d.Reason, "healthy") {
		t.Fatalf("decision %+v", d)
	}
}
