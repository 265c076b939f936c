package postmortem

import (
	"context"
	"errors"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
)

// fakeHistories serves recorded runs by run ID ("" = the latest) and records the reads.
type fakeHistories struct {
	latest string
	runs   map[string][]*historypb.HistoryEvent
	reads  []string
}

func (f *fakeHistories) GetWorkflowHistory(_ context.Context, _ string, runID string, _ bool, _ enumspb.HistoryEventFilterType) client.HistoryEventIterator {
	f.reads = append(f.reads, runID)
	if runID == "" {
		runID = f.latest
	}
	return &sliceIterator{events: f.runs[runID]}
}

type sliceIterator struct {
	events []*historypb.HistoryEvent
	err    error
}

func (it *sliceIterator) HasNext() bool { return len(it.events) > 0 || it.err != nil }

func (it *sliceIterator) Next() (*historypb.HistoryEvent, error) {
	if it.err != nil {
		return nil, it.err
	}
	ev := it.events[0]
	it.events = it.events[1:]
	return ev, nil
}

func started(continuedFrom string) *historypb.HistoryEvent {
	return &historypb.HistoryEvent{EventId: 1, EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
		Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{
			WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{ContinuedExecutionRunId: continuedFrom}}}
}

func marker(id int64) *historypb.HistoryEvent {
	return &historypb.HistoryEvent{EventId: id, EventType: enumspb.EVENT_TYPE_MARKER_RECORDED}
}

func TestFetchHistoryFollowsContinueAsNew(t *testing.T) {
	f := &fakeHistories{latest: "run3", runs: map[string][]*historypb.HistoryEvent{
		"run1": {started(""), marker(2)},
		"run2": {started("run1"), marker(2), marker(3)},
		"run3": {started("run2"), marker(2)},
	}}
	events, err := FetchHistory(context.Background(), f, "inc-x")
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 7 {
		t.Fatalf("%d events, want the 7 of the three runs", len(events))
	}
	// Oldest run first: run1 has no "continued from".
	if events[0].GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId() != "" ||
		events[2].GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId() != "run1" ||
		events[5].GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId() != "run2" {
		t.Errorf("runs out of order: %v", events)
	}
	if want := []string{"", "run2", "run1"}; len(f.reads) != 3 || f.reads[0] != want[0] || f.reads[1] != want[1] || f.reads[2] != want[2] {
		t.Errorf("reads %v, want %v", f.reads, want)
	}
}

func TestFetchHistoryReportsAReadError(t *testing.T) {
	f := errHistories{}
	if _, err := FetchHistory(context.Background(), f, "inc-x"); err == nil {
		t.Fatal("want the read error")
	}
}

type errHistories struct{}

func (errHistories) GetWorkflowHistory(context.Context, string, string, bool, enumspb.HistoryEventFilterType) client.HistoryEventIterator {
	return &sliceIterator{err: errors.New("unavailable")}
}
