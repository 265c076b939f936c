// Package store is the database every quench process reaches: a SQLite file in the data
// dir for `quench dev` and processes on one host, or PostgreSQL for replicas on several
// hosts. It owns the connection, the dialect differences and the schema bookkeeping; each
// component (routing table, evidence, pins) declares its own tables with Ensure.
//
// Queries are written once with ? placeholders; Rebind turns them into $1… for
// PostgreSQL. Keep to SQL both engines speak (INSERT … ON CONFLICT, RETURNING, BIGINT,
// TEXT); where types differ (BLOB/BYTEA) a Migration carries one statement per dialect.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"
)

// Dialect is the SQL engine behind a DB.
type Dialect int

// Dialects.
const (
	SQLite Dialect = iota
	Postgres
)

func (d Dialect) String() string {
	if d == Postgres {
		return "PostgreSQL"
	}
	return "SQLite"
}

// DB is an open store.
type DB struct {
	SQL     *sql.DB
	Dialect Dialect
	// where says which store in errors and logs, without a password.
	where string
}

// SQLiteFile is the store's file name in the data dir.
const SQLiteFile = "quench.db"

// OpenSQLite opens (creating) the SQLite store at path. WAL lets readers go on while one
// writer commits; writers take the lock at BEGIN (immediate), so two processes on one host
// queue for it instead of failing with "database is locked"; synchronous=FULL makes a
// committed change survive a power cut, since a retried step trusts what it finds.
func OpenSQLite(path string) (*DB, error) {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open the store %s: %w", path, err)
	}
	// One connection: SQLite has one writer anyway, and a pool of them would only queue on
	// the file lock with less fairness than database/sql's queue.
	db.SetMaxOpenConns(1)
	s := &DB{SQL: db, Dialect: SQLite, where: "SQLite " + path}
	if err := s.Ping(context.Background()); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("%w (check the data dir is writable)", err)
	}
	return s, nil
}

// OpenPostgres opens the PostgreSQL store at dsn (a URL or key=value string). It does not
// fail when the database is down: processes start, /readyz says 503 and calls fail
// retryably naming the store until it is back.
func OpenPostgres(dsn string) (*DB, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open the PostgreSQL store: %v (check store.postgres.dsn)", redactDSNError(err, dsn))
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return &DB{SQL: db, Dialect: Postgres, where: "PostgreSQL " + DescribeDSN(dsn)}, nil
}

// DescribeDSN names a PostgreSQL database by user, host and database, never its password.
func DescribeDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		who := ""
		if u.User != nil {
			who = u.User.Username() + "@"
		}
		return who + u.Host + u.Path
	}
	// key=value form: keep host, port, dbname and user.
	var keep []string
	for _, kv := range strings.Fields(dsn) {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "host", "port", "dbname", "user":
			keep = append(keep, kv)
		}
	}
	return strings.Join(keep, " ")
}

// redactDSNError keeps a driver's parse error from echoing a password.
func redactDSNError(err error, dsn string) string {
	msg := err.Error()
	if u, perr := url.Parse(dsn); perr == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return msg
}

// String names the store for logs and messages.
func (db *DB) String() string { return db.where }

// Close closes the connections.
func (db *DB) Close() error { return db.SQL.Close() }

// Ping checks the store answers (for /readyz).
func (db *DB) Ping(ctx context.Context) error {
	if err := db.SQL.PingContext(ctx); err != nil {
		return db.Unavailable(err)
	}
	return nil
}

// UnavailableError is a store that cannot be reached or used right now. It is retryable:
// activities fail and Temporal retries them; HTTP handlers answer 503 with Retry-After.
type UnavailableError struct {
	Store string
	Err   error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("the store (%s) is unavailable: %v; quench retries, check the database is up and reachable", e.Store, e.Err)
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// Unavailable wraps err as the store being unavailable (nil stays nil; an error already
// wrapped is returned as is).
func (db *DB) Unavailable(err error) error {
	if err == nil {
		return nil
	}
	var u *UnavailableError
	if errors.As(err, &u) {
		return err
	}
	return &UnavailableError{Store: db.where, Err: err}
}

// IsUnavailable reports whether err says the store could not be reached.
func IsUnavailable(err error) bool {
	var u *UnavailableError
	return errors.As(err, &u)
}

// Rebind rewrites ? placeholders as $1, $2… for PostgreSQL. Queries must not contain a
// literal question mark.
func (db *DB) Rebind(query string) string {
	if db.Dialect != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Exec runs a statement written with ? placeholders outside a transaction.
func (db *DB) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := db.SQL.ExecContext(ctx, db.Rebind(query), args...)
	if err != nil {
		return nil, db.classify(err)
	}
	return res, nil
}

// Query runs a query written with ? placeholders outside a transaction.
func (db *DB) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := db.SQL.QueryContext(ctx, db.Rebind(query), args...)
	if err != nil {
		return nil, db.classify(err)
	}
	return rows, nil
}

