package ingest

import (
	"context"
	"sync/atomic"

	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
)

// The SDK's SignalWithStartWorkflow does not say whether it started a workflow or
// signalled a running one; the server's response does. ClientDialOption installs a gRPC
// interceptor that copies that answer into a probe the dispatcher puts in the call's
// context, so a webhook's answer and the metrics can tell a new incident from a known one.

// ClientDialOption is for client.Options.ConnectionOptions.DialOptions of the Temporal
// client the dispatcher uses. Without it every commit reports "signalled".
func ClientDialOption() grpc.DialOption {
	return grpc.WithChainUnaryInterceptor(startedInterceptor)
}

type startedProbeKey struct{}

// startedProbe receives the Started flag of a SignalWithStartWorkflowExecution response.
type startedProbe struct{ started atomic.Bool }

func withStartedProbe(ctx context.Context) (context.Context, *startedProbe) {
	p := &startedProbe{}
	return context.WithValue(ctx, startedProbeKey{}, p), p
}

// markStarted records that the call carrying ctx started a workflow (the interceptor, and
// fakes in tests, call it).
func markStarted(ctx context.Context) {
	if p, ok := ctx.Value(startedProbeKey{}).(*startedProbe); ok {
		p.started.Store(true)
	}
}

func startedInterceptor(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	if err == nil {
		if r, ok := reply.(*workflowservice.SignalWithStartWorkflowExecutionResponse); ok && r.GetStarted() {
			markStarted(ctx)
		}
	}
	return err
}
