package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/store"
)

// Replicas must agree on what changes a running incident: who may approve, which routes
// exist, which targets a step touches. An incident must never depend on the worker that
// picked it up, so each process records a digest of those sections in the store and says
// loudly at start where it differs from another live process.

// How often a process refreshes its row, and how old a row may be and still count as a
// live process.
const (
	agreementBeat  = time.Minute
	agreementAlive = 3 * time.Minute
)

var agreementSchema = []store.Migration{{SQL: `CREATE TABLE process_configs (
	process  TEXT PRIMARY KEY,
	role     TEXT NOT NULL,
	sections TEXT NOT NULL,
	seen_at  BIGINT NOT NULL
)`}}

// ConfigSections digests each part of the configuration that changes what a running
// incident does. Secret references are digested with the rest (a reference names where a
// secret is, never the secret), and only digests leave the process.
func ConfigSections(cfg *config.Config) map[string]string {
	parts := map[string]any{
		"approvers": struct {
			Approvers  map[string][]string
			People     map[string][]string
			Escalation string
		}{cfg.Approvers, cfg.People, cfg.EscalationGroup},
		"decisions (trusted keys)": cfg.Decisions.TrustedKeys,
		"gateway.routes":           cfg.Gateway.Routes,
		"gateway": struct {
			Kind    string
			LiteLLM config.LiteLLM
			Portkey config.Portkey
		}{cfg.Gateway.Kind, cfg.Gateway.LiteLLM, cfg.Gateway.Portkey},
		"prompts": cfg.Prompts,
		"traffic": cfg.Traffic,
		"probes":  cfg.Probes,
		"github":  cfg.GitHub,
		"slack":   cfg.Slack.Channel,
		"store":   cfg.Store.Kind,
	}
	out := make(map[string]string, len(parts))
	for name, v := range parts {
		b, _ := json.Marshal(v) // maps marshal with sorted keys: the digest is stable
		sum := sha256.Sum256(b)
		out[name] = hex.EncodeToString(sum[:8])
	}
	return out
}

// Disagreement is a section where this process and a live other one differ.
type Disagreement struct {
	Section string
	Other   string // the other process, role@host/pid
}

// ConfigAgreement is this process's row in the store.
type ConfigAgreement struct {
	db      *store.DB
	process string
	role    string
	mine    map[string]string
	now     func() time.Time
}

// NewConfigAgreement prepares the check for a process (e.g. "worker@host/1234").
func NewConfigAgreement(db *store.DB, cfg *config.Config, role, process string) *ConfigAgreement {
	return &ConfigAgreement{db: db, process: process, role: role, mine: ConfigSections(cfg), now: time.Now}
}

// Check records this process's sections and returns where they differ from the other
// processes seen in the last few minutes, sorted.
func (a *ConfigAgreement) Check(ctx context.Context) ([]Disagreement, error) {
	if err := a.db.Ensure(ctx, "process_configs", agreementSchema); err != nil {
		return nil, err
	}
	if err := a.beat(ctx); err != nil {
		return nil, err
	}
	rows, err := a.db.Query(ctx, `SELECT process, sections FROM process_configs WHERE process <> ? AND seen_at >= ?`,
		a.process, a.now().Add(-agreementAlive).UnixNano())
	if err != nil {
		return nil, fmt.Errorf("read other processes' configuration digests: %w", err)
	}
	defer rows.Close()
	var out []Disagreement
	for rows.Next() {
		var other, raw string
		if err := rows.Scan(&other, &raw); err != nil {
			return nil, err
		}
		var theirs map[string]string
		if err := json.Unmarshal([]byte(raw), &theirs); err != nil {
			continue // a row from a future quench with another shape: not comparable
		}
		for _, section := range slices.Sorted(maps.Keys(a.mine)) {
			if d, ok := theirs[section]; ok && d != a.mine[section] {
				out = append(out, Disagreement{Section: section, Other: other})
			}
		}
	}
	return out, rows.Err()
}

func (a *ConfigAgreement) beat(ctx context.Context) error {
	raw, _ := json.Marshal(a.mine)
	_, err := a.db.Exec(ctx, `INSERT INTO process_configs (process, role, sections, seen_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (process) DO UPDATE SET role = excluded.role, sections = excluded.sections, seen_at = excluded.seen_at`,
		a.process, a.role, string(raw), a.now().UnixNano())
	if err != nil {
		return fmt.Errorf("record this process's configuration digest: %w", err)
	}
	// Rows of processes long gone would only grow the table.
	_, err = a.db.Exec(ctx, `DELETE FROM process_configs WHERE seen_at < ?`, a.now().Add(-7*24*time.Hour).UnixNano())
	return err
}

// Run checks once, logs every disagreement as a warning that says what to do, then keeps
// this process's row fresh until ctx ends and removes it. A store that is down is logged,
// not fatal: the check is advice, the incident's own input carries what it needs.
func (a *ConfigAgreement) Run(ctx context.Context, logger *slog.Logger) {
	diffs, err := a.Check(ctx)
	if err != nil {
		logger.Warn("could not compare this process's configuration with the other replicas", "err", err)
	}
	bySection := map[string][]string{}
	for _, d := range diffs {
		bySection[d.Section] = append(bySection[d.Section], d.Other)
	}
	for _, section := range slices.Sorted(maps.Keys(bySection)) {
		logger.Warn("CONFIGURATION DIFFERS FROM OTHER REPLICAS: give every worker and server the same configuration",
			"section", section, "others", strings.Join(bySection[section], ", "), "this", a.process)
	}
	go func() {
		t := time.NewTicker(agreementBeat)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_, _ = a.db.Exec(ctx, `DELETE FROM process_configs WHERE process = ?`, a.process)
				return
			case <-t.C:
				if err := a.beat(ctx); err != nil && ctx.Err() == nil {
					logger.Warn("refresh this process's configuration digest", "err", err)
				}
			}
		}
	}()
}
