package serve

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/config/configtest"
)

// quench worker and server refuse a config with two prompt targets before starting
// anything: no cluster dialled (quench dev's own test is in internal/cli/dev).
func TestStartRefusesTwoPromptTargets(t *testing.T) {
	t.Setenv("QUENCH_TEST_GH_TOKEN", "tok")
	dataDir := t.TempDir()
	cfg := configtest.Load(t, dataDir, configtest.TwoPromptTargets)
	io, _, _, _ := cmdutil.Test()
	config := func() (*config.Config, error) { return cfg, nil }

	never := func() bool { return false }
	for name, run := range map[string]func(context.Context, *RemoteOptions) error{"worker": workerRun, "server": serverRun} {
		err := run(context.Background(), &RemoteOptions{IO: io, Config: config, AddressFlag: never, NamespaceFlag: never, LogLevel: "error"})
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "prompts: both github and git are configured", name)
	}
}
