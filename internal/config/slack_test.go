package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func loadSlackYAML(t *testing.T, content string) (*Config, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "quench.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(p)
}

func TestSlackConfig(t *testing.T) {
	cfg, err := loadSlackYAML(t, `slack:
  bot_token: env:SLACK_BOT_TOKEN
  app_token: env:SLACK_APP_TOKEN
  channel: C0123
  groups: {S01SRE: [sre], S02LEADS: [sre, leads]}
`)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Slack.Enabled() {
		t.Fatal("slack with a bot token is enabled")
	}
	m := cfg.Slack.Mentions()
	if strings.Join(m["sre"], ",") != "S01SRE,S02LEADS" || strings.Join(m["leads"], ",") != "S02LEADS" {
		t.Fatalf("mentions %v", m)
	}

	for _, tc := range []struct{ yaml, says string }{
		{"slack: {bot_token: xoxb-literal, channel: C1, app_token: env:A}", "slack.bot_token: write env:NAME"},
		{"slack: {bot_token: env:B, app_token: env:A}", "slack.channel: name the channel ID"},
		{"slack: {bot_token: env:B, channel: '#incidents', app_token: env:A}", "use the channel ID"},
		{"slack: {bot_token: env:B, channel: C1}", "slack.signing_secret (HTTP endpoints) or slack.app_token"},
		{"slack: {bot_token: env:B, channel: C1, app_token: env:A, groups: {sre-team: [sre]}}", "use the user group's ID"},
		{"slack: {channel: C1}", "set slack.bot_token"},
	} {
		_, err := loadSlackYAML(t, tc.yaml)
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: got %v, want an error saying %q", tc.yaml, err, tc.says)
		}
	}
	if cfg, err := loadSlackYAML(t, "data_dir: x\n"); err != nil || cfg.Slack.Enabled() {
		t.Fatalf("no slack section: %v, enabled=%v", err, cfg.Slack.Enabled())
	}
}
