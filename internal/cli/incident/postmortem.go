package incident

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/evidence/report"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/postmortem"
)

// Postmortem formats.
const (
	FormatMarkdown = "markdown"
)

// PostmortemOptions are the inputs of `incident postmortem`.
type PostmortemOptions struct {
	IO        *cmdutil.IOStreams
	Incidents func() (*incidents.Service, error)
	Config    func() (*config.Config, error)
	// Evidence reads the bundles: the quench API with the CLI's credential, so the
	// postmortem never needs the data dir of the worker that captured them.
	Evidence func() (report.Source, error)

	Ref     string
	Format  string // markdown | json
	OutFile string
	UIURL   string
}

// evidenceReader is the API client's read of a bundle.
type evidenceReader interface {
	Evidence(ctx context.Context, incident, name string) (ports.EvidenceRef, []byte, bool, error)
}

// apiEvidence reads bundles through the quench API the CLI holds a credential for.
func apiEvidence(f *cmdutil.Factory) func() (report.Source, error) {
	return func() (report.Source, error) {
		a, err := f.Actor()
		if err != nil {
			return nil, err
		}
		r, ok := a.Client.(evidenceReader)
		if !ok {
			return nil, fmt.Errorf("the CLI's incidents client (%T) cannot read evidence", a.Client)
		}
		return report.SourceFunc(r.Evidence), nil
	}
}

// NewCmdPostmortem is `incident postmortem ID`.
func NewCmdPostmortem(f *cmdutil.Factory, runF func(context.Context, *PostmortemOptions) error) *cobra.Command {
	opts := &PostmortemOptions{IO: f.IO, Incidents: f.Incidents, Config: f.Config, Evidence: apiEvidence(f)}
	cmd := &cobra.Command{
		Use:   "postmortem ID",
		Short: "Write an incident's postmortem: summary, timeline, decisions, mitigations, evidence, links",
		Long: `Render a postmortem from the incident's workflow history (every run, across
continue-as-new), its final status and its evidence bundles, read through the quench API
(quench dev's credential under --data-dir, or api.url and api.token) and each checked
against the sha256 the incident recorded. When the API cannot be reached the postmortem
still renders, says why and lists the recorded digests.

  quench incident postmortem 1a2b3c
  quench incident postmortem 1a2b3c --out postmortem.md
  quench incident postmortem 1a2b3c -o json`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeIncidentIDs(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref = args[0]
			switch opts.Format {
			case FormatMarkdown, "md", cmdutil.FormatJSON:
			default:
				return cmdutil.FlagErrorf("unknown output format %q: use markdown or json", opts.Format)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return postmortemRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Format, "output", "o", FormatMarkdown, "output format: markdown or json")
	fl.StringVar(&opts.OutFile, "out", "", "write the postmortem to this file (default stdout)")
	fl.StringVar(&opts.UIURL, "ui-url", "", "Temporal Web UI base URL for the link (default http://127.0.0.1:<temporal.ui_port>)")
	return cmd
}

func postmortemRun(ctx context.Context, opts *PostmortemOptions) error {
	svc, err := opts.Incidents()
	if err != nil {
		return err
	}
	uiURL := opts.UIURL
	if uiURL == "" {
		cfg, err := opts.Config()
		if err != nil {
			return err
		}
		if cfg.Temporal.UIPort > 0 {
			uiURL = fmt.Sprintf("http://127.0.0.1:%d", cfg.Temporal.UIPort)
		}
	}
	src, err := opts.Evidence()
	if err != nil {
		// The postmortem still renders from history; the evidence section says why it is missing.
		why := fmt.Errorf("cannot read evidence through the quench API: %w", err)
		src = report.SourceFunc(func(context.Context, string, string) (ports.EvidenceRef, []byte, bool, error) {
			return ports.EvidenceRef{}, nil, false, why
		})
	}
	rep, err := postmortem.Load(ctx, svc, opts.Ref, src, uiURL)
	if err != nil {
		return err
	}
	var w io.Writer = opts.IO.Out
	if opts.OutFile != "" && opts.OutFile != "-" {
		file, err := os.Create(opts.OutFile)
		if err != nil {
			return fmt.Errorf("write the postmortem: %w", err)
		}
		defer file.Close()
		w = file
	}
	if opts.Format == cmdutil.FormatJSON {
		err = cmdutil.WriteData(w, cmdutil.FormatJSON, rep)
	} else {
		err = postmortem.WriteMarkdown(w, rep)
	}
	if err != nil {
		return err
	}
	if opts.OutFile != "" && opts.OutFile != "-" {
		fmt.Fprintf(opts.IO.ErrOut, "postmortem written to %s\n", opts.OutFile)
	}
	return nil
}
