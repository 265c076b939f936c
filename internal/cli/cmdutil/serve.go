package cmdutil

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/quench-dev/quench/internal/config"
)

// What the long-running commands (quench dev, worker, server) share.

// NewLogger is a long-running command's logger on stderr at --log-level.
func NewLogger(w *IOStreams, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, FlagErrorf("--log-level %q: use debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w.ErrOut, &slog.HandlerOptions{Level: l})), nil
}

// AddTargetFlags adds the flags that point quench dev and quench worker at local targets.
func AddTargetFlags(cmd *cobra.Command, repo, path, traffic *string) {
	cmd.Flags().StringVar(repo, "prompts-repo", "", "local git repository holding your prompts (enables prompts.changes and prompts.rollback_pr)")
	cmd.Flags().StringVar(path, "prompts-path", "", "prompts directory inside the repository (default prompts/)")
	cmd.Flags().StringVar(traffic, "traffic-log", "", "JSONL request log with OpenTelemetry gen_ai.* fields (enables traffic.snapshot)")
}

// ApplyTargetFlags puts the flags AddTargetFlags filled over the config.
func ApplyTargetFlags(cfg *config.Config, repo, path, traffic string) {
	if repo != "" {
		cfg.Prompts.Repo = repo
	}
	if path != "" {
		cfg.Prompts.Path = path
	}
	if traffic != "" {
		cfg.Traffic.Log = traffic
	}
}

// OwnTemporal marks a command that runs its own embedded Temporal server (dev, demo): the
// root's --temporal-address would mean nothing to it, so its help leaves the flag out and
// giving it is a usage error that says why (instead), rather than being silently ignored.
func OwnTemporal(cmd *cobra.Command, instead string) {
	const flag = "temporal-address"
	cmd.SetHelpFunc(func(c *cobra.Command, args []string) {
		// The flag is the root's: hide it for this one rendering only.
		if fl := c.InheritedFlags().Lookup(flag); fl != nil && !fl.Hidden {
			fl.Hidden = true
			defer func() { fl.Hidden = false }()
		}
		if !c.HasParent() { // alone (a test): there is no root flag to hide
			fmt.Fprint(c.OutOrStdout(), c.UsageString())
			return
		}
		c.Parent().HelpFunc()(c, args) // what cobra renders for c without a help func of its own
	})
	run := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		if c.Flags().Changed(flag) {
			return FlagErrorf("quench %s does not take --%s: %s", c.Name(), flag, instead)
		}
		if run != nil {
			return run(c, args)
		}
		return nil
	}
}
