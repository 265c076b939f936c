// Package incident implements `quench incident ...`: start, list, show, watch, approve,
// reject, resolve, abort, note and postmortem.
package incident

import (
	"github.com/spf13/cobra"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/incidents"
)

// NewCmdIncident is the `incident` command group.
func NewCmdIncident(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "incident",
		Aliases: []string{"incidents", "inc"},
		Short:   "Start and operate incidents",
		Long: `Start and operate incidents. Every command that prints a result takes -o json
(or yaml) for scripts; ` + "`watch -o json`" + ` prints JSON Lines, one timeline event per line.`,
	}
	cmd.AddCommand(
		NewCmdStart(f, nil),
		NewCmdList(f, nil),
		NewCmdShow(f, nil),
		NewCmdWatch(f, nil),
		NewCmdDecide(f, "approve", nil),
		NewCmdDecide(f, "reject", nil),
		NewCmdSignal(f, "resolve", nil),
		NewCmdSignal(f, "abort", nil),
		NewCmdSignal(f, "note", nil),
		NewCmdPostmortem(f, nil),
	)
	return cmd
}

// actingClient is the client of the commands that act (start, approve, reject, resolve,
// abort, note): the quench API with a credential, so the API says who acts. Reads (list,
// show, watch) stay on Temporal: they change nothing, they work wherever Temporal is
// reachable (a cluster operator without an API token), and watch long-polls the history
// instead of polling an HTTP endpoint.
func actingClient(f *cmdutil.Factory) func() (incidents.Client, error) {
	return func() (incidents.Client, error) {
		a, err := f.Actor()
		return a.Client, err
	}
}

// actingIdentity is who actingClient acts as; the run functions call it after the client.
func actingIdentity(f *cmdutil.Factory) func() string {
	return func() string {
		a, _ := f.Actor()
		return a.Identity
	}
}

// completeIncidentIDs offers the short IDs of open incidents.
func completeIncidentIDs(f *cmdutil.Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 || f.IncidentsClient == nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		svc, err := f.IncidentsClient()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		rows, err := svc.List(cmd.Context(), listFilterOpen())
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var ids []string
		for _, r := range rows {
			ids = append(ids, r.ShortID+"\t"+r.Runbook+" ("+r.State+")")
		}
		return ids, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeRunbooks offers runbook names.
func completeRunbooks(f *cmdutil.Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 || f.Runbooks == nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		lib, err := f.Runbooks()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for _, s := range lib.List() {
			names = append(names, s.Name+"\t"+s.Title)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}
