package devstack

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quench-dev/quench/internal/app"
)

// A stack on port 0 reports the ports it got, serves on them, and runs over the adapters
// Resolve chose (here the JSONL log the extra config names).
func TestStartInDirReportsThePortsItGot(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	stack, err := StartInDir(ctx, DirOptions{Dir: dir, Config: "traffic:\n  log: " + dir + "/traffic.jsonl\n",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	defer stack.Stop()

	addrs := stack.Addresses()
	for name, hostport := range map[string]string{"temporal": addrs.Temporal, "http": addrs.HTTP} {
		_, port, err := net.SplitHostPort(hostport)
		require.NoError(t, err, name)
		assert.NotEqual(t, "0", port, "%s reports the port asked for, not the one it got", name)
	}
	assert.Empty(t, addrs.UI, "no Web UI in a throwaway stack")

	resp, err := http.Get(stack.HTTPURL + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "JSONL log "+dir+"/traffic.jsonl", stack.Adapters.Choice(app.PortTraffic))
	_, err = stack.Client.CheckHealth(ctx, nil)
	assert.NoError(t, err, "the client reaches the reported Temporal")
}
