package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/quench-dev/quench/internal/api"
	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/evidence/report"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/postmortem"
	"github.com/quench-dev/quench/internal/web"
)

// mountPage builds the incident page (internal/web) over the same incidents Service the
// API uses, so its decisions are signed by the same key for the person it signed in, and
// mounts it at / beside the API. Reading is open only on a loopback listener.
func mountPage(mux *http.ServeMux, cfg *config.Config, svc *incidents.Service, a *Adapters, tokens map[string]string,
	hosts api.Hosts, uiURL string, logger *slog.Logger) (*web.Handler, error) {
	if a.Store == nil {
		return nil, fmt.Errorf("the incident page keeps sign-ins in quench's store, and none is open (app.Resolve opens it)")
	}
	if uiURL == "" {
		uiURL = cfg.Web.TemporalUI // quench server: the cluster's Web UI, when configured
	}
	opts := web.Options{
		Incidents: svc, Tokens: tokens, People: svc.People, Hosts: hosts,
		OpenRead:      config.IsLoopback(cfg.HTTP.Listen),
		SecureCookies: strings.HasPrefix(cfg.Web.URL, "https://"),
		UIURL:         uiURL, Namespace: svc.Namespace,
		Logger: logger.With("component", "web"),
		// Sign-ins are in the store every replica reaches (PostgreSQL behind several quench
		// servers; quench.db in quench dev's data dir), never in this process.
		Store: a.Store,
	}
	var src report.Source // stays a nil interface without a store
	if a.Evidence != nil {
		src = a.Evidence
	}
	opts.Evidence = src
	if svc.Temporal != nil {
		// With the history: the postmortem then has activity attempts and retries too.
		opts.Postmortem = func(ctx context.Context, ref string) (postmortem.Report, error) {
			return postmortem.Load(ctx, svc, ref, src, uiURL)
		}
	}
	if o := cfg.Web.OIDC; o.Enabled() {
		secret, err := config.Secret(o.ClientSecret)
		if err != nil {
			return nil, fmt.Errorf("web.oidc.client_secret: %w", err)
		}
		redirect := o.RedirectURL
		if redirect == "" {
			redirect = strings.TrimRight(cfg.Web.URL, "/") + "/auth/oidc/callback"
		}
		opts.OIDC = &web.OIDC{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: secret, RedirectURL: redirect, Claim: o.Claim}
	}
	page, err := web.New(opts)
	if err != nil {
		return nil, err
	}
	page.Register(mux)
	return page, nil
}

// PageURL is where people open an incident's page ("" when PageBase is unknown).
func PageURL(cfg *config.Config, incidentRef string) string {
	base := PageBase(cfg)
	if base == "" {
		return ""
	}
	return base + "/incidents/" + incidentRef
}

// PageBase is the incident page's base URL: web.url, else the HTTP listener as this
// machine reaches it ("" when neither is known, e.g. a listener on port 0).
func PageBase(cfg *config.Config) string {
	base := strings.TrimRight(cfg.Web.URL, "/")
	if base == "" {
		if cfg.HTTP.Listen == "" {
			return ""
		}
		host, port, err := net.SplitHostPort(cfg.HTTP.Listen)
		if err != nil || port == "0" {
			return ""
		}
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			host = "127.0.0.1"
		}
		base = "http://" + net.JoinHostPort(host, port)
	}
	return base
}
