package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/quench-dev/quench/internal/alert"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/workflows"
)

// Temporal is the part of the Temporal client the dispatcher uses; client.Client has it.
type Temporal interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error)
	SignalWithStartWorkflow(ctx context.Context, workflowID string, signalName string, signalArg any,
		options client.StartWorkflowOptions, workflow any, workflowArgs ...any) (client.WorkflowRun, error)
	SignalWorkflow(ctx context.Context, workflowID string, runID string, signalName string, arg any) error
}

// Preparer builds an incident's start (input and options) from the alert that starts it;
// incidents.Client has it.
type Preparer interface {
	Prepare(req incidents.StartRequest) (workflows.IncidentInput, client.StartWorkflowOptions, error)
}

// Results of an alert handed to an incident.
const (
	ResultStarted                 = "started"                   // its commit started the incident
	ResultSignalled               = "signalled"                 // its commit reached the running incident
	ResultDeduplicated            = "deduplicated"              // an identical send was committed: no new signal
	ResultResolvedWithoutIncident = "resolved_without_incident" // resolved, and no incident runs: nothing to move on
	ResultNotStarted              = "not_started"               // firing, no incident runs, and its runbook cannot start from it
	ResultQueued                  = "queued"                    // durable in the inbox; delivered to the incident shortly
)

var (
	// ErrUnavailable: Temporal could not take the alerts now; the sender should retry.
	ErrUnavailable = errors.New("temporal is unavailable")
	// ErrBusy: too many alerts wait for one incident; the sender should retry.
	ErrBusy = errors.New("too many alerts are waiting for this incident")
)

// Routed is one alert bound for one incident.
type Routed struct {
	WorkflowID string
	Runbook    string
	Alert      alert.Alert
}

// Outcome is what became of a Routed alert.
type Outcome struct {
	Routed
	Result string
	RunID  string
	// StartErr says why the runbook could not start (ResultNotStarted).
	StartErr error
}

// DispatchOptions tune the dispatcher; zero values take the defaults.
type DispatchOptions struct {
	MaxConcurrentCommits int           // signals in flight to Temporal at once (16)
	MaxQueuedPerIncident int           // alerts waiting for one incident before ErrBusy (10,000)
	MaxBatchAlerts       int           // alerts in one signal (500)
	MaxBatchBytes        int           // approximate payload of one signal (512 KiB; Temporal refuses 2 MB)
	DedupWindow          time.Duration // identical re-sends within it are not signalled again (10m)
	DedupCapacity        int           // alerts remembered for dedup (100,000)
	CommitTimeout        time.Duration // one commit's deadline, retries included (10s)
	// EagerStart: the first commit of a group this process does not know to be running
	// starts its incident with an eager start carrying the commit's alerts in the input
	// (use-existing conflict policy), so the first workflow task comes back on the start's
	// answer when a worker shares the client; a group found running gets the alerts by
	// signal-with-start. Only with a client dialed with ClientDialOption (it tells started
	// from found running).
	EagerStart bool
	// KnownGroups bounds the groups remembered as running for EagerStart (10,000).
	KnownGroups int
	// Inbox, when set, takes the alerts the dispatcher cannot commit at once (overflow.go):
	// they are answered "queued" once durable in the store and delivered in large batches.
	// Nil: every alert waits for its commit.
	Inbox   *Inbox
	Now     func() time.Time
	Metrics *Metrics
	Logger  *slog.Logger
}

