package langfuse

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/quench-dev/quench/internal/store"
)

// pin is the version a freeze keeps a prompt's label on.
type pin struct {
	Version int       `json:"version"`
	At      time.Time `json:"at"`
}

// Pin lease defaults.
const (
	// pinLease is how long one enforcement may hold a scope's pins: longer than reading and
	// moving the labels takes, short enough that a process killed while holding it delays
	// the next enforcement only this long.
	pinLease = 2 * time.Minute
	// pinWait is how long an enforcement waits for another to finish before it answers
	// with a retryable error (the webhook a 503, the activity a retry).
	pinWait = 30 * time.Second
)

// pinsComponent names the pins' tables in the store's schema table.
const pinsComponent = "langfuse_pins"

// pinSchema is append-only (see store.Ensure).
var pinSchema = []store.Migration{
	{SQL: `CREATE TABLE langfuse_pins (
		scope     TEXT   NOT NULL,
		prompt    TEXT   NOT NULL,
		version   BIGINT NOT NULL,
		pinned_ms BIGINT NOT NULL,
		PRIMARY KEY (scope, prompt)
	)`},
	{SQL: `CREATE TABLE langfuse_pin_leases (
		scope      TEXT   PRIMARY KEY,
		owner      TEXT   NOT NULL,
		expires_ms BIGINT NOT NULL
	)`},
}

// pinStore keeps the pins in the store every quench process reaches: the freeze workflow's
// enforcement (any worker) and the webhook (any server) both change them. Changes of one
// scope are serialised across processes by a lease row, held while Langfuse is read and
// moved; no transaction stays open across an HTTP call.
type pinStore struct {
	db     *store.DB
	legacy string // the pins file of quench before the store, imported once
	logger *slog.Logger
	now    func() time.Time
	lease  time.Duration
	wait   time.Duration

	mu        sync.Mutex // one update at a time in this process
	ensureMu  sync.Mutex
	ensured   bool
	retryBase time.Duration
}

func newPinStore(db *store.DB, stateDir string, logger *slog.Logger, now func() time.Time) (*pinStore, error) {
	if db == nil {
		return nil, errors.New("the Langfuse prompts target needs the store for its pins (config store:)")
	}
	s := &pinStore{db: db, logger: logger, now: now, lease: pinLease, wait: pinWait, retryBase: 20 * time.Millisecond}
	if stateDir != "" {
		s.legacy = filepath.Join(stateDir, PinsFile)
	}
	return s, nil
}

var errNoRows = sql.ErrNoRows

// errPinsBusy is another process holding the scope's pins for longer than pinWait.
var errPinsBusy = errors.New("the Langfuse pins are being changed by another quench process")

// ready makes the tables once per process and imports the pins file an older quench kept
// in the data dir; a failure (the store being down) is retried by the next call.
func (s *pinStore) ready(ctx context.Context) error {
	s.ensureMu.Lock()
	defer s.ensureMu.Unlock()
	if s.ensured {
		return nil
	}
	if err := s.db.Ensure(ctx, pinsComponent, pinSchema); err != nil {
		return err
	}
	if err := s.importLegacy(ctx); err != nil {
		return err
	}
	s.ensured = true
	return nil
}

// importLegacy copies the pins of <data-dir>/langfuse-pins.json into the store (pins
// already there win) and renames the file, so a freeze held across the upgrade keeps them.
func (s *pinStore) importLegacy(ctx context.Context) error {
	if s.legacy == "" {
		return nil
	}
	data, err := os.ReadFile(s.legacy)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		s.logger.Warn("cannot read the old Langfuse pins file; its pins are taken again at the next freeze", "path", s.legacy, "err", err)
		return nil
	}
	var old map[string]map[string]pin
	if err := json.Unmarshal(data, &old); err != nil {
		s.logger.Warn("the old Langfuse pins file is not valid JSON; its pins are taken again at the next freeze", "path", s.legacy, "err", err)
		return nil
	}
	n := 0
	for scope, pins := range old {
		for prompt, p := range pins {
			if _, err := s.db.Exec(ctx, `INSERT INTO langfuse_pins (scope, prompt, version, pinned_ms) VALUES (?, ?, ?, ?)
				ON CONFLICT (scope, prompt) DO NOTHING`, scope, prompt, p.Version, p.At.UnixMilli()); err != nil {
				return err
			}
			n++
		}
	}
	if err := os.Rename(s.legacy, s.legacy+".imported"); err != nil {
		s.logger.Warn("imported the old Langfuse pins file but could not rename it", "path", s.legacy, "err", err)
	}
	s.logger.Info("imported the Langfuse pins of the data dir into the store", "pins", n, "store", s.db.String())
	return nil
}

