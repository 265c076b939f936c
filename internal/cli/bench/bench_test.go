package bench

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
)

// TestIngestBenchSmallStorm runs `quench bench ingest` end to end on a small storm and
// checks what it reports, not how fast: every alert accepted and found in its incident,
// one incident per group in both phases.
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
	require.NotNil(t, report.Bare)
	assert.Equal(t, 0, report.Bare.Errors, report.Bare.FirstError)
	assert.Equal(t, 300, report.Bare.Commits)
	require.Len(t, report.Verification, 2)
	for _, v := range report.Verification {
		assert.True(t, v.OK, "%s: %v", v.Phase, v.Problems)
		assert.Equal(t, 300, v.Received, v.Phase)
		assert.Equal(t, 3, v.Incidents, v.Phase)
	}
	assert.Contains(t, stderr.String(), "ingest:", "progress goes to stderr, the report to stdout")
}
