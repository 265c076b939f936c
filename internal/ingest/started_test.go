package ingest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
)

func TestStartedInterceptorReportsANewIncident(t *testing.T) {
	answer := func(started bool) grpc.UnaryInvoker {
		return func(_ context.Context, _ string, _, reply any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
			reply.(*workflowservice.SignalWithStartWorkflowExecutionResponse).Started = started
			return nil
		}
	}
	const method = "/temporal.api.workflowservice.v1.WorkflowService/SignalWithStartWorkflowExecution"
	for _, started := range []bool{true, false} {
		ctx, probe := withStartedProbe(context.Background())
		err := startedInterceptor(ctx, method, nil, &workflowservice.SignalWithStartWorkflowExecutionResponse{}, nil, answer(started))
		assert.NoError(t, err)
		assert.Equal(t, started, probe.started.Load())
	}
	// Without a probe (any other caller of the client) it only passes the call through.
	err := startedInterceptor(context.Background(), method, nil, &workflowservice.SignalWithStartWorkflowExecutionResponse{}, nil, answer(true))
	assert.NoError(t, err)
}

// An eager start's answer is read too: started, or found running (answered, not started).
func TestStartedInterceptorReadsAStartsAnswer(t *testing.T) {
	const method = "/temporal.api.workflowservice.v1.WorkflowService/StartWorkflowExecution"
	for _, started := range []bool{true, false} {
		ctx, probe := withStartedProbe(context.Background())
		err := startedInterceptor(ctx, method, nil, &workflowservice.StartWorkflowExecutionResponse{}, nil,
			func(_ context.Context, _ string, _, reply any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
				reply.(*workflowservice.StartWorkflowExecutionResponse).Started = started
				return nil
			})
		assert.NoError(t, err)
		assert.True(t, probe.answered.Load())
		assert.Equal(t, started, probe.started.Load())
	}
}
