// Package github is the GitHub prompts target (go-github v60): it lists the commits that
// changed the prompts, proposes rollbacks as pull requests built with the Git Data API (no
// clone, no working tree), and enforces prompt-deploy freezes with commit statuses and an
// Actions variable. The library's retry loops stay off: Temporal owns retries, and rate
// limits become the activity's next retry delay.
package github

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v60/github"

	"github.com/quench-dev/quench/internal/ports"
)

// Defaults of Options.
const (
	DefaultStatusContext  = "quench/prompt-freeze"
	DefaultFreezeVariable = "PROMPT_DEPLOY_FROZEN"
	DefaultFreezeScope    = "prompts"
	DefaultSweepEvery     = time.Minute
	// RollbackBranchPrefix names quench's rollback branches; their pull requests are exempt
	// from the freeze, so the fix can merge while everything else waits.
	RollbackBranchPrefix = "quench/rollback-"
)

// Options configure an Adapter.
type Options struct {
	Owner, Repo string
	// Branch is the base branch; empty: the repository's default branch.
	Branch string
	// Paths are the files or folders holding the prompts ("prompts/" when empty; "." is
	// the whole repository).
	Paths []string
	// BaseURL is the REST API root (GitHub Enterprise, or a fake in tests), e.g.
	// https://github.example.com/api/v3/. Empty: https://api.github.com/.
	BaseURL string

	Labels        []string // put on rollback pull requests
	Reviewers     []string // requested on rollback pull requests
	TeamReviewers []string
	Draft         bool
	AuthorName    string // of rollback commits (quench)
	AuthorEmail   string // (quench@users.noreply.github.com)
	// IncidentURL links an incident ("" = no link).
	IncidentURL func(incidentID string) string

	FreezeScope    string        // the freeze scope enforced here (prompts)
	StatusContext  string        // commit status context (quench/prompt-freeze)
	FreezeVariable string        // Actions variable (PROMPT_DEPLOY_FROZEN)
	SweepEvery     time.Duration // how often the freeze workflow re-enforces while frozen (1m)

	Logger *slog.Logger
}

// Auth is how quench signs in: a token, or a GitHub App installation.
type Auth struct {
	Token          string
	AppID          int64
	InstallationID int64
	PrivateKey     []byte // PEM
}

// Adapter is a prompts repository on GitHub. Safe for concurrent use.
type Adapter struct {
	client *gh.Client
	opts   Options
	paths  []string // normalised: no slashes at either end; "" = the whole repository
	log    *slog.Logger

	mu        sync.Mutex
	base      string            // resolved base branch
	statusSet map[string]string // sha -> state+description quench last set (skips repeats)
	touches   map[string]bool   // "number@sha" -> whether the PR touches the prompts paths
}

// requestTimeout bounds one GitHub call; a step's own timeout bounds the whole operation.
const requestTimeout = 30 * time.Second

// New builds the adapter. It makes no call to GitHub.
func New(opts Options, auth Auth) (*Adapter, error) {
	if opts.Owner == "" || opts.Repo == "" {
		return nil, errors.New("github: the repository must be given as owner/name")
	}
	httpClient := &http.Client{Timeout: requestTimeout}
	var client *gh.Client
	switch {
	case auth.Token != "":
		client = gh.NewClient(httpClient).WithAuthToken(auth.Token)
	case auth.AppID != 0:
		tr, err := ghinstallation.New(http.DefaultTransport, auth.AppID, auth.InstallationID, auth.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("github app %d: %w (check github.app.private_key holds the app's PEM key)", auth.AppID, err)
		}
		if opts.BaseURL != "" {
			tr.BaseURL = strings.TrimSuffix(opts.BaseURL, "/")
		}
		httpClient.Transport = tr
		client = gh.NewClient(httpClient)
	default:
		return nil, errors.New("github: no credentials: give a token or a GitHub App installation")
	}
	if opts.BaseURL != "" {
		u, err := url.Parse(opts.BaseURL)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("github: base URL %q is not a URL like https://github.example.com/api/v3/", opts.BaseURL)
		}
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
		}
		client.BaseURL, client.UploadURL = u, u
	}
	paths, err := normalisePaths(opts.Paths)
	if err != nil {
		return nil, err
	}
	if opts.AuthorName == "" {
		opts.AuthorName = "quench"
	}
	if opts.AuthorEmail == "" {
		opts.AuthorEmail = "quench@users.noreply.github.com"
	}
	if opts.FreezeScope == "" {
		opts.FreezeScope = DefaultFreezeScope
	}
	if opts.StatusContext == "" {
		opts.StatusContext = DefaultStatusContext
	}
	if opts.FreezeVariable == "" {
		opts.FreezeVariable = DefaultFreezeVariable
	}
	if opts.SweepEvery <= 0 {
		opts.SweepEvery = DefaultSweepEvery
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &Adapter{
		client: client, opts: opts, paths: paths, base: opts.Branch,
		log:       logger.With("target", "github", "repo", opts.Owner+"/"+opts.Repo),
		statusSet: map[string]string{}, touches: map[string]bool{},
	}, nil
}

