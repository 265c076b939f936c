package e2e

import (
	"context"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/runbooks"
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
// starting an incident (the CLI's call) to its first step's activity completing: the
// first mitigation of provider-outage, the route switch.
//
//	go test -run '^$' -bench StartToFirstStep -benchtime 100x ./test/
func BenchmarkIncidentStartToFirstStep(b *testing.B) {
	dev := startDev(b, newDevConfig(b))
	c, err := client.Dial(client.Options{HostPort: dev.temporal})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	lib, err := runbooks.LoadLibrary("")
	if err != nil {
		b.Fatal(err)
	}
	svc := incidents.New(c, lib, "default")
	ctx := context.Background()
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		st, err := svc.Start(ctx, incidents.StartRequest{Runbook: "provider-outage", Params: map[string]string{"route": "chat"}, Requester: "bench", Source: "cli"})
		if err != nil {
			b.Fatal(err)
		}
		it := c.GetWorkflowHistory(ctx, st.IncidentID, st.RunID, true, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				b.Fatal(err)
			}
			// The policy is a local activity (a marker); the first completed activity
			// task is the first step.
			if ev.GetEventType() == enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED {
				break
			}
		}
		lat = append(lat, time.Since(start))
		b.StopTimer()
		// Close the incident so the next one starts from the primary provider again.
		_ = c.TerminateWorkflow(ctx, st.IncidentID, "", "benchmark")
		b.StartTimer()
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-p50")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "ms-p99")
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