func (o DispatchOptions) withDefaults() DispatchOptions {
	if o.MaxConcurrentCommits <= 0 {
		// Fewer commits in flight than incidents with alerts waiting makes the batches grow
		// instead of the queue at the store: on the embedded server (2 cores, SQLite) 16
		// accepted 2-3x the alerts/s of 64 when posts spread over 50 groups.
		o.MaxConcurrentCommits = 16
	}
	if o.MaxQueuedPerIncident <= 0 {
		o.MaxQueuedPerIncident = 10_000
	}
	if o.MaxBatchAlerts <= 0 {
		o.MaxBatchAlerts = 500
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = 512 << 10
	}
	if o.DedupWindow <= 0 {
		o.DedupWindow = 10 * time.Minute
	}
	if o.DedupCapacity <= 0 {
		o.DedupCapacity = 100_000
	}
	if o.CommitTimeout <= 0 {
		o.CommitTimeout = 10 * time.Second
	}
	if o.KnownGroups <= 0 {
		o.KnownGroups = 10_000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Dispatcher hands routed alerts to their incidents with group commit: while a commit for
// an incident is in flight, alerts for it queue, and the next commit carries all of them in
// one signal-with-start. Dispatch returns only once every alert is in Temporal (or failed),
// so a webhook answers 2xx only for alerts that are durable. Safe for concurrent use.
type Dispatcher struct {
	temporal Temporal
	prepare  Preparer
	opts     DispatchOptions
	slots    chan struct{} // bounds commits in flight

	mu     sync.Mutex
	queues map[string]*incidentQueue // by workflow ID, while alerts wait or commit
	recent *recentCommits
	// running holds workflow IDs a commit of this process found or made running: their next
	// commit signals-with-start at once instead of trying an eager start first (EagerStart).
	running map[string]string // workflow ID -> run ID

	inbox     *Inbox        // nil: no overflow
	stop      chan struct{} // closed by Close
	closeOnce sync.Once
}

// NewDispatcher returns a dispatcher sending to t, starting incidents prepared by p.
func NewDispatcher(t Temporal, p Preparer, opts DispatchOptions) *Dispatcher {
	opts = opts.withDefaults()
	d := &Dispatcher{
		temporal: t, prepare: p, opts: opts,
		slots:   make(chan struct{}, opts.MaxConcurrentCommits),
		queues:  map[string]*incidentQueue{},
		recent:  newRecentCommits(opts.DedupWindow, opts.DedupCapacity),
		running: map[string]string{},
		inbox:   opts.Inbox,
		stop:    make(chan struct{}),
	}
	if d.inbox != nil {
		d.inbox.start(d.loadStored, opts.Metrics)
	}
	return d
}

// incidentQueue is one incident's alerts waiting to be committed, oldest batch first, and
// the batch in flight. One goroutine (serve) commits them in order.
type incidentQueue struct {
	workflowID string
	runbook    string
	waiting    []*batch
	queued     int // alerts in waiting
	inflight   *batch
	// latest is, per alert (alertKey), its newest send not yet committed: a re-send joins it
	// only if identical, so a flip (firing, resolved, firing) is never taken for a re-send.
	latest map[string]pendingSend
	// failures counts the commits in a row that failed while carrying inbox rows: the rows
	// are committed again after a backoff that grows with it.
	failures int
}

type pendingSend struct {
	digest string
	b      *batch
}

// batch is the alerts of one commit and the requests waiting for it.
type batch struct {
	alerts  []alert.Alert
	keys    []string // alertKey of each alert
	digests []string // alertDigest of each alert
	rows    []string // inbox row of each alert ("": a request waits for this commit)
	bytes   int

	done chan struct{} // closed when the fields below are set
	err  error
	// noIncident: only a signal was possible (no startable firing alert) and no incident runs.
	noIncident bool
	started    bool
	runID      string
	startErr   error
}

// ticket is a request's claim on the commit carrying its alert.
type ticket struct {
	routed Routed
	b      *batch // nil: deduplicated against a past commit, or queued in the inbox
	dedup  bool
	queued bool // written to the inbox: answered once durable there
}

// Dispatch hands the alerts to their incidents and waits until each is committed. The
// outcomes are in the order of items. An error means some alerts may not be in Temporal:
// answer 5xx so the sender retries (identical re-sends then deduplicate).
func (d *Dispatcher) Dispatch(ctx context.Context, items []Routed) ([]Outcome, error) {
	tickets, stored, err := d.place(items)
	if err != nil {
		return nil, err // what was queued is still committed; the sender's retry deduplicates
	}
	if len(stored) > 0 {
		// Answered only once the inbox's transaction committed: a 2xx is never given for an
		// alert that a crash could lose.
		if err := d.inbox.write(ctx, stored); err != nil {
			return nil, err
		}
	}
	return d.await(ctx, tickets)
}

// await waits for the commits carrying the tickets' alerts.
func (d *Dispatcher) await(ctx context.Context, tickets []ticket) ([]Outcome, error) {
	out := make([]Outcome, 0, len(tickets))
	for _, t := range tickets {
		o := Outcome{Routed: t.routed, Result: ResultDeduplicated}
		if t.queued {
			o.Result = ResultQueued
		}
		if t.b != nil {
			select {
			case <-t.b.done:
			case <-ctx.Done():
				return nil, fmt.Errorf("gave up waiting for the alerts to reach Temporal: %w", ctx.Err())
			}
			if t.b.err != nil {
				return nil, t.b.err
			}
			o.RunID = t.b.runID
			switch {
			case t.b.noIncident && t.routed.Alert.Firing():
				o.Result, o.StartErr = ResultNotStarted, t.b.startErr
			case t.b.noIncident:
				o.Result = ResultResolvedWithoutIncident
			case t.dedup:
			case t.b.started:
				o.Result = ResultStarted
			default:
				o.Result = ResultSignalled
			}
		}
		out = append(out, o)
	}
	return out, nil
}

// enqueue files every item under its incident, or finds it already committed or queued.
func (d *Dispatcher) enqueue(items []Routed) ([]ticket, error) {
	tickets, _, err := d.place(items)
	return tickets, err
}

// place files every item under its incident, finds it already committed or queued, or
// (with an inbox, while the dispatcher is saturated) returns it in stored, for the inbox.
func (d *Dispatcher) place(items []Routed) (tickets []ticket, stored []Routed, err error) {
	now := d.opts.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	tickets = make([]ticket, 0, len(items))
	for _, it := range items {
		key, digest := alertKey(it.WorkflowID, it.Alert), alertDigest(it.Alert)
		q := d.queues[it.WorkflowID]
		var pending pendingSend
		if q != nil {
			pending = q.latest[key]
		}
		switch {
		case pending.b != nil && pending.digest == digest:
			// The same send waits or commits right now: ride on it.
			tickets = append(tickets, ticket{routed: it, b: pending.b, dedup: true})
			continue
		case pending.b == nil && d.recent.committed(key, digest, now):
			tickets = append(tickets, ticket{routed: it, dedup: true})
			continue
		}
		if q != nil && q.queued >= d.opts.MaxQueuedPerIncident {
			return tickets, stored, fmt.Errorf("%w (%d queued for %s)", ErrBusy, q.queued, it.WorkflowID)
		}
		if d.saturated(q) && d.queueable(it) {
			tickets = append(tickets, ticket{routed: it, queued: true})
			stored = append(stored, it)
			continue
		}
		q = d.queueOf(it)
		b := q.batchFor(it.Alert, d.opts)
		b.add(it.Alert, key, digest, "")
		q.latest[key] = pendingSend{digest: digest, b: b}
		q.queued++
		tickets = append(tickets, ticket{routed: it, b: b})
	}
	return tickets, stored, nil
}

// queueOf returns the item's incident queue, creating it (and its committer) if needed.
// The caller holds d.mu.
func (d *Dispatcher) queueOf(it Routed) *incidentQueue {
	q := d.queues[it.WorkflowID]
	if q == nil {
		q = &incidentQueue{workflowID: it.WorkflowID, runbook: it.Runbook, latest: map[string]pendingSend{}}
		d.queues[it.WorkflowID] = q
		go d.serve(q)
	}
	return q
}

// batchFor returns the batch a new alert joins: the newest waiting one unless it is full.
func (q *incidentQueue) batchFor(a alert.Alert, opts DispatchOptions) *batch {
	if n := len(q.waiting); n > 0 {
		last := q.waiting[n-1]
		if len(last.alerts) < opts.MaxBatchAlerts && last.bytes+approxSize(a) <= opts.MaxBatchBytes {
			return last
		}
	}
	b := &batch{done: make(chan struct{})}
	q.waiting = append(q.waiting, b)
	return b
}

func (b *batch) add(a alert.Alert, key, digest, row string) {
	b.alerts = append(b.alerts, a)
	b.keys = append(b.keys, key)
	b.digests = append(b.digests, digest)
	b.rows = append(b.rows, row)
	b.bytes += approxSize(a)
}

// approxSize estimates an alert's encoded size, to keep a signal's payload bounded.
func approxSize(a alert.Alert) int {
	n := 256 + len(a.Raw) + len(a.Key) + len(a.Fingerprint) + len(a.Title)
	for _, m := range []map[string]string{a.Labels, a.Annotations} {
		for k, v := range m {
			n += len(k) + len(v) + 6
		}
	}
	for _, l := range a.Links {
		n += len(l.Name) + len(l.URL) + 20
	}
	return n
}

// serve commits one incident's batches in order until none is left. Waiting for a free
// commit slot before taking the next batch lets it grow meanwhile.
func (d *Dispatcher) serve(q *incidentQueue) {
	for {
		if !d.backoff(q) {
			return // the dispatcher is closed: the inbox rows stay for the next process
		}
		d.slots <- struct{}{}
		d.mu.Lock()
		if len(q.waiting) == 0 {
			delete(d.queues, q.workflowID)
			d.mu.Unlock()
			<-d.slots
			return
		}
		b := q.waiting[0]
		q.waiting = q.waiting[1:]
		q.queued -= len(b.alerts)
		q.inflight = b
		d.mu.Unlock()

		d.commit(q, b)
		<-d.slots
		if b.started {
			d.opts.Metrics.IncidentsStarted.Inc()
		}

		now := d.opts.Now()
		d.mu.Lock()
		q.inflight = nil
		for i, key := range b.keys {
			if q.latest[key].b == b {
				delete(q.latest, key)
			}
			// A firing alert that started nothing is not remembered: its re-sends are
			// looked at again (and kept visible) rather than taken for duplicates.
			if b.err == nil && !(b.noIncident && b.alerts[i].Firing()) {
				d.recent.remember(key, b.digests[i], now)
			}
		}
		delivered := d.settleStored(q, b)
		// Retire an emptied queue before releasing the waiters, so a caller that saw its
		// commit finish never still finds the queue: the next alert starts a fresh one.
		idle := len(q.waiting) == 0
		if idle {
			delete(d.queues, q.workflowID)
		}
		d.mu.Unlock()
		close(b.done)
		if d.inbox != nil {
			d.inbox.delivered(delivered)
		}
		if idle {
			return
		}
	}
}

// commit sends one batch: signal-with-start when one of its firing alerts can start the
// runbook; otherwise (only resolved alerts, or none startable) a plain signal, which never
// starts an incident.
func (d *Dispatcher) commit(q *incidentQueue, b *batch) {
	ctx, cancel := context.WithTimeout(context.Background(), d.opts.CommitTimeout)
	defer cancel()
	d.opts.Metrics.Commits.Inc()
	d.opts.Metrics.AlertsPerCommit.Observe(float64(len(b.alerts)))

	// An incident this process knows running gets a plain signal to its run; if that run
	// ended (closed, continued as new), signal-with-start settles it either way.
	eager := d.opts.EagerStart
	if eager && d.knownRunning(q.workflowID) {
		if d.signalRunning(ctx, q, b) {
			return
		}
		eager = false
	}
	for _, a := range b.alerts {
		if !a.Firing() {
			continue
		}
		in, opts, err := d.prepare.Prepare(incidents.StartRequest{Runbook: q.runbook, Requester: a.Source, Source: a.Source, Alert: &a})
		if err == nil && in.IncidentID != q.workflowID {
			err = fmt.Errorf("runbook %s: the alert's incident is %s, not %s", q.runbook, in.IncidentID, q.workflowID)
		}
		if err != nil {
			if b.startErr == nil {
				b.startErr = err
			}
			continue
		}
		in.AlertSignalled = true
		if eager {
			if done := d.startEager(ctx, q, b, in, opts); done {
				return
			}
		}
		pctx, probe := withStartedProbe(ctx)
		run, err := d.temporal.SignalWithStartWorkflow(pctx, q.workflowID, workflows.SignalAlerts, b.alerts, opts, workflows.IncidentWorkflowName, in)
		if err != nil {
			b.err = commitError(q.workflowID, err)
			return
		}
		b.runID, b.started = run.GetRunID(), probe.started.Load()
		d.markRunning(q.workflowID, b.runID)
		return
	}
	err := d.temporal.SignalWorkflow(ctx, q.workflowID, "", workflows.SignalAlerts, b.alerts)
	var notFound *serviceerror.NotFound
	switch {
	case err == nil:
	case errors.As(err, &notFound):
		b.noIncident = true
	default:
		b.err = commitError(q.workflowID, err)
	}
}

// commitError marks errors worth a retry later (Temporal down or overloaded) as ErrUnavailable.
func commitError(workflowID string, err error) error {
	var unavailable *serviceerror.Unavailable
	var exhausted *serviceerror.ResourceExhausted
	var deadline *serviceerror.DeadlineExceeded
	if errors.As(err, &unavailable) || errors.As(err, &exhausted) || errors.As(err, &deadline) ||
		errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "connection refused") {
		return fmt.Errorf("%w: incident %s: %v", ErrUnavailable, workflowID, err)
	}
	return fmt.Errorf("incident %s: sending alerts to Temporal: %w", workflowID, err)
}

// pending counts incidents with alerts waiting or in flight (tests use it).
func (d *Dispatcher) pending() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.queues)
}
