package serve

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/quench-dev/quench/internal/app"
	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/config/configtest"
	"github.com/quench-dev/quench/internal/devserver"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/syncbuf"
	"github.com/quench-dev/quench/workflows"
)

func startTemporal(t *testing.T) *devserver.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Options{DataDir: t.TempDir(), UIPort: devserver.NoUI, Logger: quietLogger()})
	require.NoError(t, err)
	return srv
}

// remoteOptions point a worker or server at srv and namespace, whatever TEMPORAL_* says.
func remoteOptions(t *testing.T, srv *devserver.Server, namespace string) (*RemoteOptions, *syncbuf.Buffer) {
	t.Helper()
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(t.TempDir(), "none.toml"))
	cfg := configtest.Load(t, t.TempDir(), "")
	cfg.Temporal.Address, cfg.Temporal.Namespace = srv.FrontendAddress(), namespace
	ios, _, _, _ := cmdutil.Test()
	logs := &syncbuf.Buffer{}
	ios.ErrOut = logs
	yes := func() bool { return true }
	return &RemoteOptions{IO: ios, Config: func() (*config.Config, error) { return cfg, nil },
		AddressFlag: yes, NamespaceFlag: yes, LogLevel: "info"}, logs
}

// On a cluster without the namespace a worker stops at once and says what to run, instead
// of the SDK's "Namespace default is not found"; with --setup it creates the namespace and
// the search attributes, logs that, and polls.
func TestWorkerOnAFreshClusterSaysRunSetupOrSetsUp(t *testing.T) {
	srv := startTemporal(t)
	defer func() { _ = srv.Stop() }()
	const ns = "quench-worker-fresh"

	opts, _ := remoteOptions(t, srv, ns)
	err := workerRun(context.Background(), opts)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `namespace "quench-worker-fresh" is not registered on Temporal at `+srv.FrontendAddress())
	assert.Contains(t, err.Error(), "run `quench setup` once with the same --temporal-address and --namespace")
	assert.Contains(t, err.Error(), "or start the worker with --setup")

	opts, logs := remoteOptions(t, srv, ns)
	opts.Setup = true
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- workerRun(ctx, opts) }()
	require.Eventually(t, func() bool {
		select {
		case err := <-done:
			t.Fatalf("worker --setup stopped: %v\n%s", err, logs.String())
		default:
		}
		return strings.Contains(logs.String(), "worker running")
	}, time.Minute, 20*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	assert.Contains(t, logs.String(), `msg="setup: created namespace quench-worker-fresh (retention 720h0m0s)"`)
	assert.Contains(t, logs.String(), `msg="setup: created search attribute QuenchStatus (Keyword)"`)

	c, err := client.Dial(client.Options{HostPort: srv.FrontendAddress(), Namespace: ns})
	require.NoError(t, err)
	defer c.Close()
	listed, err := c.OperatorService().ListSearchAttributes(context.Background(), &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	require.NoError(t, err)
	for _, name := range workflows.SearchAttributes {
		assert.Contains(t, listed.GetCustomAttributes(), name)
	}
}

// /readyz answers 200 while Temporal answers and 503 (JSON reason, Retry-After) once it is
// stopped, while /healthz keeps answering 200; a namespace nobody registered is not ready
// either.
func TestReadyzFollowsTemporal(t *testing.T) {
	srv := startTemporal(t)
	stopped := false
	defer func() {
		if !stopped {
			_ = srv.Stop()
		}
	}()
	c, err := client.Dial(client.Options{HostPort: srv.FrontendAddress(), Namespace: srv.Namespace()})
	require.NoError(t, err)
	defer c.Close()
	cfg := configtest.Load(t, t.TempDir(), "http:\n  listen: 127.0.0.1:0\n")
	a, err := app.Resolve(cfg, nil)
	require.NoError(t, err)
	lib, err := app.Runbooks(cfg)
	require.NoError(t, err)
	web, err := app.HTTPServer(cfg, incidents.New(c, lib, srv.Namespace()), a, quietLogger())
	require.NoError(t, err)
	h := httptest.NewServer(web.Server.Handler)
	defer h.Close()

	get := func(path string) (int, http.Header, map[string]any) {
		resp, err := http.Get(h.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		var body map[string]any
		if path == "/readyz" {
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		}
		return resp.StatusCode, resp.Header, body
	}
	code, _, body := get("/readyz")
	require.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, true, body["ready"])

	other, err := app.HTTPServer(cfg, incidents.New(c, lib, "quench-nobody-registered"), a, quietLogger())
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	other.Server.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Contains(t, rec.Body.String(), "namespace \\\"quench-nobody-registered\\\" is not registered: run `quench setup`")

	require.NoError(t, srv.Stop())
	stopped = true
	// The answer is cached for a moment: poll until the next round sees Temporal gone.
	require.Eventually(t, func() bool {
		code, _, _ := get("/readyz")
		return code == http.StatusServiceUnavailable
	}, 30*time.Second, 50*time.Millisecond)
	code, hdr, body := get("/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "5", hdr.Get("Retry-After"))
	assert.Equal(t, false, body["ready"])
	assert.True(t, strings.HasPrefix(body["reason"].(string), "temporal: Temporal "), body["reason"])
	code, _, _ = get("/healthz")
	assert.Equal(t, http.StatusOK, code, "liveness does not follow Temporal")
}

// A server whose data dir cannot be created says what needs it.
func TestServerSaysWhatNeedsItsDataDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	cfg := configtest.Load(t, filepath.Join(file, "data"), "")
	ios, _, _, _ := cmdutil.Test()
	never := func() bool { return false }
	err := serverRun(context.Background(), &RemoteOptions{IO: ios, Config: func() (*config.Config, error) { return cfg, nil },
		AddressFlag: never, NamespaceFlag: never, LogLevel: "error"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "quench server needs a writable data dir ("+filepath.Join(file, "data")+") for the embedded routing table it serves at /v1/routes")

	elsewhere := &fs.PathError{Op: "open", Path: "/srv/prompts/chat.txt", Err: fs.ErrNotExist}
	assert.Equal(t, error(elsewhere), serverDataDirError("/var/lib/quench", elsewhere), "a file outside the data dir is not the data dir's problem")
}

// quench server on a cluster where nobody ran setup: it starts (liveness), logs why it is
// not ready, and its /readyz says the same until the namespace exists.
func TestServerStartsNotReadyUntilSetup(t *testing.T) {
	srv := startTemporal(t)
	defer func() { _ = srv.Stop() }()
	const ns = "quench-server-fresh"
	opts, logs := remoteOptions(t, srv, ns)
	opts.HTTPListen = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serverRun(ctx, opts) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()
	var addr string
	require.Eventually(t, func() bool {
		select {
		case err := <-done:
			t.Fatalf("quench server stopped: %v\n%s", err, logs.String())
		default:
		}
		_, rest, ok := strings.Cut(logs.String(), `msg="http server running" addr=`)
		if ok {
			addr, _, _ = strings.Cut(rest, " ")
		}
		return ok
	}, time.Minute, 20*time.Millisecond)
	assert.Contains(t, logs.String(), `msg="not ready: /readyz answers 503 until this is fixed" reason="namespace \"quench-server-fresh\" is not registered: run `+"`quench setup`"+`"`)

	resp, err := http.Get("http://" + addr + "/readyz")
	require.NoError(t, err)
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "temporal: namespace \"quench-server-fresh\" is not registered: run `quench setup`", body["reason"])

	resp, err = http.Get("http://" + addr + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}
