package workflows

import (
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/ports"
)

// freezeEnforcementVersion guards the enforcement activity: freeze workflows whose history
// predates it replay without it.
const freezeEnforcementVersion = "freeze-enforcement"

// Bounds of the enforcement sweep. The host asks for its interval (EnforceResult.SweepEvery);
// a failed enforcement is tried again after retryEnforcementAfter.
var (
	minSweepEvery         = 10 * time.Second
	retryEnforcementAfter = time.Minute
)

// enforcer keeps the prompts host (GitHub) in line with the scope's freeze: it runs
// prompts.enforce_freeze on every change of the freeze and, while frozen, every SweepEvery
// the host asks for, catching pull requests whose webhook never came. One enforcement runs
// at a time, so an older state can never land after a newer one; a change meanwhile is
// enforced as soon as the running one ends.
//
// The sweep lives here rather than in a worker goroutine: it is durable (a crash resumes
// it), runs once per scope however many workers there are, and stops by itself when the
// freeze ends. Its history cost (~11 events a sweep) is bounded by continue-as-new.
type enforcer struct {
	on        bool
	mustStart bool // a continued run re-enforces whatever state it inherits
	pending   workflow.Future
	pendingOf ports.FreezeEnforcement
	attempted *ports.FreezeEnforcement // the last state started
	failed    bool                     // the last attempt failed: try again at nextSweep
	hostCares bool                     // the host enforces this scope (asks for sweeps)
	every     time.Duration
	nextSweep time.Time
	runs      int // enforcements started in this run (they grow the history too)
}

func newEnforcer(ctx workflow.Context, resumed bool) *enforcer {
	v := workflow.GetVersion(ctx, freezeEnforcementVersion, workflow.DefaultVersion, 1)
	return &enforcer{on: v >= 1, mustStart: resumed}
}

// EnforcementOf is what a prompts host must enforce for a freeze state (the freeze workflow
// and the GitHub webhook agree on it).
func EnforcementOf(st FreezeState) ports.FreezeEnforcement {
	e := ports.FreezeEnforcement{Scope: st.Scope, Frozen: st.Frozen}
	for _, h := range st.Holds {
		e.Holders = append(e.Holders, h.Holder)
	}
	if len(st.Holds) > 0 {
		e.Reason = st.Holds[0].Reason
	}
	return e
}

func sameEnforcement(a, b ports.FreezeEnforcement) bool {
	return a.Scope == b.Scope && a.Frozen == b.Frozen && a.Reason == b.Reason &&
		strings.Join(a.Holders, "\x00") == strings.Join(b.Holders, "\x00")
}

// sync starts an enforcement when the state changed since the last one started, or when a
// sweep (or the retry of a failed enforcement) is due.
func (e *enforcer) sync(ctx workflow.Context, st FreezeState) {
	if !e.on || e.pending != nil {
		return
	}
	want := EnforcementOf(st)
	changed := want.Frozen || e.mustStart
	if e.attempted != nil {
		changed = !sameEnforcement(*e.attempted, want)
	}
	due := (e.failed || (e.hostCares && want.Frozen)) && !workflow.Now(ctx).Before(e.nextSweep)
	if !changed && !due {
		return
	}
	e.mustStart = false
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    2 * time.Minute,
		ScheduleToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:       30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
		},
		Summary: "enforce freeze of " + st.Scope,
	})
	e.pending = workflow.ExecuteActivity(actx, activities.EnforceFreezeActivity, want)
	e.pendingOf = want
	e.attempted = &want
	e.runs++
}

// addTo lets the selector wake for the running enforcement's end or the next sweep.
func (e *enforcer) addTo(ctx, timerCtx workflow.Context, sel workflow.Selector, frozen bool) {
	if !e.on {
		return
	}
	if e.pending != nil {
		sel.AddFuture(e.pending, func(f workflow.Future) { e.done(ctx, f) })
		return
	}
	if e.failed || (e.hostCares && frozen) {
		if wait := e.nextSweep.Sub(workflow.Now(ctx)); wait > 0 {
			sel.AddFuture(workflow.NewTimer(timerCtx, wait), func(workflow.Future) {})
		}
	}
}

func (e *enforcer) done(ctx workflow.Context, f workflow.Future) {
	var res ports.EnforceResult
	err := f.Get(ctx, &res)
	e.pending = nil
	now := workflow.Now(ctx)
	if err != nil {
		e.failed = true
		e.nextSweep = now.Add(retryEnforcementAfter)
		workflow.GetLogger(ctx).Warn("Enforcing the freeze on the prompts host failed; trying again later",
			"scope", e.pendingOf.Scope, "frozen", e.pendingOf.Frozen, "error", err)
		return
	}
	e.failed = false
	e.hostCares = res.Enforced
	e.every = max(res.SweepEvery, minSweepEvery)
	e.nextSweep = now.Add(e.every)
}

// settle waits for a running enforcement, so the next run never races it.
func (e *enforcer) settle(ctx workflow.Context) {
	if e.on && e.pending != nil {
		e.done(ctx, e.pending)
	}
}
