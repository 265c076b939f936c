package incidents

import (
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"
)

// explain turns Temporal's errors into ones that say what to do.
func explain(err error) error {
	if err == nil {
		return nil
	}
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		if strings.Contains(strings.ToLower(err.Error()), "already completed") {
			return fmt.Errorf("the incident is closed: %w", err)
		}
		return fmt.Errorf("%w: %s", ErrNotFound, nf.Message)
	}
	var unavailable *serviceerror.Unavailable
	if errors.As(err, &unavailable) || strings.Contains(err.Error(), "connection refused") {
		return fmt.Errorf("cannot reach Temporal (%v): is `quench dev` running? Otherwise pass --temporal-address or set TEMPORAL_ADDRESS", err)
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return errors.New(app.Message())
	}
	if strings.Contains(err.Error(), "workflow execution already completed") {
		return errors.New("the incident is closed: nothing more can be done to it")
	}
	return err
}
