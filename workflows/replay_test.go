package workflows

import (
	"os"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"
)

// TestReplayRecordedHistories replays every incident history recorded from real runs on
// the embedded Temporal server (testdata/histories, written by the end-to-end tests in
// ./test) against the current workflow code. A change that would break running incidents
// fails here: guard it with workflow.GetVersion. Re-record with:
//
//	QUENCH_RECORD_HISTORIES=1 go test ./test/ -run 'TestName'
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recorded histories under testdata/histories: record them with QUENCH_RECORD_HISTORIES=1 go test ./test/")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			replayer := worker.NewWorkflowReplayer()
			Register(replayer)
			if err := replayer.ReplayWorkflowHistoryFromJSONFile(nil, file); err != nil {
				t.Fatalf("replay %s: %v", file, err)
			}
		})
	}
}

// TestRecordedHistoriesCoverBothCatalogSources: incidents started before the loader saved
// the action catalog into the spec replay on the live catalog, newer ones on their saved
// copy. Keep histories of both kinds, so re-recording everything cannot silently drop the
// coverage of either path.
func TestRecordedHistoriesCoverBothCatalogSources(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var saved, live []string
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		hist, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		started := hist.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes()
		if started.GetWorkflowType().GetName() != IncidentWorkflowName {
			continue
		}
		var in IncidentInput
		if err := converter.GetDefaultDataConverter().FromPayloads(started.GetInput(), &in); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if len(in.Spec.Actions) > 0 {
			saved = append(saved, filepath.Base(file))
		} else {
			live = append(live, filepath.Base(file))
		}
	}
	if len(saved) == 0 || len(live) == 0 {
		t.Fatalf("histories with a saved catalog %v, without %v: want both kinds", saved, live)
	}
}
