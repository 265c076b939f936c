// Package incidentsfake is an in-memory incidents.Client for tests of its callers (CLI,
// API, Slack): it keeps incidents and freezes as state, records every call, and can be
// told to fail any method. IDs, short IDs and digests are expanded by the same functions
// the real client uses, so the fake cannot drift from it there.
package incidentsfake

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/runbooks"
	"github.com/quench-dev/quench/workflows"
)

// Call is one recorded call.
type Call struct {
	Method string // "Start", "Status", "Decide", ...
	Ref    string // the incident reference or freeze scope, when the method takes one
	Arg    any    // the request, decision, signal payload or list filter
}

// Fake is a stateful incidents.Client. The zero value is not usable: call New.
type Fake struct {
	// Routes, when set, refuses starts naming unknown routes, as the real client does.
	Routes incidents.RouteChecker
	// Now stamps events and starts (default time.Now).
	Now func() time.Time
	// React, when set, runs after each accepted signal or decision with the incident's
	// status, so a test can play the workflow's part (ask the next approval, close).
	React func(method string, st *workflows.Status)

	prep *incidents.Service // Prepare only: it needs the runbooks, not Temporal

	mu       sync.Mutex
	byID     map[string]*workflows.Status
	freezes  map[string]workflows.FreezeState
	fail     map[string]error
	calls    []Call
	changed  chan struct{} // closed and replaced on every change, to wake watchers
	sequence int
}

var _ incidents.Client = (*Fake)(nil)

// New returns an empty fake whose starts resolve runbooks from lib (nil: the built-ins).
func New(lib *runbooks.Library) *Fake {
	if lib == nil {
		var err error
		if lib, err = runbooks.LoadLibrary(""); err != nil {
			panic(fmt.Sprintf("incidentsfake: built-in runbooks: %v", err))
		}
	}
	return &Fake{
		prep:    incidents.New(nil, lib, "default"),
		byID:    map[string]*workflows.Status{},
		freezes: map[string]workflows.FreezeState{},
		fail:    map[string]error{},
		changed: make(chan struct{}),
	}
}

// Fail makes every later call of method return err (nil clears it).
func (f *Fake) Fail(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.fail, method)
		return
	}
	f.fail[method] = err
}

// Calls returns the calls so far, oldest first.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}

// Methods returns the method names of the calls so far, oldest first.
func (f *Fake) Methods() []string {
	var out []string
	for _, c := range f.Calls() {
		out = append(out, c.Method)
	}
	return out
}

