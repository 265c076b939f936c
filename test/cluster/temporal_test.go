package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
)

// pgServer is a PostgreSQL server the suite created databases on.
type pgServer struct {
	host, port, user, password string
}

func parsePG(t testing.TB, dsn string) (pgServer, string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Fatalf("test PostgreSQL DSN %q is not a postgres:// URL: %v", dsn, err)
	}
	pw, _ := u.User.Password() // QUENCH_TEST_POSTGRES_DSN may name a server with one
	pg := pgServer{host: u.Hostname(), port: u.Port(), user: u.User.Username(), password: pw}
	if pg.port == "" {
		pg.port = "5432"
	}
	return pg, strings.TrimPrefix(u.Path, "/")
}

// temporalServer is the single-process Temporal server (frontend, history, matching and
// worker services) on PostgreSQL persistence and visibility.
type temporalServer struct {
	bins    *binaries
	logDir  string
	config  string
	address string // frontend host:port
	proc    *proc
}

// setupTemporalSchema loads Temporal's schema into two fresh databases with the SQL tool,
// from the pinned module's schema/postgresql/v12, as an operator's setup job does.
func setupTemporalSchema(t testing.TB, bins *binaries, logDir string, pg pgServer, dbs map[string]string) {
	t.Helper()
	for db, schema := range dbs {
		base := []string{"--plugin", "postgres12", "--ep", pg.host, "-p", pg.port, "-u", pg.user, "--db", db}
		env := os.Environ()
		if pg.password != "" {
			env = append(env, "SQL_PASSWORD="+pg.password) // not on the command line
		}
		for _, args := range [][]string{
			{"setup-schema", "-v", "0.0"},
			{"update-schema", "-d", filepath.Join(bins.schemaDir, schema, "versioned")},
		} {
			p := startProc(t, logDir, "temporal-sql-tool", env, bins.sqlTool, append(base, args...)...)
			<-p.done
			if p.err != nil {
				t.Fatalf("temporal-sql-tool %s on %s: %v\n%s", args[0], db, p.err, tail(p.log(), 4000))
			}
		}
	}
}

// writeTemporalConfig writes the server's config: every port (gRPC, HTTP, membership)
// below 32768, loopback only, no metrics or pprof listeners.
func writeTemporalConfig(t testing.TB, dir string, pg pgServer, mainDB, visDB string) (path, address string) {
	t.Helper()
	ports := lowPorts(t, 9)
	store := func(db string, conns int) string {
		return fmt.Sprintf(`      sql:
        pluginName: postgres12
        databaseName: %q
        connectAddr: "%s:%s"
        connectProtocol: tcp
        user: %q
        password: %q
        maxConns: %d
        maxIdleConns: %d
        maxConnLifetime: 1h
`, db, pg.host, pg.port, pg.user, pg.password, conns, conns)
	}
	cfg := fmt.Sprintf(`log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: 4
  datastores:
    default:
%s    visibility:
%sglobal:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
services:
  frontend:
    rpc: {grpcPort: %d, membershipPort: %d, httpPort: %d, bindOnLocalHost: true}
  history:
    rpc: {grpcPort: %d, membershipPort: %d, bindOnLocalHost: true}
  matching:
    rpc: {grpcPort: %d, membershipPort: %d, bindOnLocalHost: true}
  worker:
    rpc: {grpcPort: %d, membershipPort: %d, bindOnLocalHost: true}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "127.0.0.1:%d"
dcRedirectionPolicy:
  policy: noop
`, store(mainDB, 20), store(visDB, 4), ports[0], ports[1], ports[2], ports[3], ports[4], ports[5], ports[6], ports[7], ports[8], ports[0])
	path = filepath.Join(dir, "temporal.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, fmt.Sprintf("127.0.0.1:%d", ports[0])
}

// start runs the server and waits until its frontend answers a health check.
func (s *temporalServer) start(t testing.TB) {
	t.Helper()
	if err := s.tryStart(t); err != nil {
		t.Fatal(err)
	}
}

// errPortTaken: a port chosen free was taken before the server bound it.
var errPortTaken = errors.New("a port was taken")

func (s *temporalServer) tryStart(t testing.TB) error {
	t.Helper()
	s.proc = startProc(t, s.logDir, "temporal", os.Environ(), s.bins.temporalServer,
		"--config-file", s.config, "--allow-no-auth", "start")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := client.DialContext(ctx, client.Options{HostPort: s.address, Logger: quietLogger{}})
		if err == nil {
			_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
			c.Close()
		}
		cancel()
		switch {
		case err == nil:
			return nil
		case s.proc.exited():
			if strings.Contains(s.proc.log(), "address already in use") {
				return errPortTaken
			}
			return fmt.Errorf("the Temporal server exited (%v) before its frontend at %s answered:\n%s", s.proc.err, s.address, tail(s.proc.log(), 6000))
		case time.Now().After(deadline):
			return fmt.Errorf("Temporal's frontend at %s did not answer within 2 minutes: %v", s.address, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// restart is kill -9 and a start on the same ports and databases.
func (s *temporalServer) restart(t testing.TB) {
	t.Helper()
	s.proc.kill()
	s.start(t)
}

// quietLogger drops the SDK's retry chatter from the test's own clients.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}
