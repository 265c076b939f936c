package bench

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/quench-dev/quench/internal/alert"
	"github.com/quench-dev/quench/internal/app"
	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/devstack"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/ingest"
	"github.com/quench-dev/quench/workflows"
)

// ScaleOptions are the inputs of `quench bench scale`.
type ScaleOptions struct {
	IO          *cmdutil.IOStreams
	Incidents   int
	Routes      int
	Concurrency int
	Trials      int
	Output      string
	LogLevel    string
	// HeapProfile, when set, is where a pprof heap profile is written once the incidents
	// are open (before the bare workflows start): where their memory goes.
	HeapProfile string
}

// NewCmdScale is `quench bench scale`.
func NewCmdScale(f *cmdutil.Factory, runF func(context.Context, *ScaleOptions) error) *cobra.Command {
	opts := &ScaleOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "scale",
		Short: "Measure memory, a burst of outages and list/show latency at N open incidents",
		Long: `Start quench in-process (embedded Temporal on a temporary directory) and measure, each
beside its floor on the same server in the same run:

  memory      RSS idle, then after --incidents open incidents (each waits for its alert
              to resolve), against the same number of bare workflows waiting on a signal;
  burst       --routes provider outages on as many routes posted at once, until every
              route is switched: drain time after the last alert and alert -> switch
              p50/p99, against the same number of bare workflows with one no-op activity
              started eagerly, as quench's ingest starts a new group's incident (a
              burst started by signal-with-start instead drains in seconds here: the
              eager start skips the task queue's poll);
  list/show   incident list and show with those incidents open, against the bare
              Temporal calls they make (ListWorkflowExecutions, a query).

It reports figures; it never passes or fails on them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.CheckFormat(opts.Output); err != nil {
				return err
			}
			if opts.Incidents < 1 || opts.Routes < 1 || opts.Concurrency < 1 || opts.Trials < 1 {
				return cmdutil.FlagErrorf("--incidents, --routes, --concurrency and --trials must be at least 1")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return scaleRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&opts.Incidents, "incidents", 1000, "open incidents to hold")
	fl.IntVar(&opts.Routes, "routes", 500, "routes that fail at once in the burst")
	fl.IntVar(&opts.Concurrency, "concurrency", 64, "posts in flight at once")
	fl.IntVar(&opts.Trials, "trials", 20, "list and show calls to time")
	fl.StringVarP(&opts.Output, "output", "o", cmdutil.FormatTable, "table, json or yaml")
	fl.StringVar(&opts.LogLevel, "log-level", "error", "log level of the in-process quench")
	fl.StringVar(&opts.HeapProfile, "heap-profile", "", "write a pprof heap profile to this file once the incidents are open (that run's figures are not comparable)")
	return cmd
}

// ScaleReport is the result of `quench bench scale`.
type ScaleReport struct {
	CPUs      int     `json:"cpus"`
	Incidents int     `json:"incidents"`
	Routes    int     `json:"routes"`
	IdleMiB   float64 `json:"idle_rss_mib"`
	// Memory added by the open incidents and by as many bare waiting workflows.
	IncidentsMiB float64 `json:"incidents_rss_mib"`
	BareMiB      float64 `json:"bare_rss_mib"`
	// The same split for the Go heap and stacks in use (less noisy than RSS) and goroutines.
	IdleHeap      Mem    `json:"idle_heap"`
	IncidentsHeap Mem    `json:"incidents_heap"`
	BareHeap      Mem    `json:"bare_heap"`
	Burst         Timing `json:"burst"`
	BareBurst     Timing `json:"bare_burst"`
	List          Timing `json:"list"`
	BareList      Timing `json:"bare_list"`
	Show          Timing `json:"show"`
	BareShow      Timing `json:"bare_show"`
}

// Mem is the Go runtime's view: heap and goroutine stacks in use, and goroutines. Added
// figures (incidents, bare) are differences from the figure before them.
type Mem struct {
	// LiveMiB is the heap's live objects; HeapMiB the spans holding them (the difference
	// is fragmentation: a span stays in use while one object in it lives).
	LiveMiB    float64 `json:"heap_live_mib"`
	HeapMiB    float64 `json:"heap_inuse_mib"`
	StackMiB   float64 `json:"stack_inuse_mib"`
	Goroutines int     `json:"goroutines"`
}

func memNow() Mem {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms) // after rssMiB's collection
	return Mem{LiveMiB: float64(ms.HeapAlloc) / (1 << 20), HeapMiB: float64(ms.HeapInuse) / (1 << 20), StackMiB: float64(ms.StackInuse) / (1 << 20), Goroutines: runtime.NumGoroutine()}
}

func (m Mem) minus(o Mem) Mem {
	return Mem{LiveMiB: m.LiveMiB - o.LiveMiB, HeapMiB: m.HeapMiB - o.HeapMiB, StackMiB: m.StackMiB - o.StackMiB, Goroutines: m.Goroutines - o.Goroutines}
}

// writeHeapProfile writes the heap profile (after a collection, so in-use figures are live).
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--heap-profile: %w", err)
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("--heap-profile: write %s: %w", path, err)
	}
	return f.Close()
}

// Timing is one measured operation: p50/p99 of its latencies and, for a burst, the time
// from the last accepted start to the last completion.
type Timing struct {
	P50Millis   float64 `json:"p50_ms"`
	P99Millis   float64 `json:"p99_ms"`
	DrainMillis float64 `json:"drain_ms,omitempty"`
	Failed      int     `json:"failed,omitempty"`
	FirstError  string  `json:"first_error,omitempty"`
}

// The outage runbook of the burst: switch the alert's route at once, then wait.
const scaleOutageRunbook = `name: bench-outage
title: quench bench - switch a route at once
description: quench bench scale's burst; fails a route over with no approval, then waits.
severity: warning
triggers:
  alerts:
    - match:
        alertname: QuenchBenchOutage
params:
  route:
    from: labels.route
steps:
  - id: failover
    title: Move the route to its fallback
    action: gateway.switch
    with:
      route: "{{ .params.route }}"
      to: fallback
    undo:
      keep: true
  - id: recovered
    title: Wait for the alert to resolve
    action: wait.resolved
    timeout: 1h
`

const floorQueue = "bench-floor"

func scaleRun(ctx context.Context, opts *ScaleOptions) error {
	logger, err := benchLogger(opts.IO, opts.LogLevel)
	if err != nil {
		return err
	}
	errOut := opts.IO.ErrOut
	if opts.HeapProfile != "" {
		// A sample every 4 KiB instead of 512 KiB: per-incident objects are small. It costs
		// memory and time of its own, so a profiled run's figures are not comparable.
		runtime.MemProfileRate = 4096
	}
	dir, cleanup, err := workDir("")
	if err != nil {
		return err
	}
	defer cleanup()

	var routes strings.Builder
	routes.WriteString("gateway:\n  routes:\n")
	for i := range opts.Routes {
		fmt.Fprintf(&routes, "    %s: [primary, fallback]\n", scaleRoute(i))
	}
	fmt.Fprintf(errOut, "starting quench in-process in %s with %d routes ...\n", dir, opts.Routes)
	stack, err := devstack.StartInDir(ctx, devstack.DirOptions{Dir: dir, Command: "quench bench scale", Logger: logger,
		Config:   routes.String(),
		Runbooks: map[string]string{"bench-storm.yaml": BenchRunbook, "bench-outage.yaml": scaleOutageRunbook}})
	if err != nil {
		return err
	}
	defer stack.Stop()
	floor := newFloorWorker(stack.Client)
	if err := floor.w.Start(); err != nil {
		return fmt.Errorf("start the floor's worker: %w", err)
	}
	defer floor.w.Stop()

	rep := ScaleReport{CPUs: runtime.GOMAXPROCS(0), Incidents: opts.Incidents, Routes: opts.Routes}
	rep.IdleMiB = rssMiB()
	rep.IdleHeap = memNow()
	fmt.Fprintf(errOut, "idle: %.0f MiB\n", rep.IdleMiB)

	// Memory: open incidents, then as many bare waiting workflows.
	fmt.Fprintf(errOut, "opening %d incidents ...\n", opts.Incidents)
	storm := Storm{Alerts: opts.Incidents, Groups: opts.Incidents, Concurrency: opts.Concurrency, Order: OrderGrouped,
		Alertname: BenchAlertname, RunID: strconv.FormatInt(time.Now().UnixNano(), 36)}
	if _, err := IngestPhase(ctx, storm, stack.HTTPURL, "", progressTo(errOut, "open", storm.Alerts)); err != nil {
		return err
	}
	if err := awaitCount(ctx, stack.Client, stack.Incidents.Namespace,
		fmt.Sprintf("%s = 'bench-storm' AND ExecutionStatus = 'Running'", workflows.SearchRunbook), opts.Incidents); err != nil {
		return err
	}
	withIncidents := rssMiB()
	heapWithIncidents := memNow()
	rep.IncidentsMiB = withIncidents - rep.IdleMiB
	rep.IncidentsHeap = heapWithIncidents.minus(rep.IdleHeap)
	fmt.Fprintf(errOut, "with %d open incidents: %.0f MiB (+%.0f)\n", opts.Incidents, withIncidents, rep.IncidentsMiB)
	if opts.HeapProfile != "" {
		if err := writeHeapProfile(opts.HeapProfile); err != nil {
			return err
		}
		fmt.Fprintf(errOut, "heap profile: %s (go tool pprof -top -sample_index=inuse_space %s)\n", opts.HeapProfile, opts.HeapProfile)
	}
	if err := floor.openWaiting(ctx, opts.Incidents, opts.Concurrency); err != nil {
		return err
	}
	if err := awaitCount(ctx, stack.Client, stack.Incidents.Namespace,
		"WorkflowType = 'bench-wait' AND ExecutionStatus = 'Running'", opts.Incidents); err != nil {
		return err
	}
	rep.BareMiB = rssMiB() - withIncidents
	rep.BareHeap = memNow().minus(heapWithIncidents)
	fmt.Fprintf(errOut, "with %d bare waiting workflows more: +%.0f MiB\n", opts.Incidents, rep.BareMiB)

	// List and show with the incidents open, interleaved with their bare calls.
	if rep.List, rep.BareList, rep.Show, rep.BareShow, err = timeListShow(ctx, stack, opts.Trials); err != nil {
		return err
	}

	// The burst, then its floor.
	fmt.Fprintf(errOut, "burst: %d outages on %d routes at once ...\n", opts.Routes, opts.Routes)
	if rep.Burst, err = outageBurst(ctx, stack, opts.Routes, opts.Concurrency); err != nil {
		return err
	}
	fmt.Fprintf(errOut, "bare burst: %d eager starts of a one-activity workflow ...\n", opts.Routes)
	if rep.BareBurst, err = floor.burst(ctx, opts.Routes, opts.Concurrency); err != nil {
		return err
	}
	if opts.Output != cmdutil.FormatTable {
		return cmdutil.WriteData(opts.IO.Out, opts.Output, rep)
	}
	printScale(opts.IO.Out, rep)
	return nil
}

func scaleRoute(i int) string { return "r" + strconv.Itoa(i) }

// outageBurst posts one outage alert per route at once and waits until every route is
// on its fallback, timing each route from its alert's post to the switch's commit.
func outageBurst(ctx context.Context, stack *devstack.Stack, n, concurrency int) (Timing, error) {
	posted := make([]time.Time, n)
	var lastAccepted time.Time
	var mu sync.Mutex
	httpc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}}
	run := runner{storm: Storm{Alerts: n, Concurrency: concurrency}}
	_, _, errs, firstErr := run.run(ctx, func(ctx context.Context, i int) error {
		a := alert.Alert{Source: ingest.SourceAlertmanager, Key: "bench-outage-" + scaleRoute(i), Fingerprint: fmt.Sprintf("%016x", i),
			Status: "firing", Title: "bench outage",
			Labels: map[string]string{"alertname": "QuenchBenchOutage", "route": scaleRoute(i)}}
		mu.Lock()
		posted[i] = time.Now()
		mu.Unlock()
		_, err := postHook(ctx, httpc, stack.HTTPURL, "", payload([]alert.Alert{a}))
		mu.Lock()
		if now := time.Now(); now.After(lastAccepted) {
			lastAccepted = now
		}
		mu.Unlock()
		return err
	})
	if errs > 0 {
		return Timing{}, fmt.Errorf("%d of %d outage alerts were refused; first: %s", errs, n, firstErr)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		list, _, err := stack.Adapters.Routes.Routes()
		if err != nil {
			return Timing{}, err
		}
		var lat []time.Duration
		var last time.Time
		for _, r := range list {
			i, err := strconv.Atoi(strings.TrimPrefix(r.Route, "r"))
			if err != nil || i >= n || r.Provider != "fallback" {
				continue
			}
			lat = append(lat, r.UpdatedAt.Sub(posted[i]))
			if r.UpdatedAt.After(last) {
				last = r.UpdatedAt
			}
		}
		if len(lat) == n {
			t := timing(lat)
			t.DrainMillis = millis(last.Sub(lastAccepted))
			return t, nil
		}
		if time.Now().After(deadline) {
			return Timing{}, fmt.Errorf("after 5 minutes only %d of %d routes were switched", len(lat), n)
		}
		select {
		case <-ctx.Done():
			return Timing{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func timeListShow(ctx context.Context, stack *devstack.Stack, trials int) (list, bareList, show, bareShow Timing, err error) {
	svc := stack.Incidents
	open, err := svc.List(ctx, incidents.ListFilter{Open: true, Limit: 1})
	if err != nil || len(open) == 0 {
		return list, bareList, show, bareShow, fmt.Errorf("list the open incidents: %v", err)
	}
	id := open[0].IncidentID
	calls := []struct {
		t   *Timing
		lat []time.Duration
		do  func() error
	}{
		{t: &list, do: func() error { _, err := svc.List(ctx, incidents.ListFilter{Open: true}); return err }},
		{t: &bareList, do: func() error {
			_, err := stack.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: svc.Namespace,
				Query: fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", workflows.IncidentWorkflowName), PageSize: 50})
			return err
		}},
		{t: &show, do: func() error { _, err := svc.Status(ctx, id); return err }},
		{t: &bareShow, do: func() error { _, err := stack.Client.QueryWorkflow(ctx, id, "", workflows.QueryStatus); return err }},
	}
	// Interleaved, so the machine's drift hits each call alike. A failed call is counted,
	// not timed: failures at scale are a result to report.
	for range trials {
		for i := range calls {
			t0 := time.Now()
			if err := calls[i].do(); err != nil {
				calls[i].t.Failed++
				calls[i].t.FirstError = cmp.Or(calls[i].t.FirstError, err.Error())
				continue
			}
			calls[i].lat = append(calls[i].lat, time.Since(t0))
		}
	}
	for i := range calls {
		failed, first := calls[i].t.Failed, calls[i].t.FirstError
		if len(calls[i].lat) > 0 {
			*calls[i].t = timing(calls[i].lat)
		}
		calls[i].t.Failed, calls[i].t.FirstError = failed, first
	}
	return list, bareList, show, bareShow, nil
}

// floorWorker runs the bare workflows the figures are compared with, on its own queue.
type floorWorker struct {
	c    client.Client
	w    worker.Worker
	done chan time.Time
	// waiting counts bare waiting workflows whose first workflow task ran: visibility
	// lists a workflow as running from its start, before any worker holds it.
	waiting atomic.Int64
}

func newFloorWorker(c client.Client) *floorWorker {
	f := &floorWorker{c: c, done: make(chan time.Time, 1<<14)}
	f.w = worker.New(c, floorQueue, app.WorkerOptions())
	f.w.RegisterWorkflowWithOptions(func(ctx workflow.Context) error {
		if !workflow.IsReplaying(ctx) {
			f.waiting.Add(1)
		}
		workflow.GetSignalChannel(ctx, "done").Receive(ctx, nil)
		return nil
	}, workflow.RegisterOptions{Name: "bench-wait"})
	f.w.RegisterWorkflowWithOptions(func(ctx workflow.Context) error {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
		return workflow.ExecuteActivity(ctx, "bench-noop").Get(ctx, nil)
	}, workflow.RegisterOptions{Name: "bench-one-activity"})
	f.w.RegisterActivityWithOptions(func(context.Context) error {
		f.done <- time.Now()
		return nil
	}, activity.RegisterOptions{Name: "bench-noop"})
	return f
}

func (f *floorWorker) openWaiting(ctx context.Context, n, concurrency int) error {
	run := runner{storm: Storm{Alerts: n, Concurrency: concurrency}}
	_, _, errs, firstErr := run.run(ctx, func(ctx context.Context, i int) error {
		_, err := f.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("bench-wait-%d", i), TaskQueue: floorQueue}, "bench-wait")
		return err
	})
	if errs > 0 {
		return fmt.Errorf("start the bare waiting workflows: %d failed; first: %s", errs, firstErr)
	}
	// Measured once each has run its first task, as the incidents have (their start is
	// eager): a workflow no worker ran yet costs the worker nothing.
	deadline := time.Now().Add(5 * time.Minute)
	for f.waiting.Load() < int64(n) {
		if time.Now().After(deadline) {
			return fmt.Errorf("after 5 minutes only %d of %d bare waiting workflows ran", f.waiting.Load(), n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// burst starts n one-activity workflows at once, eagerly: the floor of the outage burst
// (a new group's alert is an eager start, the switch an activity). Measured: the same
// burst by signal-with-start drains 20-30x slower on the embedded server, so it would be a
// floor nothing could be compared with.
func (f *floorWorker) burst(ctx context.Context, n, concurrency int) (Timing, error) {
	started := make([]time.Time, n)
	var mu sync.Mutex
	var lastAccepted time.Time
	run := runner{storm: Storm{Alerts: n, Concurrency: concurrency}}
	_, _, errs, firstErr := run.run(ctx, func(ctx context.Context, i int) error {
		mu.Lock()
		started[i] = time.Now()
		mu.Unlock()
		_, err := f.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("bench-burst-%d", i), TaskQueue: floorQueue,
			EnableEagerStart: true}, "bench-one-activity")
		mu.Lock()
		if now := time.Now(); now.After(lastAccepted) {
			lastAccepted = now
		}
		mu.Unlock()
		return err
	})
	if errs > 0 {
		return Timing{Failed: errs}, fmt.Errorf("bare burst: %d failed; first: %s", errs, firstErr)
	}
	// Completions are not matched to starts (the activity does not know its workflow's
	// index cheaply); the latency of the k-th completion against the k-th start is the
	// same distribution shape the outage burst reports.
	var done []time.Time
	for len(done) < n {
		select {
		case t := <-f.done:
			done = append(done, t)
		case <-ctx.Done():
			return Timing{}, ctx.Err()
		case <-time.After(5 * time.Minute):
			return Timing{}, fmt.Errorf("bare burst: only %d of %d activities ran in 5 minutes", len(done), n)
		}
	}
	slices.SortFunc(done, func(a, b time.Time) int { return a.Compare(b) })
	slices.SortFunc(started, func(a, b time.Time) int { return a.Compare(b) })
	lat := make([]time.Duration, n)
	for i := range n {
		lat[i] = done[i].Sub(started[i])
	}
	t := timing(lat)
	t.DrainMillis = millis(done[n-1].Sub(lastAccepted))
	return t, nil
}

// awaitCount waits until visibility counts n workflows matching query.
func awaitCount(ctx context.Context, c client.Client, namespace, query string, n int) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		resp, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: namespace, Query: query})
		if err == nil && resp.GetCount() >= int64(n) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waited 5 minutes for %d workflows matching %s (last count %d, err %v)", n, query, resp.GetCount(), err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func timing(lat []time.Duration) Timing {
	s := slices.Clone(lat)
	slices.Sort(s)
	return Timing{P50Millis: millis(s[(len(s)-1)*50/100]), P99Millis: millis(s[(len(s)-1)*99/100])}
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// rssMiB is this process's resident set after a collection, so garbage does not count.
func rssMiB() float64 {
	runtime.GC()
	debug.FreeOSMemory()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kib, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kib / 1024
		}
	}
	return 0
}

func printScale(w io.Writer, r ScaleReport) {
	fmt.Fprintf(w, "\nquench bench scale: %d open incidents, %d routes, %d CPUs (in-process, embedded Temporal)\n\n", r.Incidents, r.Routes, r.CPUs)
	t := cmdutil.NewTable(w, "", "quench", "floor (bare workflows)", "ratio")
	ratio := func(a, b float64) string {
		if b <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fx", a/b)
	}
	t.Row("RSS idle", fmt.Sprintf("%.0f MiB", r.IdleMiB), "", "")
	// No ratio for memory: the bare workflows open after the incidents, in the same bounded
	// workflow cache (app.WorkflowCacheSize), where they take cached incidents' places.
	t.Row(fmt.Sprintf("RSS added by %d open", r.Incidents), fmt.Sprintf("%.0f MiB", r.IncidentsMiB), fmt.Sprintf("%.0f MiB", r.BareMiB), "-")
	t.Row(fmt.Sprintf("heap+stacks added by %d open", r.Incidents), fmt.Sprintf("%.0f MiB", r.IncidentsHeap.HeapMiB+r.IncidentsHeap.StackMiB),
		fmt.Sprintf("%.0f MiB", r.BareHeap.HeapMiB+r.BareHeap.StackMiB), "-")
	t.Row(fmt.Sprintf("live heap added by %d open", r.Incidents), fmt.Sprintf("%.0f MiB", r.IncidentsHeap.LiveMiB), fmt.Sprintf("%.0f MiB", r.BareHeap.LiveMiB), "-")
	t.Row(fmt.Sprintf("goroutines added by %d open", r.Incidents), strconv.Itoa(r.IncidentsHeap.Goroutines), strconv.Itoa(r.BareHeap.Goroutines), "")
	t.Row("burst drain after last alert", fmt.Sprintf("%.0f ms", r.Burst.DrainMillis), fmt.Sprintf("%.0f ms", r.BareBurst.DrainMillis), ratio(r.Burst.DrainMillis, r.BareBurst.DrainMillis))
	t.Row("burst alert -> switch p50", fmt.Sprintf("%.1f ms", r.Burst.P50Millis), fmt.Sprintf("%.1f ms", r.BareBurst.P50Millis), ratio(r.Burst.P50Millis, r.BareBurst.P50Millis))
	t.Row("burst alert -> switch p99", fmt.Sprintf("%.1f ms", r.Burst.P99Millis), fmt.Sprintf("%.1f ms", r.BareBurst.P99Millis), ratio(r.Burst.P99Millis, r.BareBurst.P99Millis))
	t.Row("list p50 / p99", fmt.Sprintf("%.1f / %.1f ms", r.List.P50Millis, r.List.P99Millis), fmt.Sprintf("%.1f / %.1f ms", r.BareList.P50Millis, r.BareList.P99Millis), ratio(r.List.P50Millis, r.BareList.P50Millis))
	t.Row("show p50 / p99", fmt.Sprintf("%.1f / %.1f ms", r.Show.P50Millis, r.Show.P99Millis), fmt.Sprintf("%.1f / %.1f ms", r.BareShow.P50Millis, r.BareShow.P99Millis), ratio(r.Show.P50Millis, r.BareShow.P50Millis))
	_ = t.Flush()
	fmt.Fprintf(w, "\nmemory floor: the bare workflows open after the incidents and share their workflow cache (%d executions),\n"+
		"so it is what %d more workflows add to a full cache, not what they cost alone\n", app.WorkflowCacheSize, r.Incidents)
	for name, tm := range map[string]Timing{"list": r.List, "bare list": r.BareList, "show": r.Show, "bare show": r.BareShow} {
		if tm.Failed > 0 {
			fmt.Fprintf(w, "%s: %d calls failed, first: %s\n", name, tm.Failed, tm.FirstError)
		}
	}
}
