package cmdutil

import (
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"sync"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/log"

	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/runbooks"
)

// Factory builds what commands need, lazily and once. Global flags fill its fields before
// a command runs; tests replace the funcs.
type Factory struct {
	IO *IOStreams

	// Set by global flags.
	ConfigPath      string
	TemporalAddress string
	Namespace       string
	RunbooksDir     string
	As              string // identity for decisions

	Config   func() (*config.Config, error)
	Runbooks func() (*runbooks.Library, error)
	Temporal func() (client.Client, error)
	// IncidentsClient is what commands that operate incidents take; tests give them an
	// incidentsfake.Fake.
	IncidentsClient func() (incidents.Client, error)
	// Incidents is the Temporal-backed service itself, for the few commands that read
	// workflow history or Temporal directly (postmortem, bench).
	Incidents func() (*incidents.Service, error)
	Identity  func() string
}

// New returns the production factory.
func New() *Factory {
	f := &Factory{IO: System()}
	f.Config = sync.OnceValues(func() (*config.Config, error) {
		c, err := config.Load(f.ConfigPath)
		if err != nil {
			return nil, err
		}
		if f.TemporalAddress != "" {
			c.Temporal.Address = f.TemporalAddress
		}
		if f.Namespace != "" {
			c.Temporal.Namespace = f.Namespace
		}
		if f.RunbooksDir != "" {
			c.RunbooksDir = f.RunbooksDir
		}
		return c, nil
	})
	f.Runbooks = sync.OnceValues(func() (*runbooks.Library, error) {
		c, err := f.Config()
		if err != nil {
			return nil, err
		}
		return runbooks.LoadLibrary(c.RunbooksDir)
	})
	f.Temporal = sync.OnceValues(func() (client.Client, error) {
		c, err := f.Config()
		if err != nil {
			return nil, err
		}
		opts, err := ClientOptions(c, f.TemporalAddress != "", f.Namespace != "")
		if err != nil {
			return nil, err
		}
		cl, err := client.Dial(opts)
		if err != nil {
			return nil, fmt.Errorf("cannot reach Temporal at %s: %w (is `quench dev` running? otherwise pass --temporal-address or set TEMPORAL_ADDRESS)", opts.HostPort, err)
		}
		return cl, nil
	})
	f.Incidents = func() (*incidents.Service, error) {
		c, err := f.Config()
		if err != nil {
			return nil, err
		}
		lib, err := f.Runbooks()
		if err != nil {
			return nil, err
		}
		cl, err := f.Temporal()
		if err != nil {
			return nil, err
		}
		opts, err := ClientOptions(c, f.TemporalAddress != "", f.Namespace != "")
		if err != nil {
			return nil, err
		}
		svc := incidents.New(cl, lib, opts.Namespace)
		// The CLI knows the routes only when the gateway is the embedded table seeded from
		// the config; otherwise it cannot tell and starts unchecked.
		svc.Routes = incidents.ConfigRoutes(c)
		return svc, nil
	}
	f.IncidentsClient = func() (incidents.Client, error) {
		svc, err := f.Incidents()
		if err != nil {
			return nil, err
		}
		return svc, nil
	}
	f.Identity = func() string {
		if f.As != "" {
			return f.As
		}
		if v := os.Getenv("QUENCH_USER"); v != "" {
			return v
		}
		if u, err := user.Current(); err == nil && u.Username != "" {
			return u.Username
		}
		return "unknown"
	}
	return f
}

// ClientOptions builds Temporal client options: the SDK's envconfig (TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*, profiles) first, then the config
// file for what the environment leaves unset, then explicit flags over both.
func ClientOptions(c *config.Config, addressFlag, namespaceFlag bool) (client.Options, error) {
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return client.Options{}, fmt.Errorf("temporal client config: %w", err)
	}
	if opts.HostPort == "" || addressFlag {
		opts.HostPort = c.Temporal.Address
	}
	if opts.Namespace == "" || namespaceFlag {
		opts.Namespace = c.Temporal.Namespace
	}
	// The SDK logs every retry at INFO; a CLI user wants only what matters.
	opts.Logger = log.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	return opts, nil
}
