// Package devstack assembles the whole of quench in one process: the embedded Temporal
// server, a client, the worker and the HTTP server, over the adapters app.Resolve chose.
// `quench dev`, `quench demo`, `quench bench` and the end-to-end tests start it here, so
// the embedded stack is put together in one place.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/quench-dev/quench/internal/api"
	"github.com/quench-dev/quench/internal/app"
	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/datadir"
	"github.com/quench-dev/quench/internal/devserver"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/runbooks"
	"github.com/quench-dev/quench/workflows"
)

// Options configure a stack.
type Options struct {
	// Config is the whole configuration: data dir, http.listen (":0" picks a port),
	// namespace, retention and the targets.
	Config *config.Config
	// FrontendPort is the Temporal frontend's port (0 picks a free one).
	FrontendPort int
	// UIPort serves the Temporal Web UI (0 picks a free one; devserver.NoUI for none).
	UIPort int
	// OpenApprovals lets anyone approve for an approver group the config does not define.
	OpenApprovals bool
	// UIWriteActions lets the Temporal Web UI terminate, signal, reset... workflows.
	UIWriteActions bool
	// Lock is the caller's exclusive lock on the data dir (datadir.Acquire), taken before
	// the caller wrote anything there; the caller releases it after Stop. Without it Start
	// takes the lock itself, before anything in the data dir is opened, and Stop releases it.
	Lock *datadir.Lock
	// WorkflowCacheSize sizes the process's workflow cache (0: app.WorkflowCacheSize);
	// tests shrink it to make incidents replay from history.
	WorkflowCacheSize int
	// MetricsHandler receives the SDK client's and worker's metrics (nil: none); tests
	// read the workflow cache's hits and misses from it.
	MetricsHandler client.MetricsHandler
	// Dev is the local CLI credential the API accepts (quench dev); nil for none.
	Dev    *api.DevCredential
	Logger *slog.Logger
	// Speed, above 1, divides every wait of the incidents this stack starts (quench demo
	// --speed): verify's poll, window and deadline, wait steps, approval timeouts.
	Speed float64
}

// Stack is a running quench in one process.
type Stack struct {
	Adapters  *app.Adapters
	Runbooks  *runbooks.Library
	Server    *devserver.Server
	Client    client.Client
	Incidents *incidents.Service
	Web       *app.HTTP
	// HTTPAddr is the address the HTTP server listens on (the port it got, not ":0").
	HTTPAddr string
	// HTTPURL is http://HTTPAddr.
	HTTPURL string

	// Decisions are the signing key and trusted keys in use (a dev key in the data dir
	// unless the config names one).
	Decisions *app.Decisions

	worker  worker.Worker
	httpErr chan error
	logger  *slog.Logger
	lock    *datadir.Lock
	// ownsLock: Stop releases lock (Start or StartInDir took it).
	ownsLock bool
}

