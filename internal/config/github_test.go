package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func loadGitHubYAML(t *testing.T, body string) (*Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "quench.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(path)
}

func TestGitHubDefaults(t *testing.T) {
	c, err := loadGitHubYAML(t, "github:\n  repo: acme/prompts\n  token: env:GH_TOKEN\n")
	if err != nil {
		t.Fatal(err)
	}
	g := c.GitHub
	if !g.Enabled() || g.StatusContext != "quench/prompt-freeze" || g.FreezeVariable != "PROMPT_DEPLOY_FROZEN" ||
		g.FreezeScope != "prompts" || g.Sweep() != time.Minute || len(g.Paths) != 1 || g.Paths[0] != "prompts/" {
		t.Fatalf("defaults: %+v", g)
	}
	if owner, name := g.OwnerName(); owner != "acme" || name != "prompts" {
		t.Fatalf("owner/name = %s/%s", owner, name)
	}
	c, err = loadGitHubYAML(t, "prompts:\n  repo: /tmp/x\n")
	if err != nil || c.GitHub.Enabled() {
		t.Fatalf("without github: %+v, %v", c.GitHub, err)
	}
}

func TestGitHubConfigProblems(t *testing.T) {
	for name, c := range map[string]struct{ body, want string }{
		"bad repo":       {"github:\n  repo: prompts\n  token: env:T\n", "owner/name"},
		"inline token":   {"github:\n  repo: a/b\n  token: ghp_abc\n", "never the token itself"},
		"no credentials": {"github:\n  repo: a/b\n", "github.token"},
		"token and app":  {"github:\n  repo: a/b\n  token: env:T\n  app: {app_id: 1, installation_id: 2, private_key: file:/k.pem}\n", "not both"},
		"partial app":    {"github:\n  repo: a/b\n  app: {app_id: 1, private_key: file:/k.pem}\n", "installation_id"},
		"short sweep":    {"github:\n  repo: a/b\n  token: env:T\n  sweep_interval: 1s\n", "sweep_interval"},
		"bad base url":   {"github:\n  repo: a/b\n  token: env:T\n  base_url: ghe.example.com\n", "base_url"},
		"inline secret":  {"github:\n  repo: a/b\n  token: env:T\n  webhook_secret: hunter2\n", "webhook_secret"},
		"path outside":   {"github:\n  repo: a/b\n  token: env:T\n  paths: [../x]\n", "inside the repository"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loadGitHubYAML(t, c.body)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, c.want)
			}
		})
	}
}
