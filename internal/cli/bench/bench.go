// Package bench implements `quench bench`: load benchmarks that report figures, never
// pass/fail, each beside its floor measured on the same server in the same run (floor.go).
// `quench bench ingest` fires an alert storm at the webhook endpoint of an in-process quench
// (or a running one) and, on the same server, the same storm as bare signal-with-start calls
// to a bare workflow. `quench bench latency` measures alert and CLI start to the first
// mitigation beside a bare workflow's start to its first activity.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/devstack"
	"github.com/quench-dev/quench/internal/incidents"
)

// NewCmdBench is `quench bench`.
func NewCmdBench(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure quench under load (reports figures; not a test)",
	}
	cmd.AddCommand(NewCmdIngest(f, nil), NewCmdLatency(f, nil), NewCmdScale(f, nil))
	return cmd
}

// IngestOptions are the inputs of `quench bench ingest`.
type IngestOptions struct {
	IO *cmdutil.IOStreams
	// Incidents reaches the Temporal behind a running quench (--http mode only).
	Incidents func() (*incidents.Service, error)

	Alerts      int
	Groups      int
	Concurrency int
	Order       string
	Alertname   string
	HTTP        string
	SkipFloor   bool
	Output      string
	DataDir     string
	LogLevel    string
}

// NewCmdIngest is `quench bench ingest`.
func NewCmdIngest(f *cmdutil.Factory, runF func(context.Context, *IngestOptions) error) *cobra.Command {
	opts := &IngestOptions{IO: f.IO, Incidents: f.Incidents}
	cmd := &cobra.Command{
		Use:   "ingest",
		Short: "Fire an alert storm at POST /hooks/alertmanager and report accepted alerts/s",
		Long: `Fire an alert storm at the Alertmanager webhook and report accepted alerts per second,
p50/p99 accept latency (a 2xx means the alert is durable: in Temporal, or, answered 202
queued, in quench's inbox), delivered alerts per second (until the last alert reached its
incident: quench's inbox is empty), incidents created, commits and alerts per commit
(group commit); then send the same storm to the same Temporal
as bare signal-with-start calls, one per alert, to a bare workflow per group (the floor:
one no-op activity, then it counts the alerts signalled to it), and print the ratios; then
check that every alert reached its incident, and every floor signal its workflow.

Every alert has its own fingerprint, so none is deduplicated: each must be signalled.
--order grouped sends the groups one after another (a storm of one group at a time);
interleaved spreads every moment's posts over all groups.

By default it starts quench in-process (embedded Temporal on a temporary directory, the
worker and the HTTP server) with a runbook that only waits. With --http it targets a
running quench instead: pass --alertname of an alert one of its runbooks answers (each
group starts an incident there), the bearer token in QUENCH_BENCH_TOKEN if the hook needs
one, and --temporal-address for the floor phase and the check (the floor's worker runs in
this process).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.CheckFormat(opts.Output); err != nil {
				return err
			}
			if opts.Alerts < 1 || opts.Groups < 1 || opts.Concurrency < 1 || opts.Groups > opts.Alerts {
				return cmdutil.FlagErrorf("--alerts, --groups and --concurrency must be at least 1, and --groups at most --alerts")
			}
			if opts.Order != OrderGrouped && opts.Order != OrderInterleaved {
				return cmdutil.FlagErrorf("--order %q: use grouped or interleaved", opts.Order)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return ingestRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&opts.Alerts, "alerts", 20000, "alerts to send, one per post")
	fl.IntVar(&opts.Groups, "groups", 50, "alert groups (incidents)")
	fl.IntVar(&opts.Concurrency, "concurrency", 64, "posts in flight at once")
	fl.StringVar(&opts.Order, "order", OrderGrouped, "grouped or interleaved")
	fl.StringVar(&opts.Alertname, "alertname", BenchAlertname, "alertname of the storm's alerts")
	fl.StringVar(&opts.HTTP, "http", "", "base URL of a running quench (default: start one in-process)")
	fl.BoolVar(&opts.SkipFloor, "skip-floor", false, "do not measure the floor (bare signal-with-start to a bare workflow)")
	fl.BoolVar(&opts.SkipFloor, "skip-bare", false, "old name of --skip-floor")
	_ = fl.MarkDeprecated("skip-bare", "use --skip-floor")
	fl.StringVarP(&opts.Output, "output", "o", cmdutil.FormatTable, "table, json or yaml")
	fl.StringVar(&opts.DataDir, "data-dir", "", "directory for the in-process quench (default: a temporary one, removed after)")
	fl.StringVar(&opts.LogLevel, "log-level", "error", "log level of the in-process quench")
	return cmd
}

// IngestReport is the benchmark's result.
type IngestReport struct {
	Target       string         `json:"target"`
	CPUs         int            `json:"cpus"`
	Alerts       int            `json:"alerts"`
	Groups       int            `json:"groups"`
	Concurrency  int            `json:"concurrency"`
	Order        string         `json:"order"`
	Ingest       PhaseResult    `json:"ingest"`
	Floor        *PhaseResult   `json:"floor,omitempty"`
	Ratio        *FloorRatio    `json:"ratio_to_floor,omitempty"`
	Verification []Verification `json:"verification,omitempty"`
}

// FloorRatio compares the ingest phase with the floor: alerts/s as a share of the floor's,
// latencies as multiples of the floor's.
type FloorRatio struct {
	AlertsPerSecond float64 `json:"alerts_per_second"`
	Delivered       float64 `json:"delivered_alerts_per_second"`
	P50             float64 `json:"p50"`
	P99             float64 `json:"p99"`
}

func ingestRun(ctx context.Context, opts *IngestOptions) error {
	logger, err := benchLogger(opts.IO, opts.LogLevel)
	if err != nil {
		return err
	}
	runID := make([]byte, 4)
	_, _ = rand.Read(runID)
	storm := Storm{Alerts: opts.Alerts, Groups: opts.Groups, Concurrency: opts.Concurrency, Order: opts.Order,
		Alertname: opts.Alertname, RunID: hex.EncodeToString(runID)}
	report := IngestReport{Target: opts.HTTP, CPUs: runtime.GOMAXPROCS(0), Alerts: opts.Alerts, Groups: opts.Groups,
		Concurrency: opts.Concurrency, Order: opts.Order}
	errOut := opts.IO.ErrOut

	baseURL, token := strings.TrimRight(opts.HTTP, "/"), os.Getenv("QUENCH_BENCH_TOKEN")
	var svc *incidents.Service
	var temporal FloorClient
	var floorClient client.Client // the floor worker's (in-process: the stack's)
	if baseURL == "" {
		dir, cleanup, err := workDir(opts.DataDir)
		if err != nil {
			return err
		}
		defer cleanup()
		fmt.Fprintf(errOut, "starting quench in-process in %s ...\n", dir)
		stack, err := devstack.StartInDir(ctx, devstack.DirOptions{Dir: dir, Command: "quench bench", Logger: logger,
			Runbooks: map[string]string{"bench-storm.yaml": BenchRunbook}})
		if err != nil {
			return err
		}
		defer stack.Stop()
		baseURL, svc, temporal, floorClient = stack.HTTPURL, stack.Incidents, stack.Client, stack.Client
		report.Target = "in-process (embedded Temporal, SQLite)"
	} else if !opts.SkipFloor {
		s, err := opts.Incidents()
		if err != nil {
			return fmt.Errorf("the floor phase and the check need the Temporal behind %s: %w (or pass --skip-floor)", baseURL, err)
		}
		svc = s
		if c, ok := s.Temporal.(client.Client); ok {
			temporal, floorClient = c, c
		}
	}

	if svc != nil {
		if _, err := benchRunbook(svc, storm); err != nil {
			return err
		}
	}
	fmt.Fprintf(errOut, "ingest: %d alerts in %d groups (%s), %d posts at a time, to %s/hooks/alertmanager\n",
		storm.Alerts, storm.Groups, storm.Order, storm.Concurrency, baseURL)
	res, err := IngestPhase(ctx, storm, baseURL, token, progressTo(errOut, "ingest", storm.Alerts))
	if err != nil {
		return err
	}
	report.Ingest = res
	if svc != nil {
		report.Verification = append(report.Verification, Verify(ctx, svc, res))
	}
	if !opts.SkipFloor && floorClient != nil {
		fmt.Fprintf(errOut, "floor: the same storm as signal-with-start calls to a bare workflow per group, one per alert\n")
		w := NewFloorWorker(floorClient)
		if err := w.Start(); err != nil {
			return fmt.Errorf("start the floor worker: %w", err)
		}
		floor, err := FloorPhase(ctx, storm, temporal, progressTo(errOut, "floor", storm.Alerts))
		if err == nil {
			report.Verification = append(report.Verification, VerifyFloor(ctx, temporal, floor))
		}
		w.Stop()
		if err != nil {
			return err
		}
		report.Floor = &floor
		report.Ratio = ratioToFloor(res, floor)
	}
	if opts.Output != cmdutil.FormatTable {
		if err := cmdutil.WriteData(opts.IO.Out, opts.Output, report); err != nil {
			return err
		}
	} else {
		printReport(opts.IO.Out, report)
	}
	for _, v := range report.Verification {
		if !v.OK {
			return &cmdutil.ExitError{Code: 1, Msg: "the check failed: not every accepted alert reached its incident (see above)"}
		}
	}
	return nil
}

// benchRunbook is the runbook the storm's alerts start.
func benchRunbook(svc *incidents.Service, storm Storm) (string, error) {
	specs := svc.Runbooks.Match(storm.Alert("bare", 0, "firing"))
	if len(specs) == 0 {
		return "", fmt.Errorf("no runbook answers alertname %s: pass --alertname of one a runbook triggers on", storm.Alertname)
	}
	return specs[0].Name, nil
}

func progressTo(w io.Writer, phase string, total int) func(int, time.Duration) {
	return func(done int, elapsed time.Duration) {
		fmt.Fprintf(w, "  %-6s %6d/%d alerts  %6.0f alerts/s\n", phase, done, total, float64(done)/elapsed.Seconds())
	}
}

func printReport(w io.Writer, r IngestReport) {
	fmt.Fprintf(w, "\nquench bench ingest: %d alerts in %d groups (%s), concurrency %d, %d CPUs, %s\n\n",
		r.Alerts, r.Groups, r.Order, r.Concurrency, r.CPUs, r.Target)
	phases := []PhaseResult{r.Ingest}
	header := []string{"", r.Ingest.Name}
	if r.Floor != nil {
		phases = append(phases, *r.Floor)
		header = append(header, r.Floor.Name)
	}
	t := cmdutil.NewTable(w, header...)
	row := func(name string, cell func(PhaseResult) string) {
		cells := []string{name}
		for _, p := range phases {
			cells = append(cells, cell(p))
		}
		t.Row(cells...)
	}
	row("accepted alerts/s", func(p PhaseResult) string { return fmt.Sprintf("%.0f", p.AlertsPerSecond) })
	row("delivered alerts/s", func(p PhaseResult) string { return fmt.Sprintf("%.0f", p.DeliveredAlertsPerSecond) })
	row("p50 latency", func(p PhaseResult) string { return fmt.Sprintf("%.1f ms", p.P50Millis) })
	row("p99 latency", func(p PhaseResult) string { return fmt.Sprintf("%.1f ms", p.P99Millis) })
	row("wall time", func(p PhaseResult) string { return fmt.Sprintf("%.1f s", p.Seconds) })
	row("last alert delivered", func(p PhaseResult) string { return fmt.Sprintf("%.1f s", p.DeliveredSeconds) })
	row("queued (202)", func(p PhaseResult) string { return fmt.Sprint(p.Queued) })
	row("incidents created", func(p PhaseResult) string { return fmt.Sprint(p.IncidentsCreated) })
	row("commits (signals)", func(p PhaseResult) string { return fmt.Sprint(p.Commits) })
	row("alerts per commit", func(p PhaseResult) string { return fmt.Sprintf("%.1f", p.AlertsPerCommit) })
	row("deduplicated", func(p PhaseResult) string { return fmt.Sprint(p.Deduplicated) })
	row("errors", func(p PhaseResult) string { return fmt.Sprint(p.Errors) })
	_ = t.Flush()
	if r.Ratio != nil {
		fmt.Fprintf(w, "\nagainst the floor: %.2f× its alerts/s (delivered %.2f×), p50 %.2f× and p99 %.2f× its latency\n", r.Ratio.AlertsPerSecond, r.Ratio.Delivered, r.Ratio.P50, r.Ratio.P99)
	}
	for _, p := range phases {
		if p.FirstError != "" {
			fmt.Fprintf(w, "first error (%s): %s\n", p.Name, p.FirstError)
		}
	}
	for _, v := range r.Verification {
		if v.OK {
			fmt.Fprintf(w, "check %s: every alert reached its incident (%d incidents, %d alerts received)\n", v.Phase, v.Incidents, v.Received)
			continue
		}
		fmt.Fprintf(w, "check %s FAILED: %d of %d alerts received; %s\n", v.Phase, v.Received, v.Expected, strings.Join(v.Problems, "; "))
	}
}

// ratioToFloor compares a phase with the floor measured in the same run.
func ratioToFloor(p, floor PhaseResult) *FloorRatio {
	div := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return math.Round(a/b*100) / 100
	}
	return &FloorRatio{AlertsPerSecond: div(p.AlertsPerSecond, floor.AlertsPerSecond),
		Delivered: div(p.DeliveredAlertsPerSecond, floor.DeliveredAlertsPerSecond), P50: div(p.P50Millis, floor.P50Millis), P99: div(p.P99Millis, floor.P99Millis)}
}
