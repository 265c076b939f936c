package workflows

import (
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"
)

// Default freeze limits (FreezeLimits documents them). A freeze workflow runs for as long as
// the scope exists, so it continues as new well before Temporal's history warning.
const (
	defaultFreezeHistoryCap   = 100
	defaultFreezeHistoryLimit = 4000
)

func freezeLimitsOf(in *FreezeLimits) FreezeLimits {
	l := FreezeLimits{}
	if in != nil {
		l = *in
	}
	if l.HistoryCap <= 0 {
		l.HistoryCap = defaultFreezeHistoryCap
	}
	if l.HistoryLimit <= 0 {
		l.HistoryLimit = defaultFreezeHistoryLimit
	}
	return l
}

// Freeze event kinds (FreezeEvent.Kind).
const (
	FreezeKindFreeze   = "freeze"
	FreezeKindUnfreeze = "unfreeze"
	FreezeKindExpired  = "expired"
)

// FreezeWorkflow holds one scope's freeze. Each incident that freezes the scope is a holder
// with its own expiry; the scope is frozen while any hold remains. It runs on after the last
// hold ends, so `quench freeze status` still shows the history, and sleeps until a signal
// or the next expiry.
func FreezeWorkflow(ctx workflow.Context, in FreezeInput) (FreezeState, error) {
	f := &freezer{state: FreezeState{Scope: in.Scope}, limits: freezeLimitsOf(in.Limits)}
	if in.State != nil {
		f.state = *in.State
	}
	if err := workflow.SetQueryHandler(ctx, QueryFreeze, func() (FreezeState, error) { return f.state, nil }); err != nil {
		return f.state, err
	}
	freezeCh := workflow.GetSignalChannel(ctx, SignalFreeze)
	unfreezeCh := workflow.GetSignalChannel(ctx, SignalUnfreeze)
	enforce := newEnforcer(ctx, in.State != nil)

	for {
		f.expire(ctx)
		enforce.sync(ctx, f.state)
		if f.handled+enforce.runs > 0 && f.shouldContinueAsNew(ctx) {
			f.drain(ctx, freezeCh, unfreezeCh)
			enforce.settle(ctx)
			return f.state, workflow.NewContinueAsNewError(ctx, FreezeWorkflowName, FreezeInput{Scope: f.state.Scope, Limits: in.Limits, State: &f.state})
		}

		timerCtx, cancelTimer := workflow.WithCancel(ctx)
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(freezeCh, func(c workflow.ReceiveChannel, _ bool) {
			var h Hold
			c.Receive(ctx, &h)
			f.hold(ctx, h)
		})
		sel.AddReceive(unfreezeCh, func(c workflow.ReceiveChannel, _ bool) {
			var r Release
			c.Receive(ctx, &r)
			f.release(ctx, r)
		})
		if next, ok := f.nextExpiry(); ok {
			sel.AddFuture(workflow.NewTimer(timerCtx, next.Sub(workflow.Now(ctx))), func(workflow.Future) {})
		}
		enforce.addTo(ctx, timerCtx, sel, f.state.Frozen)
		sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
		sel.Select(ctx)
		cancelTimer()
		if ctx.Err() != nil {
			return f.state, nil
		}
	}
}

type freezer struct {
	state   FreezeState
	limits  FreezeLimits
	handled int // signals handled in this run
}

func (f *freezer) hold(ctx workflow.Context, h Hold) {
	f.handled++
	if i := slices.IndexFunc(f.state.Holds, func(x Hold) bool { return x.Holder == h.Holder }); i >= 0 {
		// A retried or repeated freeze from the same incident extends it quietly.
		if h.Until.After(f.state.Holds[i].Until) {
			f.state.Holds[i].Until = h.Until
		}
		return
	}
	f.state.Holds = append(f.state.Holds, h)
	f.record(ctx, FreezeKindFreeze, h.Holder, h.Reason)
}

func (f *freezer) release(ctx workflow.Context, r Release) {
	f.handled++
	i := slices.IndexFunc(f.state.Holds, func(x Hold) bool { return x.Holder == r.Holder })
	if i < 0 {
		return // not holding (already released or expired): nothing changes
	}
	f.state.Holds = slices.Delete(f.state.Holds, i, i+1)
	reason := ""
	if r.By != "" {
		reason = "released by " + r.By
	}
	f.record(ctx, FreezeKindUnfreeze, r.Holder, reason)
}

// expire ends every hold whose time has come.
func (f *freezer) expire(ctx workflow.Context) {
	now := workflow.Now(ctx)
	var expired []Hold
	f.state.Holds = slices.DeleteFunc(f.state.Holds, func(h Hold) bool {
		if !h.Until.IsZero() && !h.Until.After(now) {
			expired = append(expired, h)
			return true
		}
		return false
	})
	for _, h := range expired {
		f.record(ctx, FreezeKindExpired, h.Holder, h.Reason)
	}
	f.state.Frozen = len(f.state.Holds) > 0
}

// nextExpiry is the earliest Until among the holds (a zero Until never expires).
func (f *freezer) nextExpiry() (time.Time, bool) {
	var next time.Time
	for _, h := range f.state.Holds {
		if !h.Until.IsZero() && (next.IsZero() || h.Until.Before(next)) {
			next = h.Until
		}
	}
	return next, !next.IsZero()
}

func (f *freezer) record(ctx workflow.Context, kind, holder, reason string) {
	f.state.History = append(f.state.History, FreezeEvent{At: workflow.Now(ctx), Kind: kind, Holder: holder, Reason: reason})
	if over := len(f.state.History) - f.limits.HistoryCap; over > 0 {
		f.state.History = append([]FreezeEvent(nil), f.state.History[over:]...)
	}
	f.state.Frozen = len(f.state.Holds) > 0
}

func (f *freezer) shouldContinueAsNew(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() > f.limits.HistoryLimit
}

// drain applies signals delivered but not yet received, so none is lost across runs.
func (f *freezer) drain(ctx workflow.Context, freezeCh, unfreezeCh workflow.ReceiveChannel) {
	for more := true; more; {
		more = false
		var h Hold
		for freezeCh.ReceiveAsync(&h) {
			f.hold(ctx, h)
			h, more = Hold{}, true
		}
		var r Release
		for unfreezeCh.ReceiveAsync(&r) {
			f.release(ctx, r)
			r, more = Release{}, true
		}
	}
	f.expire(ctx)
}
