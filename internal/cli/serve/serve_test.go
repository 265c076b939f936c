package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quench-dev/quench/internal/app"
	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/devserver"
	"github.com/quench-dev/quench/internal/devstack"
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

// quench dev, worker and server refuse a config with two prompt targets before starting
// anything: no Temporal database in the data dir, no cluster dialled.
func TestStartRefusesTwoPromptTargets(t *testing.T) {
	t.Setenv("QUENCH_TEST_GH_TOKEN", "tok")
	dataDir := t.TempDir()
	cfg := loadConfig(t, dataDir, twoPromptTargets)
	io, _, stdout, _ := cmdutil.Test()
	config := func() (*config.Config, error) { return cfg, nil }

	err := devRun(context.Background(), &DevOptions{IO: io, Config: config, NoUI: true, HTTPListen: "127.0.0.1:0", LogLevel: "error"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "prompts: both github and git are configured")
	assert.Contains(t, err.Error(), "set prompts.kind: github|langfuse|git")
	assert.NoFileExists(t, filepath.Join(dataDir, devserver.DBFile), "Temporal was started before the config was checked")
	assert.Empty(t, stdout.String(), "no summary for a quench that did not start")

	never := func() bool { return false }
	for name, run := range map[string]func(context.Context, *RemoteOptions) error{"worker": workerRun, "server": serverRun} {
		err := run(context.Background(), &RemoteOptions{IO: io, Config: config, AddressFlag: never, NamespaceFlag: never, LogLevel: "error"})
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "prompts: both github and git are configured", name)
	}
}

// The summary prints what app.Resolve chose. With GitHub and Langfuse both configured and
// prompts.kind: langfuse, the prompts line says Langfuse (it used to say GitHub).
func TestSummaryPrintsTheResolvedChoices(t *testing.T) {
	t.Setenv("QUENCH_TEST_GH_TOKEN", "tok")
	t.Setenv("QUENCH_TEST_LF", "key")
	cfg := loadConfig(t, t.TempDir(), "github:\n  repo: acme/prompts\n  token: env:QUENCH_TEST_GH_TOKEN\n"+
		"traffic:\n  kind: langfuse\n  langfuse: {public_key: env:QUENCH_TEST_LF, secret_key: env:QUENCH_TEST_LF}\nprompts:\n  kind: langfuse\n")
	a, err := app.Resolve(cfg, nil)
	require.NoError(t, err)

	var out bytes.Buffer
	writeSummary(&out, summary{
		Addresses: devstack.Addresses{Temporal: "127.0.0.1:41001", Namespace: "default", HTTP: "127.0.0.1:41002"},
		Web:       &app.HTTP{HookSources: []string{"alertmanager", "generic"}, UnauthenticatedHooks: []string{"generic"}},
		DataDir:   cfg.DataDir, Runbooks: []string{"provider-outage", "prompt-regression"}, Choices: a.Choices,
	})
	lines := strings.Split(out.String(), "\n")
	line := func(label string) string {
		for _, l := range lines {
			if strings.HasPrefix(l, "  "+label+":") {
				return strings.TrimSpace(strings.TrimPrefix(l, "  "+label+":"))
			}
		}
		t.Fatalf("no %s line in:\n%s", label, out.String())
		return ""
	}
	assert.Equal(t, "127.0.0.1:41001 (namespace default)", line("Temporal"))
	assert.Equal(t, "http://127.0.0.1:41002  (API /api/v1, routes /v1/routes, /healthz, /readyz, /metrics)", line("HTTP"))
	assert.Equal(t, "POST /hooks/{alertmanager,generic}", line("Hooks"))
	assert.Equal(t, "2 (provider-outage, prompt-regression)", line("Runbooks"))
	for _, c := range a.Choices {
		assert.Equal(t, c.Adapter, line(c.Port), "the %s line is not Resolve's description", c.Port)
	}
	assert.True(t, strings.HasPrefix(line("Prompts"), "Langfuse "), line("Prompts"))
	assert.Contains(t, line("Freezes"), "GitHub acme/prompts")
	assert.True(t, strings.HasPrefix(line("Traffic"), "Langfuse observations"), line("Traffic"))
	assert.NotContains(t, out.String(), "Web UI:", "no UI line without a UI")
}

func TestAddressFileIsJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), AddressFile)
	want := devstack.Addresses{Temporal: "127.0.0.1:41001", Namespace: "default", HTTP: "127.0.0.1:41002", UI: "http://127.0.0.1:41003"}
	require.NoError(t, writeAddresses(path, want))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var got devstack.Addresses
	require.NoError(t, json.Unmarshal(data, &got))
	assert.Equal(t, want, got)
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "the temporary file is gone after the rename")
}
