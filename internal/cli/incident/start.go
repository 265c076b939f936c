package incident

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/runbooks"
)

// StartOptions are the inputs of `incident start`.
type StartOptions struct {
	IO        *cmdutil.IOStreams
	Incidents func() (incidents.Client, error)
	// Watcher follows the timeline with --watch (reads go to Temporal); nil: Incidents.
	Watcher  func() (incidents.Client, error)
	Identity func() string

	Runbook  string
	Params   []string
	Key      string
	Severity string
	Service  string
	Watch    bool
	Format   string
}

// NewCmdStart is `incident start RUNBOOK [key=value...]`.
func NewCmdStart(f *cmdutil.Factory, runF func(context.Context, *StartOptions) error) *cobra.Command {
	opts := &StartOptions{IO: f.IO, Incidents: actingClient(f), Watcher: f.IncidentsClient, Identity: actingIdentity(f)}
	cmd := &cobra.Command{
		Use:   "start RUNBOOK [key=value...]",
		Short: "Start an incident from a runbook",
		Long: `Start an incident from a runbook. Params are key=value; a route the gateway does not
know is refused before anything starts (when quench can tell: the embedded gateway).`,
		Example: `  quench incident start provider-outage route=chat
  quench incident start prompt-regression --key ticket-123 --watch
  quench incident start manual-investigation reason="answers in French" -o json`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeRunbooks(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Runbook, opts.Params = args[0], args[1:]
			if err := cmdutil.CheckFormat(opts.Format); err != nil {
				return err
			}
			if opts.Watch && opts.Format == cmdutil.FormatYAML {
				return cmdutil.FlagErrorf("--watch prints a table or JSON Lines (-o json), not yaml")
			}
			if opts.Severity != "" {
				if err := runbooks.CheckSeverity(opts.Severity); err != nil {
					return cmdutil.FlagErrorf("--severity: %v", err)
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return startRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Key, "key", "", "dedup key: a second start with the same key joins the same incident")
	cmd.Flags().StringVar(&opts.Severity, "severity", "", "severity: "+strings.Join(runbooks.Severities, ", ")+" (default: the runbook's)")
	cmd.Flags().StringVar(&opts.Service, "service", "", "affected service")
	cmd.Flags().BoolVarP(&opts.Watch, "watch", "w", false, "follow the timeline until the incident closes")
	cmd.Flags().StringVarP(&opts.Format, "output", "o", cmdutil.FormatTable, "output format: table, json or yaml")
	return cmd
}

func startRun(ctx context.Context, opts *StartOptions) error {
	params, err := cmdutil.ParseKeyValues(opts.Params)
	if err != nil {
		return err
	}
	svc, err := opts.Incidents()
	if err != nil {
		return err
	}
	started, err := svc.Start(ctx, incidents.StartRequest{
		Runbook:   opts.Runbook,
		Params:    params,
		Key:       opts.Key,
		Requester: opts.Identity(),
		Source:    "cli",
		Severity:  opts.Severity,
		Service:   opts.Service,
	})
	if err != nil {
		return err
	}
	watcher := opts.Watcher
	if watcher == nil {
		watcher = opts.Incidents
	}
	watch := &WatchOptions{IO: opts.IO, Incidents: watcher, Ref: started.IncidentID, Format: cmdutil.FormatTable}
	switch {
	case opts.Format == cmdutil.FormatJSON && opts.Watch:
		// One JSON value per line throughout, so the stream stays JSON Lines.
		watch.Format = cmdutil.FormatJSON
		if err := cmdutil.WriteCompactJSON(opts.IO.Out, started); err != nil {
			return err
		}
	case opts.Format != cmdutil.FormatTable:
		if err := cmdutil.WriteData(opts.IO.Out, opts.Format, started); err != nil {
			return err
		}
	default:
		fmt.Fprintf(opts.IO.Out, "Started incident %s (%s): %s\n", started.ShortID, started.Runbook, started.Title)
		if opts.IO.TTY && !opts.Watch {
			fmt.Fprintf(opts.IO.Out, "  watch:   quench incident watch %s\n", started.ShortID)
			fmt.Fprintf(opts.IO.Out, "  show:    quench incident show %s\n", started.ShortID)
		}
	}
	if opts.Watch {
		return watchRun(ctx, watch)
	}
	return nil
}
