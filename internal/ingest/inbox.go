package ingest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quench-dev/quench/internal/store"
)

// The inbox is the dispatcher's durable overflow. While the dispatcher is saturated an
// accepted alert is not committed to Temporal before the webhook is answered: it is written
// to ingest_inbox, many requests' alerts in one transaction (one fsync), and answered 202
// "queued" once that transaction committed. The rows also join the in-memory group queues,
// so the commit loop delivers them in large per-group batches; a row is deleted only after
// Temporal acknowledged its batch. The store is the log that makes this survive a crash:
// rows a process did not deliver are loaded again by the next one.
//
// Ownership: each row names the process that holds it (owner); each owner holds a lease in
// ingest_inbox_owners, renewed every Lease/3. Another process takes over the rows of an
// owner whose lease lapsed (the owner row locked FOR UPDATE SKIP LOCKED, so two takers never
// share one). A row delivered twice (a crash between Temporal's ack and the delete, or a
// stalled owner taken over) changes its incident once: incidents ignore an alert whose
// fingerprint already has that status (workflows' SeenAlerts).

// ErrInboxFull: the inbox holds its maximum of rows; the sender should retry later.
var ErrInboxFull = errors.New("the alert inbox is full")

// InboxOptions tune the inbox; zero values take the defaults.
type InboxOptions struct {
	// MaxRows this process holds (written or taken over, not yet delivered) before the hook
	// refuses overflow with 503 (50,000: about 50 MB of alerts in memory and in the store).
	MaxRows int
	// Lease of an owner: its rows are taken over by another process once it lapsed (15s).
	Lease time.Duration
	// Sole says this process is the only one ingesting into the store (quench dev, which
	// holds its data dir): at start it takes over every row at once, without waiting for
	// the previous process's lease to lapse.
	Sole bool
	// Owner names this process in the store (default: host name, pid and a random suffix).
	Owner string
	// MaxTxRows bounds the rows written in one transaction (1,000).
	MaxTxRows int
	Now       func() time.Time
	Logger    *slog.Logger
}