func normalisePaths(in []string) ([]string, error) {
	if len(in) == 0 {
		in = []string{"prompts/"}
	}
	var out []string
	for _, p := range in {
		p = strings.Trim(p, "/")
		if p == "." {
			p = ""
		}
		if p != "" {
			p = path.Clean(p)
		}
		for _, part := range strings.Split(p, "/") {
			if part == ".." {
				return nil, fmt.Errorf("github: prompts path %q must be inside the repository", p)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// SetIncidentURL sets how incidents are linked, when the config names no link; call it
// before the adapter is used.
func (a *Adapter) SetIncidentURL(fn func(incidentID string) string) {
	if a.opts.IncidentURL == nil {
		a.opts.IncidentURL = fn
	}
}

// Repo is owner/name.
func (a *Adapter) Repo() string { return a.opts.Owner + "/" + a.opts.Repo }

// PromptsPaths lists the prompts paths ("." for the whole repository).
func (a *Adapter) PromptsPaths() string {
	var out []string
	for _, p := range a.paths {
		if p == "" {
			p = "."
		}
		out = append(out, p)
	}
	return strings.Join(out, ", ")
}

// FreezeScope is the freeze scope this repository enforces.
func (a *Adapter) FreezeScope() string { return a.opts.FreezeScope }

// underPaths reports whether a file path is one of the prompts paths or inside one.
func (a *Adapter) underPaths(file string) bool {
	for _, p := range a.paths {
		if p == "" || file == p || strings.HasPrefix(file, p+"/") {
			return true
		}
	}
	return false
}

// baseBranch is the configured branch, else the repository's default branch (read once).
func (a *Adapter) baseBranch(ctx context.Context) (string, error) {
	a.mu.Lock()
	base := a.base
	a.mu.Unlock()
	if base != "" {
		return base, nil
	}
	repo, _, err := a.client.Repositories.Get(ctx, a.opts.Owner, a.opts.Repo)
	if err != nil {
		return "", a.fail("read the repository", permContentsRead, err)
	}
	if repo.GetDefaultBranch() == "" {
		return "", ports.Permanentf("github %s has no default branch (an empty repository?): set github.branch", a.Repo())
	}
	a.mu.Lock()
	a.base = repo.GetDefaultBranch()
	a.mu.Unlock()
	return repo.GetDefaultBranch(), nil
}

// headOf returns the commit SHA a branch points at; found is false when there is no such
// branch.
func (a *Adapter) headOf(ctx context.Context, branch string) (sha string, found bool, err error) {
	ref, _, err := a.client.Git.GetRef(ctx, a.opts.Owner, a.opts.Repo, "heads/"+branch)
	if isStatus(err, http.StatusNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, a.fail("read branch "+branch, permContentsRead, err)
	}
	return ref.GetObject().GetSHA(), true, nil
}

func (a *Adapter) incidentURL(id string) string {
	if a.opts.IncidentURL == nil || id == "" {
		return ""
	}
	return a.opts.IncidentURL(id)
}

func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

func subject(msg string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(msg), "\n")
	return strings.TrimSpace(line)
}

var (
	_ ports.Prompts        = (*Adapter)(nil)
	_ ports.FreezeEnforcer = (*Adapter)(nil)
)
