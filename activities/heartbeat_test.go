package activities

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/ports"
)

func TestRunBeatingBeatsWhileRunningAndStopsAfter(t *testing.T) {
	var beats atomic.Int32
	enough := make(chan struct{})
	beat := func() {
		if beats.Add(1) == 3 {
			close(enough)
		}
	}
	// fn returns only after it has seen three beats: it cannot finish unless the helper
	// beats while it runs.
	got, err := runBeating(context.Background(), time.Millisecond, beat, func(ctx context.Context) (string, error) {
		<-enough
		return "done", nil
	})
	if err != nil || got != "done" {
		t.Fatalf("runBeating = %q, %v", got, err)
	}
	after := beats.Load()
	// runBeating waits for the beating goroutine to exit before returning, so no beat can
	// land after it returned.
	if again := beats.Load(); again != after {
		t.Fatalf("beats went on after return: %d → %d", after, again)
	}
}

func TestRunBeatingPassesErrorsAndContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	wantErr := errors.New("boom")
	_, err := runBeating(ctx, time.Hour, func() { t.Error("beat with a cancelled context") }, func(ctx context.Context) (int, error) {
		if ctx.Err() == nil {
			t.Error("fn did not get the activity's context")
		}
		return 0, wantErr
	})
	if !errors.Is(err, wantErr) {
		t.Fatalf("err = %v", err)
	}
}

func TestPermanent(t *testing.T) {
	base := errors.New("unknown route")
	err := ports.Permanentf("wrapped: %w", base)
	if !ports.IsPermanent(err) || !errors.Is(err, base) || err.Error() != "wrapped: unknown route" {
		t.Fatalf("Permanentf = %v", err)
	}
	if ports.IsPermanent(base) || ports.Permanent(nil) != nil {
		t.Fatal("plain errors are not permanent")
	}
	if !ports.IsPermanent(errors.Join(errors.New("x"), err)) {
		t.Fatal("a wrapped permanent error lost its mark")
	}
}
