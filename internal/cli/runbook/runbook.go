// Package runbook implements `quench runbook list|show|validate|plan`: authoring and
// checking runbooks without touching anything.
package runbook

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/runbooks"
)

// NewCmdRunbook is the `runbook` command group.
func NewCmdRunbook(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "runbook", Aliases: []string{"runbooks", "rb"}, Short: "List, show, validate and plan runbooks"}
	cmd.AddCommand(NewCmdList(f, nil), NewCmdShow(f, nil), NewCmdValidate(f, nil), NewCmdPlan(f, nil))
	return cmd
}

// ListOptions are the inputs of `runbook list`.
type ListOptions struct {
	IO       *cmdutil.IOStreams
	Runbooks func() (*runbooks.Library, error)
	Format   string
}

// NewCmdList is `runbook list`.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IO, Runbooks: f.Runbooks}
	cmd := &cobra.Command{
		Use: "list", Aliases: []string{"ls"}, Short: "List the runbooks quench knows (built-in and --runbooks-dir)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.CheckFormat(opts.Format); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return listRun(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Format, "output", "o", cmdutil.FormatTable, "output format: table, json or yaml")
	return cmd
}

type listRow struct {
	Name   string `json:"name"`
	Title  string `json:"title"`
	Steps  int    `json:"steps"`
	Source string `json:"source"`
}

func listRun(opts *ListOptions) error {
	lib, err := opts.Runbooks()
	if err != nil {
		return err
	}
	var rows []listRow
	for _, s := range lib.List() {
		rows = append(rows, listRow{Name: s.Name, Title: s.Title, Steps: len(s.Steps), Source: s.Source})
	}
	if opts.Format != cmdutil.FormatTable {
		return cmdutil.WriteData(opts.IO.Out, opts.Format, rows)
	}
	t := cmdutil.NewTable(opts.IO.Out, "NAME", "STEPS", "TITLE", "SOURCE")
	for _, r := range rows {
		t.Row(r.Name, fmt.Sprint(r.Steps), r.Title, r.Source)
	}
	return t.Flush()
}

// ShowOptions are the inputs of `runbook show`.
type ShowOptions struct {
	IO       *cmdutil.IOStreams
	Runbooks func() (*runbooks.Library, error)
	Name     string
	Format   string
}

// NewCmdShow is `runbook show NAME`.
func NewCmdShow(f *cmdutil.Factory, runF func(*ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{IO: f.IO, Runbooks: f.Runbooks}
	cmd := &cobra.Command{
		Use: "show NAME", Short: "Show a runbook: params, triggers and steps", Args: cobra.ExactArgs(1),
		ValidArgsFunction: completeNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if err := cmdutil.CheckFormat(opts.Format); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return showRun(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Format, "output", "o", cmdutil.FormatTable, "output format: table, json or yaml")
	return cmd
}

func showRun(opts *ShowOptions) error {
	lib, err := opts.Runbooks()
	if err != nil {
		return err
	}
	spec, err := lib.Get(opts.Name)
	if err != nil {
		return err
	}
	if opts.Format != cmdutil.FormatTable {
		return cmdutil.WriteData(opts.IO.Out, opts.Format, spec)
	}
	w := opts.IO.Out
	fmt.Fprintf(w, "%s — %s\n", spec.Name, spec.Title)
	if spec.Description != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(spec.Description))
	}
	fmt.Fprintf(w, "\nsource: %s\ndigest: %s\n", spec.Source, runbooks.ShortDigest(spec.Digest))
	if len(spec.Params) > 0 {
		fmt.Fprintln(w, "\nParams")
		t := cmdutil.NewTable(w, "  NAME", "FROM", "DEFAULT", "DESCRIPTION")
		for _, p := range spec.Params {
			def := p.Default
			if p.Required {
				def = "(required)"
			}
			t.Row("  "+p.Name, cmdutil.Dash(p.From), cmdutil.Dash(def), p.Description)
		}
		t.Flush()
	}
	if len(spec.Triggers.Alerts) > 0 {
		fmt.Fprintln(w, "\nStarted by alerts matching")
		for _, tr := range spec.Triggers.Alerts {
			fmt.Fprintf(w, "  %s\n", describeTrigger(tr))
		}
	}
	fmt.Fprintln(w, "\nSteps")
	for i, s := range spec.Steps {
		fmt.Fprintf(w, "  %d. %s  %s%s\n", i+1, s.ID, s.Action, gateNote(s))
		if s.Title != "" {
			fmt.Fprintf(w, "     %s\n", s.Title)
		}
		if s.When != "" {
			fmt.Fprintf(w, "     when: %s\n", s.When)
		}
	}
	return nil
}

func describeTrigger(t runbooks.AlertTrigger) string {
	var parts []string
	for _, k := range sortedKeys(t.Match) {
		parts = append(parts, fmt.Sprintf("%s=%q", k, t.Match[k]))
	}
	for _, k := range sortedKeys(t.MatchRE) {
		parts = append(parts, fmt.Sprintf("%s=~%q", k, t.MatchRE[k]))
	}
	keys := make([]string, 0, len(t.MatchIn))
	for k := range t.MatchIn {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s in (%s)", k, strings.Join(t.MatchIn[k], ", ")))
	}
	return strings.Join(parts, ", ")
}

func gateNote(s runbooks.Step) string {
	var notes []string
	if s.Approval != nil {
		notes = append(notes, "approval: "+strings.Join(s.Approval.Groups, ", "))
	}
	if s.Verify != nil {
		notes = append(notes, "verify: "+s.Verify.Signal)
	}
	if f := s.Failback; f != nil {
		note := "measures the provider first"
		if f.AutoAfterHealthy > 0 {
			note += ", fails back by itself after " + f.AutoAfterHealthy.String() + " healthy"
		}
		notes = append(notes, note)
	}
	if a, ok := runbooks.Catalog[s.Action]; ok && a.Undo != "" {
		undo := "undo on close: " + a.Undo
		if s.Undo != nil && s.Undo.Keep {
			undo = "kept on close"
		}
		notes = append(notes, undo)
	}
	if len(notes) == 0 {
		return ""
	}
	return "  [" + strings.Join(notes, "; ") + "]"
}

func completeNames(f *cmdutil.Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		lib, err := f.Runbooks()
		if err != nil || len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for _, s := range lib.List() {
			names = append(names, s.Name)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func fourEyes(on bool) string {
	if on {
		return ", four-eyes"
	}
	return ""
}

func orForever(d runbooks.Duration) string {
	if d == 0 {
		return "none"
	}
	return d.String()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
