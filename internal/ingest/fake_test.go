package ingest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/quench-dev/quench/internal/alert"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/runbooks"
	"github.com/quench-dev/quench/workflows"
)

// fakeTemporal is a stateful stand-in for Temporal's signal API: it keeps which incidents
// run and every alert each received, records calls, can hold calls until released and can
// fail them.
type fakeTemporal struct {
	mu          sync.Mutex
	incidents   map[string]*fakeIncident
	calls       []fakeCall
	fail        error         // every call fails with it while set
	hold        chan struct{} // while set, calls wait until it is closed
	entered     chan string   // receives the workflow ID of every call as it begins (if set)
	inFlight    int
	maxInFlight int
	// silent: starts do not report their answer (a client without ClientDialOption).
	silent bool
}

type fakeIncident struct {
	runID  string
	input  workflows.IncidentInput
	alerts []alert.Alert
}

type fakeCall struct {
	method     string // SignalWithStart | Signal | Start
	workflowID string
	signal     string
	alerts     []alert.Alert
}

func newFakeTemporal() *fakeTemporal {
	return &fakeTemporal{incidents: map[string]*fakeIncident{}}
}

func (f *fakeTemporal) begin(id string) (error, func()) {
	f.mu.Lock()
	hold, entered := f.hold, f.entered
	f.inFlight++
	f.maxInFlight = max(f.maxInFlight, f.inFlight)
	f.mu.Unlock()
	if entered != nil {
		entered <- id
	}
	if hold != nil {
		<-hold
	}
	f.mu.Lock()
	return f.fail, func() { f.inFlight--; f.mu.Unlock() }
}

func (f *fakeTemporal) SignalWithStartWorkflow(ctx context.Context, workflowID string, signalName string, signalArg any,
	options client.StartWorkflowOptions, workflow any, workflowArgs ...any) (client.WorkflowRun, error) {
	fail, done := f.begin(workflowID)
	defer done()
	alerts := signalArg.([]alert.Alert)
	f.calls = append(f.calls, fakeCall{method: "SignalWithStart", workflowID: workflowID, signal: signalName, alerts: alerts})
	if fail != nil {
		return nil, fail
	}
	if options.ID != workflowID || workflow != workflows.IncidentWorkflowName {
		return nil, fmt.Errorf("fake: bad start options %+v / %v", options, workflow)
	}
	inc := f.incidents[workflowID]
	if inc == nil {
		inc = &fakeIncident{runID: fmt.Sprintf("run-%d", len(f.calls)), input: workflowArgs[0].(workflows.IncidentInput)}
		f.incidents[workflowID] = inc
		markStarted(ctx)
	}
	inc.alerts = append(inc.alerts, alerts...)
	return fakeRun{id: workflowID, runID: inc.runID}, nil
}

// ExecuteWorkflow starts like Temporal with the use-existing conflict policy: a running
// incident answers "found" and its input (alerts included) is dropped.
func (f *fakeTemporal) ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error) {
	fail, done := f.begin(options.ID)
	defer done()
	in := args[0].(workflows.IncidentInput)
	f.calls = append(f.calls, fakeCall{method: "Start", workflowID: options.ID, alerts: in.Alerts})
	if fail != nil {
		return nil, fail
	}
	if workflow != workflows.IncidentWorkflowName || !options.EnableEagerStart {
		return nil, fmt.Errorf("fake: bad start options %+v / %v", options, workflow)
	}
	if inc := f.incidents[options.ID]; inc != nil {
		if !f.silent {
			markAnswered(ctx, false)
		}
		return fakeRun{id: options.ID, runID: inc.runID}, nil
	}
	inc := &fakeIncident{runID: fmt.Sprintf("run-%d", len(f.calls)), input: in, alerts: append([]alert.Alert(nil), in.Alerts...)}
	f.incidents[options.ID] = inc
	if !f.silent {
		markStarted(ctx)
	}
	return fakeRun{id: options.ID, runID: inc.runID}, nil
}

func (f *fakeTemporal) SignalWorkflow(_ context.Context, workflowID string, runID string, signalName string, arg any) error {
	fail, done := f.begin(workflowID)
	defer done()
	alerts := arg.([]alert.Alert)
	f.calls = append(f.calls, fakeCall{method: "Signal", workflowID: workflowID, signal: signalName, alerts: alerts})
	if fail != nil {
		return fail
	}
	inc := f.incidents[workflowID]
	if inc == nil || (runID != "" && runID != inc.runID) {
		return serviceerror.NewNotFound("workflow not found for ID: " + workflowID)
	}
	inc.alerts = append(inc.alerts, alerts...)
	return nil
}

func (f *fakeTemporal) setFail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = err
}

func (f *fakeTemporal) callsOf(method string) []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeCall
	for _, c := range f.calls {
		if method == "" || c.method == method {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeTemporal) received(workflowID string) []alert.Alert {
	f.mu.Lock()
	defer f.mu.Unlock()
	if inc := f.incidents[workflowID]; inc != nil {
		return append([]alert.Alert(nil), inc.alerts...)
	}
	return nil
}

// holdCalls makes every call wait until the returned release is called, and reports each
// call as it begins on entered.
func (f *fakeTemporal) holdCalls() (entered <-chan string, release func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	hold, ch := make(chan struct{}), make(chan string, 1000)
	f.hold, f.entered = hold, ch
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			f.mu.Lock()
			f.hold = nil
			f.mu.Unlock()
			close(hold)
		})
	}
}

type fakeRun struct{ id, runID string }

func (r fakeRun) GetID() string                  { return r.id }
func (r fakeRun) GetRunID() string               { return r.runID }
func (r fakeRun) GetFirstExecutionRunID() string { return r.runID }
func (r fakeRun) Get(context.Context, any) error { return nil }
func (r fakeRun) GetWithOptions(context.Context, any, client.WorkflowRunGetOptions) error {
	return nil
}

// refusingPreparer prepares like the real service, but refuses alerts refuse says no to.
type refusingPreparer struct {
	Preparer
	refuse func(a alert.Alert) error
}

func (p refusingPreparer) Prepare(req incidents.StartRequest) (workflows.IncidentInput, client.StartWorkflowOptions, error) {
	if err := p.refuse(*req.Alert); err != nil {
		return workflows.IncidentInput{}, client.StartWorkflowOptions{}, err
	}
	return p.Preparer.Prepare(req)
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// builtinRunbooks is the runbook library quench ships (provider-outage, prompt-regression).
func builtinRunbooks(t testing.TB) *runbooks.Library {
	t.Helper()
	lib, err := runbooks.LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	return lib
}

// providerAlert is an Alertmanager alert provider-outage answers, in group, with fingerprint fp.
func providerAlert(group, fp, status string) alert.Alert {
	return alert.Alert{
		Source: SourceAlertmanager, Key: group, Fingerprint: fp, Status: status, Title: "errors high",
		Labels:      map[string]string{"alertname": "LLMProviderErrorRateHigh", "route": "chat", "instance": fp},
		Annotations: map[string]string{"summary": "provider errors above 5%"},
	}
}

// routed binds a to provider-outage's incident of its group.
func routed(t testing.TB, a alert.Alert) Routed {
	t.Helper()
	id, err := incidents.IncidentID("provider-outage", incidents.StartRequest{Alert: &a})
	if err != nil {
		t.Fatal(err)
	}
	return Routed{WorkflowID: id, Runbook: "provider-outage", Alert: a}
}
