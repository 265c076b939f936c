// Package devserver runs a Temporal server inside the quench process: SQLite in a data
// directory, tuned for latency, with quench's namespace, search attributes and the Temporal
// Web UI. `quench dev` and the end-to-end tests use it; nothing else imports the server.
package devserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/temporal"

	"github.com/quench-dev/quench/internal/datadir"
)

// Defaults of Options.
const (
	DefaultHost         = "127.0.0.1"
	DefaultFrontendPort = 7233
	DefaultUIPort       = 8233
	DefaultNamespace    = "default"
	DefaultRetention    = 30 * 24 * time.Hour
	// DBFile is the SQLite file in the data directory.
	DBFile = "temporal.db"
)

// NoUI as Options.UIPort runs the server without the Web UI.
const NoUI = -1

// Options configure the embedded server. An empty string or zero duration means the
// default; for the ports 0 means "pick a free port", so the CLI's flags carry the defaults
// (DefaultFrontendPort, DefaultUIPort).
type Options struct {
	// DataDir holds temporal.db; created (0700) when missing. Required.
	DataDir string
	// Lock is the caller's exclusive lock on DataDir (datadir.Acquire), kept by the caller.
	// Without it the server takes the lock itself and releases it in Stop.
	Lock *datadir.Lock
	// Host is the IP the frontend and the UI listen on (default 127.0.0.1).
	Host string
	// FrontendPort is the gRPC port clients dial (DefaultFrontendPort; 0 picks a free port).
	FrontendPort int
	// UIPort serves the Web UI (DefaultUIPort; NoUI for none; 0 picks a free port).
	UIPort int
	// Namespace is created at start when missing (default "default").
	Namespace string
	// Retention keeps closed workflows this long (default 30 days).
	Retention time.Duration
	// Logger receives the server's logs (default slog.Default()).
	Logger *slog.Logger
	// ServerLogLevel is the least level of the server's own logs that reach Logger
	// (default slog.LevelWarn: the server is chatty at INFO).
	ServerLogLevel slog.Leveler
	// UIWriteActions lets the Web UI change workflows (terminate, cancel, signal, update,
	// reset, pause, start, batch and activity commands). Off, the UI server refuses them: an
	// incident changes only through quench, where approvals and undo are recorded.
	UIWriteActions bool
	// TLS serves the frontend over TLS (nil: plain, the default).
	TLS *TLS
}

// Server is a running embedded Temporal server.
type Server struct {
	frontendAddr   string
	uiURL          string
	namespace      string
	clientTLS      *tls.Config
	uiWriteActions bool

	temporal  temporal.Server
	logger    *serverLogger
	ui        *webUI
	unlockDir func()

	stopOnce sync.Once
	stopErr  error
}

// Start starts the server and returns once the frontend answers, the namespace has its
// retention and search attributes, and the UI (if any) listens. ctx bounds the start.
func Start(ctx context.Context, opts Options) (*Server, error) {
	opts = opts.withDefaults()
	bindIP, dialIP, err := resolveHost(opts.Host)
	if err != nil {
		return nil, err
	}
	if err := opts.TLS.check(); err != nil {
		return nil, err
	}
	// The lock comes before anything else touches the directory.
	unlock := func() {}
	switch {
	case opts.Lock == nil:
		lock, err := datadir.Acquire(opts.DataDir, "quench (embedded Temporal server)")
		if err != nil {
			return nil, err
		}
		unlock = lock.Release
	case !opts.Lock.Covers(opts.DataDir):
		return nil, fmt.Errorf("the data dir lock is on %s, not on the data dir %s", opts.Lock.Dir(), opts.DataDir)
	}
	if err := prepareDataDir(opts.DataDir); err != nil {
		unlock()
		return nil, err
	}
	s, err := start(ctx, opts, bindIP, dialIP)
	if err != nil {
		unlock()
		return nil, err
	}
	s.unlockDir = unlock
	return s, nil
}