// Add stores an incident as if it existed (IncidentID required; ShortID derived if empty).
func (f *Fake) Add(st workflows.Status) {
	if st.ShortID == "" {
		st.ShortID = incidents.ShortID(st.IncidentID)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.byID[st.IncidentID] = &st
	f.notify()
}

// Get returns a copy of an incident's status.
func (f *Fake) Get(id string) (workflows.Status, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.byID[id]
	if !ok {
		return workflows.Status{}, false
	}
	return snapshot(st), true
}

// Update changes a stored incident under the fake's lock and wakes watchers, as a step of
// the workflow would.
func (f *Fake) Update(id string, change func(st *workflows.Status)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st, ok := f.byID[id]; ok {
		change(st)
		f.notify()
	}
}

// SetFreeze stores a scope's freeze state.
func (f *Fake) SetFreeze(st workflows.FreezeState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.freezes[st.Scope] = st
}

func (f *Fake) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// notify wakes watchers; f.mu is held.
func (f *Fake) notify() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// enter records a call and returns the injected error, if any; f.mu is held.
func (f *Fake) enter(method, ref string, arg any) error {
	f.calls = append(f.calls, Call{Method: method, Ref: ref, Arg: arg})
	return f.fail[method]
}

// Prepare resolves a start like the real client.
func (f *Fake) Prepare(req incidents.StartRequest) (workflows.IncidentInput, client.StartWorkflowOptions, error) {
	f.mu.Lock()
	err := f.enter("Prepare", "", req)
	f.mu.Unlock()
	if err != nil {
		return workflows.IncidentInput{}, client.StartWorkflowOptions{}, err
	}
	return f.prep.Prepare(req)
}

// Start stores a running incident with the runbook's steps pending, or returns the one
// already running under the same ID (a repeated --key).
func (f *Fake) Start(ctx context.Context, req incidents.StartRequest) (incidents.Started, error) {
	f.mu.Lock()
	err := f.enter("Start", "", req)
	f.mu.Unlock()
	if err != nil {
		return incidents.Started{}, err
	}
	in, _, err := f.prep.Prepare(req)
	if err != nil {
		return incidents.Started{}, err
	}
	if err := incidents.CheckRoutes(ctx, f.Routes, in); err != nil {
		return incidents.Started{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sequence++
	started := incidents.Started{IncidentID: in.IncidentID, ShortID: in.ShortID, RunID: fmt.Sprintf("run-%d", f.sequence), Runbook: in.Spec.Name, Title: in.Spec.Title}
	if _, ok := f.byID[in.IncidentID]; ok {
		return started, nil
	}
	at := f.now()
	st := &workflows.Status{
		IncidentID: in.IncidentID, ShortID: in.ShortID, Runbook: in.Spec.Name, Title: in.Spec.Title,
		State: workflows.StateRunning, Severity: in.Severity, Service: in.Service, Requester: in.Requester,
		Source: in.Source, StartedAt: at, Params: in.Params, Runs: 1,
		Timeline: []workflows.Event{{At: at, Kind: workflows.EventStarted, Actor: in.Requester, Text: "started from runbook " + in.Spec.Name}},
	}
	for _, s := range in.Spec.Steps {
		st.Steps = append(st.Steps, workflows.StepState{ID: s.ID, Action: s.Action, Title: s.Title, State: workflows.StepPending})
	}
	f.byID[in.IncidentID] = st
	f.notify()
	return started, nil
}

// Resolve expands a reference with incidents.ParseRef and incidents.PickID.
func (f *Fake) Resolve(_ context.Context, ref string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("Resolve", ref, nil); err != nil {
		return "", err
	}
	return f.resolve(ref)
}

// resolve is Resolve without the recording; f.mu is held.
func (f *Fake) resolve(ref string) (string, error) {
	id, full, err := incidents.ParseRef(ref)
	if err != nil || full {
		return id, err
	}
	var ids []string
	for _, st := range f.byID {
		if st.ShortID == id {
			ids = append(ids, st.IncidentID)
		}
	}
	return incidents.PickID(id, ids)
}

// lookup resolves ref to a stored incident; f.mu is held.
func (f *Fake) lookup(ref string) (*workflows.Status, error) {
	id, err := f.resolve(ref)
	if err != nil {
		return nil, err
	}
	st, ok := f.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w: no incident with ID %s", incidents.ErrNotFound, id)
	}
	return st, nil
}

// Status returns a copy of the incident's status.
func (f *Fake) Status(_ context.Context, ref string) (workflows.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("Status", ref, nil); err != nil {
		return workflows.Status{}, err
	}
	st, err := f.lookup(ref)
	if err != nil {
		return workflows.Status{}, err
	}
	return snapshot(st), nil
}

// snapshot copies the slices a caller might keep while the fake changes them.
func snapshot(st *workflows.Status) workflows.Status {
	c := *st
	c.Steps = append([]workflows.StepState(nil), st.Steps...)
	c.Pending = append([]workflows.PendingApproval(nil), st.Pending...)
	c.Timeline = append([]workflows.Event(nil), st.Timeline...)
	return c
}

// Decide picks the approval with incidents.PickApproval and counts the decision: a
// rejection or a quorum of approvals settles the step; React can move the incident on.
func (f *Fake) Decide(_ context.Context, ref string, d workflows.Decision) (workflows.DecisionResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("Decide", ref, d); err != nil {
		return workflows.DecisionResult{}, err
	}
	st, err := f.lookup(ref)
	if err != nil {
		return workflows.DecisionResult{}, err
	}
	p, err := incidents.PickApproval(*st, d.StepID, d.Digest)
	if err != nil {
		return workflows.DecisionResult{}, fmt.Errorf("%s refused: %w", d.Verdict, err)
	}
	at := f.now()
	i := pendingIndex(st, p.StepID)
	rec := workflows.DecisionRecord{Approver: d.Approver, Verdict: d.Verdict, Reason: d.Reason, Via: d.Via, At: at}
	st.Pending[i].Approvals = append(st.Pending[i].Approvals, rec)
	st.Timeline = append(st.Timeline, workflows.Event{At: at, Kind: workflows.EventDecision, StepID: p.StepID, Actor: d.Approver, Text: d.Verdict + ": " + d.Reason})
	res := workflows.DecisionResult{StepID: p.StepID, Undo: p.Undo}
	quorum := max(1, p.Quorum)
	switch {
	case d.Verdict == workflows.VerdictReject:
		res.Outcome = "rejected"
		f.settle(st, i, workflows.StepRejected)
	case len(st.Pending[i].Approvals) >= quorum:
		res.Outcome = "approved"
		f.settle(st, i, workflows.StepDone)
	default:
		res.Outcome = "counted"
		res.Remaining = quorum - len(st.Pending[i].Approvals)
	}
	if f.React != nil {
		f.React("Decide", st)
	}
	f.notify()
	return res, nil
}

func pendingIndex(st *workflows.Status, stepID string) int {
	for i, p := range st.Pending {
		if p.StepID == stepID {
			return i
		}
	}
	return -1
}

// settle removes pending approval i and sets its step's state; f.mu is held.
func (f *Fake) settle(st *workflows.Status, i int, state string) {
	stepID := st.Pending[i].StepID
	st.Pending = append(st.Pending[:i], st.Pending[i+1:]...)
	for j := range st.Steps {
		if st.Steps[j].ID == stepID {
			st.Steps[j].State = state
		}
	}
}

// Signal applies resolve, abort or note. A closed incident refuses it, as Temporal does.
// Without React, abort closes the incident and resolve closes it when nothing waits.
func (f *Fake) Signal(_ context.Context, ref, name string, payload any) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("Signal", ref, payload); err != nil {
		return "", err
	}
	st, err := f.lookup(ref)
	if err != nil {
		return "", err
	}
	if st.ClosedAt != nil {
		return "", incidents.Conflict(errors.New("the incident is closed: nothing more can be done to it"))
	}
	at := f.now()
	switch p := payload.(type) {
	case workflows.Resolve:
		st.Resolved = true
		st.Timeline = append(st.Timeline, workflows.Event{At: at, Kind: workflows.EventResolved, Actor: p.By, Text: p.Reason})
		if f.React == nil && len(st.Pending) == 0 {
			f.close(st, workflows.StateResolved, at)
		}
	case workflows.Abort:
		st.Timeline = append(st.Timeline, workflows.Event{At: at, Kind: workflows.EventAborted, Actor: p.By, Text: p.Reason})
		if f.React == nil {
			f.close(st, workflows.StateAborted, at)
		}
	case workflows.Note:
		st.Timeline = append(st.Timeline, workflows.Event{At: at, Kind: workflows.EventNote, Actor: p.By, Text: p.Text})
	default:
		return "", fmt.Errorf("incidentsfake: signal %s with a %T payload", name, payload)
	}
	if f.React != nil {
		f.React("Signal:"+name, st)
	}
	f.notify()
	return st.IncidentID, nil
}

// close ends an incident; f.mu is held.
func (f *Fake) close(st *workflows.Status, state string, at time.Time) {
	st.State = state
	st.Pending = nil
	st.ClosedAt = &at
	st.Timeline = append(st.Timeline, workflows.Event{At: at, Kind: workflows.EventClosed, Text: state})
}

// Close ends an incident in state, as the workflow would, and wakes watchers.
func (f *Fake) Close(id, state string) {
	f.Update(id, func(st *workflows.Status) { f.close(st, state, f.now()) })
}

// List returns stored incidents, newest first, filtered like the real client.
func (f *Fake) List(_ context.Context, lf incidents.ListFilter) ([]incidents.Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("List", "", lf); err != nil {
		return nil, err
	}
	var out []incidents.Summary
	for _, st := range f.byID {
		if lf.Open && st.ClosedAt != nil || lf.Runbook != "" && st.Runbook != lf.Runbook {
			continue
		}
		out = append(out, incidents.Summary{
			IncidentID: st.IncidentID, ShortID: st.ShortID, Runbook: st.Runbook, State: st.State,
			Severity: st.Severity, Service: st.Service, StartedAt: st.StartedAt, ClosedAt: st.ClosedAt,
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].StartedAt.Equal(out[j].StartedAt) {
			return out[i].StartedAt.After(out[j].StartedAt)
		}
		return out[i].IncidentID < out[j].IncidentID
	})
	limit := lf.Limit
	if limit <= 0 {
		limit = 50
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Watch emits the timeline, then each new event as the fake changes, until the incident
// closes or ctx ends (returning ctx.Err(), as the real client does).
func (f *Fake) Watch(ctx context.Context, ref string, onEvent func(workflows.Event, workflows.Status)) (workflows.Status, error) {
	f.mu.Lock()
	if err := f.enter("Watch", ref, nil); err != nil {
		f.mu.Unlock()
		return workflows.Status{}, err
	}
	id, err := f.resolve(ref)
	f.mu.Unlock()
	if err != nil {
		return workflows.Status{}, err
	}
	emitted := 0
	for {
		f.mu.Lock()
		stored, ok := f.byID[id]
		if !ok {
			f.mu.Unlock()
			return workflows.Status{}, fmt.Errorf("%w: no incident with ID %s", incidents.ErrNotFound, id)
		}
		st, changed := snapshot(stored), f.changed
		f.mu.Unlock()
		for ; emitted < len(st.Timeline); emitted++ {
			onEvent(st.Timeline[emitted], st)
		}
		if st.ClosedAt != nil {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-changed:
		}
	}
}

// FreezeState returns the stored freeze of scope, or an unfrozen one.
func (f *Fake) FreezeState(_ context.Context, scope string) (workflows.FreezeState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("FreezeState", scope, nil); err != nil {
		return workflows.FreezeState{}, err
	}
	if st, ok := f.freezes[scope]; ok {
		return st, nil
	}
	return workflows.FreezeState{Scope: scope}, nil
}
