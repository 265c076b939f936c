package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"gopkg.in/yaml.v3"

	"github.com/quench-dev/quench/internal/store/storetest"
)

// bins is built once by TestMain.
var bins *binaries

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "quench-cluster-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bins, err = buildBinaries(tmp)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster suite:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(tmp)
	storetest.Main(m)
}

// deployConfig is the quench configuration the deploy files run (deploy/quench.yaml): the
// cluster suite runs it unchanged, with its secrets from the environment as a container
// gets them.
const deployConfig = "../../deploy/quench.yaml"

// cluster is a real Temporal server on PostgreSQL, quench workers and servers against it,
// each with its own data dir, and the shared quench store on the same PostgreSQL.
type cluster struct {
	t        testing.TB
	dir      string // logs (kept for a failed test), configs, data dirs
	logDir   string
	temporal *temporalServer
	// storeDSN is the quench store's database; storeDB a connection to it for the test.
	storeDSN string
	storeDB  *sql.DB
	env      []string
	secrets  map[string]string
	workers  map[string]*proc
	servers  map[string]*quenchServer
	// configPath is the quench.yaml every process reads.
	configPath string
}

type quenchServer struct {
	*proc
	url string
}

// Secret values the test plays the operator with; the config only references them.
const (
	apiToken   = "cluster-test-api-token"
	alertToken = "cluster-test-alertmanager-token"
)

// newCluster starts PostgreSQL databases, Temporal on them, and runs `quench setup`, with
// deploy/quench.yaml as it is. Workers and servers are started by the test.
func newCluster(t testing.TB) *cluster {
	t.Helper()
	return newClusterWith(t, nil)
}

// newClusterWith is newCluster with deploy/quench.yaml changed by edit first (for
// measurements that need more routes or runbooks than the deploy files have).
func newClusterWith(t testing.TB, edit func(cfg map[string]any)) *cluster {
	t.Helper()
	return newClusterWithSecrets(t, edit, nil)
}

// newClusterWithSecrets is newClusterWith with more secrets in every process's
// environment (what an edit's env:NAME references point at, e.g. a GitHub token).
func newClusterWithSecrets(t testing.TB, edit func(cfg map[string]any), secrets map[string]string) *cluster {
	t.Helper()
	dir, err := os.MkdirTemp("", "quench-cluster-")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, dir: dir, logDir: filepath.Join(dir, "logs"), workers: map[string]*proc{}, servers: map[string]*quenchServer{}}
	if err := os.MkdirAll(c.logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs last: after every process was killed.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("cluster logs kept in %s:", c.logDir)
			entries, _ := os.ReadDir(c.logDir)
			for _, e := range entries {
				data, _ := os.ReadFile(filepath.Join(c.logDir, e.Name()))
				t.Logf("--- %s (tail)\n%s", e.Name(), tail(string(data), 6000))
			}
			return
		}
		_ = os.RemoveAll(dir)
	})

	mainDSN, visDSN := storetest.NewDatabase(t), storetest.NewDatabase(t)
	c.storeDSN = storetest.NewDatabase(t)
	pg, mainDB := parsePG(t, mainDSN)
	_, visDB := parsePG(t, visDSN)
	setupTemporalSchema(t, bins, c.logDir, pg, map[string]string{mainDB: "temporal", visDB: "visibility"})
	// Ports are chosen free and then bound by the server: on the rare loss of that race,
	// start again on others.
	for attempt := 1; ; attempt++ {
		cfgPath, addr := writeTemporalConfig(t, dir, pg, mainDB, visDB)
		c.temporal = &temporalServer{bins: bins, logDir: c.logDir, config: cfgPath, address: addr}
		err := c.temporal.tryStart(t)
		if err == nil {
			break
		}
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			t.Fatal(err)
		}
		t.Logf("the Temporal server lost a port race (attempt %d); starting it on other ports", attempt)
	}
	addr := c.temporal.address

	c.storeDB, err = sql.Open("pgx", c.storeDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.storeDB.Close() })

	data, err := os.ReadFile(deployConfig)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		var cfg map[string]any
		if err := yaml.Unmarshal(data, &cfg); err != nil {
			t.Fatal(err)
		}
		edit(cfg)
		if data, err = yaml.Marshal(cfg); err != nil {
			t.Fatal(err)
		}
	}
	c.configPath = filepath.Join(dir, "quench.yaml")
	if err := os.WriteFile(c.configPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	c.secrets = map[string]string{
		"QUENCH_STORE_DSN":             c.storeDSN,
		"QUENCH_API_TOKEN":             apiToken,
		"QUENCH_ALERTMANAGER_TOKEN":    alertToken,
		"QUENCH_DECISIONS_SIGNING_KEY": base64.StdEncoding.EncodeToString(key),
	}
	for k, v := range secrets {
		c.secrets[k] = v
	}
	c.env = []string{"QUENCH_CONFIG=" + c.configPath, "TEMPORAL_ADDRESS=" + addr}
	for k, v := range c.secrets {
		c.env = append(c.env, k+"="+v)
	}
	for _, kv := range os.Environ() {
		// The operator's own Temporal or quench settings must not leak into the cluster.
		if !strings.HasPrefix(kv, "TEMPORAL_") && !strings.HasPrefix(kv, "QUENCH_") {
			c.env = append(c.env, kv)
		}
	}
	c.setup()
	return c
}

