package incident

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/incidents"
)

// ListOptions are the inputs of `incident list`.
type ListOptions struct {
	IO        *cmdutil.IOStreams
	Incidents func() (incidents.Client, error)

	All     bool
	Runbook string
	Limit   int
	Format  string
}

func listFilterOpen() incidents.ListFilter { return incidents.ListFilter{Open: true, Limit: 50} }

// NewCmdList is `incident list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IO, Incidents: f.IncidentsClient}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List incidents (open ones unless --all)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.CheckFormat(opts.Format); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.All, "all", "a", false, "include closed incidents")
	cmd.Flags().StringVar(&opts.Runbook, "runbook", "", "only incidents of this runbook")
	cmd.Flags().IntVarP(&opts.Limit, "limit", "L", 30, "at most this many")
	cmd.Flags().StringVarP(&opts.Format, "output", "o", cmdutil.FormatTable, "output format: table, json or yaml")
	return cmd
}

func listRun(ctx context.Context, opts *ListOptions) error {
	svc, err := opts.Incidents()
	if err != nil {
		return err
	}
	rows, err := svc.List(ctx, incidents.ListFilter{Open: !opts.All, Runbook: opts.Runbook, Limit: opts.Limit})
	if err != nil {
		return err
	}
	if opts.Format != cmdutil.FormatTable {
		if rows == nil {
			rows = []incidents.Summary{}
		}
		return cmdutil.WriteData(opts.IO.Out, opts.Format, rows)
	}
	if len(rows) == 0 {
		if opts.All {
			fmt.Fprintln(opts.IO.ErrOut, "No incidents yet. Start one: quench incident start provider-outage")
		} else {
			fmt.Fprintln(opts.IO.ErrOut, "No open incidents (add --all for closed ones).")
		}
		return nil
	}
	if !opts.IO.TTY {
		// Scripts get tab-separated rows, no header, and absolute times.
		for _, r := range rows {
			closed := ""
			if r.ClosedAt != nil {
				closed = r.ClosedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintln(opts.IO.Out, strings.Join([]string{r.ShortID, r.Runbook, r.State, r.Severity, r.Service, r.StartedAt.UTC().Format(time.RFC3339), closed}, "\t"))
		}
		return nil
	}
	t := cmdutil.NewTable(opts.IO.Out, "ID", "RUNBOOK", "STATE", "SEVERITY", "SERVICE", "STARTED", "CLOSED")
	for _, r := range rows {
		closed := "-"
		if r.ClosedAt != nil {
			closed = ago(*r.ClosedAt)
		}
		t.Row(r.ShortID, r.Runbook, r.State, cmdutil.Dash(r.Severity), cmdutil.Dash(r.Service), ago(r.StartedAt), closed)
	}
	return t.Flush()
}
