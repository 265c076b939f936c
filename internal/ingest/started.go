package ingest

import (
	"context"
	"sync/atomic"

	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
)

// The SDK's SignalWithStartWorkflow and ExecuteWorkflow (with the use-existing conflict
// policy) do not say whether they started a workflow or found a running one; the server's
// response does. ClientDialOption installs a gRPC interceptor that copies that answer into
// a probe the dispatcher puts in the call's context: a webhook's answer and the metrics tell
// a new incident from a known one, and an eager start with the alerts in its input knows
// whether they were taken (started) or must still be signalled (found running).

// ClientDialOption is for client.Options.ConnectionOptions.DialOptions of the Temporal
// client the dispatcher uses. Without it every commit reports "signalled", and
// DispatchOptions.EagerStart must stay off.
func ClientDialOption() grpc.DialOption {
	return grpc.WithChainUnaryInterceptor(startedInterceptor)
}

type startedProbeKey struct{}

// startedProbe receives the Started flag of a (SignalWith)StartWorkflowExecution response;
// answered says a response was seen at all.
type startedProbe struct{ started, answered atomic.Bool }

func withStartedProbe(ctx context.Context) (context.Context, *startedProbe) {
	p := &startedProbe{}
	return context.WithValue(ctx, startedProbeKey{}, p), p
}

// markStarted records that the call carrying ctx started a workflow (the interceptor, and
// fakes in tests, call it).
func markStarted(ctx context.Context) { markAnswered(ctx, true) }

// markAnswered records the server's answer to the start carrying ctx.
func markAnswered(ctx context.Context, started bool) {
	if p, ok := ctx.Value(startedProbeKey{}).(*startedProbe); ok {
		p.answered.Store(true)
		if started {
			p.started.Store(true)
		}
	}
}

func startedInterceptor(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	if err == nil {
		switch r := reply.(type) {
		case *workflowservice.SignalWithStartWorkflowExecutionResponse:
			markAnswered(ctx, r.GetStarted())
		case *workflowservice.StartWorkflowExecutionResponse:
			markAnswered(ctx, r.GetStarted())
		}
	}
	return err
}
