// Package dev implements `quench dev`: everything in one process on an embedded Temporal
// server. Only quench-embedded links it (with demo and bench); the light quench hands
// `dev` over to quench-embedded (internal/cli/embedded.go).
package dev

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/quench-dev/quench/internal/api"
	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/datadir"
	"github.com/quench-dev/quench/internal/devserver"
	"github.com/quench-dev/quench/internal/devstack"
	"github.com/quench-dev/quench/internal/incidents/apiclient"
)

// DevOptions are the inputs of `quench dev`.
type DevOptions struct {
	IO     *cmdutil.IOStreams
	Config func() (*config.Config, error)

	DataDir      string
	TemporalPort int
	UIPort       int
	NoUI         bool
	HTTPListen   string
	PromptsRepo  string
	PromptsPath  string
	TrafficLog   string
	LogLevel     string
	// Sample writes the sample traffic log and prompts repository into the data dir for
	// what is not configured (on by default).
	Sample bool

	// UIWriteActions lets the Web UI terminate, signal, reset... workflows.
	UIWriteActions bool
	// Speed divides every wait of the incidents it starts (hidden: story tests and rehearsals).
	Speed float64
}

// NewCmdDev is `quench dev`.
func NewCmdDev(f *cmdutil.Factory, runF func(context.Context, *DevOptions) error) *cobra.Command {
	opts := &DevOptions{IO: f.IO, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run everything in one process: embedded Temporal (SQLite), Web UI, worker and HTTP server",
		Long: `Run quench with nothing else to install: an embedded Temporal server on SQLite in
--data-dir (incidents survive restarts), the Temporal Web UI, the worker and the HTTP server
(API, /v1/routes, webhooks). Stop it with Ctrl-C.

Port 0 (--temporal-port 0, --ui-port 0, --http 127.0.0.1:0) picks a free port. Once ready,
quench dev prints where everything is and writes the addresses it got as JSON to
<data-dir>/` + AddressFile + ` (removed when it stops), for scripts:
{"temporal": "127.0.0.1:7233", "namespace": "default", "http": "127.0.0.1:8080", "ui": "http://127.0.0.1:8233"}

It also writes <data-dir>/cli-credential (mode 0600; the data dir is made 0700): a token
the API takes as cli:<your OS user>. The quench CLI finds it through --data-dir (or data_dir
in the config) and acts through the API with it; nobody else on the machine can read it.
dev.allow_as: true in the config lets the CLI act as others with --as (development only).

Without --traffic-log or a prompts target, quench dev uses a sample it creates in
<data-dir>/sample at first start: a JSONL traffic log (a provider outage on route chat) and
a git repository of prompts with one recent change, so every built-in runbook has something
to work on. It never overwrites your files; --sample=false turns it off, and the steps that
need what is missing are then skipped with the reason.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !(opts.Speed > 0) || math.IsInf(opts.Speed, 0) {
				return cmdutil.FlagErrorf("--speed must be a number above 0, not %v", opts.Speed)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return devRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.DataDir, "data-dir", "", "where incidents, the routing table and evidence live (default ./quench-data)")
	fl.IntVar(&opts.TemporalPort, "temporal-port", 7233, "embedded Temporal frontend port")
	fl.IntVar(&opts.UIPort, "ui-port", config.DefaultUIPort, "Temporal Web UI port")
	fl.BoolVar(&opts.NoUI, "no-ui", false, "do not serve the Temporal Web UI")
	fl.BoolVar(&opts.UIWriteActions, "ui-write-actions", false,
		"let the Web UI terminate, cancel, signal, update, reset and start workflows (off: incidents change only through quench, where approvals and undo are recorded)")
	fl.StringVar(&opts.HTTPListen, "http", "", "HTTP listen address (default 127.0.0.1:8080)")
	cmdutil.AddTargetFlags(cmd, &opts.PromptsRepo, &opts.PromptsPath, &opts.TrafficLog)
	fl.StringVar(&opts.LogLevel, "log-level", "info", "debug, info, warn or error")
	fl.Float64Var(&opts.Speed, "speed", 1, "divide every wait of the incidents it starts (verify, waits, approval timeouts) by this; rehearsals and tests only")
	_ = fl.MarkHidden("speed")
	fl.BoolVar(&opts.Sample, "sample", true,
		"without --traffic-log or a prompts target, use a sample traffic log and prompts repository created in <data-dir>/sample (never overwriting your files; --sample=false for none)")
	cmdutil.OwnTemporal(cmd, "use --temporal-port to choose the port of the Temporal server it starts")
	return cmd
}

// osUser names the OS user running quench dev, whose CLI the local credential is for.
func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if v := os.Getenv("USER"); v != "" {
		return v
	}
	return "uid-" + strconv.Itoa(os.Getuid())
}

func devRun(ctx context.Context, opts *DevOptions) error {
	started := time.Now()
	logger, err := cmdutil.NewLogger(opts.IO, opts.LogLevel)
	if err != nil {
		return err
	}
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	if opts.DataDir != "" {
		cfg.DataDir = opts.DataDir
	}
	if opts.HTTPListen != "" {
		cfg.HTTP.Listen = opts.HTTPListen
	}
	cmdutil.ApplyTargetFlags(cfg, opts.PromptsRepo, opts.PromptsPath, opts.TrafficLog)
	uiPort := opts.UIPort
	if opts.NoUI {
		uiPort = devserver.NoUI
	}
	open := len(cfg.Approvers) == 0
	// The data dir lock is the first thing quench dev does with the data dir: a second
	// quench dev on it stops here, having opened and written nothing. Whatever quench dev
	// writes into the data dir comes after this, while the lock is held.
	lock, err := datadir.Acquire(cfg.DataDir, "quench dev")
	if err != nil {
		return err
	}
	defer lock.Release()
	sampleLine, err := ensureSample(cfg, opts.Sample, started, logger)
	if err != nil {
		return err
	}
	// The CLI of the OS user running quench dev acts through the API with this credential;
	// it is written to the data dir once the stack holds the data dir's lock.
	token, err := apiclient.NewToken()
	if err != nil {
		return err
	}
	dev := &api.DevCredential{Token: token, Identity: "cli:" + osUser(), AllowActAs: cfg.Dev.AllowAs}
	stack, err := devstack.Start(ctx, devstack.Options{Config: cfg, Lock: lock, FrontendPort: opts.TemporalPort, UIPort: uiPort,
		UIWriteActions: opts.UIWriteActions, OpenApprovals: open, Dev: dev, Logger: logger, Speed: opts.Speed})
	if err != nil {
		return err
	}
	defer stack.Stop()
	if dev.AllowActAs {
		logger.Warn("dev.allow_as is on: the CLI may act as anyone with --as; for development only")
	}
	if open {
		logger.Warn("no approver groups configured: anyone may approve (four-eyes still applies); define approvers in quench.yaml")
	}

	addrFile := filepath.Join(cfg.DataDir, AddressFile)
	if err := writeAddresses(addrFile, stack.Addresses()); err != nil {
		return err
	}
	// Removed on a clean stop, so a script never reads the ports of a quench that is gone.
	defer os.Remove(addrFile)
	credPath, err := apiclient.WriteCredential(cfg.DataDir, apiclient.Credential{
		URL: stack.HTTPURL, Token: token, Identity: dev.Identity, AllowAs: dev.AllowActAs, PID: os.Getpid()})
	if err != nil {
		return err
	}
	defer apiclient.RemoveCredential(cfg.DataDir, token)
	logger.Info("CLI credential written: quench incident commands act as "+dev.Identity, "path", credPath)

	sum := summaryOf(stack, cfg.DataDir, time.Since(started))
	sum.Sample = sampleLine
	sum.CLI = fmt.Sprintf("acts as %s with %s", dev.Identity, credPath)
	if dev.AllowActAs {
		sum.CLI += " (--as allowed: dev.allow_as)"
	}
	sum.Page = stack.HTTPURL + "/"
	if stack.Web.Page != nil && config.IsLoopback(stack.HTTPAddr) {
		// Like a notebook server's token: the OS user who started quench dev signs in to the
		// page as their CLI identity by opening it once. Printed here, never logged.
		// The link is a row of the store in the data dir; without it the page still reads.
		if link, err := stack.Web.Page.OneTimeLogin(ctx, dev.Identity); err != nil {
			logger.Warn("no one-time sign-in link for the incident page", "err", err)
		} else {
			sum.PageLogin = stack.HTTPURL + link
		}
	}
	writeSummary(opts.IO.Out, sum)

	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err := <-stack.Err():
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
	}
	return nil
}
