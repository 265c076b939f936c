package config

import (
	"fmt"
	"sort"
	"strings"
)

// Slack configures the Slack app (internal/slackapp). It is on when bot_token is set.
type Slack struct {
	// BotToken is the app's bot token (xoxb-), a secret reference (env:NAME or file:/path).
	BotToken string `yaml:"bot_token"`
	// SigningSecret verifies requests to POST /slack/commands and /slack/interactions.
	SigningSecret string `yaml:"signing_secret"`
	// AppToken (xapp-, connections:write) turns on Socket Mode: no public URL needed.
	AppToken string `yaml:"app_token"`
	// Channel is the channel ID (C...) incident cards go to unless the runbook names one.
	Channel string `yaml:"channel"`
	// Groups maps a Slack user group ID (S...) to the quench approver groups its members are in.
	Groups map[string][]string `yaml:"groups"`
	// Escalation is mentioned when an approval times out: a user group ID (S...) or user
	// ID (U...). Empty: the Slack user groups mapped to the escalation group.
	Escalation string `yaml:"escalation"`
	// APIURL overrides Slack's Web API URL (tests, proxies). Empty: https://slack.com/api/.
	APIURL string `yaml:"api_url"`
}

// Enabled reports whether the Slack app is configured.
func (s Slack) Enabled() bool { return s.BotToken != "" }

// Mentions maps each quench group to the Slack user groups mapped to it (for escalations).
func (s Slack) Mentions() map[string][]string {
	out := map[string][]string{}
	ids := make([]string, 0, len(s.Groups))
	for id := range s.Groups {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		for _, g := range s.Groups[id] {
			out[g] = append(out[g], id)
		}
	}
	return out
}

func (s Slack) problems() []string {
	var p []string
	for name, ref := range map[string]string{"bot_token": s.BotToken, "signing_secret": s.SigningSecret, "app_token": s.AppToken} {
		if ref != "" && !isSecretRef(ref) {
			p = append(p, fmt.Sprintf("slack.%s: write env:NAME or file:/path, never the token itself", name))
		}
	}
	if !s.Enabled() {
		if s.SigningSecret != "" || s.AppToken != "" || s.Channel != "" {
			p = append(p, "slack: set slack.bot_token (env:SLACK_BOT_TOKEN) to turn the Slack app on, or remove the slack section")
		}
		return p
	}
	if s.Channel == "" {
		p = append(p, "slack.channel: name the channel ID (C0123…) incident cards go to")
	} else if strings.HasPrefix(s.Channel, "#") {
		p = append(p, fmt.Sprintf("slack.channel: %q is a name; use the channel ID (C0123…, in the channel's details), so quench can find its cards again", s.Channel))
	}
	if s.SigningSecret == "" && s.AppToken == "" {
		p = append(p, "slack: set slack.signing_secret (HTTP endpoints) or slack.app_token (Socket Mode), or Slack cannot deliver clicks and commands")
	}
	for id, groups := range s.Groups {
		if !strings.HasPrefix(id, "S") {
			p = append(p, fmt.Sprintf("slack.groups.%s: use the user group's ID (S0123…), not its handle", id))
		}
		if len(groups) == 0 {
			p = append(p, fmt.Sprintf("slack.groups.%s: list the quench groups its members are in", id))
		}
	}
	return p
}
