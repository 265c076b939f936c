package incidents

import (
	"context"
	"errors"
	"testing"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"
)

func TestExplainMarksTheKind(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		kind error
	}{
		{"unknown workflow", serviceerror.NewNotFound("workflow not found"), ErrNotFound},
		{"closed workflow", serviceerror.NewNotFound("workflow execution already completed"), ErrConflict},
		{"frontend down", serviceerror.NewUnavailable("connection refused"), ErrUnavailable},
		{"deadline", serviceerror.NewDeadlineExceeded("context deadline exceeded"), ErrUnavailable},
		{"dial refused", errors.New("dial tcp 127.0.0.1:7233: connect: connection refused"), ErrUnavailable},
		{"params changed", temporal.NewApplicationError("the step's params changed: review again", ""), ErrConflict},
		{"already decided", temporal.NewApplicationError("step failback is already decided: a decision that completed first won", ""), ErrConflict},
		{"not a member", temporal.NewApplicationError("mallory may not decide on step failback: not a member of sre", ""), ErrRefused},
		{"four eyes", temporal.NewApplicationError("carol started this incident and step rollback needs four eyes", ""), ErrRefused},
		{"typed conflict", temporal.NewApplicationError("anything", "Conflict"), ErrConflict},
	} {
		got := explain(tc.err)
		for _, k := range []error{ErrNotFound, ErrConflict, ErrRefused, ErrUnavailable} {
			if errors.Is(got, k) != (k == tc.kind) {
				t.Errorf("%s: explain(%v) = %v; errors.Is %v = %t", tc.name, tc.err, got, k, errors.Is(got, k))
			}
		}
	}
	if IsUnavailable(context.Canceled) {
		t.Error("a canceled context is not Temporal being down")
	}
}
