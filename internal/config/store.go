package config

import "fmt"

// Store kinds.
const (
	StoreSQLite   = "sqlite"
	StorePostgres = "postgres"
)

// Store says where the state every quench process must share lives: the routing table,
// evidence bundles, Langfuse pins and gateway state of older incidents. The default is a
// SQLite file in the data dir, right for `quench dev` and for processes on one host;
// replicas on several hosts share a PostgreSQL database.
type Store struct {
	Kind     string        `yaml:"kind"` // sqlite (default) | postgres
	Postgres PostgresStore `yaml:"postgres"`
}

// PostgresStore is the PostgreSQL store.
type PostgresStore struct {
	// DSN is a secret reference (env:NAME or file:/path) to a connection string such as
	// postgres://quench:…@db:5432/quench?sslmode=require.
	DSN string `yaml:"dsn"`
}

// Shared reports whether the store reaches beyond this host's data dir.
func (s Store) Shared() bool { return s.Kind == StorePostgres }

func (s Store) problems() []string {
	var out []string
	switch s.Kind {
	case "", StoreSQLite:
		if s.Postgres.DSN != "" {
			out = append(out, "store.postgres.dsn is set but store.kind is not postgres: set store.kind: postgres or remove the dsn")
		}
	case StorePostgres:
		switch {
		case s.Postgres.DSN == "":
			out = append(out, "store.postgres.dsn: set it to env:NAME or file:/path holding the connection string")
		case !isSecretRef(s.Postgres.DSN):
			out = append(out, "store.postgres.dsn: write env:NAME or file:/path, never the connection string itself (it holds a password)")
		}
	default:
		out = append(out, fmt.Sprintf("store.kind: %q is not a store; use sqlite (the default, in the data dir) or postgres", s.Kind))
	}
	return out
}
