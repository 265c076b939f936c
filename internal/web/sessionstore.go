package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/quench-dev/quench/internal/store"
)

// The page's sign-in state lives in the store, not in this process: behind several quench
// servers on one PostgreSQL store, a session made by one is good on every other, sign-out
// on one ends it everywhere, and an OIDC sign-in may come back to another replica than
// the one it started on. Every secret that works as a credential (session ID, one-time
// link, OIDC state) is kept only as its sha256: a copy of the database signs nobody in.
// The CSRF token is kept as is (the page must show it), and is worth nothing without the
// session cookie it belongs to; the PKCE verifier lives ten minutes and needs the
// provider's code, which only the browser sees.

// storeComponent is the page's name in the store's schema table.
const storeComponent = "web"

// webSchema is append-only (see store.Ensure).
var webSchema = []store.Migration{
	{SQL: `CREATE TABLE web_sessions (
		id_sha256  TEXT   PRIMARY KEY,
		identity   TEXT   NOT NULL,
		person     TEXT   NOT NULL,
		via        TEXT   NOT NULL,
		csrf       TEXT   NOT NULL,
		flash      TEXT   NOT NULL DEFAULT '',
		created_ms BIGINT NOT NULL,
		expires_ms BIGINT NOT NULL
	)`},
	{SQL: `CREATE INDEX web_sessions_expires ON web_sessions (expires_ms)`},
	{SQL: `CREATE TABLE web_login_links (
		token_sha256 TEXT   PRIMARY KEY,
		identity     TEXT   NOT NULL,
		expires_ms   BIGINT NOT NULL
	)`},
	{SQL: `CREATE TABLE web_oidc_logins (
		state_sha256 TEXT   PRIMARY KEY,
		nonce        TEXT   NOT NULL,
		verifier     TEXT   NOT NULL,
		next         TEXT   NOT NULL,
		expires_ms   BIGINT NOT NULL
	)`},
	{SQL: `CREATE INDEX web_oidc_logins_expires ON web_oidc_logins (expires_ms)`},
}

// sessions is the page's sign-in state in the store.
type sessions struct {
	db  *store.DB
	now func() time.Time

	mu      sync.Mutex
	ensured bool
}

func newSessions(db *store.DB, now func() time.Time) *sessions {
	return &sessions{db: db, now: now}
}

// ready makes the tables once per process; a failure (the store being down) is retried
// by the next call, so quench starts while its database is away.
func (ss *sessions) ready(ctx context.Context) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.ensured {
		return nil
	}
	if err := ss.db.Ensure(ctx, storeComponent, webSchema); err != nil {
		return err
	}
	ss.ensured = true
	return nil
}

// sha256Hex is how a credential is named in the store.
func sha256Hex(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// wellFormed says whether a cookie or link value could be one of randomToken's: anything
// else is refused before it reaches the store.
func wellFormed(token string) bool {
	if len(token) != 43 {
		return false
	}
	for _, c := range token {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// create starts a session for identity, ending replaced (the browser's previous session,
// "" for none) in the same transaction, and sweeps expired sessions.
func (ss *sessions) create(ctx context.Context, identity, person, via, replaced string) (*session, error) {
	if err := ss.ready(ctx); err != nil {
		return nil, err
	}
	now := ss.now()
	s := &session{id: randomToken(), Identity: identity, Person: person, Via: via, CSRF: randomToken(), expires: now.Add(sessionTTL)}
	s.hash = sha256Hex(s.id)
	err := ss.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM web_sessions WHERE expires_ms <= ?`, ms(now)); err != nil {
			return err
		}
		if replaced != "" {
			if _, err := tx.Exec(ctx, `DELETE FROM web_sessions WHERE id_sha256 = ?`, replaced); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO web_sessions (id_sha256, identity, person, via, csrf, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			s.hash, identity, person, via, s.CSRF, ms(now), ms(s.expires)); err != nil {
			return err
		}
		return trim(ctx, tx, "web_sessions", "id_sha256", maxSessions)
	})
	if err != nil {
		return nil, fmt.Errorf("record the session in the store: %w", err)
	}
	return s, nil
}

// trim keeps at most max rows in table, dropping those that expire first: sign-ins
// cannot grow it without bound.
func trim(ctx context.Context, tx *store.Tx, table, key string, max int) error {
	var n int
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		return err
	}
	if n <= max {
		return nil
	}
	_, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE `+key+` IN (SELECT `+key+` FROM `+table+` ORDER BY expires_ms LIMIT ?)`, n-max)
	return err
}

// lookup is the session whose cookie value is id: nil when it is unknown or expired (an
// expired one is deleted on the way).
func (ss *sessions) lookup(ctx context.Context, id string) (*session, error) {
	if !wellFormed(id) {
		return nil, nil
	}
	if err := ss.ready(ctx); err != nil {
		return nil, err
	}
	hash := sha256Hex(id)
	rows, err := ss.db.Query(ctx, `SELECT identity, person, via, csrf, flash, expires_ms FROM web_sessions WHERE id_sha256 = ?`, hash)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, ss.rowsErr(rows.Err())
	}
	s := &session{id: id, hash: hash}
	var exp int64
	if err := rows.Scan(&s.Identity, &s.Person, &s.Via, &s.CSRF, &s.flash, &exp); err != nil {
		return nil, ss.rowsErr(err)
	}
	rows.Close()
	s.expires = time.UnixMilli(exp)
	if !ss.now().Before(s.expires) {
		if _, err := ss.db.Exec(ctx, `DELETE FROM web_sessions WHERE id_sha256 = ?`, hash); err != nil {
			return nil, err
		}
		return nil, nil
	}
	return s, nil
}

// rowsErr classifies an error met while reading rows: the connection going away midway is
// the store being unavailable too.
func (ss *sessions) rowsErr(err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	return ss.db.Unavailable(err)
}

// drop ends the session with this hash (sign-out, or a new sign-in in the same browser).
func (ss *sessions) drop(ctx context.Context, hash string) error {
	if err := ss.ready(ctx); err != nil {
		return err
	}
	_, err := ss.db.Exec(ctx, `DELETE FROM web_sessions WHERE id_sha256 = ?`, hash)
	return err
}

func (ss *sessions) setFlash(ctx context.Context, s *session, msg string) error {
	_, err := ss.db.Exec(ctx, `UPDATE web_sessions SET flash = ? WHERE id_sha256 = ?`, msg, s.hash)
	return err
}

// takeFlash returns the session's message once: of two pages loading at the same time
// (on two replicas), one shows it.
func (ss *sessions) takeFlash(ctx context.Context, s *session) (string, error) {
	if s.flash == "" {
		return "", nil
	}
	res, err := ss.db.Exec(ctx, `UPDATE web_sessions SET flash = '' WHERE id_sha256 = ? AND flash = ?`, s.hash, s.flash)
	if err != nil {
		return "", err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return "", err
	}
	return s.flash, nil
}

// addOnce makes a one-time login token for identity.
func (ss *sessions) addOnce(ctx context.Context, identity string) (string, error) {
	if err := ss.ready(ctx); err != nil {
		return "", err
	}
	t := randomToken()
	now := ss.now()
	err := ss.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM web_login_links WHERE expires_ms <= ?`, ms(now)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO web_login_links (token_sha256, identity, expires_ms) VALUES (?, ?, ?)`, sha256Hex(t), identity, ms(now.Add(onceTTL)))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("record the one-time sign-in link in the store: %w", err)
	}
	return t, nil
}

