package serve

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/config/configtest"
	"github.com/quench-dev/quench/internal/datadir"
	"github.com/quench-dev/quench/internal/devserver"
	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/targets/gateway/routetable"
)

// While a quench dev holds the data dir, a worker and a server are both refused before they open anything in it: the routing table keeps its bytes and mtime
// although their config lists other routes, and no evidence store or database appears.
// (Another quench dev is refused the same way: internal/cli/dev.)
func TestDataDirInUseIsRefusedBeforeAnythingIsOpened(t *testing.T) {
	dataDir := t.TempDir()
	table := filepath.Join(dataDir, routetable.FileName)
	live := []byte(`{"generation":"live","version":7,"routes":{"chat":{"provider":"fallback","providers":["primary","fallback"],"version":7}}}` + "\n")
	require.NoError(t, os.WriteFile(table, live, 0o644))
	old := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	require.NoError(t, os.Chtimes(table, old, old))

	holder, err := datadir.Acquire(dataDir, "quench dev")
	require.NoError(t, err)
	defer holder.Release()

	cfg := configtest.Load(t, dataDir, "gateway:\n  routes:\n    chat: [other, primary]\n")
	config := func() (*config.Config, error) { return cfg, nil }
	io, _, _, _ := cmdutil.Test()
	never := func() bool { return false }
	want := fmt.Sprintf("data dir %s is in use by quench dev (pid %d, running since ", dataDir, os.Getpid())

	for name, run := range map[string]func(context.Context, *RemoteOptions) error{"worker": workerRun, "server": serverRun} {
		err := run(context.Background(), &RemoteOptions{IO: io, Config: config, AddressFlag: never, NamespaceFlag: never, LogLevel: "error"})
		require.ErrorContains(t, err, want, name)
		require.ErrorContains(t, err, "quench "+name+" cannot use it", name)
	}

	got, err := os.ReadFile(table)
	require.NoError(t, err)
	assert.Equal(t, string(live), string(got), "the live routing table was rewritten")
	info, err := os.Stat(table)
	require.NoError(t, err)
	assert.True(t, info.ModTime().Equal(old), "the live routing table was touched: mtime %s", info.ModTime())
	assert.NoDirExists(t, filepath.Join(dataDir, "evidence"))
	assert.NoFileExists(t, filepath.Join(dataDir, devserver.DBFile))
	assert.NoFileExists(t, filepath.Join(dataDir, store.SQLiteFile))
}

// With the store in PostgreSQL a worker or server keeps nothing in its data dir: it takes
// no lock there and neither creates nor needs the directory (a read-only filesystem).
func TestNoDataDirLockWithThePostgresStore(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(notADir, nil, 0o600))
	dataDir := filepath.Join(notADir, "data") // cannot be created: its parent is a file
	shared := &config.Config{DataDir: dataDir, Store: config.Store{Kind: config.StorePostgres}}
	for _, command := range []string{"quench worker", "quench server"} {
		lock, err := lockShared(shared, command)
		require.NoError(t, err, command)
		assert.Nil(t, lock, command)
		lock.Release() // safe on nil
	}
	_, err := lockShared(&config.Config{DataDir: dataDir}, "quench server")
	require.Error(t, err, "the SQLite store's data dir is locked (and so must be creatable)")
}
