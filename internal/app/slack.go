package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"go.temporal.io/sdk/worker"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/slackapp"
)

// slackChat is the Slack chat adapter of the config; nil when Slack is not configured.
func slackChat(cfg *config.Config, logger *slog.Logger) (*slackapp.Client, error) {
	if !cfg.Slack.Enabled() {
		return nil, nil
	}
	token, err := config.Secret(cfg.Slack.BotToken)
	if err != nil {
		return nil, fmt.Errorf("slack.bot_token: %w", err)
	}
	return slackapp.NewClient(slackapp.Options{
		BotToken: token, APIURL: cfg.Slack.APIURL, Channel: cfg.Slack.Channel,
		Mentions: cfg.Slack.Mentions(), Escalation: cfg.Slack.Escalation,
		PageBase: PageBase(cfg),
		Logger:   logger.With("component", "slack"),
	}), nil
}

// registerChat registers the chat activities on a worker, with Slack when it is usable.
// Without a usable token they are registered without a chat: an incident's announcement
// then fails once, with the fix on its timeline, and the incident goes on without chat.
func registerChat(w worker.Registry, a *Adapters, logger *slog.Logger) {
	if a.ChatErr != nil {
		logger.Error("Slack is configured but unusable; incidents run without chat", "err", a.ChatErr)
	}
	if a.Chat == nil {
		activities.RegisterChat(w, nil)
		return
	}
	activities.RegisterChat(w, a.Chat)
}

// slackHandler builds the Slack request handler and, with a signing secret, mounts the
// signed HTTP endpoints POST /slack/commands and /slack/interactions on mux.
func slackHandler(mux *http.ServeMux, cfg *config.Config, a *Adapters, svc *incidents.Service, logger *slog.Logger) (*slackapp.Handler, error) {
	chat := a.Chat
	if a.ChatErr != nil || chat == nil {
		return nil, a.ChatErr
	}
	logger = logger.With("component", "slack")
	h := &slackapp.Handler{
		Incidents: svc,
		API:       chat.API(),
		Groups:    &slackapp.GroupResolver{API: chat.API(), Map: cfg.Slack.Groups, TTL: time.Minute, Logger: logger},
		Logger:    logger,
	}
	if cfg.Slack.SigningSecret != "" {
		secret, err := config.Secret(cfg.Slack.SigningSecret)
		if err != nil {
			return nil, fmt.Errorf("slack.signing_secret: %w", err)
		}
		mux.Handle("/slack/", slackapp.HTTPHandler(h, secret))
	}
	return h, nil
}

// StartSlackSocketMode serves Slack over Socket Mode when slack.app_token is set, until
// ctx ends. It returns at once; a connection problem is logged and retried by slack-go.
func StartSlackSocketMode(ctx context.Context, cfg *config.Config, web *HTTP, logger *slog.Logger) error {
	if web.Slack == nil || cfg.Slack.AppToken == "" {
		return nil
	}
	appToken, err := config.Secret(cfg.Slack.AppToken)
	if err != nil {
		return fmt.Errorf("slack.app_token: %w", err)
	}
	botToken, err := config.Secret(cfg.Slack.BotToken)
	if err != nil {
		return fmt.Errorf("slack.bot_token: %w", err)
	}
	go func() {
		err := slackapp.RunSocketMode(ctx, web.Slack, slackapp.SocketOptions{
			AppToken: appToken, BotToken: botToken, APIURL: cfg.Slack.APIURL, Logger: logger.With("component", "slack"),
		})
		if err != nil {
			logger.Error("Slack Socket Mode stopped", "err", err)
		}
	}()
	return nil
}

// slackSummary says where Slack cards go and how Slack's requests come in.
func slackSummary(cfg *config.Config) string {
	var via []string
	if cfg.Slack.AppToken != "" {
		via = append(via, "Socket Mode")
	}
	if cfg.Slack.SigningSecret != "" {
		via = append(via, "POST /slack/{commands,interactions}")
	}
	return fmt.Sprintf("cards in %s; requests via %s", cfg.Slack.Channel, strings.Join(via, " and "))
}
