package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/workflows"
)

// BenchmarkCLIAgainstSDKOnly times the quench CLI, one process per command as a user runs
// it, against the same Temporal call from a program that links only the SDK
// (testdata/sdkonly), on one running `quench dev`, interleaved so both see the same load:
//
//	incident list            vs  ListWorkflowExecutions
//	incident show ID         vs  the status query
//	incident start RUNBOOK   vs  a workflow start
//	incident approve ID      vs  the decide update (refused: it carries no proof)
//
// It reports each median and its ratio to the floor (quench/sdk); it asserts no timing.
//
//	go test -run '^$' -bench CLIAgainstSDKOnly -benchtime 25x ./test/
func BenchmarkCLIAgainstSDKOnly(b *testing.B) {
	sdkBin := filepath.Join(filepath.Dir(quenchBin), "sdkonly")
	if out, err := exec.Command("go", "build", "-o", sdkBin, "./testdata/sdkonly").CombinedOutput(); err != nil {
		b.Fatalf("build testdata/sdkonly: %v\n%s", err, out)
	}
	dev := startDev(b, newDevConfig(b))
	c, err := client.Dial(client.Options{HostPort: dev.temporal})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	svc := incidents.New(c, nil, "default")

	quench := func(args ...string) string {
		return timedRun(b, nil, quenchBin, append([]string{"--temporal-address", dev.temporal, "--data-dir", dev.dataDir}, args...)...)
	}
	sdk := func(args ...string) string {
		return timedRun(b, nil, sdkBin, append([]string{"-address", dev.temporal}, args...)...)
	}
	ops := []string{"list", "show", "start", "approve"}
	times := map[string]map[string][]time.Duration{}
	for _, op := range ops {
		times[op] = map[string][]time.Duration{}
	}
	measure := func(op, who string, run func() string) string {
		start := time.Now()
		out := run()
		times[op][who] = append(times[op][who], time.Since(start))
		return out
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Who goes first alternates, so neither always finds the other's caches warm.
		pair := func(op string, q, s func() string) string {
			var out string
			if i%2 == 0 {
				out = measure(op, "quench", q)
				measure(op, "sdk", s)
			} else {
				measure(op, "sdk", s)
				out = measure(op, "quench", q)
			}
			return out
		}
		// manual-investigation waits for an approval of its switch step: every iteration
		// has a fresh approval to give.
		out := pair("start",
			func() string { return quench("incident", "start", "manual-investigation", "-o", "json") },
			func() string { return sdk("start", fmt.Sprintf("sdkonly-%d-%d", i, time.Now().UnixNano())) })
		var started incidents.Started
		if err := json.Unmarshal([]byte(out), &started); err != nil || started.IncidentID == "" {
			b.Fatalf("incident start -o json printed %q (%v)", out, err)
		}
		b.StopTimer()
		waitForApproval(b, svc, started.IncidentID, "switch")
		b.StartTimer()
		pair("list", func() string { return quench("incident", "list") }, func() string { return sdk("list") })
		pair("show",
			func() string { return quench("incident", "show", started.ShortID) },
			func() string { return sdk("query", started.IncidentID) })
		// The proofless update goes first: it changes nothing the approval needs.
		measure("approve", "sdk", func() string { return sdk("update", started.IncidentID, "switch") })
		measure("approve", "quench", func() string {
			return quench("--as", "bench-approver", "incident", "approve", started.ShortID, "--step", "switch")
		})
	}
	b.StopTimer()
	for _, op := range ops {
		q, s := median(times[op]["quench"]), median(times[op]["sdk"])
		b.ReportMetric(ms(q), "ms-"+op)
		b.ReportMetric(ms(s), "ms-sdk-"+op)
		b.ReportMetric(float64(q)/float64(s), "x-"+op)
	}
}

// waitForApproval follows the incident's timeline until step asks for an approval.
func waitForApproval(b *testing.B, svc *incidents.Service, id, step string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	asked := false
	watchCtx, stop := context.WithCancel(ctx)
	defer stop()
	_, err := svc.Watch(watchCtx, id, func(e workflows.Event, _ workflows.Status) {
		if e.Kind == workflows.EventApprovalAsked && e.StepID == step {
			asked = true
			stop()
		}
	})
	if !asked {
		b.Fatalf("incident %s: no approval asked for step %s: %v", id, step, err)
	}
}

// timedRun runs a command to its end and returns its stdout; a failure ends the benchmark.
func timedRun(b *testing.B, env []string, bin string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), append([]string{"QUENCH_CONFIG="}, env...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s %s: %v\nstdout: %s\nstderr: %s", filepath.Base(bin), strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String()
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
