package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/alert"
	"github.com/quench-dev/quench/internal/api"
	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/devstack"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/incidents/apiclient"
	"github.com/quench-dev/quench/internal/ingest"
)

// LatencyOptions are the inputs of `quench bench latency`.
type LatencyOptions struct {
	IO       *cmdutil.IOStreams
	Trials   int
	Warmup   int
	Output   string
	DataDir  string
	LogLevel string
}

// NewCmdLatency is `quench bench latency`.
func NewCmdLatency(f *cmdutil.Factory, runF func(context.Context, *LatencyOptions) error) *cobra.Command {
	opts := &LatencyOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "latency",
		Short: "Measure alert → first mitigation and CLI start → first mitigation against a bare-workflow floor",
		Long: `Measure how long the first mitigation of provider-outage (its gateway.switch step done)
takes from an alert POSTed to /hooks/alertmanager, and from an incident start through the
API (what ` + "`quench incident start`" + ` sends), each on a route of its own.

Beside them, on the same server and in the same run, it measures the floor: a bare
workflow with one no-op activity, started by signal-with-start (what an alert does) and by
eager start. Trials of the four paths are interleaved in a random order per round, so a
change of the machine's load touches all of them alike. It prints p50 and p99 of each and
their ratio to each floor.

It starts quench in-process: the embedded Temporal server of quench dev (same dynamic
config) on a temporary directory, the worker and the HTTP server. A path's time ends when
the activity's completion is recorded (the server's clock).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.CheckFormat(opts.Output); err != nil {
				return err
			}
			if opts.Trials < 1 || opts.Trials > 10000 || opts.Warmup < 0 || opts.Warmup > 1000 {
				return cmdutil.FlagErrorf("--trials must be 1..10000 and --warmup 0..1000")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return latencyRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&opts.Trials, "trials", 100, "measured trials of each path")
	fl.IntVar(&opts.Warmup, "warmup", 5, "trials of each path run first and not counted")
	fl.StringVarP(&opts.Output, "output", "o", cmdutil.FormatTable, "table, json or yaml")
	fl.StringVar(&opts.DataDir, "data-dir", "", "directory for the in-process quench (default: a temporary one, removed after)")
	fl.StringVar(&opts.LogLevel, "log-level", "error", "log level of the in-process quench")
	return cmd
}

// Paths of the latency benchmark.
const (
	PathAlert      = "alert → first mitigation"
	PathCLI        = "CLI start → first mitigation"
	PathFloorSWS   = "floor: signal-with-start"
	PathFloorEager = "floor: eager start"
)

var latencyPaths = []string{PathAlert, PathCLI, PathFloorSWS, PathFloorEager}

// LatencyReport is the latency benchmark's result.
type LatencyReport struct {
	Target string        `json:"target"`
	CPUs   int           `json:"cpus"`
	Trials int           `json:"trials"`
	Warmup int           `json:"warmup"`
	Paths  []LatencyPath `json:"paths"`
}

// LatencyPath is what one path measured and how it compares with the floors.
type LatencyPath struct {
	Name      string  `json:"name"`
	Trials    int     `json:"trials"`
	MinMillis float64 `json:"min_ms"`
	P50Millis float64 `json:"p50_ms"`
	P99Millis float64 `json:"p99_ms"`
	MaxMillis float64 `json:"max_ms"`
	// The ratios of p50 and p99 to the same percentile of each floor.
	P50xSWS   float64 `json:"p50_x_floor_signal_with_start"`
	P99xSWS   float64 `json:"p99_x_floor_signal_with_start"`
	P50xEager float64 `json:"p50_x_floor_eager"`
	P99xEager float64 `json:"p99_x_floor_eager"`
}

// latencyRoutes are the gateway routes the trials switch: one per quench trial, so no
// trial finds its route already switched (a no-op switch would measure nothing).
func latencyRoutes(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

func latencyRun(ctx context.Context, opts *LatencyOptions) error {
	logger, err := benchLogger(opts.IO, opts.LogLevel)
	if err != nil {
		return err
	}
	errOut := opts.IO.ErrOut
	dir, cleanup, err := workDir(opts.DataDir)
	if err != nil {
		return err
	}
	defer cleanup()
	rounds := opts.Warmup + opts.Trials
	runID := randomHex(4)
	alertRoutes, cliRoutes := latencyRoutes("bench-alert-"+runID, rounds), latencyRoutes("bench-cli-"+runID, rounds)
	var gw strings.Builder
	gw.WriteString("gateway:\n  routes:\n")
	for _, r := range append(append([]string(nil), alertRoutes...), cliRoutes...) {
		fmt.Fprintf(&gw, "    %s: [primary, fallback]\n", r)
	}
	token := randomHex(24)
	fmt.Fprintf(errOut, "starting quench in-process in %s ...\n", dir)
	stack, err := devstack.StartInDir(ctx, devstack.DirOptions{Dir: dir, Command: "quench bench latency", Logger: logger,
		Config: gw.String(), Dev: &api.DevCredential{Token: token, Identity: "cli:bench"}})
	if err != nil {
		return err
	}
	defer stack.Stop()
	floor := NewFloorWorker(stack.Client)
	if err := floor.Start(); err != nil {
		return fmt.Errorf("start the floor worker: %w", err)
	}
	defer floor.Stop()

	m := &latencyMeter{c: stack.Client, baseURL: stack.HTTPURL, api: apiclient.New(stack.HTTPURL, token),
		httpc: &http.Client{Timeout: time.Minute}, runID: runID}
	defer m.httpc.CloseIdleConnections()
	lat := map[string][]time.Duration{}
	fmt.Fprintf(errOut, "latency: %d rounds (%d warm-up) of %s, interleaved\n", rounds, opts.Warmup, strings.Join(latencyPaths, ", "))
	for round := range rounds {
		for _, k := range mrand.Perm(len(latencyPaths)) {
			path := latencyPaths[k]
			var d time.Duration
			switch path {
			case PathAlert:
				d, err = m.alert(ctx, alertRoutes[round])
			case PathCLI:
				d, err = m.cli(ctx, cliRoutes[round])
			case PathFloorSWS:
				d, err = m.floor(ctx, round, false)
			case PathFloorEager:
				d, err = m.floor(ctx, round, true)
			}
			if err != nil {
				return fmt.Errorf("%s, round %d: %w", path, round, err)
			}
			if round >= opts.Warmup {
				lat[path] = append(lat[path], d)
			}
		}
		if (round+1)%20 == 0 {
			fmt.Fprintf(errOut, "  %d/%d rounds\n", round+1, rounds)
		}
	}
	report := LatencyReport{Target: "in-process (embedded Temporal of quench dev, SQLite)", CPUs: runtime.GOMAXPROCS(0),
		Trials: opts.Trials, Warmup: opts.Warmup, Paths: latencyReport(lat)}
	if opts.Output != cmdutil.FormatTable {
		return cmdutil.WriteData(opts.IO.Out, opts.Output, report)
	}
	printLatency(opts.IO.Out, report)
	return nil
}

// latencyReport summarises each path and its ratios to the two floors.
func latencyReport(lat map[string][]time.Duration) []LatencyPath {
	stats := func(ds []time.Duration) (lo, p50, p99, hi float64) {
		s := append([]time.Duration(nil), ds...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		if len(s) == 0 {
			return 0, 0, 0, 0
		}
		return ms(s[0]), ms(s[percentileIndex(len(s), 0.50)]), ms(s[percentileIndex(len(s), 0.99)]), ms(s[len(s)-1])
	}
	_, sws50, sws99, _ := stats(lat[PathFloorSWS])
	_, eager50, eager99, _ := stats(lat[PathFloorEager])
	ratio := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return math.Round(a/b*100) / 100
	}
	var out []LatencyPath
	for _, name := range latencyPaths {
		lo, p50, p99, hi := stats(lat[name])
		out = append(out, LatencyPath{Name: name, Trials: len(lat[name]), MinMillis: lo, P50Millis: p50, P99Millis: p99, MaxMillis: hi,
			P50xSWS: ratio(p50, sws50), P99xSWS: ratio(p99, sws99), P50xEager: ratio(p50, eager50), P99xEager: ratio(p99, eager99)})
	}
	return out
}

// percentileIndex is the index of the p-th percentile (nearest rank) in n sorted values.
func percentileIndex(n int, p float64) int {
	i := int(math.Ceil(p*float64(n))) - 1
	return min(max(i, 0), n-1)
}

func printLatency(w io.Writer, r LatencyReport) {
	fmt.Fprintf(w, "\nquench bench latency: %d trials per path (after %d warm-up), interleaved, %d CPUs, %s\n\n", r.Trials, r.Warmup, r.CPUs, r.Target)
	t := cmdutil.NewTable(w, "", "p50", "p99", "min", "max", "p50 ×sws floor", "p99 ×sws floor", "p50 ×eager floor", "p99 ×eager floor")
	for _, p := range r.Paths {
		t.Row(p.Name, fmt.Sprintf("%.1f ms", p.P50Millis), fmt.Sprintf("%.1f ms", p.P99Millis), fmt.Sprintf("%.1f ms", p.MinMillis),
			fmt.Sprintf("%.1f ms", p.MaxMillis), fmt.Sprintf("%.2f", p.P50xSWS), fmt.Sprintf("%.2f", p.P99xSWS),
			fmt.Sprintf("%.2f", p.P50xEager), fmt.Sprintf("%.2f", p.P99xEager))
	}
	_ = t.Flush()
}

// latencyMeter runs one trial of a path and returns its time.
type latencyMeter struct {
	c       client.Client
	baseURL string
	api     *apiclient.Client
	httpc   *http.Client
	runID   string
}

// alert POSTs one provider-outage alert for route and waits for the incident's switch.
func (m *latencyMeter) alert(ctx context.Context, route string) (time.Duration, error) {
	a := alert.Alert{
		Source: ingest.SourceAlertmanager, Key: fmt.Sprintf(`{}:{alertname="LLMProviderErrorRateHigh",route="%s"}`, route),
		Fingerprint: randomHex(8), Status: alert.StatusFiring, Title: "bench latency",
		Labels:      map[string]string{"alertname": "LLMProviderErrorRateHigh", "route": route, "severity": "critical"},
		Annotations: map[string]string{"summary": "quench bench latency"},
	}
	body := payload([]alert.Alert{a})
	t0 := time.Now()
	resp, err := postHook(ctx, m.httpc, m.baseURL, "", body)
	if err != nil {
		return 0, err
	}
	if len(resp.Incidents) != 1 || resp.Incidents[0].Result != ingest.ResultStarted {
		return 0, fmt.Errorf("the alert for route %s started no incident: %+v", route, resp)
	}
	return m.mitigated(ctx, t0, resp.Incidents[0].IncidentID, resp.Incidents[0].RunID)
}

// cli starts provider-outage for route through the API, as `quench incident start` does.
func (m *latencyMeter) cli(ctx context.Context, route string) (time.Duration, error) {
	t0 := time.Now()
	st, err := m.api.Start(ctx, incidents.StartRequest{Runbook: "provider-outage", Params: map[string]string{"route": route}})
	if err != nil {
		return 0, err
	}
	return m.mitigated(ctx, t0, st.IncidentID, st.RunID)
}

// mitigated waits for the incident's gateway.switch to complete, checks it changed the
// route, and terminates the incident (untimed) so open incidents do not pile up.
func (m *latencyMeter) mitigated(ctx context.Context, t0 time.Time, id, runID string) (time.Duration, error) {
	at, done, err := ActivityDone(ctx, m.c, id, runID, activities.ActionGatewaySwitch)
	if err != nil {
		return 0, err
	}
	var res activities.StepResult
	if err := converter.GetDefaultDataConverter().FromPayloads(done.GetResult(), &res); err != nil {
		return 0, fmt.Errorf("%s: decode the switch's result: %w", id, err)
	}
	if res.NoOp {
		return 0, fmt.Errorf("%s: the switch changed nothing (%s): the trial measured no mitigation", id, res.Summary)
	}
	if err := m.c.TerminateWorkflow(ctx, id, "", "quench bench latency: trial done"); err != nil {
		return 0, fmt.Errorf("terminate %s: %w", id, err)
	}
	return at.Sub(t0), nil
}

// floor starts a bare workflow (signal-with-start, or eager start) and waits for its activity.
func (m *latencyMeter) floor(ctx context.Context, round int, eager bool) (time.Duration, error) {
	kind := "sws"
	if eager {
		kind = "eager"
	}
	id := fmt.Sprintf("bench-floor-%s-%s-%d", m.runID, kind, round)
	t0 := time.Now()
	var run client.WorkflowRun
	var err error
	if eager {
		run, err = m.c.ExecuteWorkflow(ctx, FloorOptions(id, true), FloorWorkflowName, FloorInput{})
	} else {
		a := []alert.Alert{{Source: ingest.SourceAlertmanager, Key: id, Fingerprint: randomHex(8), Status: alert.StatusFiring}}
		run, err = m.c.SignalWithStartWorkflow(ctx, id, FloorSignal, a, FloorOptions(id, false), FloorWorkflowName, FloorInput{})
	}
	if err != nil {
		return 0, err
	}
	at, _, err := ActivityDone(ctx, m.c, id, run.GetRunID(), FloorActivityName)
	if err != nil {
		return 0, err
	}
	return at.Sub(t0), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
