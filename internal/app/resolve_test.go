package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/incidents"
	promptslangfuse "github.com/quench-dev/quench/internal/targets/prompts/langfuse"
	"github.com/quench-dev/quench/runbooks"
	"github.com/quench-dev/quench/workflows"
)

// loadConfig reads yaml through config.Load, as quench does, with the data dir in a temp dir.
func loadConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "quench.yaml")
	require.NoError(t, os.WriteFile(path, []byte("data_dir: "+filepath.Join(dir, "data")+"\n"+yaml), 0o600))
	cfg, err := config.Load(path)
	require.NoError(t, err)
	return cfg
}

const (
	githubYAML   = "github:\n  repo: acme/prompts\n  token: env:QUENCH_TEST_GH_TOKEN\n"
	langfuseYAML = "traffic:\n  langfuse: {public_key: env:QUENCH_TEST_LF, secret_key: env:QUENCH_TEST_LF}\n"
)

func TestResolveWithoutConfigUsesTheEmbeddedTargets(t *testing.T) {
	a, err := Resolve(loadConfig(t, ""), discardLogger())
	require.NoError(t, err)
	assert.Same(t, a.Routes, a.Gateway, "the routing table is the gateway")
	assert.Nil(t, a.Prompts)
	assert.Nil(t, a.Traffic)
	assert.Nil(t, a.FreezeEnforcer)
	assert.Nil(t, a.Chat)
	var ports []string
	for _, c := range a.Choices {
		ports = append(ports, c.Port)
	}
	assert.Equal(t, []string{PortGateway, PortPrompts, PortTraffic, PortChat}, ports, "no Freezes line without an enforcer")
	assert.Equal(t, "embedded routing table (GET /v1/routes)", a.Choice(PortGateway))
	assert.Contains(t, a.Choice(PortPrompts), "none (pass --prompts-repo")
	assert.Contains(t, a.Choice(PortTraffic), "none (pass --traffic-log")
}

// Two prompt targets without prompts.kind: quench refuses to pick one and says what to do.
func TestResolveRefusesTwoPromptTargets(t *testing.T) {
	t.Setenv("QUENCH_TEST_GH_TOKEN", "tok")
	t.Setenv("QUENCH_TEST_LF", "key")
	for name, yaml := range map[string]string{
		"github and git":      githubYAML + "prompts:\n  repo: ../my-app\n",
		"github and langfuse": githubYAML + langfuseYAML + "prompts:\n  langfuse: {label: live}\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Resolve(loadConfig(t, yaml), discardLogger())
			require.Error(t, err)
			assert.Contains(t, err.Error(), "prompts: both "+name+" are configured")
			assert.Contains(t, err.Error(), "remove one or set prompts.kind: github|langfuse|git")
		})
	}
}

// The case the old precedence got wrong: GitHub and Langfuse both set up, Langfuse chosen.
// The one Langfuse adapter is the prompts target, GitHub still enforces freezes, and the
// description says exactly that.
func TestResolveExplicitPromptsKind(t *testing.T) {
	t.Setenv("QUENCH_TEST_GH_TOKEN", "tok")
	t.Setenv("QUENCH_TEST_LF", "key")
	a, err := Resolve(loadConfig(t, githubYAML+langfuseYAML+"prompts:\n  kind: langfuse\n  repo: ../my-app\n"), discardLogger())
	require.NoError(t, err)
	require.NotNil(t, a.LangfusePrompts)
	require.NotNil(t, a.GitHub)
	assert.Same(t, a.LangfusePrompts, a.Prompts)
	assert.Equal(t, enforcers{a.GitHub, a.LangfusePrompts}, a.FreezeEnforcer)
	assert.True(t, strings.HasPrefix(a.Choice(PortPrompts), "Langfuse https://cloud.langfuse.com (label production)"), a.Choice(PortPrompts))
	assert.Contains(t, a.Choice(PortPrompts), "prompts.repo ../my-app is not used (prompts.kind is langfuse)")
	assert.NotContains(t, a.Choice(PortPrompts), "GitHub")
	assert.Contains(t, a.Choice(PortFreezes), "GitHub acme/prompts")
	assert.Contains(t, a.Choice(PortFreezes), "Langfuse pins label production")

	a, err = Resolve(loadConfig(t, githubYAML+"prompts:\n  kind: github\n  repo: ../my-app\n"), discardLogger())
	require.NoError(t, err)
	assert.Same(t, a.GitHub, a.Prompts)
	assert.Equal(t, "GitHub acme/prompts (prompts/); prompts.repo ../my-app is not used (prompts.kind is github)", a.Choice(PortPrompts))
}

func TestPromptsKindGitHubNeedsGitHub(t *testing.T) {
	path := filepath.Join(t.TempDir(), "quench.yaml")
	require.NoError(t, os.WriteFile(path, []byte("prompts:\n  kind: github\n"), 0o600))
	_, err := config.Load(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "prompts.kind: github needs github.repo")
}

// A Slack token that cannot be read: the worker goes on without chat, the HTTP server
// (which must answer Slack) refuses to start, and the description says why.
func TestResolveUnusableSlack(t *testing.T) {
	cfg := loadConfig(t, "slack:\n  bot_token: env:QUENCH_TEST_UNSET_SLACK\n  channel: C0123\n  signing_secret: env:QUENCH_TEST_UNSET_SLACK\n")
	a, err := Resolve(cfg, discardLogger())
	require.NoError(t, err)
	require.Error(t, a.ChatErr)
	assert.Nil(t, a.Chat)
	assert.Contains(t, a.Choice(PortChat), "QUENCH_TEST_UNSET_SLACK")

	lib, err := runbooks.LoadLibrary("")
	require.NoError(t, err)
	_, err = HTTPServer(cfg, incidents.New(nil, lib, "default"), a, discardLogger())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "QUENCH_TEST_UNSET_SLACK")

	t.Setenv("QUENCH_TEST_UNSET_SLACK", "xoxb-1")
	a, err = Resolve(cfg, discardLogger())
	require.NoError(t, err)
	require.NotNil(t, a.Chat)
	assert.Equal(t, "Slack: cards in C0123; requests via POST /slack/{commands,interactions}", a.Choice(PortChat))
}

type recordedSignals struct{ got []string }

func (r *recordedSignals) SignalWorkflow(_ context.Context, id, _, name string, arg any) error {
	r.got = append(r.got, fmt.Sprintf("%s %s %v", id, name, arg.(workflows.Note).By))
	return nil
}

// The one Langfuse adapter tells incidents of a label moved back through the client the
// worker or the HTTP server connected first; a second Connect does not replace it.
func TestRepinSignalsThroughTheConnectedClient(t *testing.T) {
	a := &Adapters{}
	repin := promptslangfuse.Repin{Scope: "prompts", Prompt: "summarise", Label: "production", From: 4, To: 3, Holders: []string{"inc-a"}}
	a.noteRepin(context.Background(), repin) // before Connect: logged, not a panic

	first, second := &recordedSignals{}, &recordedSignals{}
	a.Connect(nil)
	a.Connect(first)
	a.Connect(second)
	a.noteRepin(context.Background(), repin)
	assert.Equal(t, []string{"inc-a " + workflows.SignalNote + " quench (langfuse freeze)"}, first.got)
	assert.Empty(t, second.got)
}
