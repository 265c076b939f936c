package runbook

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/quench-dev/quench/internal/app"
	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/runbooks"
)

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
