package incident

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/incidents"
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

	Ref     string
	Format  string // markdown | json
	OutFile string
	DataDir string
	UIURL   string
}

// NewCmdPostmortem is `incident postmortem ID`.
func NewCmdPostmortem(f *cmdutil.Factory, runF func(context.Context, *PostmortemOptions) error) *cobra.Command {
	opts := &PostmortemOptions{IO: f.IO, Incidents: f.Incidents, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "postmortem ID",
		Short: "Write an incident's postmortem: summary, timeline, decisions, mitigations, evidence, links",
		Long: `Render a postmortem from the incident's workflow history (every run, across
continue-as-new), its final status and the evidence bundles in the store under --data-dir
(each checked against the sha256 the incident recorded).

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
	fl.StringVar(&opts.DataDir, "data-dir", "", "the data dir holding the evidence store (default the config's, ./quench-data)")
	fl.StringVar(&opts.UIURL, "ui-url", "", "Temporal Web UI base URL for the link (default http://127.0.0.1:<temporal.ui_port>)")
	return cmd
}

func postmortemRun(ctx context.Context, opts *PostmortemOptions) error {
	svc, err := opts.Incidents()
	if err != nil {
		return err
	}
	dataDir, uiURL := opts.DataDir, opts.UIURL
	if dataDir == "" || uiURL == "" {
		cfg, err := opts.Config()
		if err != nil {
			return err
		}
		if dataDir == "" {
			dataDir = cfg.DataDir
		}
		if uiURL == "" && cfg.Temporal.UIPort > 0 {
			uiURL = fmt.Sprintf("http://127.0.0.1:%d", cfg.Temporal.UIPort)
		}
	}
	rep, err := postmortem.Load(ctx, svc, opts.Ref, dataDir, uiURL)
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
