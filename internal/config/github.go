package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// GitHub configures the GitHub prompts target. Setting Repo makes it the prompts target
// (prompts.changes, prompts.rollback_pr) instead of a local repository, and makes freezes
// of FreezeScope enforced on GitHub.
type GitHub struct {
	// Repo is "owner/name".
	Repo string `yaml:"repo"`
	// Branch is the base branch deploys come from; empty: the repository's default branch.
	Branch string `yaml:"branch"`
	// Paths are the files or folders holding the prompts (default: prompts/).
	Paths []string `yaml:"paths"`
	// BaseURL is the REST API root of GitHub Enterprise Server, e.g.
	// https://github.example.com/api/v3/ (default: https://api.github.com/).
	BaseURL string `yaml:"base_url"`
	// Token is a personal or fine-grained token, as env:NAME or file:/path. Or use App.
	Token string    `yaml:"token"`
	App   GitHubApp `yaml:"app"`

	// Rollback pull requests.
	Labels        []string `yaml:"labels"`
	Reviewers     []string `yaml:"reviewers"`
	TeamReviewers []string `yaml:"team_reviewers"`
	Draft         bool     `yaml:"draft"`
	AuthorName    string   `yaml:"author_name"`  // of rollback commits (default quench)
	AuthorEmail   string   `yaml:"author_email"` // (default quench@users.noreply.github.com)
	// IncidentURL links an incident from a pull request or a status: "{id}" is replaced by
	// the incident ID, e.g. https://quench.example.com/incidents/{id}. Default: the Temporal
	// Web UI's page of the workflow, when quench knows the UI's address.
	IncidentURL string `yaml:"incident_url"`

	// Freeze enforcement.
	FreezeScope    string `yaml:"freeze_scope"`    // the freeze scope GitHub enforces (default prompts)
	StatusContext  string `yaml:"status_context"`  // commit status context (default quench/prompt-freeze)
	FreezeVariable string `yaml:"freeze_variable"` // Actions variable (default PROMPT_DEPLOY_FROZEN)
	// SweepInterval is how often a frozen scope's statuses are re-applied to open pull
	// requests, as a fallback for missed webhooks (default 1m, at least 10s).
	SweepInterval string `yaml:"sweep_interval"`
	// WebhookSecret verifies POST /hooks/github (X-Hub-Signature-256), as env:NAME or
	// file:/path. Without it the endpoint is off.
	WebhookSecret string `yaml:"webhook_secret"`
}

// GitHubApp authenticates as a GitHub App installation.
type GitHubApp struct {
	AppID          int64  `yaml:"app_id"`
	InstallationID int64  `yaml:"installation_id"`
	PrivateKey     string `yaml:"private_key"` // the PEM key, as file:/path or env:NAME
}

// GitHub defaults.
const (
	DefaultGitHubStatusContext  = "quench/prompt-freeze"
	DefaultGitHubFreezeVariable = "PROMPT_DEPLOY_FROZEN"
	DefaultGitHubFreezeScope    = "prompts"
	DefaultGitHubSweepInterval  = "1m"
	MinGitHubSweepInterval      = 10 * time.Second
)

// Enabled reports whether GitHub is the prompts target.
func (g GitHub) Enabled() bool { return g.Repo != "" }

// OwnerName splits Repo.
func (g GitHub) OwnerName() (owner, name string) {
	owner, name, _ = strings.Cut(g.Repo, "/")
	return owner, name
}

// Sweep is SweepInterval parsed (valid after Load).
func (g GitHub) Sweep() time.Duration {
	d, err := time.ParseDuration(g.SweepInterval)
	if err != nil || d < MinGitHubSweepInterval {
		return MinGitHubSweepInterval
	}
	return d
}

func (g *GitHub) applyDefaults() {
	if !g.Enabled() {
		return
	}
	if len(g.Paths) == 0 {
		g.Paths = []string{DefaultPromptDir}
	}
	if g.StatusContext == "" {
		g.StatusContext = DefaultGitHubStatusContext
	}
	if g.FreezeVariable == "" {
		g.FreezeVariable = DefaultGitHubFreezeVariable
	}
	if g.FreezeScope == "" {
		g.FreezeScope = DefaultGitHubFreezeScope
	}
	if g.SweepInterval == "" {
		g.SweepInterval = DefaultGitHubSweepInterval
	}
}

func (g GitHub) problems() []string {
	if !g.Enabled() {
		return nil
	}
	var out []string
	if owner, name := g.OwnerName(); owner == "" || name == "" || strings.Contains(name, "/") {
		out = append(out, fmt.Sprintf("github.repo: %q must be owner/name", g.Repo))
	}
	app := g.App.AppID != 0 || g.App.InstallationID != 0 || g.App.PrivateKey != ""
	switch {
	case g.Token != "" && app:
		out = append(out, "github: set either github.token or github.app, not both")
	case g.Token == "" && !app:
		out = append(out, "github: set github.token (env:NAME or file:/path) or github.app (app_id, installation_id, private_key)")
	case g.Token != "" && !isSecretRef(g.Token):
		out = append(out, "github.token: write env:NAME or file:/path, never the token itself")
	case app && (g.App.AppID == 0 || g.App.InstallationID == 0 || g.App.PrivateKey == ""):
		out = append(out, "github.app: set app_id, installation_id and private_key (file:/path to the PEM key)")
	case app && !isSecretRef(g.App.PrivateKey):
		out = append(out, "github.app.private_key: write file:/path or env:NAME, never the key itself")
	}
	if g.WebhookSecret != "" && !isSecretRef(g.WebhookSecret) {
		out = append(out, "github.webhook_secret: write env:NAME or file:/path, never the secret itself")
	}
	if g.BaseURL != "" {
		if u, err := url.Parse(g.BaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			out = append(out, fmt.Sprintf("github.base_url: %q is not an http(s) URL, e.g. https://github.example.com/api/v3/", g.BaseURL))
		}
	}
	if d, err := time.ParseDuration(g.SweepInterval); err != nil || d < MinGitHubSweepInterval {
		out = append(out, fmt.Sprintf("github.sweep_interval: %q must be a duration of at least %s, e.g. 1m", g.SweepInterval, MinGitHubSweepInterval))
	}
	for _, p := range g.Paths {
		if strings.Contains(p, "..") || strings.Trim(p, "/") == "" {
			out = append(out, fmt.Sprintf("github.paths: %q must be a file or folder inside the repository", p))
		}
	}
	return out
}
