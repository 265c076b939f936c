package ingest

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/store"
)

// Leases: each owner (process) holds one in ingest_inbox_owners, renewed every Lease/3; the
// rows of an owner whose lease lapsed are taken over by another, one owner per transaction,
// its lease row locked FOR UPDATE SKIP LOCKED so that two takers never share it.

// renew extends this process's lease (registering it when absent: a process taken over
// while it stalled registers again).
func (in *Inbox) renew(ctx context.Context) error {
	until := in.opts.Now().Add(in.opts.Lease).UnixMilli()
	_, err := in.db.Exec(ctx, `INSERT INTO ingest_inbox_owners (owner, lease_until) VALUES (?, ?)
		ON CONFLICT (owner) DO UPDATE SET lease_until = excluded.lease_until`, in.opts.Owner, until)
	return err
}

// leaseLoop renews the lease and takes over the rows of owners whose lease lapsed.
func (in *Inbox) leaseLoop() {
	defer in.done.Done()
	tick := time.NewTicker(in.opts.Lease / 3)
	defer tick.Stop()
	for {
		select {
		case <-in.stop:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), in.opts.Lease/3)
		if !in.ready.Load() {
			if err := in.setup(ctx); err != nil {
				in.opts.Logger.Warn("alert inbox: the store is still unavailable", "err", err)
				cancel()
				continue
			}
		}
		if err := in.renew(ctx); err != nil {
			in.opts.Logger.Error("alert inbox: renewing the lease failed; another quench may take over this process's alerts (delivered twice at worst, which incidents ignore)", "owner", in.opts.Owner, "err", err)
		}
		if _, err := in.takeOver(ctx, false); err != nil {
			in.opts.Logger.Warn("alert inbox: taking over the alerts of a stopped quench failed; retrying", "err", err)
		}
		cancel()
	}
}

// takeOverBatch bounds the rows taken over in one transaction.
const takeOverBatch = 1000

// takeOver takes the rows of owners whose lease lapsed (all other owners when all is set),
// up to what this process may still hold, and queues them for delivery. It returns how many
// rows it took.
func (in *Inbox) takeOver(ctx context.Context, all bool) (int, error) {
	total := 0
	if !in.ready.Load() {
		return 0, nil // the lease loop takes over once the store answers
	}
	for {
		room := in.opts.MaxRows - int(in.held.Load())
		if room <= 0 {
			return total, nil
		}
		rows, found, err := in.takeOverOnce(ctx, all, min(room, takeOverBatch))
		if err != nil {
			return total, err
		}
		if !found {
			return total, nil
		}
		if len(rows) == 0 {
			continue // an owner gone with nothing left: its lease row is removed
		}
		total += len(rows)
		in.opts.Logger.Info("alert inbox: took over alerts another quench accepted and did not deliver", "rows", len(rows), "from", rows[0].owner)
		plain := make([]inboxRow, len(rows))
		for i, r := range rows {
			plain[i] = r.inboxRow
		}
		in.loaded(plain)
	}
}

type ownedRow struct {
	inboxRow
	owner string
}

func (in *Inbox) takeOverOnce(ctx context.Context, all bool, limit int) (taken []ownedRow, found bool, err error) {
	err = in.db.InTx(ctx, func(tx *store.Tx) error {
		taken, found = nil, false
		cutoff := in.opts.Now().UnixMilli()
		if all {
			cutoff = 1<<62 - 1
		}
		var from string
		err := tx.QueryRow(ctx, `SELECT owner FROM ingest_inbox_owners WHERE owner <> ? AND lease_until < ? ORDER BY lease_until LIMIT 1`+tx.ForUpdateSkipLocked(),
			in.opts.Owner, cutoff).Scan(&from)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		rs, err := tx.Query(ctx, `SELECT id, seq, workflow_id, runbook, alert FROM ingest_inbox WHERE owner = ? ORDER BY seq LIMIT ?`, from, limit)
		if err != nil {
			return err
		}
		var ids []any
		for rs.Next() {
			r := ownedRow{owner: from}
			var data string
			if err := rs.Scan(&r.id, &r.seq, &r.WorkflowID, &r.Runbook, &data); err != nil {
				_ = rs.Close()
				return err
			}
			if err := json.Unmarshal([]byte(data), &r.Alert); err != nil {
				_ = rs.Close()
				return fmt.Errorf("inbox row %s: decode its alert: %w", r.id, err)
			}
			taken = append(taken, r)
			ids = append(ids, r.id)
		}
		if err := rs.Close(); err != nil {
			return err
		}
		if err := rs.Err(); err != nil {
			return err
		}
		for len(ids) > 0 {
			chunk := ids[:min(len(ids), deleteChunk)]
			ids = ids[len(chunk):]
			q := `UPDATE ingest_inbox SET owner = ? WHERE id IN (?` + strings.Repeat(", ?", len(chunk)-1) + `)`
			if _, err := tx.Exec(ctx, q, append([]any{in.opts.Owner}, chunk...)...); err != nil {
				return err
			}
		}
		if len(taken) < limit {
			// Every row is taken: the owner is gone. Should it come back, its next renewal
			// registers it again.
			if _, err := tx.Exec(ctx, `DELETE FROM ingest_inbox_owners WHERE owner = ?`, from); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	in.held.Add(int64(len(taken)))
	in.setDepthMetric()
	return taken, found, nil
}
