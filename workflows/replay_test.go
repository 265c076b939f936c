package workflows

import (
	"path/filepath"
	"testing"

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
