package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/quench-dev/quench/internal/app"
	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/devserver"
	"github.com/quench-dev/quench/internal/incidents"
)

// BenchRunbook answers the alerts the ingest benchmark sends: it waits for its group to
// resolve and does nothing else, so the benchmark measures ingestion, not actions.
const BenchRunbook = `name: bench-storm
title: quench bench - one incident per alert group
description: Waits for the alert group to resolve. quench bench ingest and the storm test use it.
severity: warning
triggers:
  alerts:
    - match:
        alertname: QuenchBenchStorm
steps:
  - id: recovered
    title: Wait for the group to resolve
    action: wait.resolved
    timeout: 1h
`

// BenchAlertname is the alertname BenchRunbook answers.
const BenchAlertname = "QuenchBenchStorm"

// StackOptions configure an in-process quench.
type StackOptions struct {
	// Dir holds the data dir, the config and the runbooks; it must exist.
	Dir string
	// Runbooks are extra runbook files (name -> YAML) beside BenchRunbook.
	Runbooks map[string]string
	// Config is extra quench.yaml (top-level keys such as traffic: or gateway:), appended
	// to the stack's own data_dir, runbooks_dir and http settings.
	Config string
	Logger *slog.Logger
}

// Stack is quench dev in-process on an embedded Temporal: server, worker and HTTP server
// on free loopback ports. The benchmark and the end-to-end storm test run on it.
type Stack struct {
	HTTPURL   string // http://127.0.0.1:PORT
	Client    client.Client
	Incidents *incidents.Service
	Web       *app.HTTP

	server *devserver.Server
	worker worker.Worker
}

// StartStack starts the stack; Stop it.
func StartStack(ctx context.Context, opts StackOptions) (*Stack, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	runbooksDir := filepath.Join(opts.Dir, "runbooks")
	if err := os.MkdirAll(runbooksDir, 0o755); err != nil {
		return nil, err
	}
	files := map[string]string{"bench-storm.yaml": BenchRunbook}
	for name, body := range opts.Runbooks {
		files[name] = body
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(runbooksDir, name), []byte(body), 0o644); err != nil {
			return nil, err
		}
	}
	cfgPath := filepath.Join(opts.Dir, "quench.yaml")
	cfgYAML := fmt.Sprintf("data_dir: %s\nrunbooks_dir: %s\nhttp:\n  listen: 127.0.0.1:0\n", filepath.Join(opts.Dir, "data"), runbooksDir) + opts.Config
	if err := os.WriteFile(cfgPath, []byte(cfgYAML), 0o600); err != nil {
		return nil, err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	lib, err := app.Runbooks(cfg)
	if err != nil {
		return nil, err
	}
	targets, err := app.OpenTargets(cfg)
	if err != nil {
		return nil, err
	}

	s := &Stack{}
	s.server, err = devserver.Start(ctx, devserver.Options{DataDir: cfg.DataDir, FrontendPort: 0, UIPort: devserver.NoUI, Logger: logger})
	if err != nil {
		return nil, err
	}
	s.Client, err = client.Dial(app.TemporalClientOptions(client.Options{
		HostPort: s.server.FrontendAddress(), Namespace: s.server.Namespace(),
		Logger: sdklog.NewStructuredLogger(logger.With("component", "temporal-sdk")),
	}))
	if err != nil {
		s.Stop()
		return nil, fmt.Errorf("connect to the embedded Temporal server: %w", err)
	}
	s.worker = app.NewWorker(s.Client, cfg, targets, app.PolicyFrom(cfg, true, ""), logger)
	if err := s.worker.Start(); err != nil {
		s.Stop()
		return nil, fmt.Errorf("start worker: %w", err)
	}
	s.Incidents = incidents.New(s.Client, lib, s.server.Namespace())
	s.Web, err = app.HTTPServer(cfg, s.Incidents, targets.Routes.Handler(), logger)
	if err != nil {
		s.Stop()
		return nil, err
	}
	ln, err := app.Listen(s.Web.Server)
	if err != nil {
		s.Stop()
		return nil, err
	}
	s.HTTPURL = "http://" + ln.Addr().String()
	go func() {
		if err := s.Web.Server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http server", "err", err)
		}
	}()
	return s, nil
}

// Stop stops the HTTP server, the worker and the Temporal server.
func (s *Stack) Stop() {
	if s.Web != nil {
		_ = s.Web.Server.Shutdown(context.Background())
	}
	if s.worker != nil {
		s.worker.Stop()
	}
	if s.Client != nil {
		s.Client.Close()
	}
	if s.server != nil {
		_ = s.server.Stop()
	}
}
