package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/quench-dev/quench/internal/app"
	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/datadir"
	"github.com/quench-dev/quench/internal/incidents"
)

// RemoteOptions are the inputs of `quench worker` and `quench server`.
type RemoteOptions struct {
	IO     *cmdutil.IOStreams
	Config func() (*config.Config, error)
	// AddressFlag / NamespaceFlag: the global flags were given (they beat TEMPORAL_*).
	AddressFlag, NamespaceFlag func() bool

	DataDir     string
	HTTPListen  string
	PromptsRepo string
	PromptsPath string
	TrafficLog  string
	LogLevel    string
	// Setup (worker --setup) registers the namespace and search attributes before polling.
	Setup bool
}

func newRemoteOptions(f *cmdutil.Factory) *RemoteOptions {
	return &RemoteOptions{
		IO: f.IO, Config: f.Config,
		AddressFlag:   func() bool { return f.TemporalAddress != "" },
		NamespaceFlag: func() bool { return f.Namespace != "" },
	}
}

// NewCmdWorker is `quench worker`.
func NewCmdWorker(f *cmdutil.Factory, runF func(context.Context, *RemoteOptions) error) *cobra.Command {
	opts := newRemoteOptions(f)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run the worker only, against a Temporal cluster (--temporal-address, TEMPORAL_* env)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return workerRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.DataDir, "data-dir", "", "routing table and evidence directory (default ./quench-data)")
	cmd.Flags().BoolVar(&opts.Setup, "setup", false, "register the namespace and quench's search attributes when missing, as `quench setup` does, before polling")
	addTargetFlags(cmd, &opts.PromptsRepo, &opts.PromptsPath, &opts.TrafficLog)
	cmd.Flags().StringVar(&opts.LogLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

func dialRemote(opts *RemoteOptions, cfg *config.Config) (client.Client, string, error) {
	c, copts, err := dialRemoteOptions(opts, cfg)
	return c, copts.Namespace, err
}

func dialRemoteOptions(opts *RemoteOptions, cfg *config.Config) (client.Client, client.Options, error) {
	copts, err := cmdutil.ClientOptions(cfg, opts.AddressFlag(), opts.NamespaceFlag())
	if err != nil {
		return nil, copts, err
	}
	logger, _ := newLogger(opts.IO, opts.LogLevel)
	copts.Logger = sdklog.NewStructuredLogger(logger.With("component", "temporal-sdk"))
	c, err := client.Dial(app.TemporalClientOptions(copts))
	if err != nil {
		return nil, copts, fmt.Errorf("cannot reach Temporal at %s: %w; check that Temporal's frontend is running and reachable from here at that address, or point quench at it with --temporal-address or TEMPORAL_ADDRESS (TLS and API key via TEMPORAL_TLS*, TEMPORAL_API_KEY)", copts.HostPort, err)
	}
	return c, copts, nil
}

func workerRun(ctx context.Context, opts *RemoteOptions) error {
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
	applyTargetFlags(cfg, opts.PromptsRepo, opts.PromptsPath, opts.TrafficLog)
	lock, err := lockShared(cfg, "quench worker")
	if err != nil {
		return err
	}
	defer lock.Release()
	adapters, err := app.Resolve(cfg, logger)
	if err != nil {
		return err
	}
	adapters.WarnRouteDrift(ctx, cfg, logger)
	c, copts, err := dialRemoteOptions(opts, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	namespace := copts.Namespace
	if err := prepareNamespace(ctx, c, cfg, copts.HostPort, namespace, opts.Setup, logger); err != nil {
		return err
	}
	decisions, err := app.ResolveDecisions(cfg, "")
	if err != nil {
		return err
	}
	if len(decisions.Keys) == 0 {
		logger.Warn("no decision key configured: every approval will be refused; set decisions.signing_key (or decisions.trusted_keys) as quench server has it")
	}
	policy := app.PolicyFrom(cfg, false, "")
	policy.DecisionKeys = decisions.Keys
	app.NewConfigAgreement(adapters.Store, cfg, "worker", processName("worker")).Run(ctx, logger)
	w := app.NewWorker(c, cfg, adapters, policy, logger)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	logger.Info("worker running", append([]any{"namespace", namespace, "task_queue", "quench"}, choiceAttrs(adapters)...)...)
	<-ctx.Done()
	logger.Info("worker stopping: finishing running activities")
	w.Stop()
	return nil
}

// NewCmdServer is `quench server`: the HTTP ingress and API only.
func NewCmdServer(f *cmdutil.Factory, runF func(context.Context, *RemoteOptions) error) *cobra.Command {
	opts := newRemoteOptions(f)
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the HTTP ingress and API only, against a Temporal cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return serverRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.HTTPListen, "http", "", "HTTP listen address (default 127.0.0.1:8080)")
	cmd.Flags().StringVar(&opts.DataDir, "data-dir", "", "serve /v1/routes from the routing table in this directory")
	cmd.Flags().StringVar(&opts.LogLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

func serverRun(ctx context.Context, opts *RemoteOptions) error {
	logger, err := newLogger(opts.IO, opts.LogLevel)
	if err != nil {
		return err
	}
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	if opts.HTTPListen != "" {
		cfg.HTTP.Listen = opts.HTTPListen
	}
	if opts.DataDir != "" {
		cfg.DataDir = opts.DataDir
	}
	if err := app.CheckExposure(cfg); err != nil {
		return err
	}
	lib, err := app.Runbooks(cfg)
	if err != nil {
		return err
	}
	lock, err := lockShared(cfg, "quench server")
	if err != nil {
		return serverDataDirError(cfg.DataDir, err)
	}
	defer lock.Release()
	adapters, err := app.Resolve(cfg, logger)
	if err != nil {
		return serverDataDirError(cfg.DataDir, err)
	}
	adapters.WarnRouteDrift(ctx, cfg, logger)
	c, namespace, err := dialRemote(opts, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	decisions, err := app.ResolveDecisions(cfg, "")
	if err != nil {
		return err
	}
	if decisions.Signer == nil {
		logger.Warn("no decisions.signing_key configured: approvals through the API and Slack are refused until it is set")
	}
	app.NewConfigAgreement(adapters.Store, cfg, "server", processName("server")).Run(ctx, logger)
	warnIfNotReady(ctx, c, namespace, logger)
	svc := incidents.New(c, lib, namespace)
	svc.Signer, svc.People = decisions.Signer, decisions.People
	web, err := app.HTTPServer(cfg, svc, adapters, logger)
	if err != nil {
		return err
	}
	srv := web.Server
	ln, err := app.Listen(srv)
	if err != nil {
		return err
	}
	logger.Info("http server running", "addr", ln.Addr().String(), "namespace", namespace, "hooks", web.HookSources)
	if len(web.UnauthenticatedHooks) > 0 {
		logger.Warn("alert webhooks accept posts without credentials; set hooks.<source>.token or hmac_secret to require them",
			"sources", web.UnauthenticatedHooks)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if err := app.StartSlackSocketMode(ctx, cfg, web, logger); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// lockShared takes the data dir before Resolve opens what this process keeps in it (the
// SQLite store: routing table, evidence, pins). Workers and servers share it with each
// other; a quench dev on it (which owns the store and its embedded Temporal) refuses them,
// and they it. With the store in PostgreSQL nothing that matters is kept there, so no lock
// is taken and the directory need not exist or be writable (a read-only root filesystem).
func lockShared(cfg *config.Config, command string) (*datadir.Lock, error) {
	if !app.UsesDataDir(cfg) {
		return nil, nil
	}
	return datadir.AcquireShared(cfg.DataDir, command)
}

// choiceAttrs are the resolved adapters as log attributes (gateway=..., prompts=...), so a
// worker's log says what it runs against, in the words of `quench dev`'s summary.
func choiceAttrs(a *app.Adapters) []any {
	var attrs []any
	for _, c := range a.Choices {
		attrs = append(attrs, strings.ToLower(c.Port), c.Adapter)
	}
	return attrs
}

// processName names this process among the replicas in the store: role@host/pid.
func processName(role string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s@%s/%d", role, host, os.Getpid())
}
