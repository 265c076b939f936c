// Package runbook implements `quench runbook list|show|validate|plan`: authoring and
// checking runbooks without touching anything.
package runbook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/quench-dev/quench/internal/alert"
	"github.com/quench-dev/quench/internal/app"
	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/ports"
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

// ValidateOptions are the inputs of `runbook validate`.
type ValidateOptions struct {
	IO     *cmdutil.IOStreams
	Files  []string // files or directories (each runbook file directly in it)
	Format string
	// Gateway says what the configured gateway can do (nil: not checked): a step it
	// cannot carry out is a problem.
	Gateway func() (name string, caps ports.CapabilityReporter, err error)
}

// Validated is one file's result, as `runbook validate -o json` prints it.
type Validated struct {
	File     string             `json:"file"`
	OK       bool               `json:"ok"`
	Runbook  string             `json:"runbook,omitempty"`
	Steps    int                `json:"steps,omitempty"`
	Problems []runbooks.Problem `json:"problems,omitempty"`
}

// NewCmdValidate is `runbook validate FILE|DIR...`.
func NewCmdValidate(f *cmdutil.Factory, runF func(*ValidateOptions) error) *cobra.Command {
	opts := &ValidateOptions{IO: f.IO, Gateway: configGateway(f)}
	cmd := &cobra.Command{
		Use:   "validate FILE|DIR...",
		Short: "Check runbook files (every .yaml/.yml of a directory): every problem with its line number",
		Example: `  quench runbook validate my-runbook.yaml
  quench runbook validate ./runbooks -o json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			if err := cmdutil.CheckFormat(opts.Format); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return validateRun(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Format, "output", "o", cmdutil.FormatTable, "output format: table, json or yaml (the exit code is the same)")
	return cmd
}

// configGateway says what the gateway of f's config can do, from the config alone.
func configGateway(f *cmdutil.Factory) func() (string, ports.CapabilityReporter, error) {
	return func() (string, ports.CapabilityReporter, error) {
		c, err := f.Config()
		if err != nil {
			return "", nil, err
		}
		name, caps := app.GatewayCapabilities(c)
		return name, caps, nil
	}
}

// runbookFiles expands directories into their runbook files (as --runbooks-dir reads
// them: .yaml and .yml directly inside, sorted).
func runbookFiles(args []string) ([]string, []Validated) {
	var files []string
	var bad []Validated
	for _, a := range args {
		info, err := os.Stat(a)
		if err != nil || !info.IsDir() {
			files = append(files, a) // a missing file is reported when read
			continue
		}
		entries, err := os.ReadDir(a)
		if err != nil {
			bad = append(bad, Validated{File: a, Problems: []runbooks.Problem{{Msg: err.Error()}}})
			continue
		}
		n := 0
		for _, e := range entries {
			ext := strings.ToLower(filepath.Ext(e.Name()))
			if !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
				files = append(files, filepath.Join(a, e.Name()))
				n++
			}
		}
		if n == 0 {
			bad = append(bad, Validated{File: a, Problems: []runbooks.Problem{{Msg: "no runbook files (.yaml, .yml) in this directory"}}})
		}
	}
	return files, bad
}

func validateFile(file string, seen map[string]string, gateway ports.CapabilityReporter, gatewayName string) Validated {
	v := Validated{File: file}
	data, err := os.ReadFile(file)
	if err != nil {
		v.Problems = []runbooks.Problem{{Msg: err.Error()}}
		return v
	}
	spec, err := runbooks.Parse(data, file)
	var loadErr *runbooks.LoadError
	switch {
	case errors.As(err, &loadErr):
		v.Problems = loadErr.Problems
		return v
	case err != nil:
		v.Problems = []runbooks.Problem{{Msg: err.Error()}}
		return v
	}
	v.Runbook, v.Steps = spec.Name, len(spec.Steps)
	// Two files of one name cannot be loaded together (--runbooks-dir refuses them).
	if first, dup := seen[spec.Name]; dup {
		v.Problems = []runbooks.Problem{{Path: "name", Msg: fmt.Sprintf("runbook %q is already defined in %s; rename one of them", spec.Name, first)}}
		return v
	}
	seen[spec.Name] = file
	if gateway != nil {
		v.Problems = runbooks.GatewayProblems(spec, func(c string) string {
			if why := gateway.Cannot(ports.Capability(c)); why != "" {
				return why + " (gateway: " + gatewayName + ")"
			}
			return ""
		})
		if len(v.Problems) > 0 {
			return v
		}
	}
	v.OK = true
	return v
}

func validateRun(opts *ValidateOptions) error {
	files, results := runbookFiles(opts.Files)
	var gw ports.CapabilityReporter
	var gwName string
	if opts.Gateway != nil {
		var err error
		if gwName, gw, err = opts.Gateway(); err != nil {
			// The files are still checked; only what the gateway can do is not.
			fmt.Fprintf(opts.IO.ErrOut, "not checking steps against the gateway: the config cannot be read: %v\n", err)
			gw = nil
		}
	}
	seen := map[string]string{}
	for _, file := range files {
		results = append(results, validateFile(file, seen, gw, gwName))
	}
	bad := 0
	for _, r := range results {
		if !r.OK {
			bad++
		}
	}
	if opts.Format != "" && opts.Format != cmdutil.FormatTable {
		if err := cmdutil.WriteData(opts.IO.Out, opts.Format, results); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			if r.OK {
				fmt.Fprintf(opts.IO.Out, "%s: ok (%s, %d steps)\n", r.File, r.Runbook, r.Steps)
				continue
			}
			fmt.Fprintln(opts.IO.ErrOut, (&runbooks.LoadError{Source: r.File, Problems: r.Problems}).Error())
		}
	}
	if bad > 0 {
		return &cmdutil.ExitError{Code: 1, Msg: fmt.Sprintf("%d of %d runbook files have problems", bad, len(results))}
	}
	return nil
}

// PlanOptions are the inputs of `runbook plan`.
type PlanOptions struct {
	IO       *cmdutil.IOStreams
	Runbooks func() (*runbooks.Library, error)
	// Gateway says what the configured gateway can do, to decide conditions reading
	// incident.gateway (nil or an error: left undecided).
	Gateway   func() (name string, caps ports.CapabilityReporter, err error)
	Name      string
	AlertFile string
	Params    []string
	Format    string
}

// NewCmdPlan is `runbook plan NAME [--alert FILE] [--param k=v...]`.
func NewCmdPlan(f *cmdutil.Factory, runF func(context.Context, *PlanOptions) error) *cobra.Command {
	opts := &PlanOptions{IO: f.IO, Runbooks: f.Runbooks, Gateway: configGateway(f)}
	cmd := &cobra.Command{
		Use:   "plan NAME",
		Short: "Show what a runbook would do: every step with rendered params, gates and undo. Changes nothing",
		Example: `  quench runbook plan provider-outage --param route=chat
  quench runbook plan prompt-regression --alert alert.json`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if err := cmdutil.CheckFormat(opts.Format); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return planRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.AlertFile, "alert", "", "an alert (quench's normalised alert JSON) to plan against")
	cmd.Flags().StringArrayVarP(&opts.Params, "param", "p", nil, "a param as key=value (repeatable)")
	cmd.Flags().StringVarP(&opts.Format, "output", "o", cmdutil.FormatTable, "output format: table, json or yaml")
	return cmd
}

func planRun(opts *PlanOptions) error {
	lib, err := opts.Runbooks()
	if err != nil {
		return err
	}
	spec, err := lib.Get(opts.Name)
	if err != nil {
		return err
	}
	given, err := cmdutil.ParseKeyValues(opts.Params)
	if err != nil {
		return err
	}
	var a *alert.Alert
	if opts.AlertFile != "" {
		if a, err = readAlert(opts.AlertFile); err != nil {
			return err
		}
	}
	params, err := runbooks.ResolveParams(spec, given, a)
	if err != nil {
		return err
	}
	var gateway []string
	if opts.Gateway != nil {
		if _, caps, err := opts.Gateway(); err == nil {
			gateway = incidents.GatewayCan(caps)
		}
	}
	steps, err := runbooks.PlanFor(spec, params, a, gateway)
	if err != nil {
		return err
	}
	if opts.Format != cmdutil.FormatTable {
		return cmdutil.WriteData(opts.IO.Out, opts.Format, map[string]any{"runbook": spec.Name, "params": params, "steps": steps})
	}
	w := opts.IO.Out
	fmt.Fprintf(w, "Plan for %s (%s) — nothing is changed by planning\n", spec.Name, spec.Title)
	fmt.Fprintf(w, "params: %s\n\n", cmdutil.FormatParams(params))
	for i, s := range steps {
		effect := "reads only"
		if s.SideEffect {
			effect = "CHANGES THINGS"
		}
		fmt.Fprintf(w, "%d. %s  %s  (%s)\n", i+1, s.ID, s.Action, effect)
		if s.When != "" {
			res := "decided when it runs"
			if s.WhenResult != nil {
				res = fmt.Sprint(*s.WhenResult)
			}
			fmt.Fprintf(w, "   when:     %s  → %s\n", s.When, res)
		}
		if len(s.Params) > 0 {
			fmt.Fprintf(w, "   with:     %s\n", cmdutil.FormatParams(s.Params))
		}
		if s.Approval != nil {
			fmt.Fprintf(w, "   approval: %s, quorum %d%s, timeout %s → %s\n", strings.Join(s.Approval.Groups, ", "),
				max(1, s.Approval.Quorum), fourEyes(s.Approval.FourEyes), orForever(s.Approval.Timeout), orDefault(s.Approval.OnTimeout, runbooks.OnTimeoutEscalate))
		}
		switch {
		case s.Undo != "" && s.KeepChange:
			fmt.Fprintf(w, "   undo:     none, the change is kept on close\n")
		case s.Undo != "" && s.UndoApproval != nil:
			fmt.Fprintf(w, "   undo:     %s on close, after approval by %s\n", s.Undo, strings.Join(s.UndoApproval.Groups, ", "))
		case s.Undo != "":
			fmt.Fprintf(w, "   undo:     %s on close\n", s.Undo)
		}
		if s.Digest != "" && s.Approval != nil {
			fmt.Fprintf(w, "   digest:   %s (what approvers will be asked to approve)\n", runbooks.ShortDigest(s.Digest))
		}
		if v := s.Verify; v != nil {
			fmt.Fprintf(w, "   verify:   %s, else revert and escalate\n", verifyPlan(*v))
		}
	}
	return nil
}

func readAlert(path string) (*alert.Alert, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, err
	}
	var a alert.Alert
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("%s: not a quench alert JSON (fields: source, key, status, labels, annotations...): %w", path, err)
	}
	if len(a.Labels) == 0 && a.Key == "" {
		return nil, errors.New(path + ": the alert has no labels and no key")
	}
	return &a, nil
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

// verifyPlan says what a verify will check: the threshold, on how many requests sent after
// the change, by when, and after which step it starts.
func verifyPlan(v runbooks.Verify) string {
	text := v.Signal
	if v.Below != nil {
		text += fmt.Sprintf(" below %g", *v.Below)
	}
	if v.Above != nil {
		text += fmt.Sprintf(" above %g", *v.Above)
	}
	if v.MinRequests > 0 {
		text += fmt.Sprintf(" over at least %d requests", v.MinRequests)
	}
	text += fmt.Sprintf(" sent after the change, within %s", v.Within)
	if v.After != "" {
		text += " (checked once step " + v.After + " ended)"
	}
	return text
}
