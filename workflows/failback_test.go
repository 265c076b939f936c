package workflows

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/probe"
	"github.com/quench-dev/quench/runbooks"
)

// healthSource is a fake traffic.health: the figures in order, the last one repeating.
type healthSource struct {
	mu      sync.Mutex
	figures []ports.HealthFigure
	err     error
	calls   []ports.HealthInput
}

func (s *healthSource) register(h *harness) {
	h.env.RegisterActivityWithOptions(func(_ context.Context, in ports.HealthInput) (ports.HealthFigure, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.calls = append(s.calls, in)
		if s.err != nil {
			return ports.HealthFigure{}, s.err
		}
		i := min(len(s.calls)-1, len(s.figures)-1)
		return s.figures[i], nil
	}, activity.RegisterOptions{Name: activities.HealthActivity})
}

func (s *healthSource) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

var (
	healthyFigure   = ports.HealthFigure{Requests: 812, Errors: 3, ErrorRate: 3.0 / 812, LatencyP95Ms: 1200, Source: "the JSONL traffic log"}
	unhealthyFigure = ports.HealthFigure{Requests: 400, Errors: 120, ErrorRate: 0.3, LatencyP95Ms: 9000, Source: "the JSONL traffic log"}
)

func failbackSpec(fb runbooks.Failback) runbooks.Spec {
	failback := restoreStep("failback")
	failback.Approval = &runbooks.Approval{Groups: []string{"sre"}, Prompt: "Move route {{ .params.route }} back to {{ .steps.failover.outputs.from }}?"}
	failback.Failback = &fb
	return testSpec(switchStep("failover"), failback)
}

// The approval asks with the measured figure of the provider it returns to; the figure is
// on the timeline and the step; a human still decides.
func TestFailbackAsksWithTheProvidersHealth(t *testing.T) {
	h := newHarness(t)
	src := &healthSource{figures: []ports.HealthFigure{healthyFigure}}
	src.register(h)
	var asked PendingApproval
	h.at(30*time.Second, func() { asked = h.status().Pending[0] })
	h.decideAt(time.Minute, approve("failback", "bob"))
	st := h.run(testInput(failbackSpec(runbooks.Failback{Provider: "{{ .steps.failover.outputs.from }}", Window: runbooks.Duration(10 * time.Minute)})))

	require.NotEmpty(t, src.calls)
	assert.Equal(t, ports.HealthInput{Provider: "openai", Window: 10 * time.Minute, Now: src.calls[0].Now}, src.calls[0],
		"the provider the switch left, over the runbook's window")
	assert.Contains(t, asked.Prompt, "Move route chat back to openai?")
	assert.Contains(t, asked.Prompt, "Measured: openai over the last 10m0s: error rate 0.4% (3 of 812 requests), p95 latency 1.2 s — healthy (error rate below 5.0%)")
	assert.Contains(t, asked.Prompt, "from the JSONL traffic log")

	fb := stepByID(st, "failback")
	assert.Equal(t, StepDone, fb.State)
	require.NotNil(t, fb.Health)
	assert.True(t, fb.Health.Healthy)
	assert.Equal(t, 812, fb.Health.Requests)
	ev := eventsOf(st, EventVerify, "failback")
	require.Len(t, ev, 1, "the figure is on the timeline once while it stays healthy")
	assert.Contains(t, ev[0].Text, "fail back: openai over the last 10m0s: error rate 0.4%")
	assert.Equal(t, "healthy", ev[0].Data["result"])
	assert.Contains(t, fb.Summary, "approved by bob", "a human decided")
}

// With auto_after_healthy the fail back runs by itself once every measurement for that long
// said healthy; an unhealthy one starts the count again.
func TestFailbackRunsByItselfAfterHealthyMinutes(t *testing.T) {
	h := newHarness(t)
	src := &healthSource{figures: []ports.HealthFigure{unhealthyFigure, unhealthyFigure, unhealthyFigure, healthyFigure}}
	src.register(h)
	start := h.env.Now()
	st := h.run(testInput(failbackSpec(runbooks.Failback{Provider: "{{ .steps.failover.outputs.from }}",
		MaxLatencyP95: runbooks.Duration(5 * time.Second), Every: runbooks.Duration(time.Minute), AutoAfterHealthy: runbooks.Duration(10 * time.Minute)})))

	assert.Equal(t, StateCompleted, st.State)
	fb := stepByID(st, "failback")
	assert.Equal(t, StepDone, fb.State)
	assert.Contains(t, fb.Summary, "approved by quench")
	decisions := eventsOf(st, EventDecision, "failback")
	require.Len(t, decisions, 1)
	assert.Equal(t, "quench", decisions[0].Actor)
	assert.Equal(t, ViaHealth, decisions[0].Data["via"])
	assert.Contains(t, decisions[0].Text, "on measured health (auto_after_healthy: 10m0s)")
	// Unhealthy at 0, 1 and 2 minutes, healthy from 3: ten healthy minutes end at 13.
	assert.Equal(t, 13*time.Minute, decisions[0].At.Sub(start).Round(time.Minute))
	assert.Equal(t, 14, src.count(), "one measurement before asking, then one a minute")

	verdicts := eventsOf(st, EventVerify, "failback")
	require.Len(t, verdicts, 2, "the timeline has the first figure and the change to healthy, not every minute")
	assert.Equal(t, "unhealthy", verdicts[0].Data["result"])
	assert.Contains(t, verdicts[0].Text, "p95 latency 9.0 s — unhealthy (error rate below 5.0%, p95 below 5s)")
	assert.Equal(t, "healthy", verdicts[1].Data["result"])
	assert.Contains(t, h.sequence(), "gateway.restore failback")
}

