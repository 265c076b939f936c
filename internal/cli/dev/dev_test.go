package dev

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

// quench dev refuses a config with two prompt targets before starting anything: no
// Temporal database in the data dir, no summary. (worker and server: internal/cli/serve.)
func TestStartRefusesTwoPromptTargets(t *testing.T) {
	t.Setenv("QUENCH_TEST_GH_TOKEN", "tok")
	dataDir := t.TempDir()
	cfg := configtest.Load(t, dataDir, configtest.TwoPromptTargets)
	io, _, stdout, _ := cmdutil.Test()
	config := func() (*config.Config, error) { return cfg, nil }

	err := devRun(context.Background(), &DevOptions{IO: io, Config: config, NoUI: true, HTTPListen: "127.0.0.1:0", LogLevel: "error"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "prompts: both github and git are configured")
	assert.Contains(t, err.Error(), "set prompts.kind: github|langfuse|git")
	assert.NoFileExists(t, filepath.Join(dataDir, devserver.DBFile), "Temporal was started before the config was checked")
	assert.Empty(t, stdout.String(), "no summary for a quench that did not start")
}

// While a quench dev holds the data dir, another quench dev is refused before it opens
// anything in it: the routing table keeps its bytes and mtime although its config lists
// other routes, and no evidence store, database or address file appears.
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
	io, _, stdout, _ := cmdutil.Test()
	want := fmt.Sprintf("data dir %s is in use by quench dev (pid %d, running since ", dataDir, os.Getpid())

	err = devRun(context.Background(), &DevOptions{IO: io, Config: config, NoUI: true, HTTPListen: "127.0.0.1:0", LogLevel: "error"})
	require.ErrorContains(t, err, want)
	require.ErrorContains(t, err, "quench dev cannot use it at the same time; stop that process or pass another --data-dir")
	assert.Empty(t, stdout.String())

	got, err := os.ReadFile(table)
	require.NoError(t, err)
	assert.Equal(t, string(live), string(got), "the live routing table was rewritten")
	info, err := os.Stat(table)
	require.NoError(t, err)
	assert.True(t, info.ModTime().Equal(old), "the live routing table was touched: mtime %s", info.ModTime())
	assert.NoDirExists(t, filepath.Join(dataDir, "evidence"))
	assert.NoFileExists(t, filepath.Join(dataDir, devserver.DBFile))
	assert.NoFileExists(t, filepath.Join(dataDir, store.SQLiteFile))
	assert.NoFileExists(t, filepath.Join(dataDir, AddressFile))
}

// Workers and servers share a data dir with each other, but a quench dev is refused while
// one of them runs on it.
func TestDevIsRefusedWhileAWorkerSharesTheDataDir(t *testing.T) {
	dataDir := t.TempDir()
	// What quench worker and quench server take (internal/cli/serve).
	worker, err := datadir.AcquireShared(dataDir, "quench worker")
	require.NoError(t, err)
	defer worker.Release()
	server, err := datadir.AcquireShared(dataDir, "quench server")
	require.NoError(t, err, "a server shares the data dir with a worker")
	defer server.Release()

	cfg := configtest.Load(t, dataDir, "")
	io, _, _, _ := cmdutil.Test()
	err = devRun(context.Background(), &DevOptions{IO: io, Config: func() (*config.Config, error) { return cfg, nil },
		NoUI: true, HTTPListen: "127.0.0.1:0", LogLevel: "error"})
	require.ErrorContains(t, err, "is in use by another quench process (a quench worker or quench server sharing it")
	assert.NoFileExists(t, filepath.Join(dataDir, routetable.FileName))
}

func TestUIWriteActionsFlag(t *testing.T) {
	io, _, _, _ := cmdutil.Test()
	for _, tc := range []struct {
		args []string
		want bool
	}{{nil, false}, {[]string{"--ui-write-actions"}, true}} {
		var got *DevOptions
		cmd := NewCmdDev(&cmdutil.Factory{IO: io}, func(_ context.Context, o *DevOptions) error { got = o; return nil })
		cmd.SetArgs(tc.args)
		require.NoError(t, cmd.Execute())
		assert.Equal(t, tc.want, got.UIWriteActions, "%v", tc.args)
	}
}
