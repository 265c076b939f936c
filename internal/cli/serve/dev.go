// Package serve implements the long-running commands: `quench dev` (everything in one
// process on an embedded Temporal), `quench worker` and `quench server` (the scale-out
// halves against a real Temporal cluster).
package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/quench-dev/quench/internal/app"
	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/devserver"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/runbooks"
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
}

// NewCmdDev is `quench dev`.
func NewCmdDev(f *cmdutil.Factory, runF func(context.Context, *DevOptions) error) *cobra.Command {
	opts := &DevOptions{IO: f.IO, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run everything in one process: embedded Temporal (SQLite), Web UI, worker and HTTP server",
		Long: `Run quench with nothing else to install: an embedded Temporal server on SQLite in
--data-dir (incidents survive restarts), the Temporal Web UI, the worker and the HTTP server
(API, /v1/routes, webhooks). Stop it with Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
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
	fl.StringVar(&opts.HTTPListen, "http", "", "HTTP listen address (default 127.0.0.1:8080)")
	addTargetFlags(cmd, &opts.PromptsRepo, &opts.PromptsPath, &opts.TrafficLog)
	fl.StringVar(&opts.LogLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

func addTargetFlags(cmd *cobra.Command, repo, path, traffic *string) {
	cmd.Flags().StringVar(repo, "prompts-repo", "", "local git repository holding your prompts (enables prompts.changes and prompts.rollback_pr)")
	cmd.Flags().StringVar(path, "prompts-path", "", "prompts directory inside the repository (default prompts/)")
	cmd.Flags().StringVar(traffic, "traffic-log", "", "JSONL request log with OpenTelemetry gen_ai.* fields (enables traffic.snapshot)")
}

func applyTargetFlags(cfg *config.Config, repo, path, traffic string) {
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

func newLogger(w *cmdutil.IOStreams, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, cmdutil.FlagErrorf("--log-level %q: use debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w.ErrOut, &slog.HandlerOptions{Level: l})), nil
}

func devRun(ctx context.Context, opts *DevOptions) error {
	logger, err := newLogger(opts.IO, opts.LogLevel)
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
	applyTargetFlags(cfg, opts.PromptsRepo, opts.PromptsPath, opts.TrafficLog)
	if err := app.CheckExposure(cfg); err != nil {
		return err
	}
	retention, err := time.ParseDuration(cfg.Temporal.Retention)
	if err != nil {
		return fmt.Errorf("temporal.retention %q: %w", cfg.Temporal.Retention, err)
	}
	lib, err := app.Runbooks(cfg)
	if err != nil {
		return err
	}
	targets, err := app.OpenTargets(cfg)
	if err != nil {
		return err
	}

	started := time.Now()
	uiPort := opts.UIPort
	if opts.NoUI {
		uiPort = -1
	}
	srv, err := devserver.Start(ctx, devserver.Options{
		DataDir: cfg.DataDir, FrontendPort: opts.TemporalPort, UIPort: uiPort,
		Namespace: cfg.Temporal.Namespace, Retention: retention, Logger: logger,
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			logger.Warn("stopping the embedded Temporal server", "err", err)
		}
	}()

	c, err := client.Dial(app.TemporalClientOptions(client.Options{
		HostPort: srv.FrontendAddress(), Namespace: srv.Namespace(),
		Logger: sdklog.NewStructuredLogger(logger.With("component", "temporal-sdk")),
	}))
	if err != nil {
		return fmt.Errorf("connect to the embedded Temporal server: %w", err)
	}
	defer c.Close()

	open := len(cfg.Approvers) == 0
	if open {
		logger.Warn("no approver groups configured: anyone may approve (four-eyes still applies); define approvers in quench.yaml")
	}
	w := app.NewWorker(c, cfg, targets, app.PolicyFrom(cfg, open, srv.UIURL()), logger)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	defer w.Stop()

	svc := incidents.New(c, lib, srv.Namespace())
	web, err := app.HTTPServer(cfg, svc, targets.Routes.Handler(), logger)
	if err != nil {
		return err
	}
	httpSrv := web.Server
	ln, err := app.Listen(httpSrv)
	if err != nil {
		return err
	}
	httpErr := make(chan error, 1)
	go func() { httpErr <- httpSrv.Serve(ln) }()
	if err := app.StartSlackSocketMode(ctx, cfg, web, logger); err != nil {
		return err
	}

	out := opts.IO.Out
	fmt.Fprintf(out, "quench dev is ready in %s\n", time.Since(started).Round(time.Millisecond))
	fmt.Fprintf(out, "  Temporal:   %s (namespace %s)\n", srv.FrontendAddress(), srv.Namespace())
	if srv.UIURL() != "" {
		fmt.Fprintf(out, "  Web UI:     %s\n", srv.UIURL())
	}
	fmt.Fprintf(out, "  HTTP:       http://%s  (API /api/v1, routes /v1/routes, /healthz, /metrics)\n", ln.Addr())
	printHooks(out, web)
	if s := app.SlackSummary(cfg); s != "" {
		fmt.Fprintf(out, "  Slack:      %s\n", s)
	}
	fmt.Fprintf(out, "  Data:       %s\n", cfg.DataDir)
	fmt.Fprintf(out, "  Runbooks:   %d (%s)\n", len(lib.List()), runbookNames(lib))
	fmt.Fprintf(out, "  Gateway:    %s\n", describeGateway(cfg))
	fmt.Fprintf(out, "  Prompts:    %s\n", describePrompts(cfg))
	fmt.Fprintf(out, "  Traffic:    %s\n", describeTraffic(cfg))
	fmt.Fprintln(out, "\nTry: quench incident start provider-outage --watch")
	fmt.Fprintln(out, "Pid:", strconv.Itoa(os.Getpid()))

	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err := <-httpErr:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = httpSrv.Shutdown(shutdownCtx)
	return nil
}

func runbookNames(lib *runbooks.Library) string {
	var names []string
	for _, s := range lib.List() {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

// printHooks tells where alerts go, and which hooks take them without credentials.
func printHooks(out io.Writer, web *app.HTTP) {
	if len(web.HookSources) == 0 {
		fmt.Fprintln(out, "  Hooks:      all disabled (hooks.<source>.disabled)")
		return
	}
	fmt.Fprintf(out, "  Hooks:      POST /hooks/{%s}\n", strings.Join(web.HookSources, ","))
	if len(web.UnauthenticatedHooks) > 0 {
		fmt.Fprintf(out, "              unauthenticated: %s (set hooks.<source>.token or hmac_secret to require credentials)\n",
			strings.Join(web.UnauthenticatedHooks, ", "))
	}
}

// describeGateway, describePrompts and describeTraffic say which target each port uses, so
// a newcomer sees at start what is real and what is missing.
func describeGateway(cfg *config.Config) string {
	switch cfg.Gateway.Kind {
	case "", "embedded":
		return "embedded routing table (GET /v1/routes)"
	default:
		return cfg.Gateway.Kind
	}
}

func describePrompts(cfg *config.Config) string {
	switch {
	case cfg.GitHub.Repo != "":
		return "GitHub " + cfg.GitHub.Repo
	case cfg.Prompts.Kind == "langfuse":
		return "Langfuse"
	case cfg.Prompts.Repo != "":
		return "git repository " + cfg.Prompts.Repo
	default:
		return "none (pass --prompts-repo to enable rollback proposals)"
	}
}

func describeTraffic(cfg *config.Config) string {
	switch {
	case cfg.Traffic.Kind == "langfuse" || cfg.Traffic.Kind == "prometheus":
		return cfg.Traffic.Kind
	case cfg.Traffic.Log != "":
		return "JSONL log " + cfg.Traffic.Log
	default:
		return "none (pass --traffic-log to enable evidence snapshots)"
	}
}