// A human decision before the healthy minutes pass wins, and the measuring stops.
func TestFailbackHumanRejectsBeforeAuto(t *testing.T) {
	h := newHarness(t)
	src := &healthSource{figures: []ports.HealthFigure{healthyFigure}}
	src.register(h)
	h.decideAt(3*time.Minute+30*time.Second, reject("failback", "carol", "keep the fallback over the weekend"))
	st := h.run(testInput(failbackSpec(runbooks.Failback{Provider: "{{ .steps.failover.outputs.from }}", AutoAfterHealthy: runbooks.Duration(10 * time.Minute)})))

	assert.Equal(t, StepRejected, stepByID(st, "failback").State)
	assert.NotContains(t, h.sequence(), "gateway.restore failback")
	assert.Equal(t, 4, src.count(), "measured at 0, 1, 2 and 3 minutes, then no more")
}

// Without a source that can measure the provider, the prompt says so, nothing measures it
// again, and nothing fails back by itself.
func TestFailbackWithoutAHealthSourceAsksWithoutAFigure(t *testing.T) {
	h := newHarness(t)
	src := &healthSource{err: temporal.NewNonRetryableApplicationError("no traffic source configured: start quench with --traffic-log FILE", activities.ErrTypeNotConfigured, nil)}
	src.register(h)
	var asked PendingApproval
	h.at(30*time.Minute, func() { asked = h.status().Pending[0] })
	h.decideAt(time.Hour, approve("failback", "bob"))
	st := h.run(testInput(failbackSpec(runbooks.Failback{Provider: "{{ .steps.failover.outputs.from }}", AutoAfterHealthy: runbooks.Duration(10 * time.Minute)})))

	assert.Contains(t, asked.Prompt, "Measured: not measured (openai): no traffic source configured")
	assert.Equal(t, 1, src.count())
	fb := stepByID(st, "failback")
	assert.Equal(t, StepDone, fb.State)
	assert.Contains(t, fb.Summary, "approved by bob")
	require.Len(t, eventsOf(st, EventVerify, "failback"), 1)
	assert.Equal(t, "inconclusive", eventsOf(st, EventVerify, "failback")[0].Data["result"])
}

// A run that hands over while the fail back waits carries its figure and its healthy time:
// the next run neither measures again at once nor starts the healthy count anew.
func TestFailbackHealthSurvivesContinueAsNew(t *testing.T) {
	src := &healthSource{figures: []ports.HealthFigure{healthyFigure}}
	in := handOverOften(testInput(failbackSpec(runbooks.Failback{Provider: "{{ .steps.failover.outputs.from }}", AutoAfterHealthy: runbooks.Duration(10 * time.Minute)})))
	var start, clock time.Time
	generations := 0
	var final Status
	for {
		generations++
		require.Less(t, generations, 5, "the incident never finished")
		h := newHarness(t)
		src.register(h)
		h.env.SetCurrentHistoryLength(100) // past the lowered limit: hand over at every safe point
		switch generations {
		case 1:
			start = h.env.Now()
		case 2: // the fail back waits; a note gives this run progress, so it hands over
			h.env.SetStartTime(clock)
			h.at(150*time.Second, func() { h.env.SignalWorkflow(SignalNote, Note{By: "cli:carol", Text: "checking the primary"}) })
		default:
			h.env.SetStartTime(clock)
		}
		h.env.ExecuteWorkflow(IncidentWorkflowName, in)
		require.True(t, h.env.IsWorkflowCompleted())
		clock = h.env.Now()
		var can *workflow.ContinueAsNewError
		if err := h.env.GetWorkflowError(); errors.As(err, &can) {
			var next IncidentInput
			require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
			if generations == 2 {
				fb := next.State.Status.Steps[1]
				require.Equal(t, StepAwaiting, fb.State)
				require.NotNil(t, fb.Health, "the figure is handed over")
				require.NotNil(t, fb.Health.HealthySince)
			}
			in = next
			continue
		}
		final = closedStatus(t, h.env)
		break
	}
	assert.Equal(t, 3, generations, "handed over after the fail over, and while the fail back waited")
	fb := stepByID(final, "failback")
	assert.Equal(t, StepDone, fb.State)
	assert.Contains(t, fb.Summary, "approved by quench")
	decisions := eventsOf(final, EventDecision, "failback")
	require.Len(t, decisions, 1)
	// Measured at 0, 1 and 2 min; handed over at 2:30; then every minute from 3:30. The
	// first measurement after ten healthy minutes (from 0, not from the hand-over) is 10:30.
	assert.Equal(t, 10*time.Minute+30*time.Second, decisions[0].At.Sub(start), "healthy since the first run's measurement")
	assert.Equal(t, 11, src.count(), "no measurement at the hand-over itself")
}

