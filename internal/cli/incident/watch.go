package incident

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/workflows"
)

// WatchOptions are the inputs of `incident watch`.
type WatchOptions struct {
	IO        *cmdutil.IOStreams
	Incidents func() (incidents.Client, error)

	Ref    string
	Format string // table: a line per event; json: one JSON event per line
}

// NewCmdWatch is `incident watch ID`.
func NewCmdWatch(f *cmdutil.Factory, runF func(context.Context, *WatchOptions) error) *cobra.Command {
	opts := &WatchOptions{IO: f.IO, Incidents: f.IncidentsClient}
	cmd := &cobra.Command{
		Use:   "watch ID",
		Short: "Follow an incident's timeline live until it closes",
		Long: `Follow an incident's timeline live until it closes; Ctrl-C stops watching (exit 0)
and leaves the incident running.

With -o json it prints JSON Lines: one timeline event per line, as it happens, with the
fields at, kind, step_id, actor, text and data; the last line of a closed incident has
kind "closed".`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeIncidentIDs(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref = args[0]
			if opts.Format != cmdutil.FormatTable && opts.Format != cmdutil.FormatJSON {
				return cmdutil.FlagErrorf("watch prints table or json (one event per line), not %q", opts.Format)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return watchRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Format, "output", "o", cmdutil.FormatTable, "output format: table or json (one event per line)")
	return cmd
}

func watchRun(ctx context.Context, opts *WatchOptions) error {
	svc, err := opts.Incidents()
	if err != nil {
		return err
	}
	var writeErr error
	final, err := svc.Watch(ctx, opts.Ref, func(e workflows.Event, _ workflows.Status) {
		if writeErr != nil {
			return
		}
		if opts.Format == cmdutil.FormatJSON {
			writeErr = cmdutil.WriteCompactJSON(opts.IO.Out, e)
			return
		}
		_, writeErr = fmt.Fprintln(opts.IO.Out, formatEvent(e))
	})
	if ctx.Err() == context.Canceled {
		// Ctrl-C: the user stopped watching; the incident goes on. Not an error.
		if opts.IO.TTY {
			fmt.Fprintf(opts.IO.ErrOut, "Stopped watching; the incident goes on (quench incident watch %s to follow it again).\n", opts.Ref)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if writeErr != nil {
		return writeErr
	}
	if opts.Format == cmdutil.FormatTable {
		fmt.Fprintf(opts.IO.Out, "Incident %s closed: %s\n", final.ShortID, final.State)
	}
	return nil
}
