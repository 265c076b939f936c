package app

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.temporal.io/sdk/client"

	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/ingest"
)

// CheckExposure refuses, before anything starts, an HTTP listener other machines can reach
// that would serve the API without tokens or an alert webhook without credentials (unless
// hooks.allow_unauthenticated). HTTPServer checks the same; this makes the refusal fast.
func CheckExposure(cfg *config.Config) error {
	if len(cfg.API.Tokens) == 0 && !config.IsLoopback(cfg.HTTP.Listen) {
		return fmt.Errorf("refusing to serve the API on %s without authentication: configure api.tokens, or listen on 127.0.0.1", cfg.HTTP.Listen)
	}
	_, err := cfg.UnauthenticatedHooks()
	return err
}

// hookOptions resolves each hook source's credentials from the config.
func hookOptions(cfg *config.Config) (ingest.HandlerOptions, error) {
	opts := ingest.HandlerOptions{
		Credentials:    map[string]ingest.Credentials{},
		Disabled:       map[string]bool{},
		DisabledReason: map[string]string{},
		MaxBodyBytes:   int64(cfg.Hooks.MaxBodyBytes),
	}
	for _, source := range config.HookSources {
		auth, _ := cfg.Hooks.Source(source)
		if off, why := cfg.HookOff(source); off {
			opts.Disabled[source] = true
			opts.DisabledReason[source] = why
			continue
		}
		if !auth.HasCredentials() {
			continue
		}
		var cred ingest.Credentials
		var err error
		if auth.Token != "" {
			if cred.Token, err = config.Secret(auth.Token); err != nil {
				return opts, fmt.Errorf("hooks.%s.token: %w", source, err)
			}
		}
		if auth.HMACSecret != "" {
			if cred.HMACSecret, err = config.Secret(auth.HMACSecret); err != nil {
				return opts, fmt.Errorf("hooks.%s.hmac_secret: %w", source, err)
			}
		}
		if err := ingest.CheckCredentials(source, cred); err != nil {
			return opts, fmt.Errorf("hooks.%s: %w", source, err)
		}
		opts.Credentials[source] = cred
	}
	return opts, nil
}

// NewRegistry is the registry /metrics serves: quench's metrics plus the Go runtime's and
// the process's, as the default registry would have.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// TemporalClientOptions adds what quench's Temporal clients need: an interceptor that lets
// ingest tell a signal-with-start that started an incident from one that found it running,
// and, for the worker, one that keeps query tasks replaying (queryTaskDialOption).
func TemporalClientOptions(opts client.Options) client.Options {
	opts.ConnectionOptions.DialOptions = append(opts.ConnectionOptions.DialOptions, ingest.ClientDialOption(), queryTaskDialOption())
	return opts
}
