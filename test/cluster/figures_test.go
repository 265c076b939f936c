package cluster

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/cli/bench"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/workflows"
)

// BenchmarkClusterFigures prints the cluster's figures (issue 12, point 7); it asserts no
// timing. On the cluster of the suite (deploy/quench.yaml plus one route per incident and
// the storm's runbook; 2 workers, 2 servers):
//   - incident start → first mitigation done (provider-outage's fail over), p50/p99 over
//     QUENCH_FIGURES_INCIDENTS incidents (default 50), one after another, each on its own
//     route, measured on the workflow's clock (status started_at → the step's ended_at);
//   - the alert storm through one quench server: quench bench ingest --http.
//
// Run: go test -run '^$' -bench ClusterFigures -benchtime 1x ./test/cluster
func BenchmarkClusterFigures(b *testing.B) {
	n := envInt("QUENCH_FIGURES_INCIDENTS", 50)
	alerts := envInt("QUENCH_FIGURES_STORM_ALERTS", 5000)
	routes := map[string]any{}
	for i := range n {
		routes[fmt.Sprintf("r%03d", i)] = []string{"primary", "fallback"}
	}
	rbDir := b.TempDir()
	if err := os.WriteFile(filepath.Join(rbDir, "bench-storm.yaml"), []byte(bench.BenchRunbook), 0o644); err != nil {
		b.Fatal(err)
	}
	c := newClusterWith(b, func(cfg map[string]any) {
		cfg["gateway"].(map[string]any)["routes"] = routes
		cfg["runbooks_dir"] = rbDir
	})
	c.startWorker("worker-1")
	c.startWorker("worker-2")
	a := c.startServer("server-a")
	c.startServer("server-b")

	// The floor, interleaved: a bare workflow with one no-op activity, started by a client
	// with no worker of its own (as the servers start incidents), its worker in this
	// process; measured the same way, start event -> activity completed, on the server's clock.
	tc := c.client()
	fw := bench.NewFloorWorker(tc)
	if err := fw.Start(); err != nil {
		b.Fatal(err)
	}
	defer fw.Stop()
	starter := c.client()
	ctx := context.Background()
	var lat, floor []time.Duration
	for i := range n {
		run, err := starter.ExecuteWorkflow(ctx, bench.FloorOptions(fmt.Sprintf("floor-%d", i), false), bench.FloorWorkflowName, bench.FloorInput{})
		if err != nil {
			b.Fatal(err)
		}
		done, _, err := bench.ActivityDone(ctx, starter, run.GetID(), run.GetRunID(), bench.FloorActivityName)
		if err != nil {
			b.Fatal(err)
		}
		desc, err := starter.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID())
		if err != nil {
			b.Fatal(err)
		}
		floor = append(floor, done.Sub(desc.GetWorkflowExecutionInfo().GetStartTime().AsTime()))

		var started incidents.Started
		a.mustCall(b, "POST", "/api/v1/incidents", apiToken,
			map[string]any{"runbook": "provider-outage", "params": map[string]string{"route": fmt.Sprintf("r%03d", i)}},
			http.StatusCreated, &started)
		st := a.waitStatus(b, started.ShortID, "the fail over of "+started.ShortID, func(st workflows.Status) bool {
			return stepIs(st, "failover", workflows.StepDone)
		})
		for _, s := range st.Steps {
			if s.ID == "failover" && s.EndedAt != nil {
				lat = append(lat, s.EndedAt.Sub(st.StartedAt))
			}
		}
	}
	slices.Sort(lat)
	slices.Sort(floor)
	pct := func(d []time.Duration, p int) time.Duration { return d[min(len(d)-1, len(d)*p/100)] }
	p50, p99 := pct(lat, 50), pct(lat, 99)
	f50, f99 := pct(floor, 50), pct(floor, 99)
	fmt.Printf("cluster: incident start -> first mitigation done (provider-outage fail over), %d incidents: p50 %s, p99 %s, max %s\n",
		len(lat), p50.Round(time.Millisecond), p99.Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	fmt.Printf("cluster: floor, bare workflow start -> its one no-op activity done, interleaved: p50 %s, p99 %s; ratio p50 %.2fx, p99 %.2fx\n",
		f50.Round(time.Millisecond), f99.Round(time.Millisecond), float64(p50)/float64(f50), float64(p99)/float64(f99))
	b.ReportMetric(float64(p50.Milliseconds()), "p50-ms")
	b.ReportMetric(float64(p99.Milliseconds()), "p99-ms")
	b.ReportMetric(float64(p50)/float64(f50), "p50/floor")
	b.ReportMetric(float64(p99)/float64(f99), "p99/floor")

	args := []string{"bench", "ingest", "--http", a.url, "--alertname", bench.BenchAlertname,
		"--alerts", strconv.Itoa(alerts), "--groups", "50", "--concurrency", "64"}
	fmt.Printf("cluster: quench %s (QUENCH_BENCH_TOKEN = the alertmanager hook token, TEMPORAL_ADDRESS = the cluster)\n", strings.Join(args, " "))
	// quench bench runs in quench-embedded (it starts an embedded server for its own
	// phases): build it beside quench, where quench looks first.
	if err := run("", "go", "build", "-o", filepath.Join(filepath.Dir(bins.quench), "quench-embedded"), "../../cmd/quench-embedded"); err != nil {
		b.Fatalf("build quench-embedded: %v", err)
	}
	cmd := exec.Command(bins.quench, args...)
	cmd.Env = append(append([]string{}, c.env...), "QUENCH_BENCH_TOKEN="+alertToken)
	out, err := cmd.CombinedOutput()
	fmt.Printf("%s\n", out)
	if err != nil {
		b.Fatalf("quench bench ingest: %v", err)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