func (o InboxOptions) withDefaults() InboxOptions {
	if o.MaxRows <= 0 {
		o.MaxRows = 50_000
	}
	if o.Lease <= 0 {
		o.Lease = 15 * time.Second
	}
	if o.Owner == "" {
		host, _ := os.Hostname()
		o.Owner = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), randomHex(4))
	}
	if o.MaxTxRows <= 0 {
		o.MaxTxRows = 1000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

const inboxComponent = "ingest_inbox"

// inboxSchema is append-only (see store.Ensure).
var inboxSchema = []store.Migration{
	{SQL: `CREATE TABLE ingest_inbox (
		id          TEXT PRIMARY KEY,
		seq         BIGINT NOT NULL,
		owner       TEXT NOT NULL,
		workflow_id TEXT NOT NULL,
		runbook     TEXT NOT NULL,
		alert       TEXT NOT NULL,
		accepted_at BIGINT NOT NULL
	)`},
	{SQL: `CREATE TABLE ingest_inbox_owners (
		owner       TEXT PRIMARY KEY,
		lease_until BIGINT NOT NULL
	)`},
}

// Inbox is the durable overflow of one Dispatcher (DispatchOptions.Inbox).
type Inbox struct {
	db   *store.DB
	opts InboxOptions

	writes     chan *inboxWrite
	kick       chan struct{}
	stop       chan struct{}
	writerDone chan struct{} // closed once the writer answered its last write
	done       sync.WaitGroup

	mu      sync.Mutex
	deletes []string // delivered rows, deleted by the writer's next transaction
	lastSeq int64
	counter atomic.Int64
	prefix  string

	held atomic.Int64 // rows this process holds (reserved, written or taken over)
	// loaded receives rows once durable: the dispatcher queues them for delivery. Called by
	// one goroutine at a time, in the order the rows were written or taken over.
	loaded  func(rows []inboxRow)
	metrics *Metrics
	ready   atomic.Bool // setup succeeded
	closed  atomic.Bool
}

// inboxRow is one alert held in the inbox.
type inboxRow struct {
	id  string
	seq int64
	Routed
	data string // the alert as stored (JSON), encoded by the request, not the writer
}

type inboxWrite struct {
	rows []inboxRow
	done chan error
}

// OpenInbox prepares the inbox's tables on db and registers this process as an owner. A
// store that cannot be reached does not stop the process: the inbox stays unused (every
// alert waits for its commit, as without one) and the lease loop prepares it once the
// store answers.
func OpenInbox(ctx context.Context, db *store.DB, opts InboxOptions) (*Inbox, error) {
	opts = opts.withDefaults()
	in := &Inbox{db: db, opts: opts, writes: make(chan *inboxWrite, 1024), kick: make(chan struct{}, 1),
		stop: make(chan struct{}), writerDone: make(chan struct{}), prefix: randomHex(6)}
	if err := in.setup(ctx); err != nil {
		if !store.IsUnavailable(err) {
			return nil, err
		}
		opts.Logger.Warn("alert inbox: the store is unavailable; alerts wait for their commit until it is back", "err", err)
	}
	return in, nil
}

// setup creates the tables and registers the owner; the inbox is used from then on.
func (in *Inbox) setup(ctx context.Context) error {
	if err := in.db.Ensure(ctx, inboxComponent, inboxSchema); err != nil {
		return fmt.Errorf("the alert inbox in %s: %w", in.db, err)
	}
	if err := in.renew(ctx); err != nil {
		return fmt.Errorf("the alert inbox: register %s: %w", in.opts.Owner, err)
	}
	in.ready.Store(true)
	return nil
}

// usable says the inbox's tables are ready and it is not closed.
func (in *Inbox) usable() bool { return in.ready.Load() && !in.closed.Load() }

// Owner is the name this process holds rows under.
func (in *Inbox) Owner() string { return in.opts.Owner }

// Depth is the rows this process holds: accepted, not yet acknowledged by Temporal.
func (in *Inbox) Depth() int { return int(in.held.Load()) }

// start runs the writer and the lease loop; the dispatcher calls it once.
func (in *Inbox) start(loaded func([]inboxRow), m *Metrics) {
	in.loaded, in.metrics = loaded, m
	in.done.Add(2)
	go in.writer()
	go in.leaseLoop()
}

// nextID returns a row's ID and sequence: the sequence orders one process's rows (time in
// microseconds, strictly increasing across a restart's clock).
func (in *Inbox) nextID() (string, int64) {
	in.mu.Lock()
	seq := max(in.lastSeq+1, in.opts.Now().UnixMicro())
	in.lastSeq = seq
	in.mu.Unlock()
	return fmt.Sprintf("%s/%d", in.prefix, in.counter.Add(1)), seq
}

// write makes items durable; when it returns nil they are in the store and queued for
// delivery. ErrInboxFull refuses them all; a store error is ErrUnavailable.
func (in *Inbox) write(ctx context.Context, items []Routed) error {
	if in.closed.Load() {
		return fmt.Errorf("%w: the alert inbox is closed (quench is stopping)", ErrUnavailable)
	}
	n := int64(len(items))
	if held := in.held.Add(n); held > int64(in.opts.MaxRows) {
		in.held.Add(-n)
		return fmt.Errorf("%w (%d alerts wait for Temporal, the bound is %d): quench receives alerts faster than Temporal takes them", ErrInboxFull, held-n, in.opts.MaxRows)
	}
	w := &inboxWrite{rows: make([]inboxRow, len(items)), done: make(chan error, 1)}
	for i, it := range items {
		data, err := json.Marshal(it.Alert)
		if err != nil {
			in.held.Add(-n)
			return fmt.Errorf("encode alert %s for the inbox: %w", it.Alert.Fingerprint, err)
		}
		w.rows[i].id, w.rows[i].seq = in.nextID()
		w.rows[i].Routed, w.rows[i].data = it, string(data)
	}
	closed := fmt.Errorf("%w: the alert inbox is closed (quench is stopping)", ErrUnavailable)
	select {
	case in.writes <- w:
	case <-ctx.Done():
		in.held.Add(-n)
		return fmt.Errorf("gave up waiting to write the alerts to the inbox: %w", ctx.Err())
	case <-in.writerDone:
		in.held.Add(-n)
		return closed
	}
	// The writer answers every write it took, even when the request is gone: the rows may
	// be committed already, and then they are delivered.
	select {
	case err := <-w.done:
		return err
	case <-in.writerDone:
		select {
		case err := <-w.done:
			return err
		default: // sent after the writer's last look: never written
			in.held.Add(-n)
			return closed
		}
	}
}

// delivered marks rows acknowledged by Temporal: the writer deletes them.
func (in *Inbox) delivered(ids []string) {
	if len(ids) == 0 {
		return
	}
	in.mu.Lock()
	in.deletes = append(in.deletes, ids...)
	in.mu.Unlock()
	select {
	case in.kick <- struct{}{}:
	default:
	}
}

// deleteLinger is how long delivered rows wait for a write to share its transaction.
const deleteLinger = 25 * time.Millisecond

// writer commits pending writes and deletes, as many as are waiting, in one transaction.
func (in *Inbox) writer() {
	defer in.done.Done()
	defer close(in.writerDone)
	for {
		var batch []*inboxWrite
		select {
		case w := <-in.writes:
			batch = append(batch, w)
		case <-in.kick:
			// Deletes alone are worth a transaction (an fsync) only when no write comes
			// soon to carry them: in a storm they ride along with the next write.
			linger := time.NewTimer(deleteLinger)
			select {
			case w := <-in.writes:
				batch = append(batch, w)
			case <-linger.C:
			case <-in.stop:
			}
			linger.Stop()
		case <-in.stop:
			in.flushDeletes()
			return
		}
		rows := 0
		for _, w := range batch {
			rows += len(w.rows)
		}
	more:
		for rows < in.opts.MaxTxRows {
			select {
			case w := <-in.writes:
				batch = append(batch, w)
				rows += len(w.rows)
			default:
				break more
			}
		}
		in.commit(batch)
	}
}

// commit writes batch and the pending deletes in one transaction, then hands the rows to
// the dispatcher and answers the writers.
func (in *Inbox) commit(batch []*inboxWrite) {
	in.mu.Lock()
	deletes := in.deletes
	in.deletes = nil
	in.mu.Unlock()
	var rows []inboxRow
	for _, w := range batch {
		rows = append(rows, w.rows...)
	}
	if len(rows) == 0 && len(deletes) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := in.db.InTx(ctx, func(tx *store.Tx) error {
		if err := insertRows(ctx, tx, in.opts.Owner, in.opts.Now(), rows); err != nil {
			return err
		}
		return deleteRows(ctx, tx, deletes)
	})
	if err != nil {
		err = fmt.Errorf("%w: writing alerts to the inbox in %s: %v", ErrUnavailable, in.db, err)
		in.opts.Logger.Error("alert inbox: a transaction failed; its writes are refused (503), its deletes retried", "rows", len(rows), "deletes", len(deletes), "err", err)
		in.held.Add(-int64(len(rows)))
		in.setDepthMetric()
		in.mu.Lock()
		in.deletes = append(deletes, in.deletes...)
		in.mu.Unlock()
		for _, w := range batch {
			w.done <- err
		}
		return
	}
	in.held.Add(-int64(len(deletes)))
	in.setDepthMetric()
	if len(rows) > 0 {
		in.loaded(rows)
	}
	for _, w := range batch {
		w.done <- nil
	}
}

func (in *Inbox) setDepthMetric() {
	if in.metrics != nil {
		in.metrics.InboxRows.Set(float64(in.held.Load()))
	}
}

// flushDeletes deletes what is delivered before the process stops.
func (in *Inbox) flushDeletes() {
	for {
		select {
		case w := <-in.writes:
			w.done <- fmt.Errorf("%w: the alert inbox is closed (quench is stopping)", ErrUnavailable)
			in.held.Add(-int64(len(w.rows)))
			continue
		default:
		}
		break
	}
	in.commit(nil)
}

const insertChunk = 100 // rows per INSERT statement (7 parameters each)

func insertRows(ctx context.Context, tx *store.Tx, owner string, now time.Time, rows []inboxRow) error {
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), insertChunk)]
		rows = rows[len(chunk):]
		var q strings.Builder
		q.WriteString(`INSERT INTO ingest_inbox (id, seq, owner, workflow_id, runbook, alert, accepted_at) VALUES `)
		args := make([]any, 0, 7*len(chunk))
		for i, r := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?)")
			args = append(args, r.id, r.seq, owner, r.WorkflowID, r.Runbook, r.data, now.UnixMilli())
		}
		if _, err := tx.Exec(ctx, q.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

const deleteChunk = 500

func deleteRows(ctx context.Context, tx *store.Tx, ids []string) error {
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), deleteChunk)]
		ids = ids[len(chunk):]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		q := `DELETE FROM ingest_inbox WHERE id IN (?` + strings.Repeat(", ?", len(chunk)-1) + `)`
		if _, err := tx.Exec(ctx, q, args...); err != nil {
			return err
		}
	}
	return nil
}

// close stops the loops after deleting what was delivered, and gives up the lease so
// another process takes the remaining rows over at once.
func (in *Inbox) close() {
	if !in.closed.CompareAndSwap(false, true) {
		return
	}
	close(in.stop)
	in.done.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := in.db.Exec(ctx, `UPDATE ingest_inbox_owners SET lease_until = 0 WHERE owner = ?`, in.opts.Owner); err != nil {
		in.opts.Logger.Warn("alert inbox: giving up the lease failed; another quench takes the alerts over once it lapses", "err", err)
	}
}
