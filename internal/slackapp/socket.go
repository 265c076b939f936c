package slackapp

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"net/http"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// SocketOptions configure Socket Mode: Slack delivers commands and clicks over a websocket
// quench opens, so quench needs no public URL.
type SocketOptions struct {
	AppToken   string // xapp-... with connections:write
	BotToken   string
	APIURL     string // "" = Slack's
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// RunSocketMode serves h over Socket Mode until ctx ends. Each envelope is acknowledged as
// soon as the handler has its immediate answer, well inside Slack's 3 s.
func RunSocketMode(ctx context.Context, h *Handler, opts SocketOptions) error {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	api := newAPI(opts.BotToken, opts.APIURL, opts.HTTPClient, slack.OptionAppLevelToken(opts.AppToken))
	client := socketmode.New(api, socketmode.OptionLog(log.New(slogWriter{logger}, "", 0)))
	// Slack redelivers an envelope it saw no ack for; one delivery acts, the others only ack.
	seen := newSeenCache(maxSeen)
	firstTime := func(req *socketmode.Request) bool {
		now := time.Now()
		if req.EnvelopeID == "" || seen.firstTime("envelope:"+req.EnvelopeID, now.Add(replayWindow), now) {
			return true
		}
		logger.Warn("ignored a redelivered Slack envelope: it was handled once already", "envelope", req.EnvelopeID)
		return false
	}
	runErr := make(chan error, 1)
	go func() { runErr <- client.RunContext(ctx) }()
	for {
		select {
		case err := <-runErr:
			if err != nil && !errors.Is(err, context.Canceled) {
				return Classify(err)
			}
			return nil
		case evt := <-client.Events:
			switch evt.Type {
			case socketmode.EventTypeConnected:
				logger.Info("Slack Socket Mode connected")
			case socketmode.EventTypeInvalidAuth:
				logger.Error("Slack refused the app-level token: set slack.app_token to an xapp- token with connections:write")
			case socketmode.EventTypeSlashCommand:
				cmd, ok := evt.Data.(slack.SlashCommand)
				if !ok || evt.Request == nil {
					continue
				}
				if !firstTime(evt.Request) {
					ack(ctx, client, evt.Request, ephemeralMsg(ReplayedText), logger)
					continue
				}
				ack(ctx, client, evt.Request, h.Command(cmd), logger)
			case socketmode.EventTypeInteractive:
				cb, ok := evt.Data.(slack.InteractionCallback)
				if !ok || evt.Request == nil {
					continue
				}
				if !firstTime(evt.Request) {
					ack(ctx, client, evt.Request, nil, logger)
					continue
				}
				ack(ctx, client, evt.Request, h.Interaction(cb), logger)
			default:
				if evt.Request != nil && evt.Request.EnvelopeID != "" {
					ack(ctx, client, evt.Request, nil, logger) // events quench does not use
				}
			}
		}
	}
}

func ack(ctx context.Context, client *socketmode.Client, req *socketmode.Request, payload any, logger *slog.Logger) {
	var err error
	if payload == nil {
		err = client.AckCtx(ctx, req.EnvelopeID, nil)
	} else {
		err = client.AckCtx(ctx, req.EnvelopeID, payload)
	}
	if err != nil {
		logger.Warn("could not acknowledge a Socket Mode envelope", "envelope", req.EnvelopeID, "err", err)
	}
}

// slogWriter sends slack-go's Socket Mode log lines to slog at debug level.
type slogWriter struct{ logger *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.logger.Debug(string(p), "component", "slack-socketmode")
	return len(p), nil
}
