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

// recordHistory replays the incident's history against the current workflow code (a
// nondeterminism check on a real, crash-interrupted history) and, with
// QUENCH_RECORD_HISTORIES=1, saves it under testdata/histories for the replay test that
// keeps future workflow changes compatible.
func recordHistory(t *testing.T, dev *devProcess, incidentID, name string) {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: dev.temporal})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hist := &historypb.History{}
	it := c.GetWorkflowHistory(ctx, incidentID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		hist.Events = append(hist.Events, ev)
	}
	replayer := worker.NewWorkflowReplayer()
	workflows.Register(replayer)
	if err := replayer.ReplayWorkflowHistory(nil, hist); err != nil {
		t.Fatalf("replaying %s against the current code: %v", incidentID, err)
	}
	if os.Getenv("QUENCH_RECORD_HISTORIES") != "1" {
		return
	}
	b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "histories", name+".json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %s (%d events)", path, len(hist.Events))
}

func nowUTC() time.Time { return time.Now().UTC() }