// setup runs `quench setup` as the deploy files' setup job does, again until Temporal
// has finished starting (a just-started frontend may refuse the first registration).
func (c *cluster) setup() {
	c.t.Helper()
	var out []byte
	waitFor(c.t, "quench setup to succeed", 2*time.Minute, func() (bool, error) {
		cmd := exec.Command(bins.quench, "setup")
		cmd.Env = c.env
		var err error
		out, err = cmd.CombinedOutput()
		if err != nil {
			return false, fmt.Errorf("%v: %s", err, out)
		}
		return true, nil
	}, c.temporal.proc)
}

// startWorker starts `quench worker` with its own data dir and waits until it polls.
func (c *cluster) startWorker(name string) *proc {
	c.t.Helper()
	dataDir := filepath.Join(c.dir, name+"-data")
	p := startProc(c.t, c.logDir, name, c.env, bins.quench, "worker", "--data-dir", dataDir)
	waitFor(c.t, name+" to poll", 2*time.Minute, func() (bool, error) {
		return strings.Contains(p.log(), "worker running"), nil
	}, p)
	c.workers[name] = p
	return p
}

// startServer starts `quench server` on a loopback port with a data dir it cannot even
// create (the store is PostgreSQL: it keeps nothing there), and waits until /readyz
// answers 200.
func (c *cluster) startServer(name string) *quenchServer {
	c.t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(c.t))
	p := startProc(c.t, c.logDir, name, c.env, bins.quench, "server", "--http", addr, "--data-dir", unwritableDir(c.t))
	s := &quenchServer{proc: p, url: "http://" + addr}
	waitFor(c.t, name+" to be ready", 2*time.Minute, func() (bool, error) {
		code, body := s.call("GET", "/readyz", "", nil)
		return code == http.StatusOK, fmt.Errorf("/readyz %d %s", code, body)
	}, p)
	c.servers[name] = s
	return s
}

// client dials the cluster's Temporal as the test (to describe workflows).
func (c *cluster) client() client.Client {
	c.t.Helper()
	tc, err := client.Dial(client.Options{HostPort: c.temporal.address, Namespace: c.namespace(), Logger: quietLogger{}})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(tc.Close)
	return tc
}

// namespace is the one deploy/quench.yaml names.
func (c *cluster) namespace() string { return "quench" }

// call sends a request to the server; body is JSON-encoded unless it is []byte.
func (s *quenchServer) call(method, path, token string, body any) (int, []byte) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		return 0, []byte(err.Error())
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// mustCall is call that fails the test unless the answer has code want, decoding it into out.
func (s *quenchServer) mustCall(t testing.TB, method, path, token string, body any, want int, out any) {
	t.Helper()
	code, data := s.call(method, path, token, body)
	if code != want {
		t.Fatalf("%s %s%s: %d %s, want %d", method, s.url, path, code, data, want)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
