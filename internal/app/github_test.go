package app

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/targets/prompts/github/githubfake"
)

func gitHubConfig(f *githubfake.Fake) *config.Config {
	return &config.Config{GitHub: config.GitHub{
		Repo: "acme/prompts", BaseURL: f.URL(), Token: "env:QUENCH_TEST_GH_TOKEN", Paths: []string{"prompts/"},
		SweepInterval: "1m", WebhookSecret: "env:QUENCH_TEST_GH_SECRET",
	}}
}

func TestGitHubBecomesThePromptsTarget(t *testing.T) {
	f := githubfake.New(githubfake.Options{Token: "tok"})
	t.Cleanup(f.Close)
	cfg := gitHubConfig(f)
	cfg.DataDir = t.TempDir()
	cfg.Temporal.Namespace = "default"

	if _, err := Resolve(cfg, discardLogger()); err == nil || !strings.Contains(err.Error(), "github.token") {
		t.Fatalf("unset token: %v; want an error naming github.token", err)
	}
	t.Setenv("QUENCH_TEST_GH_TOKEN", "tok")
	a, err := Resolve(cfg, discardLogger())
	if err != nil || a.GitHub == nil {
		t.Fatalf("resolve: %v", err)
	}
	if a.Prompts != a.GitHub || a.FreezeEnforcer != a.GitHub {
		t.Fatalf("adapters = %+v; want GitHub as prompts target and freeze enforcer", a)
	}
	if got := a.Choice(PortPrompts); !strings.HasPrefix(got, "GitHub acme/prompts") {
		t.Errorf("prompts described as %q", got)
	}
	if got, _ := openGitHub(&config.Config{}, nil); got != nil {
		t.Fatal("an adapter without github.repo")
	}
}

func TestGitHubHookIsMountedWithItsSecret(t *testing.T) {
	f := githubfake.New(githubfake.Options{Token: "tok"})
	t.Cleanup(f.Close)
	t.Setenv("QUENCH_TEST_GH_TOKEN", "tok")
	cfg := gitHubConfig(f)
	svc := &incidents.Service{}
	gh, err := openGitHub(cfg, discardLogger())
	if err != nil {
		t.Fatal(err)
	}

	mux := http.NewServeMux()
	if err := mountGitHubHook(mux, cfg, gh, svc, nil); err == nil || !strings.Contains(err.Error(), "github.webhook_secret") {
		t.Fatalf("unset secret: %v; want an error naming github.webhook_secret", err)
	}
	t.Setenv("QUENCH_TEST_GH_SECRET", "s3cret")
	if err := mountGitHubHook(mux, cfg, gh, svc, discardLogger()); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/hooks/github", strings.NewReader("{}")))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("unsigned delivery: %d %s; want 401", rec.Code, rec.Body)
	}

	cfg.GitHub.WebhookSecret = ""
	bare := http.NewServeMux()
	if err := mountGitHubHook(bare, cfg, gh, svc, discardLogger()); err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	bare.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/hooks/github", strings.NewReader("{}")))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("without a secret the hook answered %d; want it not mounted", rec.Code)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
