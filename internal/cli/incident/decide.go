package incident

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/workflows"
)

// DecideOptions are the inputs of `incident approve` and `incident reject`.
type DecideOptions struct {
	IO        *cmdutil.IOStreams
	Incidents func() (incidents.Client, error)
	Identity  func() string

	Verdict string
	Ref     string
	Step    string
	Digest  string
	Reason  string
	Format  string
}

// NewCmdDecide is `incident approve ID` or `incident reject ID --reason ...`.
func NewCmdDecide(f *cmdutil.Factory, verb string, runF func(context.Context, *DecideOptions) error) *cobra.Command {
	opts := &DecideOptions{IO: f.IO, Incidents: actingClient(f), Identity: actingIdentity(f)}
	verdict := workflows.VerdictApprove
	short := "Approve the step an incident is waiting on"
	if verb == "reject" {
		verdict = workflows.VerdictReject
		short = "Reject the step an incident is waiting on"
	}
	cmd := &cobra.Command{
		Use:               verb + " ID",
		Short:             short,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeIncidentIDs(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref, opts.Verdict = args[0], verdict
			if err := cmdutil.CheckFormat(opts.Format); err != nil {
				return err
			}
			if verdict == workflows.VerdictReject && opts.Reason == "" {
				return cmdutil.FlagErrorf("say why with --reason: it goes on the timeline")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return decideRun(cmd.Context(), opts)
		},
	}
	// No backquotes in flag help: pflag would take the quoted words for the value's name.
	cmd.Flags().StringVar(&opts.Step, "step", "", "the step to decide (needed when several approvals are pending)")
	cmd.Flags().StringVar(&opts.Digest, "digest", "", "the params digest you reviewed, as 'quench incident show' prints it; refused if the params changed since")
	cmd.Flags().StringVarP(&opts.Reason, "reason", "m", "", "why (required to reject)")
	cmd.Flags().StringVarP(&opts.Format, "output", "o", cmdutil.FormatTable, "output format: table, json or yaml")
	return cmd
}

func decideRun(ctx context.Context, opts *DecideOptions) error {
	svc, err := opts.Incidents()
	if err != nil {
		return err
	}
	id, err := svc.Resolve(ctx, opts.Ref)
	if err != nil {
		return err
	}
	d := workflows.Decision{
		StepID:   opts.Step,
		Digest:   opts.Digest, // a short digest is expanded by the client
		Approver: opts.Identity(),
		Verdict:  opts.Verdict,
		Reason:   opts.Reason,
		Via:      "cli",
	}
	res, err := svc.Decide(ctx, id, d)
	if err != nil {
		return err
	}
	out := incidents.NewDecided(id, d, res)
	if opts.Format != cmdutil.FormatTable {
		return cmdutil.WriteData(opts.IO.Out, opts.Format, out)
	}
	switch res.Outcome {
	case "counted":
		fmt.Fprintf(opts.IO.Out, "Counted %s's approval of step %s of incident %s; %d more needed.\n", d.Approver, res.StepID, out.ShortID, res.Remaining)
	default:
		fmt.Fprintf(opts.IO.Out, "%s of incident %s %s by %s.\n", out.What(), out.ShortID, res.Outcome, d.Approver)
	}
	if opts.IO.TTY {
		fmt.Fprintf(opts.IO.Out, "  follow: quench incident watch %s\n", out.ShortID)
	}
	return nil
}
