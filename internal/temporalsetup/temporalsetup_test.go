package temporalsetup_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/quench-dev/quench/internal/devserver"
	"github.com/quench-dev/quench/internal/temporalsetup"
	"github.com/quench-dev/quench/workflows"
)

// One embedded server for the package: each test uses namespaces of its own.
var srv *devserver.Server

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	dir, err := mkdirTemp()
	if err != nil {
		panic(err)
	}
	srv, err = devserver.Start(ctx, devserver.Options{DataDir: dir, UIPort: devserver.NoUI,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	cancel()
	if err != nil {
		panic(err)
	}
	code := m.Run()
	_ = srv.Stop()
	removeAll(dir)
	exit(code)
}

func dial(t *testing.T, namespace string, opts ...grpc.DialOption) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: srv.FrontendAddress(), Namespace: namespace,
		ConnectionOptions: client.ConnectionOptions{DialOptions: opts}})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func results(rep *temporalsetup.Report) map[string]string {
	out := map[string]string{}
	for _, a := range rep.Actions {
		out[a.Kind+":"+a.Name] = a.Result
	}
	return out
}

// A fresh namespace: the first run creates it and every search attribute, and a workflow
// can start with them at once; the second run creates nothing and says so.
func TestEnsureCreatesThenFindsEverythingPresent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const ns = "quench-setup-fresh"
	c := dial(t, ns)
	opts := temporalsetup.Options{Namespace: ns, Address: srv.FrontendAddress(), Retention: 48 * time.Hour}

	dry, err := temporalsetup.Ensure(ctx, c, temporalsetup.Options{Namespace: ns, DryRun: true})
	require.ErrorIs(t, err, temporalsetup.ErrNamespaceNotFound)
	assert.Equal(t, map[string]string{"namespace:" + ns: temporalsetup.Missing}, results(dry))

	first, err := temporalsetup.Ensure(ctx, c, opts)
	require.NoError(t, err)
	assert.True(t, first.Changed)
	assert.True(t, first.Ready)
	want := map[string]string{"namespace:" + ns: temporalsetup.Created}
	for _, name := range workflows.SearchAttributes {
		want["search_attribute:"+name] = temporalsetup.Created
	}
	assert.Equal(t, want, results(first))
	assert.Equal(t, "created namespace "+ns+" (retention 48h0m0s)", first.Actions[0].String())

	desc, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
	require.NoError(t, err)
	assert.Equal(t, 48*time.Hour, desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration())
	status := temporal.NewSearchAttributeKeyKeyword(workflows.SearchStatus)
	_, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "setup-probe", TaskQueue: "nobody-polls",
		TypedSearchAttributes: temporal.NewSearchAttributes(status.ValueSet("running"))}, "probe")
	require.NoError(t, err, "a start with quench's search attributes is refused right after setup")

	second, err := temporalsetup.Ensure(ctx, c, opts)
	require.NoError(t, err)
	assert.False(t, second.Changed, "the second run changed something: %+v", second.Actions)
	assert.True(t, second.Ready)
	for k := range want {
		want[k] = temporalsetup.Present
	}
	assert.Equal(t, want, results(second))
	assert.Equal(t, "search attribute QuenchRunbook (Keyword) already present", findAction(t, second, workflows.SearchRunbook).String())
}

func findAction(t *testing.T, rep *temporalsetup.Report, name string) temporalsetup.Action {
	t.Helper()
	for _, a := range rep.Actions {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("no action for %s in %+v", name, rep.Actions)
	return temporalsetup.Action{}
}

// A search attribute that exists with another type is an error naming it and its type;
// nothing is added.
func TestEnsureRefusesASearchAttributeOfAnotherType(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const ns = "quench-setup-wrongtype"
	c := dial(t, ns)
	_, err := c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: ns, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)})
	require.NoError(t, err)
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: ns,
		SearchAttributes: map[string]enumspb.IndexedValueType{workflows.SearchSeverity: enumspb.INDEXED_VALUE_TYPE_INT}})
	require.NoError(t, err)

	_, err = temporalsetup.Ensure(ctx, c, temporalsetup.Options{Namespace: ns, Retention: time.Hour})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "QuenchSeverity is Int, quench needs Keyword")
	assert.Contains(t, err.Error(), ns)

	listed, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	require.NoError(t, err)
	_, added := listed.GetCustomAttributes()[workflows.SearchRunbook]
	assert.False(t, added, "setup added attributes although it refused the namespace")
}

// denyMethod answers PermissionDenied for one RPC, as a cluster's authorizer would.
func denyMethod(suffix string) grpc.DialOption {
	return grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if strings.HasSuffix(method, suffix) {
			return status.Error(codes.PermissionDenied, "Request unauthorized.")
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	})
}

// An identity that may not register namespaces or add search attributes gets a
// LacksPermission action naming the call, and an error saying whom to ask.
func TestEnsureSaysWhichPermissionItLacks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	const ns = "quench-setup-denied"
	rep, err := temporalsetup.Ensure(ctx, dial(t, ns, denyMethod("/RegisterNamespace")), temporalsetup.Options{Namespace: ns, Retention: time.Hour})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `lacks permission to register namespace "quench-setup-denied"`)
	require.Len(t, rep.Actions, 1)
	assert.Equal(t, "lacks permission: register namespace quench-setup-denied (WorkflowService/RegisterNamespace)", rep.Actions[0].String())
	assert.False(t, rep.Ready)

	// The namespace exists (made by an admin) but the attributes may not be added.
	admin := dial(t, ns)
	_, err = admin.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: ns, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)})
	require.NoError(t, err)
	rep, err = temporalsetup.Ensure(ctx, admin, temporalsetup.Options{Namespace: ns, DryRun: true})
	require.NoError(t, err)
	assert.False(t, rep.Ready)
	assert.False(t, rep.Changed)
	want := map[string]string{"namespace:" + ns: temporalsetup.Present}
	for _, name := range workflows.SearchAttributes {
		want["search_attribute:"+name] = temporalsetup.Missing
	}
	assert.Equal(t, want, results(rep), "a dry run reports what is missing")

	rep, err = temporalsetup.Ensure(ctx, dial(t, ns, denyMethod("/AddSearchAttributes")), temporalsetup.Options{Namespace: ns, Retention: time.Hour})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "lacks permission to add search attributes QuenchRunbook, QuenchService, QuenchSeverity, QuenchShortID, QuenchStatus")
	last := rep.Actions[len(rep.Actions)-1]
	assert.Equal(t, temporalsetup.LacksPermission, last.Result)
	assert.Contains(t, last.String(), "(OperatorService/AddSearchAttributes)")
}
