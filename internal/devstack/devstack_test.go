package devstack

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quench-dev/quench/internal/app"
	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/datadir"
	"github.com/quench-dev/quench/internal/devserver"
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

	secondStackChangesNothing(ctx, t, stack, dir)
}

// A second stack on a data dir in use is refused before it opens anything there: the live
// routing table keeps its version even though the second config lists other routes (a
// stack applies its routes at start), and the first stack's config and runbooks are not
// rewritten.
func secondStackChangesNothing(ctx context.Context, t *testing.T, first *Stack, dir string) {
	t.Helper()
	files := []string{filepath.Join(dir, "quench.yaml"), filepath.Join(dir, "runbooks", "mine.yaml")}
	require.NoError(t, os.WriteFile(files[1], []byte("not read by the first stack\n"), 0o644))
	_, version, err := first.Adapters.Routes.Routes()
	require.NoError(t, err)
	type snapshot struct {
		data string
		mod  time.Time
	}
	snap := func() []snapshot {
		var out []snapshot
		for _, f := range files {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			info, err := os.Stat(f)
			require.NoError(t, err)
			out = append(out, snapshot{string(data), info.ModTime()})
		}
		return out
	}
	before := snap()
	otherRoutes := "gateway:\n  routes:\n    chat: [other, primary]\n    search: [a, b]\n"
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	_, err = StartInDir(ctx, DirOptions{Dir: dir, Config: otherRoutes, Runbooks: map[string]string{"mine.yaml": "changed"}, Logger: quiet})
	var inUse *datadir.InUseError
	require.ErrorAs(t, err, &inUse)
	require.NotNil(t, inUse.Holder)
	assert.Equal(t, os.Getpid(), inUse.Holder.PID)
	assert.Contains(t, err.Error(), "data dir "+filepath.Join(dir, "data")+" is in use by ")
	assert.Contains(t, err.Error(), "stop that process or pass another --data-dir")

	cfgPath := filepath.Join(t.TempDir(), "quench.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte("data_dir: "+filepath.Join(dir, "data")+"\nhttp:\n  listen: 127.0.0.1:0\n"+otherRoutes), 0o600))
	cfg, err := config.Load(cfgPath)
	require.NoError(t, err)
	_, err = Start(ctx, Options{Config: cfg, UIPort: devserver.NoUI, Logger: quiet})
	require.ErrorAs(t, err, &inUse)

	assert.Equal(t, before, snap(), "a refused stack changed a file of the running one")
	routes, after, err := first.Adapters.Routes.Routes()
	require.NoError(t, err)
	assert.Len(t, routes, 1, "the running stack's table still has only its own route")
	assert.Equal(t, version, after, "a refused stack changed the running one's routing table")
}