// takeOnce spends a one-time token: its identity, or "" when it is unknown, spent or
// old. The delete is the spend, so of two replicas given the same link one signs in.
func (ss *sessions) takeOnce(ctx context.Context, token string) (string, error) {
	if !wellFormed(token) {
		return "", nil
	}
	if err := ss.ready(ctx); err != nil {
		return "", err
	}
	rows, err := ss.db.Query(ctx, `DELETE FROM web_login_links WHERE token_sha256 = ? RETURNING identity, expires_ms`, sha256Hex(token))
	if err != nil {
		return "", err
	}
	defer rows.Close()
	if !rows.Next() {
		return "", ss.rowsErr(rows.Err())
	}
	var who string
	var exp int64
	if err := rows.Scan(&who, &exp); err != nil {
		return "", ss.rowsErr(err)
	}
	if !ss.now().Before(time.UnixMilli(exp)) {
		return "", nil
	}
	return who, nil
}

// hasOnce says whether a one-time link could still sign someone in (to offer sign-in on
// a page without tokens or OIDC).
func (ss *sessions) hasOnce(ctx context.Context) (bool, error) {
	if err := ss.ready(ctx); err != nil {
		return false, err
	}
	rows, err := ss.db.Query(ctx, `SELECT 1 FROM web_login_links WHERE expires_ms > ? LIMIT 1`, ms(ss.now()))
	if err != nil {
		return false, err
	}
	defer rows.Close()
	return rows.Next(), ss.rowsErr(rows.Err())
}

// oidcPending is what an OIDC callback checks: the nonce the ID token must carry, the
// PKCE verifier to redeem the code with, and where to go after.
type oidcPending struct {
	nonce, verifier, next string
	expires               time.Time
}

// rememberOIDC records a sign-in started with state, sweeping those that expired.
func (ss *sessions) rememberOIDC(ctx context.Context, state string, p oidcPending) error {
	if err := ss.ready(ctx); err != nil {
		return err
	}
	err := ss.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM web_oidc_logins WHERE expires_ms <= ?`, ms(ss.now())); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO web_oidc_logins (state_sha256, nonce, verifier, next, expires_ms) VALUES (?, ?, ?, ?, ?)`,
			sha256Hex(state), p.nonce, p.verifier, p.next, ms(p.expires)); err != nil {
			return err
		}
		// Anyone can start a sign-in: bound what they leave behind.
		return trim(ctx, tx, "web_oidc_logins", "state_sha256", maxOIDCPending)
	})
	if err != nil {
		return fmt.Errorf("record the OIDC sign-in in the store: %w", err)
	}
	return nil
}

// takeOIDC spends the sign-in started with state (false: unknown, spent or expired).
func (ss *sessions) takeOIDC(ctx context.Context, state string) (oidcPending, bool, error) {
	if !wellFormed(state) {
		return oidcPending{}, false, nil
	}
	if err := ss.ready(ctx); err != nil {
		return oidcPending{}, false, err
	}
	rows, err := ss.db.Query(ctx, `DELETE FROM web_oidc_logins WHERE state_sha256 = ? RETURNING nonce, verifier, next, expires_ms`, sha256Hex(state))
	if err != nil {
		return oidcPending{}, false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return oidcPending{}, false, ss.rowsErr(rows.Err())
	}
	var p oidcPending
	var exp int64
	if err := rows.Scan(&p.nonce, &p.verifier, &p.next, &exp); err != nil {
		return oidcPending{}, false, ss.rowsErr(err)
	}
	p.expires = time.UnixMilli(exp)
	if !ss.now().Before(p.expires) {
		return oidcPending{}, false, nil
	}
	return p, true, nil
}