func start(ctx context.Context, opts Options, bindIP, dialIP string) (*Server, error) {
	ports, err := pickServicePorts(bindIP, opts.FrontendPort)
	if err != nil {
		return nil, err
	}
	if opts.UIPort > 0 {
		// Fail before the slow part; checked again just before the UI binds.
		if err := checkPortFree(bindIP, opts.UIPort, "--ui-port"); err != nil {
			return nil, err
		}
	}

	sql := sqlConfig(filepath.Join(opts.DataDir, DBFile))
	if err := prepareDatabase(sql, opts.Namespace, opts.Retention); err != nil {
		return nil, err
	}

	s := &Server{
		frontendAddr:   net.JoinHostPort(dialIP, strconv.Itoa(ports.frontend)),
		namespace:      opts.Namespace,
		uiWriteActions: opts.UIWriteActions,
	}
	if s.clientTLS, err = opts.TLS.clientConfig(); err != nil {
		return nil, err
	}
	cfg := serverConfig(sql, bindIP, dialIP, ports)
	opts.TLS.apply(cfg)
	s.logger = newServerLogger(opts.Logger, opts.ServerLogLevel)
	s.temporal, err = newTemporal(cfg, dialIP, ports, s.logger)
	if err != nil {
		return nil, err
	}
	if err := startTemporal(s.temporal); err != nil {
		return nil, err
	}

	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.setUpNamespace(ctx, opts); err != nil {
		s.logger.stopping.Store(true)
		_ = s.temporal.Stop()
		return nil, err
	}
	if opts.UIPort != NoUI {
		uiPort, err := uiPortNow(bindIP, opts.UIPort)
		if err == nil {
			s.ui, err = startWebUI(ctx, uiOptions{bindIP: bindIP, dialIP: dialIP, port: uiPort, frontendAddr: s.frontendAddr,
				namespace: opts.Namespace, writeActions: opts.UIWriteActions, tls: opts.TLS})
		}
		if err != nil {
			s.logger.stopping.Store(true)
			_ = s.temporal.Stop()
			return nil, err
		}
		s.uiURL = "http://" + net.JoinHostPort(dialIP, strconv.Itoa(uiPort))
	}
	return s, nil
}

// uiPortNow picks (for 0) or checks the UI port right before the UI binds it: ui-server
// exits the process when its bind fails, and a port released earlier could meanwhile have
// become the source port of one of the server's own outgoing connections.
func uiPortNow(bindIP string, port int) (int, error) {
	if port != 0 {
		return port, checkPortFree(bindIP, port, "--ui-port")
	}
	picked, err := freePorts(bindIP, 1)
	if err != nil {
		return 0, err
	}
	return picked[0], nil
}

// FrontendAddress is the host:port SDK clients dial.
func (s *Server) FrontendAddress() string { return s.frontendAddr }

// UIURL is the Web UI's address, e.g. http://127.0.0.1:8233, or "" without a UI.
func (s *Server) UIURL() string { return s.uiURL }

// Namespace is the namespace the server was started for.
func (s *Server) Namespace() string { return s.namespace }

// ClientTLS is the TLS configuration the server's own clients dial the frontend with
// (a clone; nil when the frontend is plain).
func (s *Server) ClientTLS() *tls.Config {
	if s.clientTLS == nil {
		return nil
	}
	return s.clientTLS.Clone()
}

// UIWriteActions says whether the Web UI may change workflows.
func (s *Server) UIWriteActions() bool { return s.uiWriteActions }

// Stop stops the UI and then the server, letting running requests finish. Only the first
// call does anything; later calls return its result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.logger.stopping.Store(true)
		if s.ui != nil {
			s.ui.stop()
		}
		if err := s.temporal.Stop(); err != nil {
			s.stopErr = fmt.Errorf("stopping the Temporal server: %w", err)
		}
		if s.unlockDir != nil {
			s.unlockDir()
		}
	})
	return s.stopErr
}

