package app

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quench-dev/quench/internal/evidence"
)

// The evidence store follows store.kind: the data dir's directory by default (quench dev),
// rows of the PostgreSQL store every replica reaches otherwise.
func TestResolvePicksTheEvidenceStore(t *testing.T) {
	a, err := Resolve(loadConfig(t, ""), discardLogger())
	require.NoError(t, err)
	assert.IsType(t, &evidence.Store{}, a.Evidence)

	// Opening PostgreSQL connects lazily, so an address nothing listens on is enough here.
	t.Setenv("QUENCH_TEST_STORE_DSN", "postgres://quench@127.0.0.1:1/quench?sslmode=disable")
	a, err = Resolve(loadConfig(t, "store:\n  kind: postgres\n  postgres:\n    dsn: env:QUENCH_TEST_STORE_DSN\n"), discardLogger())
	require.NoError(t, err)
	assert.IsType(t, &evidence.DB{}, a.Evidence)
}
