package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"

	"github.com/quench-dev/quench/internal/alert"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// newInboxDispatcher is a dispatcher over fake with an inbox in db.
func newInboxDispatcher(t *testing.T, db *store.DB, fake *fakeTemporal, iopts InboxOptions, dopts DispatchOptions) (*Dispatcher, *Inbox) {
	t.Helper()
	iopts.Logger = quietLogger
	in, err := OpenInbox(context.Background(), db, iopts)
	require.NoError(t, err)
	dopts.Inbox, dopts.Logger = in, quietLogger
	d := NewDispatcher(fake, incidents.New(nil, builtinRunbooks(t), "default"), dopts)
	t.Cleanup(d.Close)
	return d, in
}

func inboxRowCount(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(context.Background(), `SELECT COUNT(*) FROM ingest_inbox`).Scan(&n))
	return n
}

// waitDelivered waits until the dispatcher has nothing queued and the inbox holds nothing.
func waitDelivered(t *testing.T, d *Dispatcher, in *Inbox) {
	t.Helper()
	require.Eventually(t, func() bool { return in.Depth() == 0 && d.pending() == 0 }, 10*time.Second, 2*time.Millisecond,
		"the inbox still holds %d alerts", in.Depth())
}

// heldFirstCommit dispatches a firing alert of group and returns once its commit is in
// flight (held by fake); the outcome arrives on the channel after release.
func heldFirstCommit(t *testing.T, d *Dispatcher, fake *fakeTemporal, group string) (<-chan Outcome, func()) {
	t.Helper()
	entered, release := fake.holdCalls()
	first := make(chan Outcome, 1)
	go func() {
		out, err := d.Dispatch(context.Background(), []Routed{routed(t, providerAlert(group, "fp-0", alert.StatusFiring))})
		if err != nil {
			first <- Outcome{Result: err.Error()}
			return
		}
		first <- out[0]
	}()
	<-entered
	return first, release
}

// TestSaturatedAlertsAreQueuedDurablyThenDelivered: a lone alert waits for its commit and
// is answered started; while that commit is in flight the group's next alerts are answered
// queued, already in the store, and one commit delivers them all, each exactly once.
func TestSaturatedAlertsAreQueuedDurablyThenDelivered(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		fake := newFakeTemporal()
		d, in := newInboxDispatcher(t, db, fake, InboxOptions{}, DispatchOptions{})
		first, release := heldFirstCommit(t, d, fake, "g1")
		defer release()

		for i := 1; i <= 20; i++ {
			o := dispatchOne(t, d, routed(t, providerAlert("g1", fmt.Sprintf("fp-%d", i), alert.StatusFiring)))
			assert.Equal(t, ResultQueued, o.Result, "answered while the group's commit is in flight")
		}
		assert.Equal(t, 20, inboxRowCount(t, db), "queued means durable: every queued alert is in the store")
		release()
		assert.Equal(t, ResultStarted, (<-first).Result, "the lone alert is answered as before")
		waitDelivered(t, d, in)

		wf := routed(t, providerAlert("g1", "fp-0", alert.StatusFiring)).WorkflowID
		got := fake.received(wf)
		assert.Len(t, got, 21)
		for fp, n := range fingerprints(got) {
			assert.Equal(t, 1, n, "%s delivered once", fp)
		}
		calls := fake.callsOf("")
		require.Len(t, calls, 2, "one commit carries every alert queued while the first was in flight")
		assert.Len(t, calls[1].alerts, 20)
		for _, a := range calls[1].alerts {
			assert.NotEmpty(t, a.Delivery, "a queued alert names its inbox row, so a re-delivery is dropped")
		}
		assert.Zero(t, inboxRowCount(t, db), "delivered rows are deleted")

		// The group is idle again: the next alert waits for its own commit.
		assert.Equal(t, ResultSignalled, dispatchOne(t, d, routed(t, providerAlert("g1", "fp-late", alert.StatusFiring))).Result)
	})
}

