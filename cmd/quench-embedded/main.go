// Command quench-embedded is quench with the embedded Temporal server linked in: every
// command, dev, demo and bench included. `quench dev` runs it; it says `quench` in its help
// and messages because it is the same CLI.
package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/quench-dev/quench/internal/cli"
	"github.com/quench-dev/quench/internal/cli/bench"
	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/cli/demo"
	"github.com/quench-dev/quench/internal/cli/dev"
)

func main() { os.Exit(cli.Main(embedded)) }

// embedded are the commands that run an embedded Temporal server.
func embedded(f *cmdutil.Factory) []*cobra.Command {
	return []*cobra.Command{dev.NewCmdDev(f, nil), demo.NewCmdDemo(f, nil), bench.NewCmdBench(f)}
}
