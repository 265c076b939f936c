package setup

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/devserver"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/targets/gateway/routetable"
	"github.com/quench-dev/quench/internal/temporalsetup"
	"github.com/quench-dev/quench/workflows"
)

func startTemporal(t *testing.T) *devserver.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Options{DataDir: t.TempDir(), UIPort: devserver.NoUI,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	return srv
}

func options(t *testing.T, srv *devserver.Server, namespace string) (*SetupOptions, *strings.Builder) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "quench.yaml")
	yaml := fmt.Sprintf("data_dir: %s\ntemporal:\n  address: %s\n  namespace: %s\n  retention: 72h\ngateway:\n  routes:\n    chat: [openai, anthropic]\n",
		t.TempDir(), srv.FrontendAddress(), namespace)
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
	cfg, err := config.Load(path)
	require.NoError(t, err)
	ios, _, _, _ := cmdutil.Test()
	out := &strings.Builder{}
	ios.Out = out
	yes := func() bool { return true } // the config's address and namespace beat TEMPORAL_*
	return &SetupOptions{IO: ios, Config: func() (*config.Config, error) { return cfg, nil },
		AddressFlag: yes, NamespaceFlag: yes, Format: cmdutil.FormatTable, Wait: 30 * time.Second}, out
}

// On a fresh namespace the first run says what it created, the second that there is
// nothing to do, and -o json carries the same report.
func TestSetupCreatesThenHasNothingToDo(t *testing.T) {
	srv := startTemporal(t)
	const ns = "quench-cli-fresh"
	opts, out := options(t, srv, ns)

	opts.DryRun = true
	require.NoError(t, setupRun(context.Background(), opts))
	assert.Equal(t, "namespace "+ns+" missing\nroute chat (openai, anthropic) missing\ndry run: nothing changed; run `quench setup` to create what is missing\n", out.String())

	out.Reset()
	opts.DryRun = false
	require.NoError(t, setupRun(context.Background(), opts))
	want := "created namespace " + ns + " (retention 72h0m0s)\n"
	for _, name := range []string{"QuenchRunbook", "QuenchService", "QuenchSeverity", "QuenchShortID", "QuenchStatus"} {
		want += "created search attribute " + name + " (Keyword)\n"
	}
	want += "created route chat (openai, anthropic; on openai)\n"
	want += "namespace " + ns + " is ready for quench worker and quench server\n"
	assert.Equal(t, want, out.String())

	out.Reset()
	require.NoError(t, setupRun(context.Background(), opts))
	assert.Contains(t, out.String(), "namespace "+ns+" already present (retention 72h0m0s)\n")
	assert.Contains(t, out.String(), "search attribute QuenchStatus (Keyword) already present\n")
	assert.Contains(t, out.String(), "route chat (openai, anthropic) already present\n")
	assert.True(t, strings.HasSuffix(out.String(), "nothing to do: the namespace, every search attribute and the routes were already in place\n"), out.String())
	assert.NotContains(t, out.String(), "created")

	out.Reset()
	opts.Format = cmdutil.FormatJSON
	require.NoError(t, setupRun(context.Background(), opts))
	var rep temporalsetup.Report
	require.NoError(t, json.Unmarshal([]byte(out.String()), &rep), out.String())
	assert.Equal(t, ns, rep.Namespace)
	assert.False(t, rep.Changed)
	assert.True(t, rep.Ready)
	assert.Len(t, rep.Actions, 1+len(workflows.SearchAttributes)+1)
}

// setup applies a changed gateway.routes, one line per change, and keeps a route an open
// incident holds, saying why.
func TestSetupAppliesRoutesAndKeepsHeldOnes(t *testing.T) {
	srv := startTemporal(t)
	opts, out := options(t, srv, "quench-cli-routes")
	ctx := context.Background()
	require.NoError(t, setupRun(ctx, opts))
	cfg, err := opts.Config()
	require.NoError(t, err)

	cfg.Gateway.Routes = map[string][]string{"chat": {"openai", "anthropic", "local"}, "search": {"cohere"}}
	opts.DryRun = true
	out.Reset()
	require.NoError(t, setupRun(ctx, opts))
	assert.Contains(t, out.String(), "would be updated route chat: providers openai, anthropic → openai, anthropic, local, on openai\n")
	assert.Contains(t, out.String(), "route search (cohere) missing\n")
	opts.DryRun = false
	out.Reset()
	require.NoError(t, setupRun(ctx, opts))
	assert.Contains(t, out.String(), "updated route chat: providers openai, anthropic → openai, anthropic, local, on openai\n")
	assert.Contains(t, out.String(), "created route search (cohere; on cohere)\n")

	// An incident switches chat (through a table on the same store, as a worker would).
	db, err := store.OpenSQLite(filepath.Join(cfg.DataDir, store.SQLiteFile))
	require.NoError(t, err)
	defer db.Close()
	table, err := routetable.Open(ctx, db)
	require.NoError(t, err)
	_, err = table.Switch(ctx, ports.SwitchRequest{Route: "chat", To: "fallback", Holder: "inc-7", Key: "inc-7/failover", Previous: &ports.RouteState{Provider: "openai"}})
	require.NoError(t, err)

	cfg.Gateway.Routes = map[string][]string{"search": {"cohere"}}
	out.Reset()
	require.NoError(t, setupRun(ctx, opts))
	assert.Contains(t, out.String(), "kept route chat (openai, anthropic, local) on anthropic: held by open incident inc-7, and the configuration removes it")
	routes, _, err := table.Routes()
	require.NoError(t, err)
	require.Len(t, routes, 2, "the held route was dropped")
	assert.Equal(t, "anthropic", routes[0].Provider)
}

