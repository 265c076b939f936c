package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/log"

	"github.com/quench-dev/quench/internal/app"
	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/incidents/apiclient"
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
	DataDir         string // where quench dev keeps its data and the CLI credential
	As              string // --as: act as another identity (dev.allow_as only)

	Config   func() (*config.Config, error)
	Runbooks func() (*runbooks.Library, error)
	Temporal func() (client.Client, error)
	// IncidentsClient is what commands that read incidents take (list, show, watch, freeze);
	// tests give them an incidentsfake.Fake. Its service has no runbook library, so it
	// cannot start incidents: starts go through Actor.
	IncidentsClient func() (incidents.Client, error)
	// Incidents is the Temporal-backed service itself, for the few commands that read
	// workflow history or Temporal directly (postmortem, bench).
	Incidents func() (*incidents.Service, error)
	// Actor is what commands that act on incidents (start, approve, reject, resolve,
	// abort, note) use: a client of the quench API holding a credential, and who it acts as.
	Actor func() (Actor, error)
	// Identity is the demo's own name for itself (it runs its own stack in-process).
	Identity func() string
}

// Actor acts on incidents as one authenticated identity.
type Actor struct {
	Client   incidents.Client
	Identity string
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
		if f.DataDir != "" {
			c.DataDir = f.DataDir
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
	service := func(withRunbooks bool) (*incidents.Service, error) {
		c, err := f.Config()
		if err != nil {
			return nil, err
		}
		var lib *runbooks.Library
		if withRunbooks {
			if lib, err = f.Runbooks(); err != nil {
				return nil, err
			}
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
		_, svc.Gateway = app.GatewayCapabilities(c)
		return svc, nil
	}
	f.Incidents = func() (*incidents.Service, error) { return service(true) }
	f.IncidentsClient = func() (incidents.Client, error) {
		// The CLI reads through it (list, show, watch, freeze status): its starts and
		// decisions go through the API (Actor). Loading and compiling the runbook library
		// would cost each read more than a Temporal round trip, for nothing.
		svc, err := service(false)
		if err != nil {
			return nil, err
		}
		return svc, nil
	}
	f.Actor = sync.OnceValues(func() (Actor, error) {
		c, err := f.Config()
		if err != nil {
			return Actor{}, err
		}
		return NewActor(context.Background(), c, f.As)
	})
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

// NewActor finds the credential the CLI acts with: api.url and api.token from the config
// (a quench server; the token's identity is set on the server), else the credential quench
// dev wrote to the data dir (the OS user running it). as is --as, allowed only by a quench
// dev whose config has dev.allow_as.
func NewActor(ctx context.Context, c *config.Config, as string) (Actor, error) {
	if c.API.URL != "" {
		if as != "" {
			return Actor{}, FlagErrorf("--as is refused against a quench server (api.url): you act as the identity api.tokens gives your token on the server")
		}
		token, err := config.Secret(c.API.Token)
		if err != nil {
			return Actor{}, fmt.Errorf("api.token: %w (the CLI needs its token to act through %s)", err, c.API.URL)
		}
		cl := apiclient.New(c.API.URL, token)
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		who, err := cl.Identity(ctx)
		if err != nil {
			return Actor{}, fmt.Errorf("ask %s who this token is: %w", c.API.URL, err)
		}
		return Actor{Client: cl, Identity: who}, nil
	}
	cred, err := apiclient.ReadCredential(c.DataDir)
	if errors.Is(err, apiclient.ErrNoCredential) {
		return Actor{}, fmt.Errorf("no credential to act with: quench dev writes one to %s when it runs. Start quench dev, or pass --data-dir (or data_dir in the config) naming the data dir it runs with; against a quench server set api.url and api.token (env:NAME) in the config",
			apiclient.CredentialPath(c.DataDir))
	}
	if err != nil {
		return Actor{}, err
	}
	cl := apiclient.New(cred.URL, cred.Token)
	who := cred.Identity
	if as != "" {
		if !cred.AllowAs {
			return Actor{}, FlagErrorf("--as is for development only and this quench dev does not allow it: set dev.allow_as: true in the config quench dev runs with. Without --as you act as %s", cred.Identity)
		}
		cl.ActAs, who = as, as
	}
	return Actor{Client: cl, Identity: who}, nil
}
