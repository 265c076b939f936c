package incident

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/workflows"
)

// SignalOptions are the inputs of `incident resolve|abort|note`.
type SignalOptions struct {
	IO        *cmdutil.IOStreams
	Incidents func() (incidents.Client, error)
	Identity  func() string

	Verb   string
	Ref    string
	Reason string // resolve/abort reason, or the note's text
	Format string
}

// NewCmdSignal is `incident resolve ID`, `incident abort ID` or `incident note ID TEXT`.
func NewCmdSignal(f *cmdutil.Factory, verb string, runF func(context.Context, *SignalOptions) error) *cobra.Command {
	opts := &SignalOptions{IO: f.IO, Incidents: actingClient(f), Identity: actingIdentity(f), Verb: verb}
	cmd := &cobra.Command{ValidArgsFunction: completeIncidentIDs(f)}
	switch verb {
	case "resolve":
		cmd.Use, cmd.Short, cmd.Args = "resolve ID", "Say the condition is over: waiting steps go on, undos run at the end", cobra.ExactArgs(1)
	case "abort":
		cmd.Use, cmd.Short, cmd.Args = "abort ID", "Stop the incident now: the running step is canceled, undos run", cobra.ExactArgs(1)
	case "note":
		cmd.Use, cmd.Short, cmd.Args = "note ID TEXT...", "Add a note to the incident's timeline", cobra.MinimumNArgs(2)
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts.Ref = args[0]
		if verb == "note" {
			opts.Reason = strings.Join(args[1:], " ")
		}
		if err := cmdutil.CheckFormat(opts.Format); err != nil {
			return err
		}
		if runF != nil {
			return runF(cmd.Context(), opts)
		}
		return signalRun(cmd.Context(), opts)
	}
	if verb != "note" {
		cmd.Flags().StringVarP(&opts.Reason, "reason", "m", "", "why (goes on the timeline)")
	}
	cmd.Flags().StringVarP(&opts.Format, "output", "o", cmdutil.FormatTable, "output format: table, json or yaml")
	return cmd
}

func signalRun(ctx context.Context, opts *SignalOptions) error {
	svc, err := opts.Incidents()
	if err != nil {
		return err
	}
	by := opts.Identity()
	var name string
	var payload any
	switch opts.Verb {
	case "resolve":
		name, payload = workflows.SignalResolve, workflows.Resolve{By: by, Reason: opts.Reason}
	case "abort":
		name, payload = workflows.SignalAbort, workflows.Abort{By: by, Reason: opts.Reason}
	case "note":
		name, payload = workflows.SignalNote, workflows.Note{By: by, Text: opts.Reason}
	default:
		return fmt.Errorf("unknown incident signal %q", opts.Verb)
	}
	id, err := svc.Signal(ctx, opts.Ref, name, payload)
	if err != nil {
		return err
	}
	res := incidents.AfterSignal(ctx, svc, id, opts.Verb)
	if opts.Format != cmdutil.FormatTable {
		return cmdutil.WriteData(opts.IO.Out, opts.Format, res)
	}
	writeSignalResult(opts.IO.Out, res)
	return nil
}

func writeSignalResult(w io.Writer, res incidents.Signalled) {
	id := res.ShortID
	defer func() {
		for _, line := range res.Then {
			fmt.Fprintf(w, "  then: %s\n", line)
		}
		if v := res.Verifying; v != nil && !res.Closed {
			fmt.Fprintf(w, "  still verifying step %s until %s: %s\n", v.StepID, v.Deadline.Local().Format(time.TimeOnly), v.Condition)
		}
	}()
	switch {
	case res.Signal == "note":
		fmt.Fprintf(w, "Noted on incident %s.\n", id)
	case res.StatusError != "":
		fmt.Fprintf(w, "Sent %s to incident %s; could not read where it stands (%s): see quench incident show %s\n", res.Signal, id, res.StatusError, id)
	case res.Closed && res.Signal == "resolve":
		fmt.Fprintf(w, "Resolved incident %s: it is closed (%s).\n", id, res.State)
	case res.Closed:
		fmt.Fprintf(w, "Aborted incident %s: it is closed (%s).\n", id, res.State)
	case len(res.WaitingFor) > 0:
		verb := map[string]string{"resolve": "Marked incident %s resolved", "abort": "Aborting incident %s"}[res.Signal]
		fmt.Fprintf(w, verb+", but it stays open: it waits for %s.\n", id, describeWaiting(res.WaitingFor))
		for _, wf := range res.WaitingFor {
			fmt.Fprintf(w, "  approve: %s\n  reject:  %s\n", wf.Approve, wf.Reject)
		}
	default:
		verb := map[string]string{"resolve": "Marked incident %s resolved", "abort": "Aborting incident %s"}[res.Signal]
		fmt.Fprintf(w, verb+"; it is still %s (steps and undos to finish).\n  follow: quench incident watch %s\n", id, res.State, id)
	}
}

func describeWaiting(ws []incidents.Waiting) string {
	var parts []string
	for _, w := range ws {
		what := "approval of step " + w.StepID
		if w.Undo {
			what = "approval of the undo of step " + w.StepID
		}
		what += " (" + w.Action
		if len(w.Groups) > 0 {
			what += ", by " + strings.Join(w.Groups, " or ")
		}
		parts = append(parts, what+")")
	}
	return strings.Join(parts, " and ")
}
