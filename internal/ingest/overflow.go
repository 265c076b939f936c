package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/quench-dev/quench/internal/incidents"
)

// Overflow: the dispatcher answers a webhook after its alerts' commit while it keeps up, and
// hands the alerts to the inbox (inbox.go) once it is saturated. With 64 requests in flight
// over 50 groups, waiting for the commit caps a group's batch at the ~1.3 alerts in flight
// for it, and Temporal then takes ~800 signals/s on the embedded server; with the inbox the
// requests are answered once durable, the groups' queues grow while their commits run, and
// each commit carries what arrived meanwhile.

// saturated says an alert for q's incident goes to the inbox: its incident already has a
// commit in flight or alerts waiting (it would wait behind them; queued it keeps its place
// in their order), or every commit slot is busy. A lone alert finds neither and waits for
// its own commit, answered started or signalled as before. Measured with quench bench
// ingest (10,000 alerts interleaved over 50 groups, 64 in flight, in-process, load ~9 on 2
// cores, one run each): both conditions 2,092 accepted/s, the group's alone 1,963, busy
// slots alone 1,749 (alerts of idle groups then wait for one-alert commits). The caller
// holds d.mu.
func (d *Dispatcher) saturated(q *incidentQueue) bool {
	if d.inbox == nil || !d.inbox.usable() {
		return false
	}
	return q != nil || len(d.slots) >= cap(d.slots)
}

// queueable says the alert may be queued: a firing alert of an incident not known to run
// must be one its runbook can start from, or it waits for its commit, so the webhook's
// answer says not_started and why, as without the inbox. Only the first alerts of a group
// pay for the check, and only under load: a lone alert never comes here. The caller holds
// d.mu.
func (d *Dispatcher) queueable(it Routed) bool {
	if !it.Alert.Firing() || d.running[it.WorkflowID] != "" {
		return true
	}
	a := it.Alert
	in, _, err := d.prepare.Prepare(incidents.StartRequest{Runbook: it.Runbook, Requester: a.Source, Source: a.Source, Alert: &a})
	return err == nil && in.IncidentID == it.WorkflowID
}

// loadStored queues rows the inbox made durable (or took over) for delivery, in order.
func (d *Dispatcher) loadStored(rows []inboxRow) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range rows {
		key, digest := alertKey(r.WorkflowID, r.Alert), alertDigest(r.Alert)
		q := d.queueOf(r.Routed)
		b := q.batchFor(r.Alert, d.opts)
		a := r.Alert
		a.Delivery = r.id // the incident drops it if it comes again (a re-delivery)
		b.add(a, key, digest, r.id)
		q.latest[key] = pendingSend{digest: digest, b: b}
		q.queued++
	}
}

// settleStored, after b's commit, returns the inbox rows Temporal acknowledged (to delete),
// or, when the commit failed, queues b's inbox alerts again ahead of the rest, to be
// committed after a backoff: an accepted alert is never dropped. The caller holds d.mu.
func (d *Dispatcher) settleStored(q *incidentQueue, b *batch) (delivered []string) {
	if d.inbox == nil {
		return nil
	}
	if b.err == nil {
		q.failures = 0
		for i, row := range b.rows {
			if row == "" {
				continue
			}
			delivered = append(delivered, row)
			if b.noIncident && b.alerts[i].Firing() {
				d.opts.Logger.Warn("a queued alert started nothing: its runbook cannot start from it and no incident runs",
					"incident", q.workflowID, "runbook", q.runbook, "key", b.alerts[i].Key, "err", b.startErr)
			}
		}
		return delivered
	}
	retry := &batch{done: make(chan struct{})}
	for i, row := range b.rows {
		if row != "" {
			retry.add(b.alerts[i], b.keys[i], b.digests[i], row)
			q.latest[b.keys[i]] = pendingSend{digest: b.digests[i], b: retry}
		}
	}
	if len(retry.alerts) == 0 {
		return nil
	}
	q.waiting = append([]*batch{retry}, q.waiting...)
	q.queued += len(retry.alerts)
	q.failures++
	d.opts.Logger.Warn("queued alerts did not reach their incident; retrying", "incident", q.workflowID,
		"alerts", len(retry.alerts), "attempt", q.failures, "err", b.err)
	return nil
}

// backoff waits before committing again after failures; false when the dispatcher closed.
func (d *Dispatcher) backoff(q *incidentQueue) bool {
	d.mu.Lock()
	n := q.failures
	d.mu.Unlock()
	if n == 0 {
		return true
	}
	wait := min(100*time.Millisecond<<min(n-1, 9), 30*time.Second)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-d.stop:
		return false
	}
}

// Recover takes over, before the webhook serves, the inbox rows a previous process left:
// with InboxOptions.Sole every row, otherwise those of owners whose lease lapsed (the lease
// loop keeps looking). It returns how many rows it took.
func (d *Dispatcher) Recover(ctx context.Context) (int, error) {
	if d.inbox == nil {
		return 0, nil
	}
	n, err := d.inbox.takeOver(ctx, d.inbox.opts.Sole)
	if err != nil {
		return n, fmt.Errorf("the alert inbox: take over the alerts a previous quench accepted: %w", err)
	}
	return n, nil
}

// Close stops the inbox (what is delivered is deleted; the rest is left for the next
// process, which takes it over at once). Commits in flight finish; alerts that would go to
// the inbox are refused with 503 from now on.
func (d *Dispatcher) Close() {
	d.closeOnce.Do(func() {
		close(d.stop)
		if d.inbox != nil {
			d.inbox.close()
		}
	})
}
