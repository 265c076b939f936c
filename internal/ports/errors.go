package ports

import (
	"errors"
	"fmt"
	"time"
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
