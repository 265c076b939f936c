package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/quench-dev/quench/runbooks"
)

// Default limits (Limits documents them).
const (
	defaultTimelineCap      = 500
	defaultHistoryLimit     = 8000
	defaultMaxTrackedAlerts = 5000
)

// limitsOf fills the defaults into an input's limits.
func limitsOf(in *Limits) Limits {
	l := Limits{}
	if in != nil {
		l = *in
	}
	if l.TimelineCap <= 0 {
		l.TimelineCap = defaultTimelineCap
	}
	if l.HistoryLimit <= 0 {
		l.HistoryLimit = defaultHistoryLimit
	}
	if l.MaxTrackedAlerts <= 0 {
		l.MaxTrackedAlerts = defaultMaxTrackedAlerts
	}
	return l
}

// errContinueAsNew unwinds the interpreter to its top, where the state is handed to a new
// run. It is never returned to Temporal as is.
var errContinueAsNew = errors.New("pausing to continue as new")

var (
	searchRunbookKey  = temporal.NewSearchAttributeKeyKeyword(SearchRunbook)
	searchStatusKey   = temporal.NewSearchAttributeKeyKeyword(SearchStatus)
	searchServiceKey  = temporal.NewSearchAttributeKeyKeyword(SearchService)
	searchSeverityKey = temporal.NewSearchAttributeKeyKeyword(SearchSeverity)
	searchShortIDKey  = temporal.NewSearchAttributeKeyKeyword(SearchShortID)
)

// incident is one run of the interpreter: the input, the state it carries across runs,
// and what only this run needs.
type incident struct {
	in     IncidentInput
	st     *IncidentState
	status *Status // = &st.Status
	steps  []runbooks.Step
	limits Limits
	logger log.Logger

	// progress counts steps finished and signals or updates handled in this run: a run
	// continues as new only after it moved, so a fresh run never hands over at once.
	progress int
	// cancelCurrent cancels what the incident waits on right now (a step's activity, timer
	// or approval); the abort signal calls it.
	cancelCurrent workflow.CancelFunc
	// closed is set once the final state is recorded; decisions are refused after it.
	closed bool
	// chat is this run's chat outbox; nil when chat is off (announce.go).
	chat *announcer
	// unsigned counts this run's decisions without a proof (decide_legacy.go).
	unsigned int
	// keysLoaded: this run already loaded the worker's decision keys (decide.go).
	keysLoaded bool
	// resolveSignalled: a human resolved the incident in this run (not an alert): a verify
	// in progress stops at once (verify.go).
	resolveSignalled bool
}

func newIncident(ctx workflow.Context, in IncidentInput) *incident {
	in.Spec = shared.spec(in.Spec)
	if in.State != nil {
		in.State.Policy = shared.policy(in.State.Policy)
	}
	w := &incident{in: in, steps: in.Spec.Steps, limits: limitsOf(in.Limits), logger: workflow.GetLogger(ctx)}
	if in.State != nil {
		w.st = in.State
		w.status = &w.st.Status
		if w.st.SeenAlerts == nil {
			w.st.SeenAlerts = map[string]string{}
		}
		w.status.Runs++
		return w
	}
	now := workflow.Now(ctx)
	title := in.Spec.Title
	if title == "" {
		title = in.Spec.Name
	}
	w.st = &IncidentState{
		Status: Status{
			IncidentID: in.IncidentID,
			ShortID:    in.ShortID,
			Runbook:    in.Spec.Name,
			Title:      title,
			State:      StateRunning,
			Severity:   in.Severity,
			Service:    in.Service,
			Requester:  in.Requester,
			Source:     in.Source,
			StartedAt:  now,
			Params:     in.Params,
			Runs:       1,
		},
		SeenAlerts: map[string]string{},
	}
	w.status = &w.st.Status
	for _, s := range in.Spec.Steps {
		w.status.Steps = append(w.status.Steps, StepState{ID: s.ID, Action: s.Action, Title: s.Title, State: StepPending})
	}
	return w
}

