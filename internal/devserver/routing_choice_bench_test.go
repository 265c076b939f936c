package devserver

// Where should the routing table every process shares live? The scale-out issue names two
// candidates: one long-lived workflow that owns the table (switches are Updates, reads are
// Queries) or a table in the store (a transaction per switch). This benchmark measures a
// switch both ways on the same embedded server and machine, one at a time and as a burst of
// concurrent switches of different routes, beside the floor of a bare workflow start →
// first activity. Run:
//
//	go test ./internal/devserver -run x -bench RoutingTableChoice -benchtime 200x
//
// docs/architecture.md ("Shared state") records the figures and the choice.

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/workflow"

	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// burst is how many different routes switch at once: the performance issue's 500
// simultaneous outages.
const burst = 500

type switchReq struct{ Key, Route, To string }

// routeOwner is the workflow candidate: it owns route → provider and remembers each
// idempotency key's answer, so a retried switch changes nothing twice.
func routeOwner(ctx workflow.Context) error {
	routes := map[string]string{}
	ops := map[string]string{}
	if err := workflow.SetUpdateHandler(ctx, "switch", func(ctx workflow.Context, r switchReq) (string, error) {
		if prev, ok := ops[r.Key]; ok {
			return prev, nil
		}
		prev := routes[r.Route]
		routes[r.Route] = r.To
		ops[r.Key] = prev
		return prev, nil
	}); err != nil {
		return err
	}
	return workflow.Await(ctx, func() bool { return false })
}

const routeSchema = `CREATE TABLE bench_routes (route TEXT PRIMARY KEY, provider TEXT NOT NULL, version BIGINT NOT NULL)`
const opSchema = `CREATE TABLE bench_ops (key TEXT PRIMARY KEY, route TEXT NOT NULL, previous TEXT NOT NULL)`

// storeSwitch is the store candidate: the same keyed switch as one transaction.
func storeSwitch(ctx context.Context, db *store.DB, r switchReq) error {
	return db.InTx(ctx, func(tx *store.Tx) error {
		var prev string
		err := tx.QueryRow(ctx, `SELECT previous FROM bench_ops WHERE key = ?`, r.Key).Scan(&prev)
		if err == nil {
			return nil
		}
		if err := tx.QueryRow(ctx, `SELECT provider FROM bench_routes WHERE route = ?`+tx.ForUpdate(), r.Route).Scan(&prev); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE bench_routes SET provider = ?, version = version + 1 WHERE route = ?`, r.To, r.Route); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO bench_ops (key, route, previous) VALUES (?, ?, ?)`, r.Key, r.Route, prev)
		return err
	})
}

func BenchmarkRoutingTableChoice(b *testing.B) {
	ctx := context.Background()
	srv, err := Start(ctx, Options{DataDir: b.TempDir(), UIPort: NoUI, Logger: discardLogger()})
	require.NoError(b, err)
	defer srv.Stop()
	c, err := client.Dial(client.Options{HostPort: srv.FrontendAddress(), Namespace: srv.Namespace(), Logger: sdklog.NewStructuredLogger(discardLogger())})
	require.NoError(b, err)
	defer c.Close()
	started := make(chan string, burst)
	w := newWorker(c, &greeter{started: started})
	w.RegisterWorkflowWithOptions(routeOwner, workflow.RegisterOptions{Name: "route-owner"})
	require.NoError(b, w.Start())
	defer w.Stop()

	owner, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "route-owner", TaskQueue: testTaskQueue}, "route-owner")
	require.NoError(b, err)
	updateSwitch := func(r switchReq) error {
		h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
			WorkflowID: owner.GetID(), UpdateID: r.Key, UpdateName: "switch", Args: []any{r},
			WaitForStage: client.WorkflowUpdateStageCompleted,
		})
		if err != nil {
			return err
		}
		return h.Get(ctx, nil)
	}
	floor := func(i int) func() error {
		return func() error {
			_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("floor-%d", i), TaskQueue: testTaskQueue}, "greet", "bench")
			if err == nil {
				<-started
			}
			return err
		}
	}
	sqlite := storetest.SQLite(b)
	pg := storetest.Postgres(b)
	for _, db := range []*store.DB{sqlite, pg} {
		require.NoError(b, db.Ensure(ctx, "bench", []store.Migration{{SQL: routeSchema}, {SQL: opSchema}}))
		for i := range burst {
			_, err := db.Exec(ctx, `INSERT INTO bench_routes (route, provider, version) VALUES (?, 'primary', 0)`, "r"+strconv.Itoa(i))
			require.NoError(b, err)
		}
	}

	candidates := []struct {
		name string
		run  func(r switchReq) error
	}{
		{"temporal-update", updateSwitch},
		{"sqlite-tx", func(r switchReq) error { return storeSwitch(ctx, sqlite, r) }},
		{"postgres-tx", func(r switchReq) error { return storeSwitch(ctx, pg, r) }},
	}

	// One at a time, interleaved so drift on the machine hits every candidate alike.
	lat := map[string][]time.Duration{}
	n := 0
	for i := 0; b.Loop(); i++ {
		n++
		t0 := time.Now()
		require.NoError(b, floor(i)())
		lat["floor"] = append(lat["floor"], time.Since(t0))
		for _, cand := range candidates {
			r := switchReq{Key: fmt.Sprintf("seq-%d", i), Route: "r" + strconv.Itoa(i%burst), To: "p" + strconv.Itoa(i)}
			t0 := time.Now()
			require.NoError(b, cand.run(r))
			lat[cand.name] = append(lat[cand.name], time.Since(t0))
		}
	}
	floorP50 := p(lat["floor"], 50)
	b.ReportMetric(ms(floorP50), "floor-start-to-activity-p50-ms")
	for _, cand := range candidates {
		b.ReportMetric(ms(p(lat[cand.name], 50)), cand.name+"-p50-ms")
		b.ReportMetric(ms(p(lat[cand.name], 99)), cand.name+"-p99-ms")
		b.ReportMetric(float64(p(lat[cand.name], 50))/float64(floorP50), cand.name+"-p50/floor")
	}

	// A burst: every route switched at once, as 500 simultaneous outages would.
	for _, cand := range candidates {
		t0 := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, burst)
		sem := make(chan struct{}, 64)
		for i := range burst {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				errs <- cand.run(switchReq{Key: fmt.Sprintf("burst-%d", i), Route: "r" + strconv.Itoa(i), To: "fallback"})
			}()
		}
		wg.Wait()
		close(errs)
		failed := 0
		var first error
		for err := range errs {
			if err != nil {
				failed++
				first = cmp.Or(first, err)
			}
		}
		// Failures are a result here, not a broken benchmark: they say the candidate
		// cannot take the burst.
		b.ReportMetric(ms(time.Since(t0)), cand.name+"-burst500-drain-ms")
		b.ReportMetric(float64(failed), cand.name+"-burst500-failed")
		if first != nil {
			b.Logf("%s: %d of %d switches in the burst failed, first: %v", cand.name, failed, burst, first)
		}
	}
	b.Logf("%d sequential switches per candidate", n)
}

func p(ds []time.Duration, pct int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)*pct/100]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
