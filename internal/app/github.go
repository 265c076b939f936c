package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/prompts/github"
	"github.com/quench-dev/quench/workflows"
)

// openGitHub builds the GitHub adapter from the config's github: section; nil when
// github.repo is not set. It resolves the credentials but makes no call to GitHub.
func openGitHub(cfg *config.Config, logger *slog.Logger) (*github.Adapter, error) {
	g := cfg.GitHub
	if !g.Enabled() {
		return nil, nil
	}
	var auth github.Auth
	if g.Token != "" {
		token, err := config.Secret(g.Token)
		if err != nil {
			return nil, fmt.Errorf("github.token: %w", err)
		}
		auth.Token = token
	} else {
		key, err := config.Secret(g.App.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("github.app.private_key: %w", err)
		}
		auth.AppID, auth.InstallationID, auth.PrivateKey = g.App.AppID, g.App.InstallationID, []byte(key)
	}
	owner, name := g.OwnerName()
	opts := github.Options{
		Owner: owner, Repo: name, Branch: g.Branch, Paths: g.Paths, BaseURL: g.BaseURL,
		Labels: g.Labels, Reviewers: g.Reviewers, TeamReviewers: g.TeamReviewers, Draft: g.Draft,
		AuthorName: g.AuthorName, AuthorEmail: g.AuthorEmail,
		FreezeScope: g.FreezeScope, StatusContext: g.StatusContext, FreezeVariable: g.FreezeVariable,
		SweepEvery: g.Sweep(), Logger: logger,
	}
	if g.IncidentURL != "" {
		opts.IncidentURL = incidentLink(g.IncidentURL)
	}
	a, err := github.New(opts, auth)
	if err != nil {
		return nil, fmt.Errorf("github: %w", err)
	}
	return a, nil
}

// incidentLink fills "{id}" of a link template with an incident ID.
func incidentLink(template string) func(string) string {
	return func(id string) string { return strings.ReplaceAll(template, "{id}", url.PathEscape(id)) }
}

// linkIncidentsToUI makes GitHub link incidents to the Temporal Web UI when the config
// names no other page.
func linkIncidentsToUI(gh *github.Adapter, cfg *config.Config, uiURL string) {
	if gh == nil || uiURL == "" || cfg.GitHub.IncidentURL != "" {
		return
	}
	gh.SetIncidentURL(incidentLink(strings.TrimSuffix(uiURL, "/") +
		"/namespaces/" + url.PathEscape(cfg.Temporal.Namespace) + "/workflows/{id}"))
}

// mountGitHubHook serves POST /hooks/github on mux when GitHub and its webhook secret are
// configured.
func mountGitHubHook(mux *http.ServeMux, cfg *config.Config, a *github.Adapter, svc *incidents.Service, logger *slog.Logger) error {
	if a == nil || cfg.GitHub.WebhookSecret == "" {
		return nil
	}
	secret, err := config.Secret(cfg.GitHub.WebhookSecret)
	if err != nil {
		return fmt.Errorf("github.webhook_secret: %w", err)
	}
	mux.Handle("POST /hooks/github", a.WebhookHandler(github.WebhookOptions{
		Secret: []byte(secret),
		Freeze: func(ctx context.Context, scope string) (ports.FreezeEnforcement, error) {
			st, err := svc.FreezeState(ctx, scope)
			if err != nil {
				return ports.FreezeEnforcement{}, err
			}
			return workflows.EnforcementOf(st), nil
		},
		MaxBody: int64(cfg.Hooks.MaxBodyBytes),
		Logger:  logger.With("component", "github-hook"),
	}))
	return nil
}