// load returns the pins of scope.
func (s *pinStore) load(ctx context.Context, scope string) (map[string]pin, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT prompt, version, pinned_ms FROM langfuse_pins WHERE scope = ?`, scope)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	pins := map[string]pin{}
	for rows.Next() {
		var prompt string
		var version, at int64
		if err := rows.Scan(&prompt, &version, &at); err != nil {
			return nil, s.db.Unavailable(err)
		}
		pins[prompt] = pin{Version: int(version), At: time.UnixMilli(at).UTC()}
	}
	if err := rows.Err(); err != nil {
		return nil, s.db.Unavailable(err)
	}
	return pins, nil
}

// update runs fn on the pins of scope while holding the scope's lease, and writes them
// back when fn succeeds.
func (s *pinStore) update(ctx context.Context, scope string, fn func(pins map[string]pin) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(ctx); err != nil {
		return err
	}
	owner, err := s.acquire(ctx, scope)
	if err != nil {
		return err
	}
	defer s.release(ctx, scope, owner)
	pins, err := s.load(ctx, scope)
	if err != nil {
		return err
	}
	if err := fn(pins); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		var holder string
		err := tx.QueryRow(ctx, `SELECT owner FROM langfuse_pin_leases WHERE scope = ?`+tx.ForUpdate(), scope).Scan(&holder)
		if err != nil && !errors.Is(err, errNoRows) {
			return err
		}
		if holder != owner {
			return fmt.Errorf("%w: this enforcement of %s outlasted its %s lease; it is retried", errPinsBusy, scope, s.lease)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM langfuse_pins WHERE scope = ?`, scope); err != nil {
			return err
		}
		for prompt, p := range pins {
			if _, err := tx.Exec(ctx, `INSERT INTO langfuse_pins (scope, prompt, version, pinned_ms) VALUES (?, ?, ?, ?)`,
				scope, prompt, p.Version, p.At.UnixMilli()); err != nil {
				return err
			}
		}
		return nil
	})
}

// acquire takes the lease of scope: a row no one holds, or whose holder's lease ran out.
func (s *pinStore) acquire(ctx context.Context, scope string) (string, error) {
	owner := randomOwner()
	deadline := s.now().Add(s.wait)
	pause := s.retryBase
	for {
		now := s.now().UnixMilli()
		res, err := s.db.Exec(ctx, `INSERT INTO langfuse_pin_leases (scope, owner, expires_ms) VALUES (?, ?, ?)
			ON CONFLICT (scope) DO UPDATE SET owner = excluded.owner, expires_ms = excluded.expires_ms
			WHERE langfuse_pin_leases.expires_ms < ?`, scope, owner, now+s.lease.Milliseconds(), now)
		if err != nil {
			return "", err
		}
		if n, err := res.RowsAffected(); err == nil && n == 1 {
			return owner, nil
		}
		if !s.now().Before(deadline) {
			return "", fmt.Errorf("%w (scope %s, waited %s); it is tried again", errPinsBusy, scope, s.wait)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 500*time.Millisecond)
	}
}

// release gives the lease back, even when ctx ended: otherwise the next enforcement waits
// for the lease to run out.
func (s *pinStore) release(ctx context.Context, scope, owner string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := s.db.Exec(ctx, `DELETE FROM langfuse_pin_leases WHERE scope = ? AND owner = ?`, scope, owner); err != nil {
		s.logger.Warn("could not release the Langfuse pins lease; the next enforcement waits for it to run out", "scope", scope, "lease", s.lease, "err", err)
	}
}

func randomOwner() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