func (o Options) withDefaults() Options {
	if o.Host == "" {
		o.Host = DefaultHost
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ServerLogLevel == nil {
		o.ServerLogLevel = slog.LevelWarn
	}
	return o
}

// prepareDataDir creates the directory and proves it is writable, so a read-only mount
// fails here with a clear message rather than deep inside SQLite.
func prepareDataDir(dir string) error {
	if dir == "" {
		return errors.New("no data dir given: set --data-dir")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cannot create data dir %s: %w: choose another --data-dir or fix its permissions", dir, err)
	}
	probe, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("data dir %s is not writable: %w: choose another --data-dir or fix its permissions", dir, err)
	}
	_ = probe.Close()
	return os.Remove(probe.Name())
}

// pickServicePorts checks the frontend port (or picks one for 0) and picks free ports for
// the internal services, so two servers in one test run never collide.
func pickServicePorts(bindIP string, frontendPort int) (servicePorts, error) {
	if frontendPort != 0 {
		if err := checkPortFree(bindIP, frontendPort, "--temporal-port"); err != nil {
			return servicePorts{}, err
		}
	}
	picked, err := freePorts("127.0.0.1", 3)
	if err != nil {
		return servicePorts{}, err
	}
	ports := servicePorts{frontend: frontendPort, history: picked[0], matching: picked[1], worker: picked[2]}
	if frontendPort == 0 {
		fp, err := freePorts(bindIP, 1)
		if err != nil {
			return servicePorts{}, err
		}
		ports.frontend = fp[0]
	}
	return ports, nil
}

func newTemporal(cfg *config.Config, dialIP string, ports servicePorts, logger *serverLogger) (srv temporal.Server, err error) {
	defer recoverFatal(&err)
	authorizer, err := authorization.GetAuthorizerFromConfig(&cfg.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("cannot build the Temporal authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&cfg.Global.Authorization, logger)
	if err != nil {
		return nil, fmt.Errorf("cannot build the Temporal claim mapper: %w", err)
	}
	srv, err = temporal.NewServer(
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithConfig(cfg),
		temporal.WithStaticHosts(staticHosts(dialIP, ports)),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(dynamicConfig()),
	)
	if err != nil {
		return nil, fmt.Errorf("cannot build the Temporal server: %w", err)
	}
	return srv, nil
}

func startTemporal(srv temporal.Server) (err error) {
	defer recoverFatal(&err)
	if err := srv.Start(); err != nil {
		_ = srv.Stop()
		return fmt.Errorf("the Temporal server did not start: %w", err)
	}
	return nil
}

// recoverFatal turns the server logger's Fatal panic on the starting goroutine into an error.
func recoverFatal(err *error) {
	if r := recover(); r != nil {
		fatal, ok := r.(fatalError)
		if !ok {
			panic(r)
		}
		*err = fmt.Errorf("the Temporal server did not start: %s", fatal.msg)
	}
}

// setUpNamespace connects as a client (retrying while the frontend comes up) and makes the
// namespace match the options.
func (s *Server) setUpNamespace(ctx context.Context, opts Options) error {
	c, err := dialClient(ctx, s.frontendAddr, opts.Namespace, s.ClientTLS(), opts.Logger)
	if err != nil {
		return err
	}
	defer c.Close()
	return ensureNamespace(ctx, c, opts.Namespace, opts.Retention)
}

func dialClient(ctx context.Context, addr, namespace string, tlsConfig *tls.Config, logger *slog.Logger) (client.Client, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := client.DialContext(ctx, client.Options{
			HostPort:          addr,
			Namespace:         namespace,
			Logger:            sdklog.NewStructuredLogger(logger.With("component", "devserver-client")),
			ConnectionOptions: client.ConnectionOptions{TLS: tlsConfig},
		})
		if err == nil {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("the Temporal frontend on %s did not answer: %w (last error: %v)", addr, ctx.Err(), err)
		case <-tick.C:
		}
	}
}
