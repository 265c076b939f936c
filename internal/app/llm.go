package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/targets/gateway/litellm"
	"github.com/quench-dev/quench/internal/targets/gateway/portkey"
	"github.com/quench-dev/quench/internal/targets/httpapi"
	promptslangfuse "github.com/quench-dev/quench/internal/targets/prompts/langfuse"
	trafficlangfuse "github.com/quench-dev/quench/internal/targets/traffic/langfuse"
	"github.com/quench-dev/quench/internal/targets/traffic/prometheus"
	"github.com/quench-dev/quench/workflows"
)

func openLiteLLM(cfg *config.Config, db *store.DB) (ports.Gateway, error) {
	c := cfg.Gateway.LiteLLM
	key, err := config.Secret(c.MasterKey)
	if err != nil {
		return nil, fmt.Errorf("master_key: %w", err)
	}
	timeout, err := config.Duration("timeout", c.Timeout)
	if err != nil {
		return nil, err
	}
	return litellm.New(litellm.Options{URL: c.URL, MasterKey: key, Mode: c.Mode, Routes: c.Routes, Timeout: timeout, Store: db, StateDir: cfg.DataDir})
}

func openPortkey(cfg *config.Config, db *store.DB) (ports.Gateway, error) {
	c := cfg.Gateway.Portkey
	key, err := config.Secret(c.APIKey)
	if err != nil {
		return nil, fmt.Errorf("api_key: %w", err)
	}
	timeout, err := config.Duration("timeout", c.Timeout)
	if err != nil {
		return nil, err
	}
	return portkey.New(portkey.Options{URL: c.URL, APIKey: key, Routes: c.Routes, Timeout: timeout, Store: db, StateDir: cfg.DataDir})
}

func openPrometheus(cfg *config.Config) (ports.Traffic, error) {
	c := cfg.Traffic.Prometheus
	opts := prometheus.Options{URL: c.URL, Selector: c.Selector, ErrorStatus: c.ErrorStatus,
		Requests: c.Metrics.Requests, Duration: c.Metrics.Duration, OutputTokens: c.Metrics.OutputTokens, Cost: c.Metrics.Cost}
	var err error
	if opts.Timeout, err = config.Duration("timeout", c.Timeout); err != nil {
		return nil, err
	}
	switch {
	case c.BearerToken != "":
		token, err := config.Secret(c.BearerToken)
		if err != nil {
			return nil, fmt.Errorf("bearer_token: %w", err)
		}
		opts.Auth = httpapi.Bearer(token)
	case c.Username != "":
		password, err := config.Secret(c.Password)
		if err != nil {
			return nil, fmt.Errorf("password: %w", err)
		}
		opts.Auth = httpapi.Basic(c.Username, password)
	}
	return prometheus.New(opts)
}

func langfuseKeys(prefix string, c config.Langfuse) (public, secret string, timeout time.Duration, err error) {
	if public, err = config.Secret(c.PublicKey); err != nil {
		return "", "", 0, fmt.Errorf("%spublic_key: %w", prefix, err)
	}
	if secret, err = config.Secret(c.SecretKey); err != nil {
		return "", "", 0, fmt.Errorf("%ssecret_key: %w", prefix, err)
	}
	timeout, err = config.Duration(prefix+"timeout", c.Timeout)
	return public, secret, timeout, err
}

func openLangfuseTraffic(cfg *config.Config) (ports.Traffic, error) {
	c := cfg.Traffic.Langfuse
	public, secret, timeout, err := langfuseKeys("", c.Langfuse)
	if err != nil {
		return nil, err
	}
	return trafficlangfuse.New(trafficlangfuse.Options{URL: c.URL, PublicKey: public, SecretKey: secret, Timeout: timeout,
		PageSize: c.PageSize, MaxObservations: c.MaxObservations, ProviderKeys: c.ProviderKeys, RouteKey: c.RouteKey, Environment: c.Environment})
}

func openLangfusePrompts(cfg *config.Config, db *store.DB, logger *slog.Logger) (*promptslangfuse.Adapter, error) {
	c := cfg.PromptsLangfuse()
	public, secret, timeout, err := langfuseKeys("", c.Langfuse)
	if err != nil {
		return nil, err
	}
	sweep, err := config.Duration("sweep", c.Sweep)
	if err != nil {
		return nil, err
	}
	opts := promptslangfuse.Options{URL: c.URL, PublicKey: public, SecretKey: secret, Timeout: timeout,
		Prompts: c.Prompts, Label: c.Label, Scope: c.Scope, Sweep: sweep, Store: db, StateDir: cfg.DataDir, Logger: logger}
	if c.WebhookSecret != "" {
		if opts.WebhookSecret, err = config.Secret(c.WebhookSecret); err != nil {
			return nil, fmt.Errorf("webhook_secret: %w", err)
		}
	}
	return promptslangfuse.New(opts)
}

// noteRepin tells each holding incident that a prompt label moved during its freeze was
// moved back. A failed note is logged by the caller's retry: the move itself is done.
func noteRepin(ctx context.Context, r promptslangfuse.Repin, signal func(context.Context, string, workflows.Note) error) {
	from := "no version"
	if r.From != 0 {
		from = fmt.Sprintf("v%d", r.From)
	}
	text := fmt.Sprintf("Langfuse: %s of prompt %s was moved to %s while %s is frozen; quench moved it back to the pinned v%d",
		r.Label, r.Prompt, from, r.Scope, r.To)
	for _, h := range r.Holders {
		if err := signal(ctx, h, workflows.Note{By: "quench (langfuse freeze)", Text: text}); err != nil {
			slog.Default().Warn("could not note a prompt re-pin on the incident", "incident", h, "err", err)
		}
	}
}

// enforcers is several freeze enforcers (GitHub and Langfuse) as one: each enforces the
// state; the freeze workflow sweeps at the shortest interval any of them asks for.
type enforcers []ports.FreezeEnforcer

func (es enforcers) EnforceFreeze(ctx context.Context, f ports.FreezeEnforcement) (ports.EnforceResult, error) {
	var out ports.EnforceResult
	var summaries []string
	var errs []error
	for _, e := range es {
		if e == nil {
			continue
		}
		res, err := e.EnforceFreeze(ctx, f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out.Enforced = out.Enforced || res.Enforced
		if res.SweepEvery > 0 && (out.SweepEvery == 0 || res.SweepEvery < out.SweepEvery) {
			out.SweepEvery = res.SweepEvery
		}
		if res.Summary != "" {
			summaries = append(summaries, res.Summary)
		}
	}
	out.Summary = strings.Join(summaries, "; ")
	return out, errors.Join(errs...)
}

// mountLangfuseHook serves POST /hooks/langfuse when Langfuse prompts and the webhook's
// signing secret are configured.
func mountLangfuseHook(mux *http.ServeMux, cfg *config.Config, a *promptslangfuse.Adapter, svc *incidents.Service) {
	if a == nil || cfg.PromptsLangfuse().WebhookSecret == "" {
		return
	}
	mux.Handle("POST /hooks/langfuse", a.WebhookHandler(func(ctx context.Context, scope string) (ports.FreezeEnforcement, error) {
		st, err := svc.FreezeState(ctx, scope)
		if err != nil {
			return ports.FreezeEnforcement{}, err
		}
		return workflows.EnforcementOf(st), nil
	}))
}
