package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/quench-dev/quench/workflows"
)

// historiesDir is where recorded histories live: beside the workflow package they protect,
// whose replay test replays every file in it.
var historiesDir = filepath.Join("..", "workflows", "testdata", "histories")

// recordHistory replays the incident's latest run against the current workflow code (a
// nondeterminism check on a real history) and, with QUENCH_RECORD_HISTORIES=1, saves it
// as historiesDir/NAME.json for the replay test that keeps future workflow changes
// compatible.
func recordHistory(t *testing.T, dev *devProcess, incidentID, name string) {
	t.Helper()
	recordRun(t, dev, incidentID, "", name)
}

// recordClosed waits for the incident's workflow to complete (following continue-as-new)
// and records its last run: a finished history replays its close too.
func recordClosed(t *testing.T, dev *devProcess, incidentID, name string) {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: dev.temporal})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var final workflows.Status
	// A failed or aborted incident closes its workflow as failed: a normal end here too.
	if err := workflows.IncidentOutcome(c.GetWorkflow(ctx, incidentID, "").Get(ctx, &final), &final); err != nil {
		t.Fatalf("incident %s did not complete: %v", incidentID, err)
	}
	recordRun(t, dev, incidentID, "", name)
}

// recordRun is recordHistory for one run of the incident ("" = the latest). It returns
// the ID of the run this one continued as, "" when it did not continue as new.
func recordRun(t *testing.T, dev *devProcess, incidentID, runID, name string) (next string) {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: dev.temporal})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hist := &historypb.History{}
	it := c.GetWorkflowHistory(ctx, incidentID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		hist.Events = append(hist.Events, ev)
	}
	if n := len(hist.Events); n > 0 {
		next = hist.Events[n-1].GetWorkflowExecutionContinuedAsNewEventAttributes().GetNewExecutionRunId()
	}
	replayer := worker.NewWorkflowReplayer()
	workflows.Register(replayer)
	if err := replayer.ReplayWorkflowHistory(nil, hist); err != nil {
		t.Fatalf("replaying %s (run %q) against the current code: %v", incidentID, runID, err)
	}
	if os.Getenv("QUENCH_RECORD_HISTORIES") != "1" {
		return next
	}
	b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(historiesDir, name+".json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %s (%d events)", path, len(hist.Events))
	return next
}

func nowUTC() time.Time { return time.Now().UTC() }
