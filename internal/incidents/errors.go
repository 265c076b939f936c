package incidents

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The kinds of failure a caller answers differently (the HTTP API maps each to a status
// code; its client maps them back). Test with errors.Is.
var (
	// ErrConflict: the incident moved on (closed, step already decided, params changed,
	// nothing pending); the request was right when it was made. HTTP 409.
	ErrConflict = errors.New("conflict")
	// ErrRefused: the incident's policy refused the decider (not in the group, four eyes,
	// no proof of who decided). HTTP 403.
	ErrRefused = errors.New("refused")
	// ErrUnavailable: Temporal cannot be reached now; retrying later may work. HTTP 503.
	ErrUnavailable = errors.New("temporal unavailable")
)

type kindError struct {
	err  error
	kind error
}

func (e kindError) Error() string        { return e.err.Error() }
func (e kindError) Unwrap() error        { return e.err }
func (e kindError) Is(target error) bool { return target == e.kind }

// NotFound marks err as naming no incident (errors.Is(err, ErrNotFound)).
func NotFound(err error) error { return mark(err, ErrNotFound) }

// Conflict marks err as a conflict with the incident's current state (errors.Is(err, ErrConflict)).
func Conflict(err error) error { return mark(err, ErrConflict) }

// Refused marks err as a refusal by the incident's policy (errors.Is(err, ErrRefused)).
func Refused(err error) error { return mark(err, ErrRefused) }

// Unavailable marks err as Temporal being unreachable (errors.Is(err, ErrUnavailable)).
func Unavailable(err error) error { return mark(err, ErrUnavailable) }

func mark(err, kind error) error {
	if err == nil || errors.Is(err, kind) {
		return err
	}
	return kindError{err: err, kind: kind}
}

// IsUnavailable reports whether err means Temporal could not be reached: a gRPC
// Unavailable or DeadlineExceeded, or a refused connection.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnavailable) {
		return true
	}
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	if errors.As(err, &unavailable) || errors.As(err, &deadline) {
		return true
	}
	if s, ok := status.FromError(err); ok && (s.Code() == codes.Unavailable || s.Code() == codes.DeadlineExceeded) {
		return true
	}
	return strings.Contains(err.Error(), "connection refused")
}

// conflictPhrases are how the workflow's decide validator and PickApproval word a request
// the incident has moved past. The validator's errors reach the client as plain messages.
var conflictPhrases = []string{
	"is closed", "already decided", "params changed", "has no pending approval", "has no approval pending",
	"is not waiting for approval", "does not match what incident", "already completed",
}

// refusal classifies a refusal the workflow sent back: a conflict with the incident's
// state, or (anything else the validator refuses) the policy refusing the decider.
func refusal(err error) error {
	var app *temporal.ApplicationError
	msg := err.Error()
	if errors.As(err, &app) {
		msg = app.Message()
		switch app.Type() {
		case "Conflict":
			return Conflict(errors.New(msg))
		case "Invalid":
			return Invalid(errors.New(msg))
		}
	}
	if isConflict(msg) {
		return Conflict(errors.New(msg))
	}
	return Refused(errors.New(msg))
}

// isConflict reports whether a refusal's message says the incident had moved on.
func isConflict(msg string) bool {
	for _, p := range conflictPhrases {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// explain turns Temporal's errors into ones that say what to do, marked with their kind.
func explain(err error) error {
	if err == nil {
		return nil
	}
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		if strings.Contains(strings.ToLower(err.Error()), "already completed") {
			return Conflict(fmt.Errorf("the incident is closed: %w", err))
		}
		return fmt.Errorf("%w: %s", ErrNotFound, nf.Message)
	}
	if IsUnavailable(err) && !errors.Is(err, context.Canceled) {
		return Unavailable(fmt.Errorf("cannot reach Temporal (%v): is `quench dev` running? Otherwise pass --temporal-address or set TEMPORAL_ADDRESS", err))
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return refusal(err)
	}
	if strings.Contains(err.Error(), "workflow execution already completed") {
		return Conflict(errors.New("the incident is closed: nothing more can be done to it"))
	}
	return err
}
