// Package evidence implements `quench evidence show ID`: the traffic evidence an incident
// captured, read from the evidence store in the data dir, each bundle checked against the
// sha256 the incident recorded, summarised per provider / model / prompt version, incident
// against baseline, with what changed most. --format markdown|html renders a report.
package evidence

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/quench-dev/quench/internal/evidence/bundle"
	"github.com/quench-dev/quench/internal/ports"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/config"
	evstore "github.com/quench-dev/quench/internal/evidence"
	"github.com/quench-dev/quench/internal/targets/traffic/prometheus"
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

// ShowOptions are the inputs of `evidence show`.
type ShowOptions struct {
	IO     *cmdutil.IOStreams
	Status func(ctx context.Context, ref string) (workflows.Status, error)
	Config func() (*config.Config, error)

	Ref     string
	DataDir string
	Format  string // -o: table | json | yaml
	Report  string // --format: markdown | html
	OutFile string // --out: report file ("" or "-": stdout)
}

// NewCmdShow is `evidence show ID`.
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{IO: f.IO, Config: f.Config, Status: func(ctx context.Context, ref string) (workflows.Status, error) {
		svc, err := f.Incidents()
		if err != nil {
			return workflows.Status{}, err
		}
		return svc.Status(ctx, ref)
	}}
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Summarise an incident's traffic evidence: per provider / model / prompt version, incident vs baseline",
		Long: `Read the evidence bundles an incident captured (traffic.snapshot steps) from the evidence
store under --data-dir, check each against the sha256 the incident recorded, and summarise
them: totals, a table per provider / model / prompt version (incident against baseline)
and what changed most.

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
	fl.StringVar(&opts.DataDir, "data-dir", "", "the data dir holding the evidence store (default the config's, ./quench-data)")
	fl.StringVarP(&opts.Format, "output", "o", cmdutil.FormatTable, "output format: table, json or yaml")
	fl.StringVar(&opts.Report, "format", "", "render a report instead: markdown or html")
	fl.StringVar(&opts.OutFile, "out", "", "write the report to this file (default stdout)")
	return cmd
}

// Bundle is one verified bundle as the report sees it.
type Bundle struct {
	Ref      ports.EvidenceRef `json:"ref"`
	Step     string            `json:"step"`
	Verified bool              `json:"verified"`
	Doc      Doc               `json:"bundle"`
}

// Doc is a traffic bundle of any source: the JSONL log's, plus Prometheus's series.
type Doc struct {
	bundle.Bundle
	Series []prometheus.Series `json:"series,omitempty"`
}

// Report is what `evidence show` shows.
type Report struct {
	IncidentID string   `json:"incident_id"`
	ShortID    string   `json:"short_id"`
	Title      string   `json:"title"`
	Runbook    string   `json:"runbook"`
	State      string   `json:"state"`
	Bundles    []Bundle `json:"bundles"`
}

// ShowRun reads, verifies and shows the evidence.
func ShowRun(ctx context.Context, opts *ShowOptions) error {
	st, err := opts.Status(ctx, opts.Ref)
	if err != nil {
		return err
	}
	dir := opts.DataDir
	if dir == "" {
		cfg, err := opts.Config()
		if err != nil {
			return err
		}
		dir = cfg.DataDir
	}
	rep, err := Load(ctx, st, filepath.Join(dir, "evidence"))
	if err != nil {
		return err
	}
	switch {
	case opts.Report != "":
		return writeReport(opts, rep)
	case opts.Format != cmdutil.FormatTable:
		return cmdutil.WriteData(opts.IO.Out, opts.Format, rep)
	}
	return WriteText(opts.IO.Out, rep)
}

// Load reads the incident's bundles from the store at dir, each checked against the
// sha256 the incident recorded.
func Load(ctx context.Context, st workflows.Status, dir string) (Report, error) {
	rep := Report{IncidentID: st.IncidentID, ShortID: st.ShortID, Title: st.Title, Runbook: st.Runbook, State: st.State, Bundles: []Bundle{}}
	if len(st.Evidence) == 0 {
		return rep, nil
	}
	if _, err := os.Stat(dir); err != nil {
		return rep, fmt.Errorf("no evidence store at %s (%v): run this where the worker keeps its data, or pass --data-dir", dir, err)
	}
	store, err := evstore.Open(dir)
	if err != nil {
		return rep, err
	}
	for _, ref := range st.Evidence {
		// By incident and name, not by the recorded URI: the data dir may have been copied or
		// mounted elsewhere since.
		_, data, ok, err := store.Get(ctx, st.IncidentID, ref.Name)
		switch {
		case err != nil:
			return rep, fmt.Errorf("evidence %s of incident %s: %w", ref.Name, st.ShortID, err)
		case !ok:
			return rep, fmt.Errorf("evidence %s of incident %s is not in the store at %s (recorded at %s): pass the worker's --data-dir", ref.Name, st.ShortID, dir, ref.URI)
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != ref.SHA256 {
			return rep, fmt.Errorf("evidence %s of incident %s has sha256 %s but the incident recorded %s: the bundle was changed after capture", ref.Name, st.ShortID, got, ref.SHA256)
		}
		var doc Doc
		if err := json.Unmarshal(data, &doc); err != nil || doc.Schema != bundle.Schema {
			return rep, fmt.Errorf("evidence %s is not a %s bundle (schema %q): this quench cannot read it", ref.URI, bundle.Schema, doc.Schema)
		}
		rep.Bundles = append(rep.Bundles, Bundle{Ref: ref, Step: ref.Name, Verified: true, Doc: doc})
	}
	return rep, nil
}

func writeReport(opts *ShowOptions, rep Report) error {
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
		err = WriteHTML(w, rep)
	} else {
		err = WriteMarkdown(w, rep)
	}
	if err != nil {
		return err
	}
	if opts.OutFile != "" && opts.OutFile != "-" {
		fmt.Fprintf(opts.IO.ErrOut, "report written to %s\n", opts.OutFile)
	}
	return nil
}
