package devstack

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"google.golang.org/grpc"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/app"
	"github.com/quench-dev/quench/internal/devserver"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/trust"
	"github.com/quench-dev/quench/runbooks"
	"github.com/quench-dev/quench/workflows"
)

// queryGate holds the worker's next query task between the poll that received it and the
// SDK that processes it, so a test can put the decision's workflow task in between.
type queryGate struct {
	mu      sync.Mutex
	held    chan struct{} // closed when a query task is being held; nil: not armed
	release chan struct{} // close to let it through
}

// arm holds the next query task: held is closed once it is held, closing release lets it go.
func (g *queryGate) arm() (held, release chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.held, g.release = make(chan struct{}), make(chan struct{})
	return g.held, g.release
}

// intercept is a gRPC client interceptor on the worker's connection.
func (g *queryGate) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	resp, ok := reply.(*workflowservice.PollWorkflowTaskQueueResponse)
	if err != nil || !ok || resp.GetQuery() == nil {
		return err
	}
	g.mu.Lock()
	held, release := g.held, g.release
	g.held = nil
	g.mu.Unlock()
	if held != nil {
		close(held)
		<-release
	}
	return err
}

// A status query the server handed to the worker's sticky queue while the incident waited
// for approval, but that the worker only processes after the decision closed the incident
// (so the incident is no longer in the worker's cache), is answered. This is the order of
// events behind the flaky `quench demo` failure "[TMPRL1100] invalid state transition:
// attempt to handleCanceledEvent, CommandType: Timer": the demo's watch queries on every
// history event while the demo sends the decision.
func TestQueryDispatchedBeforeADecisionThatClosesIsAnswered(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := devserver.Start(ctx, devserver.Options{DataDir: filepath.Join(dir, "data"), FrontendPort: 0, UIPort: devserver.NoUI, Logger: logger})
	require.NoError(t, err)
	defer func() { _ = srv.Stop() }()

	gate := &queryGate{}
	dial := func(opts ...grpc.DialOption) client.Client {
		c, err := client.Dial(app.TemporalClientOptions(client.Options{HostPort: srv.FrontendAddress(), Namespace: srv.Namespace(), Logger: sdklog.NewStructuredLogger(logger),
			ConnectionOptions: client.ConnectionOptions{DialOptions: opts}}))
		require.NoError(t, err)
		return c
	}
	workerClient := dial(grpc.WithChainUnaryInterceptor(gate.intercept))
	defer workerClient.Close()
	testClient := dial()
	defer testClient.Close()

	opts := app.WorkerOptions()
	// The server waits this long for the sticky worker to answer a query before it sends the
	// query to the normal queue; the test holds the query for longer than quench's 1 s.
	opts.StickyScheduleToStartTimeout = time.Minute
	opts.MaxConcurrentWorkflowTaskPollers = 4
	w := worker.New(workerClient, workflows.TaskQueue, opts)
	workflows.Register(w)
	// Decisions count only when a front door signed them: this test is that front door.
	signer, err := trust.NewSigner(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	require.NoError(t, err)
	activities.Register(w, activities.Deps{Policy: activities.Policy{OpenGroups: true, DecisionKeys: []ed25519.PublicKey{signer.PublicKey()}}, Logger: logger})
	require.NoError(t, w.Start())
	defer w.Stop()

	rbDir := filepath.Join(dir, "runbooks")
	require.NoError(t, os.MkdirAll(rbDir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(rbDir, "gate-timeout.yaml"), []byte(gateTimeoutRunbook), 0o644))
	lib, err := runbooks.LoadLibrary(rbDir)
	require.NoError(t, err)
	svc := incidents.New(testClient, lib, srv.Namespace())
	svc.Signer = signer

	for _, verdict := range []string{workflows.VerdictReject, workflows.VerdictApprove} {
		t.Run(verdict, func(t *testing.T) {
			started, err := svc.Start(ctx, incidents.StartRequest{Runbook: "gate-timeout", Requester: "cli:tester", Source: "cli"})
			require.NoError(t, err)
			id := started.IncidentID
			_, err = svc.Signal(ctx, id, workflows.SignalResolve, workflows.Resolve{By: "cli:tester"})
			require.NoError(t, err)
			// Wait (event-driven) until the approval is asked, its timer pending.
			wctx, stopWatch := context.WithCancel(ctx)
			_, _ = svc.Watch(wctx, id, func(e workflows.Event, _ workflows.Status) {
				if e.Kind == workflows.EventApprovalAsked {
					stopWatch()
				}
			})
			stopWatch()
			st, err := svc.Status(ctx, id)
			require.NoError(t, err)
			require.Len(t, st.Pending, 1, "the approval is pending")

			// A query reaches the worker while the incident waits; the worker holds it.
			held, release := gate.arm()
			type answer struct {
				st  workflows.Status
				err error
			}
			queried := make(chan answer, 1)
			go func() {
				st, err := svc.Status(ctx, id)
				queried <- answer{st, err}
			}()
			select {
			case <-held:
			case <-ctx.Done():
				t.Fatal("the query never reached the worker")
			}
			// The decision is taken and the incident closes meanwhile.
			_, err = svc.Decide(ctx, id, workflows.Decision{StepID: "failback", Approver: "cli:other", Via: "cli", Verdict: verdict})
			require.NoError(t, err)
			require.NoError(t, testClient.GetWorkflow(ctx, id, "").Get(ctx, nil))

			close(release)
			got := <-queried
			require.NoError(t, got.err, "the query that waited across the decision")
			// Answered from a replay that ran the decision: the incident as it closed.
			require.NotNil(t, got.st.ClosedAt, "the answer shows the incident closed")
			require.Empty(t, got.st.Pending)
			want := workflows.StepRejected
			if verdict == workflows.VerdictApprove {
				want = workflows.StepDone
			}
			require.Equal(t, want, got.st.Steps[1].State, "the answer shows the decision")
		})
	}
}