// QueryRow runs a one-row query written with ? placeholders.
func (db *DB) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return db.SQL.QueryRowContext(ctx, db.Rebind(query), args...)
}

// Tx is a transaction whose statements use ? placeholders.
type Tx struct {
	tx *sql.Tx
	db *DB
}

// Exec runs a statement in the transaction.
func (t *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.db.Rebind(query), args...)
}

// Query runs a query in the transaction.
func (t *Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.db.Rebind(query), args...)
}

// QueryRow runs a one-row query in the transaction.
func (t *Tx) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.db.Rebind(query), args...)
}

// ForUpdate is the row-lock suffix for a SELECT that the transaction will change: FOR
// UPDATE on PostgreSQL; empty on SQLite, whose immediate transactions already hold the
// write lock.
func (t *Tx) ForUpdate() string {
	if t.db.Dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// ForUpdateSkipLocked is the suffix for a SELECT that claims rows other processes may be
// claiming at the same time (a work queue): FOR UPDATE SKIP LOCKED on PostgreSQL, so each
// process takes different rows without waiting; empty on SQLite, whose immediate
// transactions already run one at a time.
func (t *Tx) ForUpdateSkipLocked() string {
	if t.db.Dialect == Postgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// Dialect is the engine the transaction runs on.
func (t *Tx) Dialect() Dialect { return t.db.Dialect }

// InTx runs fn in a transaction and commits it, retrying the whole of fn when PostgreSQL
// reports a serialisation failure or deadlock. fn's error rolls back and is returned as
// is, so a caller's ports.Permanent mark survives; a failure to reach the store is an
// UnavailableError.
func (db *DB) InTx(ctx context.Context, fn func(*Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := db.inTx(ctx, fn)
		if err == nil || attempt >= 4 || !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(1<<attempt) * 5 * time.Millisecond):
		}
	}
}

func (db *DB) inTx(ctx context.Context, fn func(*Tx) error) (err error) {
	sqlTx, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return db.classify(err)
	}
	defer func() {
		if err != nil {
			_ = sqlTx.Rollback()
		}
	}()
	if err := fn(&Tx{tx: sqlTx, db: db}); err != nil {
		return db.classifyIfDriver(err)
	}
	if err := sqlTx.Commit(); err != nil {
		return db.classify(err)
	}
	return nil
}

// sqlState returns PostgreSQL's SQLSTATE code of err, if it has one.
func sqlState(err error) string {
	var coded interface{ SQLState() string }
	if errors.As(err, &coded) {
		return coded.SQLState()
	}
	return ""
}

func retryable(err error) bool {
	switch sqlState(err) {
	case "40001", "40P01": // serialization_failure, deadlock_detected
		return true
	}
	return false
}

// classify marks errors of reaching the store as UnavailableError and leaves SQL errors
// (constraint violations, syntax) as they are.
func (db *DB) classify(err error) error {
	if err == nil || retryable(err) {
		return err
	}
	if code := sqlState(err); code != "" && !strings.HasPrefix(code, "08") && !strings.HasPrefix(code, "57") && !strings.HasPrefix(code, "53") {
		return err // a statement error, not the store being away
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return db.Unavailable(err)
}

// classifyIfDriver classifies an error fn returned only when it came from the driver;
// errors fn made itself (ports.Permanent, validation) pass through.
func (db *DB) classifyIfDriver(err error) error {
	if retryable(err) {
		return err
	}
	var u *UnavailableError
	if errors.As(err, &u) {
		return err
	}
	if sqlState(err) != "" || isConnError(err) {
		return db.classify(err)
	}
	return err
}

func isConnError(err error) bool {
	msg := err.Error()
	for _, s := range []string{"connection refused", "broken pipe", "connection reset", "bad connection", "database is locked", "no such host", "failed to connect"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return errors.Is(err, sql.ErrConnDone)
}