// TestBusyCommitSlotsQueueOtherGroups: with every commit slot in flight, an alert of
// another, idle group is queued too.
func TestBusyCommitSlotsQueueOtherGroups(t *testing.T) {
	fake := newFakeTemporal()
	db := storetest.SQLite(t)
	d, in := newInboxDispatcher(t, db, fake, InboxOptions{}, DispatchOptions{MaxConcurrentCommits: 1})
	first, release := heldFirstCommit(t, d, fake, "g1")
	defer release()

	assert.Equal(t, ResultQueued, dispatchOne(t, d, routed(t, providerAlert("g2", "fp-a", alert.StatusFiring))).Result)
	release()
	assert.Equal(t, ResultStarted, (<-first).Result)
	waitDelivered(t, d, in)
	assert.Len(t, fake.received(routed(t, providerAlert("g2", "fp-a", alert.StatusFiring)).WorkflowID), 1)
}

// TestUnstartableAlertIsAnsweredSynchronously: an alert its runbook cannot start from is not
// queued even when the dispatcher is saturated: the answer says not_started and why.
func TestUnstartableAlertIsAnsweredSynchronously(t *testing.T) {
	fake := newFakeTemporal()
	db := storetest.SQLite(t)
	in, err := OpenInbox(context.Background(), db, InboxOptions{Logger: quietLogger})
	require.NoError(t, err)
	refuse := refusingPreparer{Preparer: incidents.New(nil, builtinRunbooks(t), "default"), refuse: func(a alert.Alert) error {
		if a.Fingerprint == "bad" {
			return errors.New("the alert has no route label")
		}
		return nil
	}}
	d := NewDispatcher(fake, refuse, DispatchOptions{Inbox: in, MaxConcurrentCommits: 1, Logger: quietLogger})
	t.Cleanup(d.Close)
	first, release := heldFirstCommit(t, d, fake, "g1")
	defer release()

	items := []Routed{routed(t, providerAlert("g2", "bad", alert.StatusFiring))}
	tickets, stored, err := d.place(items)
	require.NoError(t, err)
	assert.Empty(t, stored, "not queued although every commit slot is busy")
	release()
	<-first
	out, err := d.await(context.Background(), tickets)
	require.NoError(t, err)
	o := out[0]
	assert.Equal(t, ResultNotStarted, o.Result)
	assert.ErrorContains(t, o.StartErr, "no route label")
	assert.Zero(t, inboxRowCount(t, db))
}

// TestQueuedAlertsSurviveFailedCommits: Temporal refuses the commit carrying queued alerts;
// they stay in the store and are committed again until Temporal takes them, once.
func TestQueuedAlertsSurviveFailedCommits(t *testing.T) {
	fake := newFakeTemporal()
	db := storetest.SQLite(t)
	d, in := newInboxDispatcher(t, db, fake, InboxOptions{}, DispatchOptions{MaxConcurrentCommits: 1})
	first, release := heldFirstCommit(t, d, fake, "g1")
	defer release()
	q := routed(t, providerAlert("g2", "fp-a", alert.StatusFiring))
	assert.Equal(t, ResultQueued, dispatchOne(t, d, q).Result)

	fake.setFail(serviceerror.NewUnavailable("connection refused"))
	release()
	<-first
	// Wait for at least one failed attempt at the queued alert before Temporal comes back.
	require.Eventually(t, func() bool { return len(fake.callsOf("SignalWithStart")) >= 2 }, 10*time.Second, time.Millisecond)
	assert.Equal(t, 1, inboxRowCount(t, db), "a failed commit keeps the row")
	fake.setFail(nil)
	waitDelivered(t, d, in)
	assert.Len(t, fake.received(q.WorkflowID), 1, "delivered once Temporal is back")
	assert.Zero(t, inboxRowCount(t, db))
}

