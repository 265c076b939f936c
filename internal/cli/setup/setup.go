// Package setup implements `quench setup`: prepare a Temporal cluster for quench (the
// namespace and quench's search attributes) and apply the configured routes to the shared
// routing table, once, before `quench worker` and `quench server` start on it (they never
// write routes themselves). Running it again changes nothing.
package setup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/temporalsetup"
)

// SetupOptions are the inputs of `quench setup`.
type SetupOptions struct {
	IO     *cmdutil.IOStreams
	Config func() (*config.Config, error)
	// AddressFlag / NamespaceFlag: the global flags were given (they beat TEMPORAL_*).
	AddressFlag, NamespaceFlag func() bool
	// Dial connects to Temporal (tests may replace it); nil dials with opts.
	Dial func(client.Options) (client.Client, error)

	DryRun bool
	Format string
	// Wait bounds the wait for new search attributes to become usable.
	Wait time.Duration
}

// NewCmdSetup is `quench setup`.
func NewCmdSetup(f *cmdutil.Factory, runF func(context.Context, *SetupOptions) error) *cobra.Command {
	opts := &SetupOptions{
		IO: f.IO, Config: f.Config,
		AddressFlag:   func() bool { return f.TemporalAddress != "" },
		NamespaceFlag: func() bool { return f.Namespace != "" },
	}
	cmd := &cobra.Command{
		Use:   "setup",
		Short: "Register quench's namespace and search attributes on a Temporal cluster and apply the routes (idempotent)",
		Long: `Prepare a Temporal cluster for quench worker and quench server: register the namespace
(--namespace, TEMPORAL_NAMESPACE or temporal.namespace; retention from temporal.retention)
when it is missing, and add quench's search attributes (QuenchRunbook, QuenchStatus,
QuenchService, QuenchSeverity, QuenchShortID, all Keyword) that are missing.

It also applies gateway.routes to the routing table in quench's store (store.kind): it adds
and updates routes and removes the ones no longer configured, one line per change, but keeps
a route an open incident holds (switched or blocked and not yet restored) and says so.
quench worker and quench server never write routes; they warn when theirs differ.

It says what it created, what was already there, and which permission it lacks. A second
run changes nothing. --dry-run only looks. quench dev needs none of this: its embedded
server is set up and its routes applied when it starts.`,
		Example: `  quench setup --temporal-address temporal.internal:7233 --namespace quench
  quench setup --dry-run -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.CheckFormat(opts.Format); err != nil {
				return err
			}
			if opts.Wait < 0 {
				return cmdutil.FlagErrorf("--wait must not be negative")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return setupRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "only report what is missing; change nothing")
	cmd.Flags().StringVarP(&opts.Format, "output", "o", cmdutil.FormatTable, "output format: table, json or yaml")
	cmd.Flags().DurationVar(&opts.Wait, "wait", 30*time.Second, "how long to wait for a new namespace or search attributes to become usable")
	return cmd
}

func setupRun(ctx context.Context, opts *SetupOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	retention, err := time.ParseDuration(cfg.Temporal.Retention)
	if err != nil || retention <= 0 {
		return fmt.Errorf("temporal.retention %q is not a positive duration (e.g. 720h)", cfg.Temporal.Retention)
	}
	copts, err := cmdutil.ClientOptions(cfg, opts.AddressFlag(), opts.NamespaceFlag())
	if err != nil {
		return err
	}
	dial := opts.Dial
	if dial == nil {
		dial = client.Dial
	}
	// Dial checks the namespace only lazily, so a missing one does not stop it here.
	c, err := dial(copts)
	if err != nil {
		return fmt.Errorf("cannot reach Temporal at %s: %w (set --temporal-address or TEMPORAL_ADDRESS; TLS and API key via TEMPORAL_TLS*, TEMPORAL_API_KEY)", copts.HostPort, err)
	}
	defer c.Close()

	rep, err := temporalsetup.Ensure(ctx, c, temporalsetup.Options{
		Namespace: copts.Namespace, Address: copts.HostPort, Retention: retention, DryRun: opts.DryRun, Wait: opts.Wait,
	})
	if opts.DryRun && errors.Is(err, temporalsetup.ErrNamespaceNotFound) {
		err = nil // a missing namespace is the dry run's answer, not its failure
	}
	if err == nil {
		err = applyRoutes(ctx, cfg, rep, opts.DryRun)
	}
	if opts.Format != cmdutil.FormatTable {
		if werr := cmdutil.WriteData(opts.IO.Out, opts.Format, rep); werr != nil {
			return werr
		}
		return err
	}
	writeReport(opts.IO, rep, opts.DryRun, err == nil)
	return err
}

func writeReport(io *cmdutil.IOStreams, rep *temporalsetup.Report, dryRun, ok bool) {
	w := io.Out
	if io.TTY {
		fmt.Fprintf(w, "Temporal %s, namespace %s\n", rep.Address, rep.Namespace)
	}
	for _, a := range rep.Actions {
		if io.TTY {
			fmt.Fprintf(w, "  %s %s\n", mark(a.Result), a)
		} else {
			fmt.Fprintln(w, a)
		}
	}
	if !ok {
		return
	}
	switch {
	case dryRun && rep.Ready:
		fmt.Fprintln(w, "nothing to do: the namespace, every search attribute and the routes are in place")
	case dryRun:
		fmt.Fprintln(w, "dry run: nothing changed; run `quench setup` to create what is missing")
	case rep.Changed:
		fmt.Fprintf(w, "namespace %s is ready for quench worker and quench server\n", rep.Namespace)
	default:
		fmt.Fprintln(w, "nothing to do: the namespace, every search attribute and the routes were already in place")
	}
}

func mark(result string) string {
	switch result {
	case temporalsetup.Created:
		return "+"
	case temporalsetup.Present:
		return "="
	case temporalsetup.Updated, temporalsetup.Removed:
		return "~"
	}
	return "!"
}
