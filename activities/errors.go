package activities

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
)

// Error types of non-retryable failures, so the workflow and the UI can tell them apart.
const (
	ErrTypeInvalidParams = "InvalidParams" // fix the runbook or the start params
	ErrTypeNotConfigured = "NotConfigured" // start quench with the missing target configured
	ErrTypeConflict      = "Conflict"      // the world is not in the state the step expects
	ErrTypePermanent     = "Permanent"     // an adapter said a retry cannot help
)

// permanentError marks an adapter error that a retry cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as one a retry cannot fix (bad input, misconfiguration, a conflict a
// human must resolve). Adapters use it; activities turn it into a non-retryable failure.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// Permanentf is Permanent(fmt.Errorf(format, args...)).
func Permanentf(format string, args ...any) error {
	return Permanent(fmt.Errorf(format, args...))
}

// IsPermanent reports whether err, or an error it wraps, was marked Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// retryAfterError marks an adapter error the remote side asked to retry after a delay (a
// 429 or 503 with Retry-After).
type retryAfterError struct {
	err   error
	delay time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// RetryAfter marks err as retryable no sooner than delay: the activity turns it into a
// retryable failure whose next retry waits delay (Temporal's NextRetryDelay) instead of
// the step's backoff. A zero delay leaves err as it is.
func RetryAfter(err error, delay time.Duration) error {
	if err == nil || delay <= 0 {
		return err
	}
	return &retryAfterError{err: err, delay: delay}
}

// RetryDelay reports the delay a RetryAfter error asked for.
func RetryDelay(err error) (time.Duration, bool) {
	var r *retryAfterError
	if errors.As(err, &r) {
		return r.delay, true
	}
	return 0, false
}

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
	if IsPermanent(err) {
		return temporal.NewNonRetryableApplicationError(action+": "+err.Error(), ErrTypePermanent, err)
	}
	if delay, ok := RetryDelay(err); ok {
		return temporal.NewApplicationErrorWithOptions(action+": "+err.Error(), ErrTypeRateLimited,
			temporal.ApplicationErrorOptions{Cause: err, NextRetryDelay: delay})
	}
	return fmt.Errorf("%s: %w", action, err)
}