// The chat card shows the prompt's latest figure: it is updated when the figure changes.
func TestFailbackFigureOnTheCard(t *testing.T) {
	h := newHarness(t)
	chat := withChat(h)
	later := healthyFigure
	later.Requests = 900 // still healthy: no timeline line, but a new figure
	src := &healthSource{figures: []ports.HealthFigure{healthyFigure, later}}
	src.register(h)
	st := h.run(testInput(failbackSpec(runbooks.Failback{Provider: "{{ .steps.failover.outputs.from }}", AutoAfterHealthy: runbooks.Duration(5 * time.Minute)})))
	require.Len(t, eventsOf(st, EventVerify, "failback"), 1)

	var prompts []string
	chat.mu.Lock()
	for _, c := range chat.cards {
		if len(c.Pending) == 1 {
			prompts = append(prompts, c.Pending[0].Prompt)
		}
	}
	chat.mu.Unlock()
	require.NotEmpty(t, prompts)
	assert.Contains(t, prompts[0], "of 812 requests", "the card asks with the first figure")
	assert.Contains(t, prompts[len(prompts)-1], "of 900 requests", "and shows the figure that changed while it waited")
}

// With a probe configured for the provider, the real traffic.health activity measures it
// by probing (an HTTP server that answers like a healthy provider), and the prompt says
// which source measured: the probe, now, not a window of traffic.
func TestFailbackPromptCarriesTheProbeFigure(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	p, err := probe.New(config.Probe{URL: srv.URL + "/v1/models", Requests: 4}, srv.Client())
	require.NoError(t, err)
	h := newHarness(t)
	acts := &activities.TrafficActivities{Probes: probe.Set{"openai": p}}
	h.env.RegisterActivityWithOptions(acts.Health, activity.RegisterOptions{Name: activities.HealthActivity})
	var asked PendingApproval
	h.at(30*time.Second, func() { asked = h.status().Pending[0] })
	h.decideAt(time.Minute, approve("failback", "bob"))
	st := h.run(testInput(failbackSpec(runbooks.Failback{Provider: "{{ .steps.failover.outputs.from }}"})))

	assert.Contains(t, asked.Prompt, "Measured: openai probed now: error rate 0.0% (0 of 4 requests)")
	assert.Contains(t, asked.Prompt, "healthy (error rate below 5.0%); from probe "+strings.TrimPrefix(srv.URL, "http://"))
	assert.NotContains(t, asked.Prompt, "not enough traffic", "a probe's own sample size is judged, not the runbook's min_requests")
	fb := stepByID(st, "failback")
	require.NotNil(t, fb.Health)
	assert.True(t, fb.Health.Measured)
	assert.True(t, fb.Health.Healthy)
	assert.Equal(t, 4, fb.Health.Requests)
}

// A probe that gets no answer leaves the provider not measured, with the reason in the
// prompt; it is measured again later (the provider may come back), so it is not final.
func TestFailbackPromptSaysAnUnreachableProbeDidNotMeasure(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing answers there now
	p, err := probe.New(config.Probe{URL: url, Requests: 2}, nil)
	require.NoError(t, err)
	h := newHarness(t)
	acts := &activities.TrafficActivities{Probes: probe.Set{"openai": p}}
	h.env.RegisterActivityWithOptions(acts.Health, activity.RegisterOptions{Name: activities.HealthActivity})
	var asked PendingApproval
	h.at(30*time.Second, func() { asked = h.status().Pending[0] })
	h.decideAt(time.Minute, approve("failback", "bob"))
	st := h.run(testInput(failbackSpec(runbooks.Failback{Provider: "{{ .steps.failover.outputs.from }}"})))

	assert.Contains(t, asked.Prompt, "Measured: not measured (openai): ")
	assert.Contains(t, asked.Prompt, "no answer to any of 2 requests")
	fb := stepByID(st, "failback")
	require.NotNil(t, fb.Health)
	assert.False(t, fb.Health.Measured)
	assert.False(t, fb.Health.Final, "an unreachable provider is measured again")
	assert.Equal(t, StepDone, fb.State, "a human still decides")
}
