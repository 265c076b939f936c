// Package storetest gives tests a real store: a SQLite file in a temp dir, or a fresh
// database on a real PostgreSQL server. The server is QUENCH_TEST_POSTGRES_DSN's when set
// (CI starts one), otherwise a throwaway one this package starts from Debian's postgresql
// binaries in a temp dir, once per test binary; call Main from TestMain to stop it.
//
// A machine without PostgreSQL fails the test with how to install it: tests never skip.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/store"
)

// EnvDSN names a PostgreSQL server for tests (a superuser's URL, any database).
const EnvDSN = "QUENCH_TEST_POSTGRES_DSN"

// SQLite opens a store in a fresh temp dir, closed when the test ends.
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.OpenSQLite(filepath.Join(t.TempDir(), store.SQLiteFile))
	if err != nil {
		t.Fatalf("open SQLite store: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// Postgres opens a store on a new, empty database of the test PostgreSQL server.
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.OpenPostgres(NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// Each runs fn once per engine, as subtests named sqlite and postgres.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// NewDatabase creates an empty database on the test server and returns its DSN.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin, err := serverDSN()
	if err != nil {
		t.Fatalf("PostgreSQL for tests: %v", err)
	}
	name := "quench_test_" + randomHex(6)
	db, err := store.OpenPostgres(admin)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.SQL.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database on %s: %v", store.DescribeDSN(admin), err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s must be a postgres:// URL: %v", EnvDSN, err)
	}
	u.Path = "/" + name
	return u.String()
}

var (
	startOnce sync.Once
	started   *server
	startErr  error
)

// Main runs the package's tests and stops the throwaway server, if one was started.
func Main(m interface{ Run() int }) {
	code := m.Run()
	if started != nil {
		started.stop()
	}
	os.Exit(code)
}

func serverDSN() (string, error) {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return dsn, nil
	}
	startOnce.Do(func() { started, startErr = startServer() })
	if startErr != nil {
		return "", startErr
	}
	return started.dsn, nil
}

type server struct {
	dir, pgCtl string
	asUser     []string
	dsn        string
}

// BinDir finds Debian's PostgreSQL programs (initdb, pg_ctl): on PATH, or the newest
// /usr/lib/postgresql/<version>/bin.
func BinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(real), nil
		}
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin): install it with `apt-get install postgresql`, or set %s to a server's postgres:// URL", EnvDSN)
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// RunAs is the command prefix that runs PostgreSQL's programs: they refuse to run as
// root, so as root they run as the postgres user Debian's package creates.
func RunAs() ([]string, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	if _, err := user.Lookup("postgres"); err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL needs the postgres user to run as (apt-get install postgresql creates it)")
	}
	return []string{"runuser", "-u", "postgres", "--"}, nil
}

func startServer() (*server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	asUser, err := RunAs()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "quench-pg-")
	if err != nil {
		return nil, err
	}
	if asUser != nil {
		if err := exec.Command("chown", "-R", "postgres:postgres", dir).Run(); err != nil {
			return nil, fmt.Errorf("chown %s to postgres: %w", dir, err)
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := command(asUser, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{dir: dir, pgCtl: filepath.Join(bin, "pg_ctl"), asUser: asUser}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories=%s -c fsync=off -c max_connections=200", port, dir)
	if out, err := command(asUser, s.pgCtl, "-D", data, "-l", filepath.Join(dir, "log"), "-o", opts, "-w", "-t", "60", "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		return nil, fmt.Errorf("start PostgreSQL: %v: %s\n%s", err, out, log)
	}
	s.dsn = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	return s, nil
}

func (s *server) stop() {
	_ = command(s.asUser, s.pgCtl, "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop").Run()
	_ = os.RemoveAll(s.dir)
}

func command(prefix []string, name string, args ...string) *exec.Cmd {
	all := append(append(append([]string{}, prefix...), name), args...)
	return exec.Command(all[0], all[1:]...)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToLower(hex.EncodeToString(b))
}
