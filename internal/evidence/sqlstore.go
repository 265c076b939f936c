package evidence

import (
	"context"
	"sync"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store"
)

// DB is the SQL evidence store: bundles as rows of the store every quench process reaches
// (PostgreSQL for replicas on several hosts), so a bundle a worker captured is read by any
// server. Rows are written once; the digest is kept beside the bytes and checked on every
// read. References are quench:evidence/<incident>/<name> (StoreURI).
type DB struct {
	db       *store.DB
	maxBytes int64

	mu      sync.Mutex
	ensured bool
}

// Component is the evidence store's name in the store's schema table.
const Component = "evidence"

// schema is append-only (see store.Ensure).
var schema = []store.Migration{{
	SQLite: `CREATE TABLE evidence_bundles (
		incident   TEXT   NOT NULL,
		name       TEXT   NOT NULL,
		sha256     TEXT   NOT NULL,
		bytes      BIGINT NOT NULL,
		data       BLOB   NOT NULL,
		created_ms BIGINT NOT NULL,
		PRIMARY KEY (incident, name)
	)`,
	Postgres: `CREATE TABLE evidence_bundles (
		incident   TEXT   NOT NULL,
		name       TEXT   NOT NULL,
		sha256     TEXT   NOT NULL,
		bytes      BIGINT NOT NULL,
		data       BYTEA  NOT NULL,
		created_ms BIGINT NOT NULL,
		PRIMARY KEY (incident, name)
	)`,
}}

// OpenDB returns the evidence store in db. It touches nothing yet: the table is made on
// first use, so a database that is down at start delays evidence, not the process.
func OpenDB(db *store.DB, opts ...Option) *DB {
	return &DB{db: db, maxBytes: optionsOf(opts).maxBytes}
}

// ready creates the table once per process; a failure (the store being down) is retried
// by the next call.
func (s *DB) ready(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ensured {
		return nil
	}
	if err := s.db.Ensure(ctx, Component, schema); err != nil {
		return err
	}
	s.ensured = true
	return nil
}

func (s *DB) ref(incident, name, digest string, size int64) ports.EvidenceRef {
	return ports.EvidenceRef{Name: name, URI: StoreURI(incident, name), SHA256: digest, Bytes: size}
}

// Put stores data as incident/name. Writing the same bytes again (a retried activity on
// any worker) returns the same ref; other bytes under an existing name are refused.
func (s *DB) Put(ctx context.Context, incident, name string, data []byte) (ports.EvidenceRef, error) {
	if err := checkName("incident", incident); err != nil {
		return ports.EvidenceRef{}, err
	}
	if err := checkName("name", name); err != nil {
		return ports.EvidenceRef{}, err
	}
	if err := checkSize(incident, name, len(data), s.maxBytes); err != nil {
		return ports.EvidenceRef{}, err
	}
	if err := s.ready(ctx); err != nil {
		return ports.EvidenceRef{}, err
	}
	digest := digestOf(data)
	var stored string
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `INSERT INTO evidence_bundles (incident, name, sha256, bytes, data, created_ms)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (incident, name) DO NOTHING`,
			incident, name, digest, len(data), data, time.Now().UnixMilli())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err == nil && n == 1 {
			stored = digest
			return nil
		}
		return tx.QueryRow(ctx, `SELECT sha256 FROM evidence_bundles WHERE incident = ? AND name = ?`, incident, name).Scan(&stored)
	})
	if err != nil {
		return ports.EvidenceRef{}, err
	}
	uri := StoreURI(incident, name)
	if stored != digest {
		return ports.EvidenceRef{}, ports.Permanentf(
			"evidence %s already exists with other content (sha256 %s, new %s); evidence is immutable: use another name",
			uri, stored, digest)
	}
	return s.ref(incident, name, digest, int64(len(data))), nil
}

// Get returns the bundle incident/name with its digest verified; ok is false when there is
// none.
func (s *DB) Get(ctx context.Context, incident, name string) (ports.EvidenceRef, []byte, bool, error) {
	if err := checkName("incident", incident); err != nil {
		return ports.EvidenceRef{}, nil, false, err
	}
	if err := checkName("name", name); err != nil {
		return ports.EvidenceRef{}, nil, false, err
	}
	if err := s.ready(ctx); err != nil {
		return ports.EvidenceRef{}, nil, false, err
	}
	rows, err := s.db.Query(ctx, `SELECT sha256, data FROM evidence_bundles WHERE incident = ? AND name = ?`, incident, name)
	if err != nil {
		return ports.EvidenceRef{}, nil, false, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return ports.EvidenceRef{}, nil, false, s.db.Unavailable(err)
		}
		return ports.EvidenceRef{}, nil, false, nil
	}
	var want string
	var data []byte
	if err := rows.Scan(&want, &data); err != nil {
		return ports.EvidenceRef{}, nil, false, s.db.Unavailable(err)
	}
	uri := StoreURI(incident, name)
	if int64(len(data)) > s.maxBytes {
		return ports.EvidenceRef{}, nil, false, ports.Permanentf("evidence %s is over the store's limit of %s", uri, humanBytes(s.maxBytes))
	}
	if got := digestOf(data); got != want {
		return ports.EvidenceRef{}, nil, false, ports.Permanentf("evidence %s does not match its digest (sha256 %s, recorded %s): the row was changed or damaged", uri, got, want)
	}
	return s.ref(incident, name, want, int64(len(data))), data, true, nil
}

// Read returns the bundle a reference points at (see ParseURI), its digest verified.
func (s *DB) Read(ctx context.Context, uri string) ([]byte, error) {
	incident, name, err := ParseURI(uri)
	if err != nil {
		return nil, err
	}
	_, data, ok, err := s.Get(ctx, incident, name)
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, ports.Permanentf("evidence %s does not exist in the store (%s)", uri, s.db)
	}
	return data, nil
}

// ReadRef reads ref.URI and also checks the content against ref.SHA256, the digest the
// incident recorded.
func (s *DB) ReadRef(ctx context.Context, ref ports.EvidenceRef) ([]byte, error) {
	data, err := s.Read(ctx, ref.URI)
	if err != nil {
		return nil, err
	}
	return data, checkRecorded(ref, data)
}

var _ ports.EvidenceStore = (*DB)(nil)
