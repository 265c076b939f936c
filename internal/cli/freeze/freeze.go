// Package freeze implements `quench freeze status|check`: whether prompt deploys are frozen.
// `check` is for CI pipelines: it exits 3 while the scope is frozen.
package freeze

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/workflows"
)

// ExitFrozen is `freeze check`'s exit code while frozen (1 stays "could not tell").
const ExitFrozen = 3

// NewCmdFreeze is the `freeze` command group.
func NewCmdFreeze(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "freeze", Short: "See whether prompt deploys are frozen"}
	cmd.AddCommand(NewCmdStatus(f, nil), NewCmdCheck(f, nil))
	return cmd
}

// Options are the inputs of `freeze status` and `freeze check`.
type Options struct {
	IO        *cmdutil.IOStreams
	Incidents func() (incidents.Client, error)
	Scope     string
	Format    string
}

// NewCmdStatus is `freeze status [--scope S]`.
func NewCmdStatus(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Incidents: f.IncidentsClient}
	cmd := &cobra.Command{
		Use: "status", Short: "Show the freeze of a scope: who holds it, until when, and its history", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.CheckFormat(opts.Format); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return statusRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Scope, "scope", "prompts", "the frozen scope")
	cmd.Flags().StringVarP(&opts.Format, "output", "o", cmdutil.FormatTable, "output format: table, json or yaml")
	return cmd
}

func statusRun(ctx context.Context, opts *Options) error {
	svc, err := opts.Incidents()
	if err != nil {
		return err
	}
	st, err := svc.FreezeState(ctx, opts.Scope)
	if err != nil {
		return err
	}
	if opts.Format != cmdutil.FormatTable {
		return cmdutil.WriteData(opts.IO.Out, opts.Format, st)
	}
	w := opts.IO.Out
	if !st.Frozen {
		fmt.Fprintf(w, "%s: not frozen\n", opts.Scope)
	} else {
		fmt.Fprintf(w, "%s: FROZEN\n", opts.Scope)
		for _, h := range st.Holds {
			fmt.Fprintf(w, "  by %s until %s%s\n", h.Holder, h.Until.Local().Format(time.DateTime), reason(h.Reason))
		}
	}
	if len(st.History) > 0 {
		fmt.Fprintln(w, "\nHistory")
		for _, e := range st.History {
			fmt.Fprintf(w, "  %s  %-8s %s%s\n", e.At.Local().Format(time.DateTime), e.Kind, e.Holder, reason(e.Reason))
		}
	}
	return nil
}

// NewCmdCheck is `freeze check [--scope S]`: exit 0 when deploys may go, 3 when frozen.
func NewCmdCheck(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Incidents: f.IncidentsClient}
	cmd := &cobra.Command{
		Use:     "check",
		Short:   "Exit non-zero (3) while prompt deploys are frozen: put it in your deploy pipeline",
		Example: `  quench freeze check && ./deploy-prompts.sh`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.CheckFormat(opts.Format); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return checkRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Scope, "scope", "prompts", "the scope to check")
	cmd.Flags().StringVarP(&opts.Format, "output", "o", cmdutil.FormatTable, "output format: table, json or yaml (the exit code is the same)")
	return cmd
}

func checkRun(ctx context.Context, opts *Options) error {
	svc, err := opts.Incidents()
	if err != nil {
		return err
	}
	st, err := svc.FreezeState(ctx, opts.Scope)
	if err != nil {
		return err
	}
	if st.Scope == "" {
		st.Scope = opts.Scope
	}
	if opts.Format != cmdutil.FormatTable {
		if err := cmdutil.WriteData(opts.IO.Out, opts.Format, CheckResult{Scope: st.Scope, Frozen: st.Frozen, Holds: st.Holds}); err != nil {
			return err
		}
		if st.Frozen {
			return &cmdutil.ExitError{Code: ExitFrozen, Msg: frozenMessage(st)}
		}
		return nil
	}
	if !st.Frozen {
		fmt.Fprintf(opts.IO.Out, "%s: not frozen, deploys may go\n", st.Scope)
		return nil
	}
	return &cmdutil.ExitError{Code: ExitFrozen, Msg: frozenMessage(st)}
}

// CheckResult is what `freeze check -o json` prints; the exit code says the same (3: frozen).
type CheckResult struct {
	Scope  string           `json:"scope"`
	Frozen bool             `json:"frozen"`
	Holds  []workflows.Hold `json:"holds,omitempty"`
}

func frozenMessage(st workflows.FreezeState) string {
	msg := fmt.Sprintf("%s: FROZEN, do not deploy prompts", st.Scope)
	for _, h := range st.Holds {
		msg += fmt.Sprintf("\n  held by incident %s until %s%s", h.Holder, h.Until.Local().Format(time.DateTime), reason(h.Reason))
	}
	return msg
}

func reason(r string) string {
	if r == "" {
		return ""
	}
	return " — " + r
}
