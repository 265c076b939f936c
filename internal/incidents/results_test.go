package incidents

import (
	"context"
	"testing"

	"github.com/quench-dev/quench/workflows"
)

// statusSequence answers each Status with the next of its statuses, then the last again.
type statusSequence struct {
	statuses []workflows.Status
	reads    int
}

func (s *statusSequence) Status(context.Context, string) (workflows.Status, error) {
	st := s.statuses[min(s.reads, len(s.statuses)-1)]
	s.reads++
	return st, nil
}

func TestAfterSignalWaitsUntilTheIncidentComesToRest(t *testing.T) {
	measuring := workflows.Status{State: workflows.StateRunning, Steps: []workflows.StepState{
		{ID: "recovered", State: workflows.StepDone}, {ID: "failback", State: workflows.StepRunning},
	}}
	asking := workflows.Status{State: workflows.StateAwaiting,
		Steps:   []workflows.StepState{{ID: "recovered", State: workflows.StepDone}, {ID: "failback", State: workflows.StepAwaiting}},
		Pending: []workflows.PendingApproval{{StepID: "failback", Action: "gateway.restore"}},
	}
	reader := &statusSequence{statuses: []workflows.Status{measuring, measuring, asking}}
	res := AfterSignal(context.Background(), reader, "inc-provider-outage-1a2b3c", "resolve")
	if len(res.WaitingFor) != 1 || res.WaitingFor[0].StepID != "failback" {
		t.Fatalf("resolve answered %+v after %d reads; want it to wait for the fail back's approval", res, reader.reads)
	}
	if reader.reads != 3 {
		t.Errorf("read the status %d times; want 3 (two in flight, then at rest)", reader.reads)
	}
}

func TestAfterSignalDoesNotWaitForANote(t *testing.T) {
	reader := &statusSequence{statuses: []workflows.Status{{State: workflows.StateRunning, Steps: []workflows.StepState{{ID: "rollback", State: workflows.StepRunning}}}}}
	res := AfterSignal(context.Background(), reader, "inc-x-1a2b3c", "note")
	if reader.reads != 1 || res.State != workflows.StateRunning {
		t.Fatalf("a note read the status %d times (state %q); want one read", reader.reads, res.State)
	}
}

func TestAfterSignalStopsWaitingWhenTheCallerGivesUp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	busy := workflows.Status{State: workflows.StateClosing}
	reader := &cancelAfter{statusSequence: statusSequence{statuses: []workflows.Status{busy}}, after: 2, cancel: cancel}
	res := AfterSignal(ctx, reader, "inc-x-1a2b3c", "abort")
	if res.State != workflows.StateClosing || res.StatusError != "" {
		t.Fatalf("got %+v; want the latest status read, closing, without an error", res)
	}
	if reader.reads != 2 {
		t.Errorf("read the status %d times; want 2: no read after the caller gave up", reader.reads)
	}
}

// cancelAfter cancels the caller's context after that many reads.
type cancelAfter struct {
	statusSequence
	after  int
	cancel context.CancelFunc
}

func (c *cancelAfter) Status(ctx context.Context, id string) (workflows.Status, error) {
	st, err := c.statusSequence.Status(ctx, id)
	if c.reads == c.after {
		c.cancel()
	}
	return st, err
}
