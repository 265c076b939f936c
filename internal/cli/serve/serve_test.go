package serve

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/config"
)

func loadConfig(t *testing.T, dataDir, yaml string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "quench.yaml")
	require.NoError(t, os.WriteFile(path, []byte("data_dir: "+dataDir+"\n"+yaml), 0o600))
	cfg, err := config.Load(path)
	require.NoError(t, err)
	return cfg
}

const twoPromptTargets = "github:\n  repo: acme/prompts\n  token: env:QUENCH_TEST_GH_TOKEN\nprompts:\n  repo: ../my-app\n"

// quench worker and server refuse a config with two prompt targets before starting
// anything: no cluster dialled (quench dev's own test is in internal/cli/dev).
func TestStartRefusesTwoPromptTargets(t *testing.T) {
	t.Setenv("QUENCH_TEST_GH_TOKEN", "tok")
	dataDir := t.TempDir()
	cfg := loadConfig(t, dataDir, twoPromptTargets)
	io, _, _, _ := cmdutil.Test()
	config := func() (*config.Config, error) { return cfg, nil }

	never := func() bool { return false }
	for name, run := range map[string]func(context.Context, *RemoteOptions) error{"worker": workerRun, "server": serverRun} {
		err := run(context.Background(), &RemoteOptions{IO: io, Config: config, AddressFlag: never, NamespaceFlag: never, LogLevel: "error"})
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "prompts: both github and git are configured", name)
	}
}
