package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quench-dev/quench/internal/alert"
	"github.com/quench-dev/quench/internal/incidents"
)

const waitRunbook = `name: inbox-restart
title: Waits for its alerts to resolve
description: the inbox restart test
triggers:
  alerts:
    - match:
        alertname: QuenchInboxRestart
steps:
  - id: recovered
    action: wait.resolved
    timeout: 1h
`

// TestInboxRowsOfAKilledProcessAreDeliveredAtTheNextStart: a quench dev killed with
// alerts accepted into its inbox but not yet delivered leaves rows in its store, under its
// owner with a running lease. The next quench dev on the data dir takes them at start and
// delivers them, exactly once, to the real embedded Temporal.
func TestInboxRowsOfAKilledProcessAreDeliveredAtTheNextStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := DirOptions{Dir: dir, Runbooks: map[string]string{"inbox-restart.yaml": waitRunbook}, Logger: quiet}

	first, err := StartInDir(ctx, opts)
	require.NoError(t, err)
	// What a killed process leaves: its rows, and its lease still running for an hour.
	db := first.Adapters.Store
	var id string
	for i := 1; i <= 5; i++ {
		a := alert.Alert{Source: "alertmanager", Key: "restart-group", Fingerprint: fmt.Sprintf("fp-%d", i), Status: alert.StatusFiring,
			Labels: map[string]string{"alertname": "QuenchInboxRestart", "instance": fmt.Sprint(i)}}
		id, err = incidents.IncidentID("inbox-restart", incidents.StartRequest{Source: a.Source, Alert: &a})
		require.NoError(t, err)
		data, err := json.Marshal(a)
		require.NoError(t, err)
		_, err = db.Exec(ctx, `INSERT INTO ingest_inbox (id, seq, owner, workflow_id, runbook, alert, accepted_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			fmt.Sprintf("killed/%d", i), i, "killed-process", id, "inbox-restart", string(data), time.Now().UnixMilli())
		require.NoError(t, err)
	}
	_, err = db.Exec(ctx, `INSERT INTO ingest_inbox_owners (owner, lease_until) VALUES (?, ?)`, "killed-process", time.Now().Add(time.Hour).UnixMilli())
	require.NoError(t, err)
	first.Stop() // its own lease row stays, empty and given up: the next start passes over it

	next, err := StartInDir(ctx, opts)
	require.NoError(t, err)
	defer next.Stop()
	require.Eventually(t, func() bool {
		st, err := next.Incidents.Status(ctx, id)
		return err == nil && st.Alerts.Received >= 5
	}, time.Minute, 20*time.Millisecond, "the rows reach their incident")
	require.Eventually(t, func() bool {
		var n int
		return next.Adapters.Store.QueryRow(ctx, `SELECT COUNT(*) FROM ingest_inbox`).Scan(&n) == nil && n == 0
	}, time.Minute, 20*time.Millisecond, "delivered rows are deleted")
	st, err := next.Incidents.Status(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, 5, st.Alerts.Received, "each row delivered once")
	assert.Equal(t, 5, st.Alerts.Distinct)
}
