package app

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/quench-dev/quench/activities"
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
	cfg.Temporal.Namespace = "default"

	if _, err := OpenGitHub(cfg, nil); err == nil || !strings.Contains(err.Error(), "github.token") {
		t.Fatalf("unset token: %v; want an error naming github.token", err)
	}
	t.Setenv("QUENCH_TEST_GH_TOKEN", "tok")
	a, err := OpenGitHub(cfg, nil)
	if err != nil || a == nil {
		t.Fatalf("open: %v", err)
	}
	deps := activities.Deps{}
	useGitHub(&deps, &Targets{GitHub: a}, cfg, activities.Policy{UIURL: "http://127.0.0.1:8233"})
	if deps.Prompts != a || deps.FreezeEnforcer != a {
		t.Fatalf("deps = %+v; want GitHub as prompts target and freeze enforcer", deps)
	}
	if got, _ := OpenGitHub(&config.Config{}, nil); got != nil {
		t.Fatal("an adapter without github.repo")
	}
}

func TestGitHubHookIsMountedWithItsSecret(t *testing.T) {
	f := githubfake.New(githubfake.Options{Token: "tok"})
	t.Cleanup(f.Close)
	t.Setenv("QUENCH_TEST_GH_TOKEN", "tok")
	cfg := gitHubConfig(f)
	svc := &incidents.Service{}

	mux := http.NewServeMux()
	if err := mountGitHubHook(mux, cfg, svc, nil); err == nil || !strings.Contains(err.Error(), "github.webhook_secret") {
		t.Fatalf("unset secret: %v; want an error naming github.webhook_secret", err)
	}
	t.Setenv("QUENCH_TEST_GH_SECRET", "s3cret")
	if err := mountGitHubHook(mux, cfg, svc, discardLogger()); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/hooks/github", strings.NewReader("{}")))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("unsigned delivery: %d %s; want 401", rec.Code, rec.Body)
	}

	cfg.GitHub.WebhookSecret = ""
	bare := http.NewServeMux()
	if err := mountGitHubHook(bare, cfg, svc, discardLogger()); err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	bare.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/hooks/github", strings.NewReader("{}")))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("without a secret the hook answered %d; want it not mounted", rec.Code)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
