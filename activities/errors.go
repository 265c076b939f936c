package activities

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/quench-dev/quench/internal/ports"
)

// Error types of non-retryable failures, so the workflow and the UI can tell them apart.
const (
	ErrTypeInvalidParams = "InvalidParams" // fix the runbook or the start params
	ErrTypeNotConfigured = "NotConfigured" // start quench with the missing target configured
	ErrTypeConflict      = "Conflict"      // the world is not in the state the step expects
	ErrTypePermanent     = "Permanent"     // an adapter said a retry cannot help
)

// ErrTypeRateLimited is the type of a retryable failure that waits the remote side's
// Retry-After before the next attempt.
const ErrTypeRateLimited = "RateLimited"

// invalidParams fails the step without retries: the runbook or its params must change.
func invalidParams(action, format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(action+": "+fmt.Sprintf(format, args...), ErrTypeInvalidParams, nil)
}

// notConfigured fails the step without retries: quench must be started with a target.
func notConfigured(msg string) error {
	return temporal.NewNonRetryableApplicationError(msg, ErrTypeNotConfigured, nil)
}

// classify turns an adapter error into the activity's error: permanent ones stop retries,
// the rest are retried by Temporal with the step's retry policy.
func classify(action string, err error) error {
	if err == nil {
		return nil
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return err
	}
	if ports.IsPermanent(err) {
		return temporal.NewNonRetryableApplicationError(action+": "+err.Error(), ErrTypePermanent, err)
	}
	if delay, ok := ports.RetryDelay(err); ok {
		return temporal.NewApplicationErrorWithOptions(action+": "+err.Error(), ErrTypeRateLimited,
			temporal.ApplicationErrorOptions{Cause: err, NextRetryDelay: delay})
	}
	return fmt.Errorf("%s: %w", action, err)
}