// TestInboxRedeliveredAfterCrash: a process accepted alerts into the inbox and died before
// delivering them. The next process (quench dev: the sole one on its store) takes every
// row at start and delivers each exactly once.
func TestInboxRedeliveredAfterCrash(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		dead := newFakeTemporal()
		a, _ := newInboxDispatcher(t, db, dead, InboxOptions{}, DispatchOptions{})
		_, release := heldFirstCommit(t, a, dead, "g1")
		defer release() // after the test: the "dead" process never delivers in time
		var want []string
		for i := 1; i <= 30; i++ {
			fp := fmt.Sprintf("fp-%d", i)
			want = append(want, fp)
			assert.Equal(t, ResultQueued, dispatchOne(t, a, routed(t, providerAlert("g1", fp, alert.StatusFiring))).Result)
		}

		// An owner that stopped with nothing left is passed over, not taken for the end.
		_, err := db.Exec(context.Background(), `INSERT INTO ingest_inbox_owners (owner, lease_until) VALUES ('stopped-empty', 0)`)
		require.NoError(t, err)
		next := newFakeTemporal()
		b, in := newInboxDispatcher(t, db, next, InboxOptions{Sole: true}, DispatchOptions{})
		n, err := b.Recover(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 30, n)
		waitDelivered(t, b, in)

		wf := routed(t, providerAlert("g1", "fp-0", alert.StatusFiring)).WorkflowID
		got := fingerprints(next.received(wf))
		assert.Len(t, got, 30)
		for _, fp := range want {
			assert.Equal(t, 1, got[fp], "%s delivered exactly once", fp)
		}
		assert.Zero(t, inboxRowCount(t, db))
		assert.Len(t, next.callsOf(""), 1, "one commit carries the recovered rows in order")
	})
}

// TestInboxLeaseTakeover: among servers on one PostgreSQL store, a stopped server's rows
// stay its own while its lease runs; once it lapsed, two servers looking at once share
// them without overlap (SKIP LOCKED), and every row is delivered exactly once.
func TestInboxLeaseTakeover(t *testing.T) {
	db := storetest.Postgres(t)
	dead := newFakeTemporal()
	a, _ := newInboxDispatcher(t, db, dead, InboxOptions{Lease: time.Minute}, DispatchOptions{})
	_, release := heldFirstCommit(t, a, dead, "g1")
	defer release()
	for i := 1; i <= 40; i++ {
		g := fmt.Sprintf("g%d", i%4+1)
		if g == "g1" {
			assert.Equal(t, ResultQueued, dispatchOne(t, a, routed(t, providerAlert(g, fmt.Sprintf("fp-%d", i), alert.StatusFiring))).Result)
			continue
		}
		// Other groups are idle: fill them through the inbox directly, as a busy server would.
		require.NoError(t, a.inbox.write(context.Background(), []Routed{routed(t, providerAlert(g, fmt.Sprintf("fp-%d", i), alert.StatusFiring))}))
	}
	stored := inboxRowCount(t, db)

	clock := &fakeClock{now: time.Now()}
	fakeB, fakeC := newFakeTemporal(), newFakeTemporal()
	b, inB := newInboxDispatcher(t, db, fakeB, InboxOptions{Lease: time.Minute, Now: clock.Now}, DispatchOptions{})
	c, inC := newInboxDispatcher(t, db, fakeC, InboxOptions{Lease: time.Minute, Now: clock.Now}, DispatchOptions{})
	n, err := b.Recover(context.Background())
	require.NoError(t, err)
	assert.Zero(t, n, "the owner's lease still runs: its rows stay its own")

	clock.Advance(2 * time.Minute)
	require.NoError(t, inB.renew(context.Background())) // their own leases run on
	require.NoError(t, inC.renew(context.Background()))
	var wg sync.WaitGroup
	took := make([]int, 2)
	for i, d := range []*Dispatcher{b, c} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := d.Recover(context.Background())
			assert.NoError(t, err)
			took[i] = n
		}()
	}
	wg.Wait()
	assert.Equal(t, stored, took[0]+took[1], "every row was taken over, none twice")
	waitDelivered(t, b, inB)
	waitDelivered(t, c, inC)

	seen := map[string]int{}
	for _, f := range []*fakeTemporal{fakeB, fakeC} {
		for fp, k := range fingerprints(alertsIn(f.callsOf(""))) {
			seen[fp] += k
		}
	}
	assert.Len(t, seen, stored)
	for fp, k := range seen {
		assert.Equal(t, 1, k, "%s delivered exactly once", fp)
	}
	assert.Zero(t, inboxRowCount(t, db))
}

