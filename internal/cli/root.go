// Package cli is quench's command line: the only package that knows cobra. Each command
// group lives in its own package with NewCmdX(f, runF) constructors filling an XOptions
// struct, and an xRun(opts) doing the work, so tests drive xRun directly.
//
// Two binaries share this root. quench-embedded (cmd/quench-embedded) has every command;
// quench (cmd/quench) leaves out the ones that link the embedded Temporal server (dev,
// demo, bench) and hands them to quench-embedded (embedded.go), so that the commands people
// run all day start in a fraction of the time.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/cli/evidence"
	"github.com/quench-dev/quench/internal/cli/freeze"
	"github.com/quench-dev/quench/internal/cli/incident"
	"github.com/quench-dev/quench/internal/cli/runbook"
	"github.com/quench-dev/quench/internal/cli/serve"
	"github.com/quench-dev/quench/internal/cli/setup"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1 // the operation failed
	ExitUsage = 2 // the command line was wrong
)

// Commands builds the commands that run an embedded Temporal server (dev, demo, bench):
// the real ones in quench-embedded, the ones that hand over to it (Delegates) in quench.
type Commands func(f *cmdutil.Factory) []*cobra.Command

// NewCmdRoot builds the command tree, with embedded's commands (nil: none).
func NewCmdRoot(f *cmdutil.Factory, embedded Commands) *cobra.Command {
	root := &cobra.Command{
		Use:   "quench",
		Short: "Runbook automation for LLM incidents, on Temporal",
		Long: `quench runs incident runbooks as durable Temporal workflows: snapshot LLM traffic,
freeze prompt deploys, switch providers, propose rollbacks, and wait for a human approval.

Start everything locally with:  quench dev
Then, in another terminal:      quench incident start provider-outage`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&f.ConfigPath, "config", "", "config file (default $QUENCH_CONFIG or ./quench.yaml)")
	pf.StringVar(&f.TemporalAddress, "temporal-address", "", "Temporal frontend host:port (default 127.0.0.1:7233 or $TEMPORAL_ADDRESS)")
	pf.StringVar(&f.Namespace, "namespace", "", "Temporal namespace (default \"default\" or $TEMPORAL_NAMESPACE)")
	pf.StringVar(&f.RunbooksDir, "runbooks-dir", "", "directory of your own runbooks, added to the built-in ones")
	pf.StringVar(&f.DataDir, "data-dir", "", "data dir of the quench dev to act through: the CLI uses the credential it writes there (default data_dir from the config, else ./quench-data)")
	pf.StringVar(&f.As, "as", "", "development only: act as this identity; refused unless quench dev runs with dev.allow_as: true (default: your credential's identity, cli:<OS user>)")

	root.AddCommand(
		incident.NewCmdIncident(f),
		runbook.NewCmdRunbook(f),
		freeze.NewCmdFreeze(f),
		evidence.NewCmdEvidence(f),
		serve.NewCmdWorker(f, nil),
		serve.NewCmdServer(f, nil),
		setup.NewCmdSetup(f, nil),
	)
	if embedded != nil {
		root.AddCommand(embedded(f)...)
	}
	cmdutil.RejectUnknownSubcommands(root)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	return root
}

// Main runs the CLI on the process's arguments and returns its exit code.
func Main(embedded Commands) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, cmdutil.New(), embedded, os.Args[1:])
}

// Run executes one command line with f and returns its exit code: 0 ok, 1 the operation
// failed, 2 the command line was wrong, or a command's own code (freeze check: 3).
func Run(ctx context.Context, f *cmdutil.Factory, embedded Commands, args []string) int {
	root := NewCmdRoot(f, embedded)
	root.SetArgs(args)
	return exitCode(f.IO.ErrOut, root.ExecuteContext(ctx))
}

func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return ExitOK
	}
	var exitErr *cmdutil.ExitError
	if errors.As(err, &exitErr) {
		if exitErr.Msg != "" {
			fmt.Fprintln(stderr, exitErr.Msg)
		}
		return exitErr.Code
	}
	fmt.Fprintln(stderr, "error:", err)
	var flagErr *cmdutil.FlagError
	if errors.As(err, &flagErr) || isCobraUsageError(err) {
		fmt.Fprintln(stderr, "run `quench --help` (or add --help to the command) for usage")
		return ExitUsage
	}
	return ExitError
}

func isCobraUsageError(err error) bool {
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "invalid argument", "flag needs an argument"} {
		if strings.Contains(err.Error(), p) {
			return true
		}
	}
	return false
}
