// Command quench is runbook automation for LLM incidents. See README.md.
//
// This is the light binary: it does not link the embedded Temporal server, and hands
// `dev`, `demo` and `bench` to quench-embedded (cmd/quench-embedded), found next to it, on
// PATH, or run from the source tree.
package main

import (
	"os"
	"time"

	"github.com/quench-dev/quench/internal/cli"
	"github.com/quench-dev/quench/internal/startgc"
)

func main() {
	startgc.RestoreAfter(time.Second) // package startgc: no collection in a short command
	os.Exit(cli.Main(cli.Delegates(os.Args[1:])))
}
