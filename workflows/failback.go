package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/runbooks"
)

// ProviderHealth is what a fail-back step (runbooks.Failback) measured of the provider it
// returns the route to; StepState.Health, so `show -o json` and later runs have it.
type ProviderHealth struct {
	Provider     string    `json:"provider"`
	Window       string    `json:"window"`
	Requests     int       `json:"requests"`
	ErrorRate    float64   `json:"error_rate"`
	LatencyP95Ms float64   `json:"latency_p95_ms,omitempty"`
	Measured     bool      `json:"measured"` // false: the figure could not be taken (Text says why)
	Healthy      bool      `json:"healthy"`
	Text         string    `json:"text"` // the figure in words, as the prompt and timeline show it
	MeasuredAt   time.Time `json:"measured_at"`
	// HealthySince is the first of the unbroken run of healthy measurements up to now.
	HealthySince *time.Time `json:"healthy_since,omitempty"`
	// AutoAfter is the runbook's auto_after_healthy, when set.
	AutoAfter string `json:"auto_after,omitempty"`
	// Final: the figure cannot be taken here (no traffic source, one that cannot measure a
	// provider, no provider named), so it is not measured again.
	Final bool `json:"final,omitempty"`
}

// ViaHealth is the Via of the decision a fail back takes by itself after its provider was
// healthy for auto_after_healthy: it decides alone, whatever the quorum.
const ViaHealth = "health"

// healthPromptMark separates the runbook's prompt from the figure appended to it.
const healthPromptMark = "\n\nMeasured: "

// measureFailback takes the first figure of a fail-back step, before its approval opens.
// A step resumed by a later run (its approval already open) has one and keeps it.
func (w *incident) measureFailback(ctx workflow.Context, i int) {
	if w.steps[i].Failback == nil || w.status.Steps[i].Health != nil {
		return
	}
	// The step is in flight while it measures: a resolve that answers meanwhile waits
	// for the approval this leads to (incidents.AfterSignal) instead of reporting a
	// pending step.
	ss := &w.status.Steps[i]
	before := ss.State
	ss.State = StepRunning
	w.takeHealth(ctx, i)
	ss.State = before
}

// watchFailback measures again every `every` while step i's approval waits, keeps the
// prompt's figure current, and with auto_after_healthy approves the step once every
// measurement for that long said healthy. The returned func stops it.
func (w *incident) watchFailback(ctx workflow.Context, i int) (stop func()) {
	f := w.steps[i].Failback
	if f == nil {
		return func() {}
	}
	wctx, cancel := workflow.WithCancel(ctx)
	workflow.Go(wctx, func(ctx workflow.Context) {
		for {
			if w.autoFailback(ctx, i) {
				return
			}
			if h := w.status.Steps[i].Health; h != nil && h.Final {
				return // nothing here can measure it: asking again every minute cannot help
			}
			if err := workflow.Sleep(ctx, f.EveryOrDefault()); err != nil {
				return
			}
			w.takeHealth(ctx, i)
			if ctx.Err() != nil {
				return
			}
		}
	})
	return cancel
}

// takeHealth measures the provider once and records the figure: on the step, in the
// pending approval's prompt, and on the timeline when it is the first or health changed.
func (w *incident) takeHealth(ctx workflow.Context, i int) {
	step := w.steps[i]
	f := *step.Failback
	ss := &w.status.Steps[i]
	provider, rerr := runbooks.RenderString(f.Provider, w.scope())
	provider = strings.TrimSpace(provider)
	window := f.WindowOrDefault()
	now := workflow.Now(ctx)
	h := ProviderHealth{Provider: provider, Window: runbooks.Duration(window).String(), MeasuredAt: now}
	if f.AutoAfterHealthy > 0 {
		h.AutoAfter = f.AutoAfterHealthy.String()
	}
	var fig ports.HealthFigure
	var err error
	switch {
	case rerr != nil:
		err = fmt.Errorf("rendering failback.provider: %w", rerr)
	case provider == "":
		err = fmt.Errorf("failback.provider %q rendered empty", f.Provider)
	default:
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: time.Minute,
			HeartbeatTimeout:    heartbeatTimeout,
			RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumAttempts: 3},
			Summary:             step.ID + " health",
		})
		err = workflow.ExecuteActivity(actx, activities.HealthActivity, ports.HealthInput{Provider: provider, Window: window, Now: now}).Get(actx, &fig)
	}
	if ctx.Err() != nil {
		return // the gate closed meanwhile
	}
	if err != nil {
		h.Text = fmt.Sprintf("not measured (%s): %s", provider, errorText(err))
		h.Final = rerr != nil || provider == "" || isNonRetryable(err)
	} else {
		h.Measured, h.Requests, h.ErrorRate, h.LatencyP95Ms = true, fig.Requests, fig.ErrorRate, fig.LatencyP95Ms
		h.Healthy, h.Text = judgeHealth(f, provider, window, fig)
	}
	prev := ss.Health
	if h.Healthy {
		h.HealthySince = &now
		if prev != nil && prev.Healthy && prev.HealthySince != nil {
			h.HealthySince = prev.HealthySince
		}
	}
	ss.Health = &h
	if idx := w.pendingIndex(step.ID, false); idx >= 0 {
		w.status.Pending[idx].Prompt = withHealth(w.status.Pending[idx].Prompt, h)
		if w.chat != nil && (prev == nil || prev.Text != h.Text) {
			w.chat.dirty = true // the card shows the prompt: update it when the figure changed
		}
	}
	if prev == nil || prev.Healthy != h.Healthy || prev.Measured != h.Measured {
		result := map[bool]string{true: "healthy", false: "unhealthy"}[h.Healthy]
		if !h.Measured {
			result = "inconclusive"
		}
		w.event(ctx, EventVerify, step.ID, "", "fail back: "+h.Text, map[string]string{"provider": provider, "result": result})
	}
}

