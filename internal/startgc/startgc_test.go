package startgc

import (
	"math"
	"runtime/debug"
	"testing"
)

// Importing the package turns the collector off; the restore puts back what GOGC set and
// lifts the backstop.
func TestOffFromInitThenRestored(t *testing.T) {
	if got := debug.SetGCPercent(-1); got != -1 {
		t.Fatalf("after init the GC percent is %d, want -1 (off)", got)
	}
	if previous == -1 {
		t.Skip("GOGC=off in this environment: nothing to restore")
	}
	restore(math.MaxInt64)
	if got := debug.SetGCPercent(previous); got != previous {
		t.Errorf("after restore the GC percent is %d, want %d", got, previous)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("after restore the memory limit is %d, want none", got)
	}
}
