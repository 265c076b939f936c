package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"
)

// HeartbeatEvery is how often a running step heartbeats. The workflow sets a 10 s
// HeartbeatTimeout, so a dead worker is noticed within seconds, not after the step's whole
// start-to-close timeout.
const HeartbeatEvery = 2 * time.Second

// withHeartbeat runs fn while heartbeating in the background until fn returns.
func withHeartbeat[T any](ctx context.Context, fn func(context.Context) (T, error)) (T, error) {
	return runBeating(ctx, HeartbeatEvery, func() { activity.RecordHeartbeat(ctx) }, fn)
}

// runBeating calls beat every interval while fn runs; split from withHeartbeat so tests can
// observe the beats without an activity context.
func runBeating[T any](ctx context.Context, every time.Duration, beat func(), fn func(context.Context) (T, error)) (T, error) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		ticker := time.NewTicker(every)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-ticker.C:
				beat()
			}
		}
	}()
	defer func() {
		close(done)
		<-stopped // no heartbeat after the activity returned
	}()
	return fn(ctx)
}
