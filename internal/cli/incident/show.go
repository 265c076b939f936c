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
	"github.com/quench-dev/quench/runbooks"
	"github.com/quench-dev/quench/workflows"
)

// ShowOptions are the inputs of `incident show`.
type ShowOptions struct {
	IO        *cmdutil.IOStreams
	Incidents func() (incidents.Client, error)
	// PageURL is the incident's page for a short ID ("" when quench's address is unknown).
	PageURL func(ref string) string

	Ref    string
	Format string
}

// NewCmdShow is `incident show ID`.
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{IO: f.IO, Incidents: f.IncidentsClient, PageURL: func(ref string) string {
		c, err := f.Config()
		if err != nil {
			return ""
		}
		return cmdutil.PageURL(c, ref)
	}}
	cmd := &cobra.Command{
		Use:               "show ID",
		Aliases:           []string{"status", "view"},
		Short:             "Show an incident: steps, pending approvals, undo stack and timeline",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeIncidentIDs(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref = args[0]
			if err := cmdutil.CheckFormat(opts.Format); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return showRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Format, "output", "o", cmdutil.FormatTable, "output format: table, json or yaml")
	return cmd
}

func showRun(ctx context.Context, opts *ShowOptions) error {
	svc, err := opts.Incidents()
	if err != nil {
		return err
	}
	st, err := svc.Status(ctx, opts.Ref)
	if err != nil {
		return err
	}
	if opts.Format != cmdutil.FormatTable {
		return cmdutil.WriteData(opts.IO.Out, opts.Format, st)
	}
	if err := renderStatus(opts.IO.Out, st); err != nil {
		return err
	}
	if opts.PageURL != nil {
		if u := opts.PageURL(st.ShortID); u != "" {
			fmt.Fprintf(opts.IO.Out, "\nPage: %s\n", u)
		}
	}
	return nil
}

func renderStatus(w io.Writer, st workflows.Status) error {
	fmt.Fprintf(w, "Incident %s  %s\n", st.ShortID, st.Title)
	fmt.Fprintf(w, "  runbook:   %s\n  state:     %s\n", st.Runbook, st.State)
	if st.Severity != "" {
		fmt.Fprintf(w, "  severity:  %s\n", st.Severity)
	}
	fmt.Fprintf(w, "  started:   %s by %s (%s)\n", st.StartedAt.Local().Format(time.DateTime), st.Requester, st.Source)
	if st.ClosedAt != nil {
		fmt.Fprintf(w, "  closed:    %s\n", st.ClosedAt.Local().Format(time.DateTime))
	}
	if len(st.Params) > 0 {
		fmt.Fprintf(w, "  params:    %s\n", cmdutil.FormatParams(st.Params))
	}
	if st.Alerts.Received > 0 {
		fmt.Fprintf(w, "  alerts:    %d received, %d firing, last %s\n", st.Alerts.Received, st.Alerts.Firing, st.Alerts.LastStatus)
	}
	fmt.Fprintln(w, "\nSteps")
	t := cmdutil.NewTable(w, "  ID", "ACTION", "STATE", "SUMMARY")
	for _, s := range st.Steps {
		summary := s.Summary
		if s.Error != "" {
			summary = "error: " + s.Error
		}
		t.Row("  "+s.ID, s.Action, s.State, oneLine(summary))
	}
	if err := t.Flush(); err != nil {
		return err
	}
	if v := st.Verifying; v != nil && st.ClosedAt == nil {
		writeVerifying(w, st.ShortID, v)
	}
	for _, p := range st.Pending {
		what := "step " + p.StepID
		if p.Undo {
			what = "undo of step " + p.StepID
		}
		fmt.Fprintf(w, "\nWaiting for approval: %s (%s)\n", what, p.Action)
		if p.Prompt != "" {
			// A fail back's prompt carries its measured figure on a line of its own.
			fmt.Fprintf(w, "  %s\n", strings.ReplaceAll(strings.ReplaceAll(p.Prompt, "\n\n", "\n"), "\n", "\n  "))
		}
		fmt.Fprintf(w, "  params:  %s\n  digest:  %s\n", cmdutil.FormatParams(p.Params), runbooks.ShortDigest(p.Digest))
		fmt.Fprintf(w, "  who:     %s (quorum %d%s)\n", strings.Join(p.Groups, ", "), p.Quorum, fourEyes(p.FourEyes))
		if p.Deadline != nil {
			fmt.Fprintf(w, "  until:   %s, then %s\n", p.Deadline.Local().Format(time.DateTime), p.OnTimeout)
		}
		fmt.Fprintf(w, "  approve: quench incident approve %s --step %s\n", st.ShortID, p.StepID)
	}
	if len(st.Undo) > 0 {
		fmt.Fprintln(w, "\nUndo on close (newest first)")
		for i := len(st.Undo) - 1; i >= 0; i-- {
			u := st.Undo[i]
			state := u.State
			switch {
			case state == "" && u.Keep:
				state = "kept: will not run"
			case state == "":
				state = "will run on close"
			}
			fmt.Fprintf(w, "  %s  %s  [%s]\n", u.Undo.Action, u.Undo.Description, state)
		}
	}
	for _, e := range st.Evidence {
		if len(st.Evidence) > 0 && e.URI != "" {
			fmt.Fprintf(w, "\nEvidence %s: %s (sha256 %s)\n", e.Name, e.URI, short(e.SHA256, 12))
		}
	}
	fmt.Fprintln(w, "\nTimeline")
	if st.TimelineDropped > 0 {
		fmt.Fprintf(w, "  (%d older events not shown)\n", st.TimelineDropped)
	}
	for _, e := range st.Timeline {
		fmt.Fprintln(w, "  "+formatEvent(e))
	}
	return nil
}