// event appends a line to the timeline, dropping the oldest past the timeline cap.
func (w *incident) event(ctx workflow.Context, kind, stepID, actor, text string, data map[string]string) {
	w.status.Timeline = append(w.status.Timeline, Event{
		At: workflow.Now(ctx), Kind: kind, StepID: stepID, Actor: actor, Text: text, Data: data,
	})
	w.announce(w.status.Timeline[len(w.status.Timeline)-1], w.status.TimelineDropped+len(w.status.Timeline))
	if over := len(w.status.Timeline) - w.limits.TimelineCap; over > 0 {
		w.status.Timeline = append([]Event(nil), w.status.Timeline[over:]...)
		w.status.TimelineDropped += over
	}
}

// setState changes the incident state and keeps the QuenchStatus search attribute current.
func (w *incident) setState(ctx workflow.Context, state string) {
	if w.status.State == state {
		return
	}
	w.status.State = state
	w.upsertSearch(ctx, searchStatusKey.ValueSet(state))
}

// refreshState derives running / awaiting / closing from what the incident waits on.
func (w *incident) refreshState(ctx workflow.Context) {
	if w.closed {
		return
	}
	switch {
	case len(w.status.Pending) > 0:
		w.setState(ctx, StateAwaiting)
	case w.status.Verifying != nil:
		w.setState(ctx, StateVerifying)
	case w.st.NextStep >= len(w.steps):
		w.setState(ctx, StateClosing)
	default:
		w.setState(ctx, StateRunning)
	}
}

// upsertAllSearch sets every search attribute; called at the start of each run.
func (w *incident) upsertAllSearch(ctx workflow.Context) {
	updates := []temporal.SearchAttributeUpdate{
		searchRunbookKey.ValueSet(w.status.Runbook),
		searchStatusKey.ValueSet(w.status.State),
		searchShortIDKey.ValueSet(w.status.ShortID),
	}
	if w.status.Service != "" {
		updates = append(updates, searchServiceKey.ValueSet(w.status.Service))
	}
	if w.status.Severity != "" {
		updates = append(updates, searchSeverityKey.ValueSet(w.status.Severity))
	}
	w.upsertSearch(ctx, updates...)
}

func (w *incident) upsertSearch(ctx workflow.Context, updates ...temporal.SearchAttributeUpdate) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		// Listing is a convenience; the incident itself must go on.
		w.logger.Warn("Could not update search attributes; is quench's search attribute set registered?", "error", err)
	}
}

// shouldContinueAsNew: this run has moved and its history is getting long.
func (w *incident) shouldContinueAsNew(ctx workflow.Context) bool {
	if w.progress == 0 {
		return false
	}
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() > w.limits.HistoryLimit
}

// scope is what templates and `when` conditions see.
func (w *incident) scope() runbooks.Scope {
	steps := make(map[string]runbooks.StepScope, len(w.status.Steps))
	for _, s := range w.status.Steps {
		steps[s.ID] = runbooks.StepScope{State: s.State, Outputs: s.Outputs}
	}
	return runbooks.Scope{
		Params: w.status.Params,
		Alert:  w.in.Alert,
		Steps:  steps,
		Incident: runbooks.IncidentScope{
			ID:        w.status.IncidentID,
			ShortID:   w.status.ShortID,
			Runbook:   w.status.Runbook,
			Title:     w.status.Title,
			Requester: w.status.Requester,
			Gateway:   w.in.Gateway,
		},
	}
}

// failedStep reports whether a step failed with on_error abort, which fails the incident.
func (w *incident) failedStep() bool {
	for i, s := range w.status.Steps {
		if s.State == StepFailed && w.steps[i].OnError != runbooks.OnErrorContinue {
			return true
		}
	}
	return false
}

// finalState is the state an incident closes in.
func (w *incident) finalState() string {
	switch {
	case w.st.Aborted:
		return StateAborted
	case w.failedStep():
		return StateFailed
	case w.status.Resolved:
		return StateResolved
	default:
		return StateCompleted
	}
}

// errorText turns an activity or workflow error into a line a human can act on.
func errorText(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	var timeoutErr *temporal.TimeoutError
	if errors.As(err, &timeoutErr) {
		return fmt.Sprintf("timed out (%s timeout): raise the step's timeout or check the target", timeoutErr.TimeoutType())
	}
	return err.Error()
}
