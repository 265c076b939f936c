package bench

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
)

// TestIngestBenchSmallStorm runs `quench bench ingest` end to end on a small storm and
// checks what it reports, not how fast: every alert accepted and found in its incident,
// one incident per group, and one floor workflow per group whose count matches.
func TestIngestBenchSmallStorm(t *testing.T) {
	io, _, stdout, stderr := cmdutil.Test()
	f := &cmdutil.Factory{IO: io}
	cmd := NewCmdIngest(f, nil)
	cmd.SetArgs([]string{"--alerts", "300", "--groups", "3", "--concurrency", "16", "--data-dir", t.TempDir(), "-o", "json"})
	require.NoError(t, cmd.Execute(), stderr.String())

	var report IngestReport
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &report), stdout.String())
	assert.Equal(t, 0, report.Ingest.Errors, report.Ingest.FirstError)
	assert.Equal(t, 3, report.Ingest.IncidentsCreated)
	assert.LessOrEqual(t, report.Ingest.Commits, 300, "never more signals than alerts")
	require.NotNil(t, report.Floor)
	assert.Equal(t, 0, report.Floor.Errors, report.Floor.FirstError)
	assert.Equal(t, 300, report.Floor.Commits)
	assert.Equal(t, 3, report.Floor.IncidentsCreated, "one floor workflow per group")
	require.NotNil(t, report.Ratio)
	assert.Positive(t, report.Ratio.AlertsPerSecond, "the ratio to the floor is printed")
	require.Len(t, report.Verification, 2)
	for _, v := range report.Verification {
		assert.True(t, v.OK, "%s: %v", v.Phase, v.Problems)
		assert.Equal(t, 300, v.Received, v.Phase)
		assert.Equal(t, 3, v.Incidents, v.Phase)
	}
	assert.Contains(t, stderr.String(), "ingest:", "progress goes to stderr, the report to stdout")
}

// TestScaleBenchSmall runs `quench bench scale` on a few incidents and routes and checks
// that it measured each part (every route switched, list and show answered), not how fast.
func TestScaleBenchSmall(t *testing.T) {
	io, _, stdout, stderr := cmdutil.Test()
	cmd := NewCmdScale(&cmdutil.Factory{IO: io}, nil)
	cmd.SetArgs([]string{"--incidents", "20", "--routes", "10", "--trials", "3", "-o", "json"})
	require.NoError(t, cmd.Execute(), stderr.String())

	var report ScaleReport
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &report), stdout.String())
	assert.Equal(t, 20, report.Incidents)
	assert.Positive(t, report.IdleMiB)
	assert.Positive(t, report.Burst.P99Millis, "every route's switch was timed")
	assert.Positive(t, report.BareBurst.P99Millis)
	assert.Positive(t, report.List.P50Millis)
	assert.Positive(t, report.Show.P50Millis)
	assert.Contains(t, stderr.String(), "burst: 10 outages")
}

func TestScaleBenchRefusesEmptySizes(t *testing.T) {
	io, _, _, _ := cmdutil.Test()
	cmd := NewCmdScale(&cmdutil.Factory{IO: io}, func(context.Context, *ScaleOptions) error { return nil })
	cmd.SetArgs([]string{"--routes", "0"})
	err := cmd.Execute()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "at least 1")
}

// TestLatencyBenchReportsEveryPathBesideItsFloor runs `quench bench latency` on a few
// trials and checks what it reports, not how fast: every path measured the trials asked
// for (each quench trial switched a route of its own: a no-op switch fails the run), and
// every ratio to both floors is there.
func TestLatencyBenchReportsEveryPathBesideItsFloor(t *testing.T) {
	io, _, stdout, stderr := cmdutil.Test()
	cmd := NewCmdLatency(&cmdutil.Factory{IO: io}, nil)
	cmd.SetArgs([]string{"--trials", "3", "--warmup", "1", "--data-dir", t.TempDir(), "-o", "json"})
	require.NoError(t, cmd.Execute(), stderr.String())

	var report LatencyReport
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &report), stdout.String())
	require.Len(t, report.Paths, 4)
	for i, name := range []string{PathAlert, PathCLI, PathFloorSWS, PathFloorEager} {
		p := report.Paths[i]
		assert.Equal(t, name, p.Name)
		assert.Equal(t, 3, p.Trials, name)
		assert.Positive(t, p.P50Millis, name)
		assert.Positive(t, p.P50xSWS, name)
		assert.Positive(t, p.P99xEager, name)
	}
	assert.Equal(t, 1.0, report.Paths[2].P50xSWS, "the signal-with-start floor is 1× itself")
	assert.Equal(t, 1.0, report.Paths[3].P99xEager, "the eager floor is 1× itself")
}

func TestPercentileIndex(t *testing.T) {
	assert.Equal(t, 49, percentileIndex(100, 0.50))
	assert.Equal(t, 98, percentileIndex(100, 0.99))
	assert.Equal(t, 0, percentileIndex(1, 0.99))
	assert.Equal(t, 2, percentileIndex(3, 0.99))
}
