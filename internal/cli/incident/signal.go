package incident

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/workflows"
)

// SignalOptions are the inputs of `incident resolve|abort|note`.
type SignalOptions struct {
	IO        *cmdutil.IOStreams
	Incidents func() (*incidents.Service, error)
	Identity  func() string

	Verb   string
	Ref    string
	Reason string // resolve/abort reason, or the note's text
}

// NewCmdSignal is `incident resolve ID`, `incident abort ID` or `incident note ID TEXT`.
func NewCmdSignal(f *cmdutil.Factory, verb string, runF func(context.Context, *SignalOptions) error) *cobra.Command {
	opts := &SignalOptions{IO: f.IO, Incidents: f.Incidents, Identity: f.Identity, Verb: verb}
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
		if runF != nil {
			return runF(cmd.Context(), opts)
		}
		return signalRun(cmd.Context(), opts)
	}
	if verb != "note" {
		cmd.Flags().StringVarP(&opts.Reason, "reason", "m", "", "why (goes on the timeline)")
	}
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
	if _, err := svc.Signal(ctx, opts.Ref, name, payload); err != nil {
		return err
	}
	past := map[string]string{"resolve": "Resolved", "abort": "Aborted", "note": "Noted on"}[opts.Verb]
	fmt.Fprintf(opts.IO.Out, "%s incident %s.\n", past, opts.Ref)
	return nil
}