// writeVerifying shows a verify in progress: what it waits for, the latest measurement,
// the deadline, and how to stop it.
func writeVerifying(w io.Writer, shortID string, v *workflows.Verifying) {
	fmt.Fprintf(w, "\nVerifying step %s\n", v.StepID)
	fmt.Fprintf(w, "  condition: %s\n", v.Condition)
	fmt.Fprintf(w, "  since:     %s (requests that started before do not count)\n", v.Since.Local().Format(time.DateTime))
	switch m := v.Last; {
	case m == nil:
		fmt.Fprintf(w, "  latest:    no measurement yet\n")
	case m.Error != "":
		fmt.Fprintf(w, "  latest:    measurement failed at %s: %s\n", m.At.Local().Format(time.TimeOnly), oneLine(m.Error))
	default:
		judged := "not met yet"
		switch {
		case !m.Enough:
			judged = fmt.Sprintf("too few requests to judge (need %d)", v.MinRequests)
		case m.Passes:
			judged = "met"
		}
		fmt.Fprintf(w, "  latest:    %s = %.4g over %d requests at %s: %s\n", v.Signal, m.Value, m.Requests, m.At.Local().Format(time.TimeOnly), judged)
		if m.Detail != "" {
			fmt.Fprintf(w, "             %s\n", oneLine(m.Detail))
		}
	}
	fmt.Fprintf(w, "  deadline:  %s (then the change is reverted and the incident escalates); measured every %s\n",
		v.Deadline.Local().Format(time.DateTime), v.Every)
	fmt.Fprintf(w, "  stop:      quench incident resolve %s keeps the change; quench incident abort %s stops the incident\n", shortID, shortID)
}

func formatEvent(e workflows.Event) string {
	var b strings.Builder
	b.WriteString(e.At.Local().Format("15:04:05"))
	b.WriteString("  ")
	b.WriteString(fmt.Sprintf("%-19s", e.Kind))
	if e.StepID != "" {
		b.WriteString(" [" + e.StepID + "]")
	}
	b.WriteString(" " + oneLine(e.Text))
	if e.Actor != "" {
		b.WriteString(" — " + e.Actor)
	}
	return b.String()
}

func fourEyes(on bool) string {
	if on {
		return ", four-eyes: the requester may not approve"
	}
	return ""
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

func short(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func ago(t time.Time) string {
	d := time.Since(t).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	default:
		return t.Local().Format(time.DateOnly)
	}
}
