package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/alert"
	"github.com/quench-dev/quench/internal/cli/bench"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/incidents/apiclient"
)

// BenchmarkDevStartup measures `quench dev` from exec to its ready line on a fresh data dir,
// and its resident memory once idle.
//
//	go test -run '^$' -bench DevStartup -benchtime 5x ./test/
func BenchmarkDevStartup(b *testing.B) {
	var rss []float64
	for i := 0; i < b.N; i++ {
		start := time.Now()
		dev := startDev(b, newDevConfig(b))
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/start")
		rss = append(rss, rssMiB(b, dev.cmd.Process.Pid))
		dev.Kill()
	}
	sort.Float64s(rss)
	b.ReportMetric(rss[len(rss)/2], "MiB-RSS-idle")
}

// BenchmarkIncidentStartToFirstStep measures, on a running `quench dev`, the time from
// starting an incident through its API (the CLI's call) to its first step's activity
// completing: the first mitigation of provider-outage, the route switch. Every iteration
// switches a route of its own (a route switched before would make the switch a no-op, and
// the iteration would measure nothing: a no-op switch fails the benchmark). Beside it, in
// the same iterations, it measures the floor on the same server: a bare workflow with one
// no-op activity, started by signal-with-start and by eager start (its worker runs in this
// process), and reports the ratios.
//
//	go test -run '^$' -bench StartToFirstStep -benchtime 100x ./test/
func BenchmarkIncidentStartToFirstStep(b *testing.B) {
	path := filepath.Join(b.TempDir(), "quench.yaml")
	var cfg strings.Builder
	cfg.WriteString("gateway:\n  routes:\n")
	for i := range b.N {
		fmt.Fprintf(&cfg, "    bench-%d: [primary, fallback]\n", i)
	}
	writeFile(b, path, cfg.String())
	dev := startDev(b, newDevConfig(b, "--config", path))
	c, err := client.Dial(client.Options{HostPort: dev.temporal, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	floor := bench.NewFloorWorker(c)
	if err := floor.Start(); err != nil {
		b.Fatal(err)
	}
	defer floor.Stop()
	api := apiclient.New("http://"+dev.http, dev.token)
	ctx := context.Background()
	var lat, sws, eager []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		st, err := api.Start(ctx, incidents.StartRequest{Runbook: "provider-outage", Params: map[string]string{"route": fmt.Sprintf("bench-%d", i)}})
		if err != nil {
			b.Fatal(err)
		}
		at, done, err := bench.ActivityDone(ctx, c, st.IncidentID, st.RunID, activities.ActionGatewaySwitch)
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, at.Sub(start))
		b.StopTimer()
		var res activities.StepResult
		if err := converter.GetDefaultDataConverter().FromPayloads(done.GetResult(), &res); err != nil || res.NoOp {
			b.Fatalf("iteration %d: the switch did not switch (%v, %q): it measured no mitigation", i, err, res.Summary)
		}
		_ = c.TerminateWorkflow(ctx, st.IncidentID, "", "benchmark")
		sws = append(sws, floorTrial(b, c, fmt.Sprintf("floor-sws-%d", i), false))
		eager = append(eager, floorTrial(b, c, fmt.Sprintf("floor-eager-%d", i), true))
		b.StartTimer()
	}
	b.StopTimer()
	p50, p99 := percentiles(lat)
	sws50, sws99 := percentiles(sws)
	eager50, eager99 := percentiles(eager)
	b.ReportMetric(p50, "ms-p50")
	b.ReportMetric(p99, "ms-p99")
	b.ReportMetric(sws50, "ms-p50-floor-sws")
	b.ReportMetric(eager50, "ms-p50-floor-eager")
	b.ReportMetric(p50/sws50, "x-floor-sws-p50")
	b.ReportMetric(p99/sws99, "x-floor-sws-p99")
	b.ReportMetric(p50/eager50, "x-floor-eager-p50")
	b.ReportMetric(p99/eager99, "x-floor-eager-p99")
}

// floorTrial starts the bench's bare workflow and returns the time to its activity's completion.
func floorTrial(b *testing.B, c client.Client, id string, eager bool) time.Duration {
	ctx := context.Background()
	start := time.Now()
	var run client.WorkflowRun
	var err error
	if eager {
		run, err = c.ExecuteWorkflow(ctx, bench.FloorOptions(id, true), bench.FloorWorkflowName, bench.FloorInput{})
	} else {
		run, err = c.SignalWithStartWorkflow(ctx, id, bench.FloorSignal, []alert.Alert{{Key: id}}, bench.FloorOptions(id, false), bench.FloorWorkflowName, bench.FloorInput{})
	}
	if err != nil {
		b.Fatal(err)
	}
	at, _, err := bench.ActivityDone(ctx, c, id, run.GetRunID(), bench.FloorActivityName)
	if err != nil {
		b.Fatal(err)
	}
	return at.Sub(start)
}

// percentiles are the p50 and p99 (nearest rank) of ds, in milliseconds.
func percentiles(ds []time.Duration) (p50, p99 float64) {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(p float64) float64 {
		i := min(max(int(math.Ceil(p*float64(len(s))))-1, 0), len(s)-1)
		return float64(s[i].Microseconds()) / 1000
	}
	return at(0.50), at(0.99)
}

// rssMiB reads a process's resident set size.
func rssMiB(b *testing.B, pid int) float64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.Atoi(strings.Fields(line)[1])
			return float64(kb) / 1024
		}
	}
	b.Fatal("no VmRSS in /proc status")
	return 0
}