// judgeHealth words a figure and says whether it is healthy by the runbook's thresholds.
func judgeHealth(f runbooks.Failback, provider string, window time.Duration, fig ports.HealthFigure) (bool, string) {
	var b strings.Builder
	if fig.Probe {
		// A probe measured the present, not the window: say so.
		fmt.Fprintf(&b, "%s probed now: ", provider)
	} else {
		fmt.Fprintf(&b, "%s over the last %s: ", provider, runbooks.Duration(window))
	}
	if fig.Requests == 0 {
		fmt.Fprintf(&b, "no requests")
	} else {
		fmt.Fprintf(&b, "error rate %.1f%% (%d of %d requests)", 100*fig.ErrorRate, fig.Errors, fig.Requests)
		if fig.LatencyP95Ms > 0 {
			fmt.Fprintf(&b, ", p95 latency %s", msText(fig.LatencyP95Ms))
		}
	}
	maxRate := f.ErrorRateOrDefault()
	limits := fmt.Sprintf("error rate below %.1f%%", 100*maxRate)
	if f.MaxLatencyP95 > 0 {
		limits += ", p95 below " + f.MaxLatencyP95.String()
	}
	var verdict string
	healthy := false
	switch {
	case fig.Requests == 0 || (!fig.Probe && fig.Requests < f.MinRequestsOrDefault()):
		verdict = fmt.Sprintf("not enough traffic to judge (at least %d requests needed)", f.MinRequestsOrDefault())
	case fig.ErrorRate >= maxRate:
		verdict = "unhealthy (" + limits + ")"
	case f.MaxLatencyP95 > 0 && fig.LatencyP95Ms >= float64(f.MaxLatencyP95.D().Milliseconds()):
		verdict = "unhealthy (" + limits + ")"
	default:
		healthy, verdict = true, "healthy ("+limits+")"
	}
	fmt.Fprintf(&b, " — %s", verdict)
	if fig.Source != "" {
		fmt.Fprintf(&b, "; from %s", fig.Source)
	}
	return healthy, b.String()
}

func msText(ms float64) string {
	if ms >= 1000 {
		return fmt.Sprintf("%.1f s", ms/1000)
	}
	return fmt.Sprintf("%.0f ms", ms)
}

// withHealth is a prompt with the latest figure in place of an earlier one.
func withHealth(prompt string, h ProviderHealth) string {
	if i := strings.Index(prompt, healthPromptMark); i >= 0 {
		prompt = prompt[:i]
	}
	text := h.Text + " (measured " + h.MeasuredAt.UTC().Format("15:04 MST") + ")"
	if h.AutoAfter != "" {
		text += fmt.Sprintf(". quench fails back by itself once healthy for %s", h.AutoAfter)
	}
	if prompt == "" {
		return strings.TrimPrefix(healthPromptMark, "\n\n") + text
	}
	return prompt + healthPromptMark + text
}

// autoFailback approves step i's pending approval once its provider has been healthy for
// auto_after_healthy; it reports whether it did.
func (w *incident) autoFailback(ctx workflow.Context, i int) bool {
	f := w.steps[i].Failback
	h := w.status.Steps[i].Health
	if f.AutoAfterHealthy <= 0 || h == nil || !h.Healthy || h.HealthySince == nil {
		return false
	}
	now := workflow.Now(ctx)
	if now.Sub(*h.HealthySince) < f.AutoAfterHealthy.D() {
		return false
	}
	idx := w.pendingIndex(w.steps[i].ID, false)
	if idx < 0 || verdictOf(w.status.Pending[idx]) != "" {
		return false
	}
	reason := fmt.Sprintf("%s healthy for %s: %s", h.Provider, f.AutoAfterHealthy, h.Text)
	rec := DecisionRecord{Approver: "quench", Verdict: VerdictApprove, Via: ViaHealth, Reason: reason, At: now, Auto: true}
	w.status.Pending[idx].Approvals = append(w.status.Pending[idx].Approvals, rec)
	w.event(ctx, EventDecision, w.steps[i].ID, rec.Approver,
		fmt.Sprintf("quench approved step %s (%s) on measured health (auto_after_healthy: %s): %s", w.steps[i].ID, w.steps[i].Action, f.AutoAfterHealthy, h.Text),
		map[string]string{"verdict": rec.Verdict, "via": rec.Via})
	return true
}

// stepHealth is the figure a step measured, nil for other steps.
func (w *incident) stepHealth(stepID string) *ProviderHealth {
	for i := range w.status.Steps {
		if w.status.Steps[i].ID == stepID {
			return w.status.Steps[i].Health
		}
	}
	return nil
}
