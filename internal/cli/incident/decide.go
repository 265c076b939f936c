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
	Incidents func() (*incidents.Service, error)
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
	opts := &DecideOptions{IO: f.IO, Incidents: f.Incidents, Identity: f.Identity}
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
	cmd.Flags().StringVar(&opts.Step, "step", "", "the step to decide (needed when several approvals are pending)")
	cmd.Flags().StringVar(&opts.Digest, "digest", "", "the params digest you reviewed (from `incident show`); the decision is refused if the params changed")
	cmd.Flags().StringVarP(&opts.Reason, "reason", "m", "", "why (required to reject)")
	cmd.Flags().StringVarP(&opts.Format, "output", "o", cmdutil.FormatTable, "output format: table, json or yaml")
	return cmd
}

func decideRun(ctx context.Context, opts *DecideOptions) error {
	svc, err := opts.Incidents()
	if err != nil {
		return err
	}
	d := workflows.Decision{
		StepID:   opts.Step,
		Approver: opts.Identity(),
		Verdict:  opts.Verdict,
		Reason:   opts.Reason,
		Via:      "cli",
	}
	if opts.Digest != "" {
		// A short digest from `incident show` is expanded against the pending approval.
		st, err := svc.Status(ctx, opts.Ref)
		if err != nil {
			return err
		}
		full, err := matchDigest(st, opts.Step, opts.Digest)
		if err != nil {
			return err
		}
		d.Digest = full
	}
	res, err := svc.Decide(ctx, opts.Ref, d)
	if err != nil {
		return err
	}
	if opts.Format != cmdutil.FormatTable {
		return cmdutil.WriteData(opts.IO.Out, opts.Format, res)
	}
	switch res.Outcome {
	case "counted":
		fmt.Fprintf(opts.IO.Out, "Counted your approval of %s; %d more needed.\n", res.StepID, res.Remaining)
	default:
		fmt.Fprintf(opts.IO.Out, "Step %s %s by %s.\n", res.StepID, res.Outcome, d.Approver)
	}
	return nil
}

func matchDigest(st workflows.Status, step, given string) (string, error) {
	for _, p := range st.Pending {
		if step != "" && p.StepID != step {
			continue
		}
		if len(given) >= 8 && len(given) <= len(p.Digest) && p.Digest[:len(given)] == given {
			return p.Digest, nil
		}
	}
	return "", fmt.Errorf("digest %s does not match what incident %s is waiting on: the params changed, review them with `quench incident show %s`", given, st.ShortID, st.ShortID)
}
