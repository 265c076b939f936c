package runbook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/quench-dev/quench/internal/alert"
	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/runbooks"
)

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