// TestInboxFullAnswers503: past InboxOptions.MaxRows an alert that would be queued is
// refused with 503 and Retry-After, saying why; a queued alert is answered 202 with its
// incident.
func TestInboxFullAnswers503(t *testing.T) {
	fake := newFakeTemporal()
	db := storetest.SQLite(t)
	metrics := NewMetrics(prometheus.NewRegistry())
	lib := builtinRunbooks(t)
	d, _ := newInboxDispatcher(t, db, fake, InboxOptions{MaxRows: 1}, DispatchOptions{Metrics: metrics})
	h := &hookTest{t: t, fake: fake, metrics: metrics, handler: NewHandler(HandlerOptions{
		Runbooks: lib, Dispatcher: d, Metrics: metrics, Logger: quietLogger,
	})}
	post := func(fp string) *http.Response {
		return h.post("/hooks/alertmanager", bytes.NewReader(amPayload("g1", amProviderAlert(fp, alert.StatusFiring))), nil).Result()
	}
	entered, release := fake.holdCalls()
	defer release()
	first := make(chan int, 1)
	go func() { first <- post("fp-0").StatusCode }()
	<-entered

	rec := h.post("/hooks/alertmanager", bytes.NewReader(amPayload("g1", amProviderAlert("fp-1", alert.StatusFiring))), nil)
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	resp := decode[HookResponse](t, rec)
	assert.Equal(t, 1, resp.Queued)
	require.Len(t, resp.Incidents, 1)
	assert.Equal(t, ResultQueued, resp.Incidents[0].Result)
	assert.Equal(t, routed(t, providerAlert("g1", "fp-1", alert.StatusFiring)).WorkflowID, resp.Incidents[0].IncidentID)

	rec = h.post("/hooks/alertmanager", bytes.NewReader(amPayload("g1", amProviderAlert("fp-2", alert.StatusFiring))), nil)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	assert.Equal(t, retryAfterSeconds, rec.Header().Get("Retry-After"))
	assert.Contains(t, decode[errorBody](t, rec).Error, "inbox is full")
	assert.Equal(t, 1.0, counterValue(t, metrics.Rejected.WithLabelValues(SourceAlertmanager, ReasonInboxFull)))
	var depth dto.Metric
	require.NoError(t, metrics.InboxRows.Write(&depth))
	assert.Equal(t, 1.0, depth.GetGauge().GetValue(), "/metrics shows the inbox's depth")

	release()
	assert.Equal(t, http.StatusOK, <-first)
}

// TestInboxOnAStoreThatIsDown: a store that cannot be reached at start does not stop
// ingest: the inbox stays unused and every alert waits for its own commit, as without one.
func TestInboxOnAStoreThatIsDown(t *testing.T) {
	db, err := store.OpenPostgres("postgres://quench@127.0.0.1:1/quench?sslmode=disable&connect_timeout=1")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	fake := newFakeTemporal()
	d, in := newInboxDispatcher(t, db, fake, InboxOptions{}, DispatchOptions{MaxConcurrentCommits: 1})
	assert.False(t, in.usable())
	first, release := heldFirstCommit(t, d, fake, "g1")
	defer release()
	items := []Routed{routed(t, providerAlert("g1", "fp-1", alert.StatusFiring))}
	tickets, stored, err := d.place(items)
	require.NoError(t, err)
	assert.Empty(t, stored, "not queued although the group's commit is in flight: the inbox is not usable")
	release()
	assert.Equal(t, ResultStarted, (<-first).Result)
	out, err := d.await(context.Background(), tickets)
	require.NoError(t, err)
	assert.Equal(t, ResultSignalled, out[0].Result)
}
