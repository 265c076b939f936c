package cluster

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startEnv is the deploy configuration's environment with Temporal at temporal and the
// store at storeDSN, for processes started without a cluster.
func startEnv(t testing.TB, temporal, storeDSN string) []string {
	t.Helper()
	data, err := os.ReadFile(deployConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "quench.yaml")
	if err := os.WriteFile(cfg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"QUENCH_CONFIG=" + cfg, "TEMPORAL_ADDRESS=" + temporal, "QUENCH_STORE_DSN=" + storeDSN,
		"QUENCH_API_TOKEN=" + apiToken, "QUENCH_ALERTMANAGER_TOKEN=" + alertToken,
		"QUENCH_DECISIONS_SIGNING_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TEMPORAL_") && !strings.HasPrefix(kv, "QUENCH_") {
			env = append(env, kv)
		}
	}
	return env
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// silentAddr accepts connections and never answers: a firewall or a wrong port that does
// not refuse, where a client could wait forever.
func silentAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// quench worker and quench server exit at start, naming the address and what to check,
// when Temporal refuses connections or does not answer; they neither hang nor say ok.
func TestStartFailsClearlyWhenTemporalIsUnreachable(t *testing.T) {
	store := "postgres://quench@" + closedAddr(t) + "/quench?sslmode=disable&connect_timeout=1"
	for _, tc := range []struct{ name, addr string }{
		{"refused", closedAddr(t)},
		{"silent", silentAddr(t)},
	} {
		for _, command := range []string{"worker", "server"} {
			t.Run(tc.name+"/"+command, func(t *testing.T) {
				logDir := t.TempDir()
				args := []string{command, "--data-dir", filepath.Join(t.TempDir(), "data")}
				if command == "server" {
					args = append(args, "--http", fmt.Sprintf("127.0.0.1:%d", freePort(t)))
				}
				p := startProc(t, logDir, command, startEnv(t, tc.addr, store), bins.quench, args...)
				select {
				case <-p.done:
				case <-time.After(time.Minute):
					t.Fatalf("quench %s still running a minute after start with Temporal unreachable at %s:\n%s", command, tc.addr, p.log())
				}
				if p.err == nil {
					t.Fatalf("quench %s exited 0 with Temporal unreachable:\n%s", command, p.log())
				}
				for _, want := range []string{"cannot reach Temporal at " + tc.addr, "check that Temporal's frontend is running", "TEMPORAL_ADDRESS"} {
					if !strings.Contains(p.log(), want) {
						t.Errorf("quench %s's error does not say %q:\n%s", command, want, p.log())
					}
				}
				if strings.Contains(p.log(), "worker running") || strings.Contains(p.log(), "http server running") {
					t.Errorf("quench %s said it was running:\n%s", command, p.log())
				}
			})
		}
	}
}

// readyz is GET /readyz's answer.
type readyz struct {
	Ready  bool   `json:"ready"`
	Reason string `json:"reason"`
}

func (s *quenchServer) readyz() (int, readyz) {
	code, body := s.call("GET", "/readyz", "", nil)
	var r readyz
	_ = json.Unmarshal(body, &r)
	return code, r
}

// A quench server whose PostgreSQL store is unreachable starts (liveness holds) and
// answers /readyz 503 naming the store, without the DSN's password; one with a data dir it
// cannot create starts and is ready, since the store is PostgreSQL.
func TestServerReadinessFollowsTheStore(t *testing.T) {
	c := newCluster(t)
	pw := "pw-" + randomHex(4)
	down := "postgres://quench:" + pw + "@" + closedAddr(t) + "/quench?sslmode=disable&connect_timeout=1"
	env := startEnv(t, c.temporal.address, down)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := startProc(t, c.logDir, "server-store-down", env, bins.quench, "server", "--http", addr, "--data-dir", unwritableDir(t))
	s := &quenchServer{proc: p, url: "http://" + addr}
	var last readyz
	waitFor(t, "/readyz to answer 503 for the store", time.Minute, func() (bool, error) {
		code, r := s.readyz()
		last = r
		return code == http.StatusServiceUnavailable && strings.HasPrefix(r.Reason, "store: "), fmt.Errorf("%d %+v", code, r)
	}, p)
	if strings.Contains(last.Reason, pw) {
		t.Fatalf("/readyz shows the store's password: %s", last.Reason)
	}
	if code, body := s.call("GET", "/healthz", "", nil); code != http.StatusOK {
		t.Fatalf("/healthz %d %s while only the store is down; liveness must hold", code, body)
	}
	// The same server with the store reachable is ready, its data dir still uncreatable.
	c.startServer("server-no-data-dir")
}

// unwritableDir is a data dir path that cannot be created (its parent is a file).
func unwritableDir(t testing.TB) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(file, "data")
}
