// Package evidence implements `quench evidence show ID`: the traffic evidence an incident
// captured, read through the quench API (whichever process captured it, wherever its
// store is), each bundle checked against the sha256 the incident recorded, summarised per provider / model / prompt version, incident
// against baseline, with what changed most. --format markdown|html renders a report.
package evidence

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/evidence/report"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/workflows"
)

// Report formats.
const (
	FormatMarkdown = "markdown"
	FormatHTML     = "html"
)

// NewCmdEvidence is the `evidence` command group.
func NewCmdEvidence(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "evidence", Short: "Read the traffic evidence incidents captured"}
	cmd.AddCommand(NewCmdShow(f, nil))
	return cmd
}

// Reader is the quench API as `evidence show` uses it: the incident and its bundles.
type Reader interface {
	Status(ctx context.Context, ref string) (workflows.Status, error)
	Evidence(ctx context.Context, incident, name string) (ports.EvidenceRef, []byte, bool, error)
}

// ShowOptions are the inputs of `evidence show`.
type ShowOptions struct {
	IO *cmdutil.IOStreams
	// API reads the incident and its bundles: the quench API with quench dev's credential
	// (under --data-dir) or api.url and api.token.
	API func() (Reader, error)

	Ref     string
	Format  string // -o: table | json | yaml
	Report  string // --format: markdown | html
	OutFile string // --out: report file ("" or "-": stdout)
}

// APIReader is the API client the CLI holds a credential for, as a Reader.
func APIReader(f *cmdutil.Factory) func() (Reader, error) {
	return func() (Reader, error) {
		a, err := f.Actor()
		if err != nil {
			return nil, err
		}
		r, ok := a.Client.(Reader)
		if !ok {
			return nil, fmt.Errorf("the CLI's incidents client (%T) cannot read evidence", a.Client)
		}
		return r, nil
	}
}

// NewCmdShow is `evidence show ID`.
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{IO: f.IO, API: APIReader(f)}
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Summarise an incident's traffic evidence: per provider / model / prompt version, incident vs baseline",
		Long: `Read the evidence bundles an incident captured (traffic.snapshot steps) through the quench
API, check each against the sha256 the incident recorded, and summarise them: totals, a
table per provider / model / prompt version (incident against baseline) and what changed
most.

The API reads the bundles from the evidence store of the server, wherever the worker that
captured them ran: the CLI needs no access to any data dir. It talks to quench dev with
the credential it writes under --data-dir, or to a quench server with api.url and
api.token from the config.

  quench evidence show 1a2b3c
  quench evidence show 1a2b3c --format markdown --out incident.md
  quench evidence show 1a2b3c --format html --out incident.html
  quench evidence show 1a2b3c -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref = args[0]
			if err := cmdutil.CheckFormat(opts.Format); err != nil {
				return err
			}
			switch opts.Report {
			case "", FormatMarkdown, FormatHTML:
			default:
				return cmdutil.FlagErrorf("--format %q: use markdown or html (or -o table|json for the terminal)", opts.Report)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return ShowRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Format, "output", "o", cmdutil.FormatTable, "output format: table, json or yaml")
	fl.StringVar(&opts.Report, "format", "", "render a report instead: markdown or html")
	fl.StringVar(&opts.OutFile, "out", "", "write the report to this file (default stdout)")
	return cmd
}

// ShowRun reads, verifies and shows the evidence.
func ShowRun(ctx context.Context, opts *ShowOptions) error {
	api, err := opts.API()
	if err != nil {
		return err
	}
	st, err := api.Status(ctx, opts.Ref)
	if err != nil {
		return err
	}
	rep, err := report.Load(ctx, st, report.SourceFunc(api.Evidence))
	if err != nil {
		return err
	}
	switch {
	case opts.Report != "":
		return writeReport(opts, rep)
	case opts.Format != cmdutil.FormatTable:
		return cmdutil.WriteData(opts.IO.Out, opts.Format, rep)
	}
	return report.WriteText(opts.IO.Out, rep)
}

func writeReport(opts *ShowOptions, rep report.Report) error {
	var w io.Writer = opts.IO.Out
	if opts.OutFile != "" && opts.OutFile != "-" {
		f, err := os.Create(opts.OutFile)
		if err != nil {
			return fmt.Errorf("write the report: %w", err)
		}
		defer f.Close()
		w = f
	}
	var err error
	if opts.Report == FormatHTML {
		err = report.WriteHTML(w, rep)
	} else {
		err = report.WriteMarkdown(w, rep)
	}
	if err != nil {
		return err
	}
	if opts.OutFile != "" && opts.OutFile != "-" {
		fmt.Fprintf(opts.IO.ErrOut, "report written to %s\n", opts.OutFile)
	}
	return nil
}
