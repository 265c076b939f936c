package activities_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/evidence"
	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/targets/traffic/jsonl"
)

func trafficLog(t *testing.T) string {
	t.Helper()
	line := `{"time":"` + now.Add(-time.Minute).Format(time.RFC3339) + `","gen_ai.provider.name":"openai","route":"chat","error.type":"5xx"}` + "\n"
	path := filepath.Join(t.TempDir(), "requests.jsonl")
	if err := os.WriteFile(path, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func openStore(t *testing.T, open func() (*store.DB, error)) *store.DB {
	t.Helper()
	db, err := open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// A snapshot retried on another worker (another process over the same SQL store) finds the
// bundle the first captured and answers from it: evidence is captured once.
func TestSnapshotRetriedOnAnotherWorkerUsesTheSQLStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), store.SQLiteFile)
	one := openStore(t, func() (*store.DB, error) { return store.OpenSQLite(path) })
	two := openStore(t, func() (*store.DB, error) { return store.OpenSQLite(path) })
	log := trafficLog(t)
	in := step(activities.ActionTrafficSnapshot, "evidence", map[string]string{"window": "30m", "baseline": "24h"})

	first := mustRun(t, newEnv(t, activities.Deps{Traffic: jsonl.New(log), Evidence: evidence.OpenDB(one)}), in)
	if !strings.HasPrefix(first.Evidence[0].URI, "quench:evidence/") {
		t.Fatalf("ref %+v, want a store reference", first.Evidence[0])
	}
	traffic := &countingTraffic{Traffic: jsonl.New(log)}
	again := mustRun(t, newEnv(t, activities.Deps{Traffic: traffic, Evidence: evidence.OpenDB(two)}), in)
	if !reflect.DeepEqual(again, first) || traffic.snapshots != 0 {
		t.Fatalf("on the other worker = %+v (snapshots %d)\nfirst = %+v", again, traffic.snapshots, first)
	}
}

// With the PostgreSQL store down the snapshot fails retryably, naming the store.
func TestSnapshotWithTheStoreDownIsRetried(t *testing.T) {
	down := openStore(t, func() (*store.DB, error) {
		return store.OpenPostgres("postgres://quench@127.0.0.1:1/quench?sslmode=disable&connect_timeout=5")
	})
	in := step(activities.ActionTrafficSnapshot, "evidence", map[string]string{"window": "30m", "baseline": "24h"})
	_, err := run(t, newEnv(t, activities.Deps{Traffic: jsonl.New(trafficLog(t)), Evidence: evidence.OpenDB(down)}), in)
	var appErr *temporal.ApplicationError
	if err == nil || (errors.As(err, &appErr) && appErr.NonRetryable()) || !strings.Contains(err.Error(), "PostgreSQL quench@127.0.0.1:1/quench") {
		t.Fatalf("err = %v, want a retryable error naming the store", err)
	}
}
