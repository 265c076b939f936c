package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/quench-dev/quench/internal/ingest"
)

// openInbox opens the alert inbox in the process's store (none without a store: the
// dispatcher then answers every alert after its commit).
func openInbox(a *Adapters, opts HTTPOptions, logger *slog.Logger) (*ingest.Inbox, error) {
	if a == nil || a.Store == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return ingest.OpenInbox(ctx, a.Store, ingest.InboxOptions{Sole: opts.SoleIngest, Logger: logger})
}

// recoverInbox delivers what a previous process accepted into the inbox and did not deliver,
// queued before the webhook serves so that new alerts of those incidents come after them.
func recoverInbox(d *ingest.Dispatcher, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := d.Recover(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		logger.Info("alert inbox: delivering alerts a previous quench accepted", "alerts", n)
	}
	return nil
}
