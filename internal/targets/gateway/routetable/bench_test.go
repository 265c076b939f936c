package routetable

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/store/storetest"
)

// BenchmarkSwitch measures one switch (with the previous provider from history, as
// incidents do) on a table of 500 routes after 10 and after 10,000 past incidents' op
// records, on both engines, interleaved with its floor: a bare one-row UPDATE in a
// transaction on the same store. It reports both and their ratio (x-floor); the switch's
// cost must not grow with the past incidents.
func BenchmarkSwitch(b *testing.B) {
	engines := []struct {
		name string
		open func(testing.TB) *store.DB
	}{{"sqlite", storetest.SQLite}, {"postgres", storetest.Postgres}}
	for _, e := range engines {
		for _, past := range []int{10, 10000} {
			b.Run(fmt.Sprintf("%s/past=%d", e.name, past), func(b *testing.B) {
				benchSwitch(b, e.open(b), past)
			})
		}
	}
}

const benchRoutes = 500

func benchSwitch(b *testing.B, db *store.DB, past int) {
	ctx := context.Background()
	routes := map[string][]string{}
	for i := range benchRoutes {
		routes[fmt.Sprintf("r%03d", i)] = []string{"primary", "backup"}
	}
	tbl, err := Open(ctx, db, WithLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := tbl.Apply(ctx, routes, "bench"); err != nil {
		b.Fatal(err)
	}
	if err := seedPastOps(ctx, db, past); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec(ctx, `CREATE TABLE bench_floor (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO bench_floor (id, n) VALUES (1, 0)`); err != nil {
		b.Fatal(err)
	}
	floor := func() error {
		return db.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(ctx, `UPDATE bench_floor SET n = n + 1 WHERE id = 1`)
			return err
		})
	}
	on := map[string]string{}
	var switchT, floorT time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		route := fmt.Sprintf("r%03d", i%benchRoutes)
		prev := on[route]
		if prev == "" {
			prev = "primary"
		}
		to := "backup"
		if prev == "backup" {
			to = "primary"
		}
		req := ports.SwitchRequest{Route: route, To: to, Holder: fmt.Sprintf("bench-%d", i), Key: fmt.Sprintf("bench-%d/switch", i),
			Previous: &ports.RouteState{Provider: prev}}
		start := time.Now()
		ch, err := tbl.Switch(ctx, req)
		switchT += time.Since(start)
		if err != nil || ch.NoOp {
			b.Fatalf("switch %d: %+v %v", i, ch, err)
		}
		on[route] = to
		start = time.Now()
		if err := floor(); err != nil {
			b.Fatal(err)
		}
		floorT += time.Since(start)
	}
	b.StopTimer()
	b.ReportMetric(float64(switchT.Nanoseconds())/float64(b.N), "ns/switch")
	b.ReportMetric(float64(floorT.Nanoseconds())/float64(b.N), "ns/floor")
	b.ReportMetric(float64(switchT)/float64(floorT), "x-floor")
}

// seedPastOps writes n op records of past incidents (a day old, within the retention),
// in batches.
func seedPastOps(ctx context.Context, db *store.DB, n int) error {
	at := time.Now().Add(-24 * time.Hour).UnixNano()
	const batch = 500
	return db.InTx(ctx, func(tx *store.Tx) error {
		for i := 0; i < n; i += batch {
			var vals []string
			var args []any
			for j := i; j < min(n, i+batch); j++ {
				vals = append(vals, "(?, ?, ?, ?, ?)")
				args = append(args, fmt.Sprintf("past-%d/switch", j), "switch", fmt.Sprintf("r%03d", j%benchRoutes),
					`{"result":{"route":"r","from":"primary","to":"backup","version":1,"at":"2026-01-01T00:00:00Z"}}`, at+int64(j))
			}
			if _, err := tx.Exec(ctx, `INSERT INTO routetable_ops (op_key, op, route, result, at) VALUES `+strings.Join(vals, ", "), args...); err != nil {
				return err
			}
		}
		return nil
	})
}