// Start resolves the config and starts the stack; Stop it. The config is checked first
// (exposure, retention, runbooks, adapters), so a mistake fails in milliseconds, before the
// Temporal server's slow start.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	cfg, logger := opts.Config, opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if err := app.CheckExposure(cfg); err != nil {
		return nil, err
	}
	retention, err := time.ParseDuration(cfg.Temporal.Retention)
	if err != nil {
		return nil, fmt.Errorf("temporal.retention %q: %w", cfg.Temporal.Retention, err)
	}
	s := &Stack{logger: logger, httpErr: make(chan error, 1), lock: opts.Lock}
	if s.Runbooks, err = app.Runbooks(cfg); err != nil {
		return nil, err
	}
	// Resolve opens the store in the data dir and the stack applies its routes: the lock
	// first, so a second stack on a data dir in use changes nothing.
	switch {
	case s.lock == nil:
		if s.lock, err = datadir.Acquire(cfg.DataDir, "quench"); err != nil {
			return nil, err
		}
		s.ownsLock = true
	case !s.lock.Covers(cfg.DataDir):
		return nil, fmt.Errorf("the data dir lock is on %s, not on the data dir %s", s.lock.Dir(), cfg.DataDir)
	}
	if s.Adapters, err = app.Resolve(cfg, logger); err != nil {
		s.Stop()
		return nil, err
	}
	// The only process on its store: its configured routes are the table's (seeding a
	// fresh store), except routes an open incident holds, which Apply keeps and logs.
	if _, err := s.Adapters.ApplyRoutes(ctx, cfg, "quench dev"); err != nil {
		s.Stop()
		return nil, err
	}

	// Before the server starts: its system worker is the process's first SDK worker, and
	// the SDK sizes the cache every worker of the process shares when the first one starts.
	app.SetWorkflowCacheSize(opts.WorkflowCacheSize)
	s.Server, err = devserver.Start(ctx, devserver.Options{
		DataDir: cfg.DataDir, Lock: s.lock, FrontendPort: opts.FrontendPort, UIPort: opts.UIPort,
		Namespace: cfg.Temporal.Namespace, Retention: retention, Logger: logger,
		UIWriteActions: opts.UIWriteActions,
	})
	if err != nil {
		s.Server = nil
		s.Stop()
		return nil, err
	}
	if err := s.start(ctx, cfg, opts); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Stack) start(ctx context.Context, cfg *config.Config, opts Options) error {
	open, dev, metrics := opts.OpenApprovals, opts.Dev, opts.MetricsHandler
	var err error
	s.Client, err = client.Dial(app.TemporalClientOptions(client.Options{
		HostPort: s.Server.FrontendAddress(), Namespace: s.Server.Namespace(),
		Logger:         sdklog.NewStructuredLogger(s.logger.With("component", "temporal-sdk")),
		MetricsHandler: metrics,
	}))
	if err != nil {
		return fmt.Errorf("connect to the embedded Temporal server: %w", err)
	}
	// After the embedded server holds the data dir: the dev key may be created there.
	if s.Decisions, err = app.ResolveDecisions(cfg, cfg.DataDir); err != nil {
		return err
	}
	if s.Decisions.Created != "" {
		s.logger.Info("created the key that signs decisions", "path", s.Decisions.Created)
	}
	policy := app.PolicyFrom(cfg, open, s.Server.UIURL())
	policy.DecisionKeys = s.Decisions.Keys
	s.worker = app.NewWorker(s.Client, cfg, s.Adapters, policy, s.logger)
	if err := s.worker.Start(); err != nil {
		s.worker = nil
		return fmt.Errorf("start worker: %w", err)
	}
	s.Incidents = incidents.New(s.Client, s.Runbooks, s.Server.Namespace())
	s.Incidents.Signer, s.Incidents.People = s.Decisions.Signer, s.Decisions.People
	// The worker runs this very code: new incidents take the policy from the input and the
	// newest command sequence.
	s.Incidents.Policy, s.Incidents.Revision = &policy, workflows.StartRevision
	// The embedded stack starts every incident of its server, so it may remember short IDs.
	s.Incidents.RememberShortIDs = true
	s.Incidents.Speed = opts.Speed
	if s.Web, err = app.HTTPServerWith(cfg, s.Incidents, s.Adapters, s.logger, app.HTTPOptions{Dev: dev, EagerIngest: true, UIURL: s.Server.UIURL(), SoleIngest: true}); err != nil {
		return err
	}
	ln, err := app.Listen(s.Web.Server)
	if err != nil {
		s.Web = nil
		return err
	}
	s.HTTPAddr = ln.Addr().String()
	s.HTTPURL = "http://" + dialable(s.HTTPAddr)
	go func() { s.httpErr <- s.Web.Server.Serve(ln) }()
	return app.StartSlackSocketMode(ctx, cfg, s.Web, s.logger)
}

// Lock is the stack's lock on its data dir: whatever else writes there does so while the
// stack runs.
func (s *Stack) Lock() *datadir.Lock { return s.lock }

// dialable is addr with a wildcard host (0.0.0.0, ::) replaced by 127.0.0.1: where a
// client on this machine connects, and a name the API answers to.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// Err delivers the HTTP server's error if it stops serving on its own.
func (s *Stack) Err() <-chan error { return s.httpErr }

// Addresses are where a running stack can be reached.
type Addresses struct {
	Temporal  string `json:"temporal"`  // host:port of the Temporal frontend
	Namespace string `json:"namespace"` // the Temporal namespace incidents run in
	HTTP      string `json:"http"`      // host:port of the HTTP server
	UI        string `json:"ui,omitempty"`
}

// Addresses says where the stack listens, with the ports it actually got.
func (s *Stack) Addresses() Addresses {
	return Addresses{Temporal: s.Server.FrontendAddress(), Namespace: s.Server.Namespace(), HTTP: s.HTTPAddr, UI: s.Server.UIURL()}
}

// Stop stops the HTTP server (letting requests finish, for up to 10 s), the worker (letting
// activities finish) and the Temporal server. It is safe on a partly started stack.
func (s *Stack) Stop() {
	if s.Web != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.Web.Server.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Warn("stopping the HTTP server", "err", err)
		}
		cancel()
	}
	if s.worker != nil {
		s.worker.Stop()
	}
	if s.Client != nil {
		s.Client.Close()
	}
	if s.Server != nil {
		if err := s.Server.Stop(); err != nil {
			s.logger.Warn("stopping the embedded Temporal server", "err", err)
		}
	}
	// The store last: the worker's activities and the HTTP handlers are done with it. The
	// lock after it, so the next owner of the data dir never finds the database open.
	if s.Adapters != nil && s.Adapters.Store != nil {
		if err := s.Adapters.Store.Close(); err != nil {
			s.logger.Warn("closing the store", "err", err)
		}
	}
	if s.ownsLock {
		s.lock.Release()
	}
}