// A search attribute quench needs, present with another type: the command fails naming it
// (exit 1 through the root), after printing what it found.
func TestSetupNamesASearchAttributeOfTheWrongType(t *testing.T) {
	srv := startTemporal(t)
	const ns = "quench-cli-wrongtype"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.Dial(client.Options{HostPort: srv.FrontendAddress(), Namespace: ns})
	require.NoError(t, err)
	defer c.Close()
	_, err = c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: ns, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)})
	require.NoError(t, err)
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: ns,
		SearchAttributes: map[string]enumspb.IndexedValueType{workflows.SearchShortID: enumspb.INDEXED_VALUE_TYPE_TEXT}})
	require.NoError(t, err)

	opts, out := options(t, srv, ns)
	err = setupRun(ctx, opts)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "QuenchShortID is Text, quench needs Keyword")
	assert.Contains(t, out.String(), "namespace "+ns+" already present")
	assert.NotContains(t, out.String(), "nothing to do")
}

func TestSetupFlags(t *testing.T) {
	ios, _, _, _ := cmdutil.Test()
	var got *SetupOptions
	cmd := NewCmdSetup(&cmdutil.Factory{IO: ios}, func(_ context.Context, o *SetupOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--dry-run", "-o", "json", "--wait", "5s"})
	require.NoError(t, cmd.Execute())
	assert.True(t, got.DryRun)
	assert.Equal(t, cmdutil.FormatJSON, got.Format)
	assert.Equal(t, 5*time.Second, got.Wait)

	cmd = NewCmdSetup(&cmdutil.Factory{IO: ios}, func(context.Context, *SetupOptions) error { return nil })
	cmd.SetArgs([]string{"-o", "xml"})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	require.ErrorContains(t, cmd.Execute(), `unknown output format "xml"`)
}

// On a terminal each line has a mark (+ created, = present, ! missing or refused) under a
// header naming the cluster; scripts get the bare lines.
func TestSetupReportOnATerminal(t *testing.T) {
	rep := &temporalsetup.Report{Address: "temporal.internal:7233", Namespace: "quench", Changed: true, Ready: true, Actions: []temporalsetup.Action{
		{Kind: temporalsetup.KindNamespace, Name: "quench", Result: temporalsetup.Created, Detail: "retention 720h0m0s"},
		{Kind: temporalsetup.KindSearchAttribute, Name: "QuenchRunbook", Type: "Keyword", Result: temporalsetup.Present},
	}}
	ios, _, out, _ := cmdutil.Test()
	ios.TTY = true
	writeReport(ios, rep, false, true)
	assert.Equal(t, "Temporal temporal.internal:7233, namespace quench\n"+
		"  + created namespace quench (retention 720h0m0s)\n"+
		"  = search attribute QuenchRunbook (Keyword) already present\n"+
		"namespace quench is ready for quench worker and quench server\n", out.String())

	out.Reset()
	rep.Actions = append(rep.Actions, temporalsetup.Action{Kind: temporalsetup.KindSearchAttribute, Name: "QuenchStatus", Type: "Keyword",
		Result: temporalsetup.LacksPermission, Detail: "add search attributes QuenchStatus to namespace quench (OperatorService/AddSearchAttributes)"})
	writeReport(ios, rep, false, false)
	assert.Contains(t, out.String(), "  ! lacks permission: add search attributes QuenchStatus to namespace quench (OperatorService/AddSearchAttributes)\n")
	assert.NotContains(t, out.String(), "is ready", "a failed run does not claim the namespace is ready")
}
