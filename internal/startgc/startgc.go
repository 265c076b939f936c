// Package startgc keeps the garbage collector off while the light quench starts, for the
// commands that live a few tens of milliseconds: package init alone allocates ~3.5 MB across
// hundreds of packages, and a collection cycle on it (then on the gRPC client's set-up)
// costs `incident list` ~2 ms of ~20, for garbage that is mostly still live or about to be
// freed by the process exiting.
//
// It relies on the spec's initialisation order (Go 1.21+: among packages whose imports are
// initialised, the first by import path goes next): importing only runtime/debug, it runs
// before the heavy inits of go.temporal.io/..., google.golang.org/... and quench's own.
// main calls RestoreAfter first thing.
package startgc

import (
	"math"
	"runtime/debug"
	"time"
)

var previous = debug.SetGCPercent(-1)

// backstop bounds the heap while the collector is off: past it, the runtime collects anyway.
const backstop = 256 << 20

// RestoreAfter puts the collector back as GOGC (or the default) set it, grace from now:
// a command that ends sooner never collects; a long-running one (worker, server, watch)
// collects as usual from then on. Until then the heap may grow to 256 MiB (or GOMEMLIMIT).
func RestoreAfter(grace time.Duration) {
	limit := debug.SetMemoryLimit(-1)
	if limit == math.MaxInt64 { // no GOMEMLIMIT: the backstop holds until the restore
		debug.SetMemoryLimit(backstop)
	}
	time.AfterFunc(grace, func() { restore(limit) })
}

func restore(limit int64) {
	debug.SetGCPercent(previous)
	debug.SetMemoryLimit(limit)
}
