package app

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A worker or server configured with other routes says so, once per difference, and
// leaves the shared table as setup (or quench dev) applied it.
func TestWorkersWarnAboutRouteDriftAndNeverWriteRoutes(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	setup := hooksConfig(t, "gateway:\n  routes:\n    chat: [openai, anthropic]\n    search: [cohere]\n")
	setup.DataDir = dataDir
	a, err := Resolve(setup, discardLogger())
	require.NoError(t, err)
	changes, err := a.ApplyRoutes(ctx, setup, "quench setup")
	require.NoError(t, err)
	require.Len(t, changes, 2)

	worker := hooksConfig(t, "gateway:\n  routes:\n    chat: [other]\n    search: [cohere]\n    voice: [eleven]\n")
	worker.DataDir = dataDir
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	b, err := Resolve(worker, logger)
	require.NoError(t, err)
	_, version, err := b.Routes.Routes()
	require.NoError(t, err)
	b.WarnRouteDrift(ctx, worker, logger)

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.Len(t, lines, 2, logs.String())
	for i, route := range []string{"chat", "voice"} {
		assert.Contains(t, lines[i], "level=WARN")
		assert.Contains(t, lines[i], "run quench setup to apply")
		assert.Contains(t, lines[i], "route="+route)
	}
	assert.Contains(t, lines[0], "config=other table=openai,anthropic")
	routes, after, err := a.Routes.Routes()
	require.NoError(t, err)
	assert.Equal(t, version, after, "a worker's start changed the shared table")
	assert.Equal(t, "openai", routes[0].Provider)
	assert.Len(t, routes, 2)
}
