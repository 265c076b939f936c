package cmdutil

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quench-dev/quench/internal/api"
	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/incidents/apiclient"
	"github.com/quench-dev/quench/internal/incidents/incidentsfake"
)

// devDir is a data dir holding a credential as quench dev writes it.
func devDir(t *testing.T, allowAs bool) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := apiclient.WriteCredential(dir, apiclient.Credential{URL: "http://127.0.0.1:18080", Token: "tok", Identity: "cli:alice", AllowAs: allowAs}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// factoryWith is the production factory over a config file that names dataDir.
func factoryWith(t *testing.T, yaml, dataDir, as string) *Factory {
	t.Helper()
	path := filepath.Join(t.TempDir(), "quench.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	f := New()
	f.ConfigPath, f.DataDir, f.As = path, dataDir, as
	return f
}

func TestActorUsesTheDevCredential(t *testing.T) {
	f := factoryWith(t, "", devDir(t, false), "")
	a, err := f.Actor()
	if err != nil {
		t.Fatal(err)
	}
	cl, ok := a.Client.(*apiclient.Client)
	if !ok || cl.URL != "http://127.0.0.1:18080" || cl.Token != "tok" || cl.ActAs != "" || a.Identity != "cli:alice" {
		t.Fatalf("actor %T %+v as %q, want the API client of the dev credential acting as cli:alice", a.Client, cl, a.Identity)
	}
}

func TestActorFindsTheDataDirInTheConfig(t *testing.T) {
	dir := devDir(t, false)
	f := factoryWith(t, "data_dir: "+dir+"\n", "", "")
	if a, err := f.Actor(); err != nil || a.Identity != "cli:alice" {
		t.Fatalf("%+v %v", a, err)
	}
}

func TestActorWithoutCredential(t *testing.T) {
	dir := t.TempDir()
	_, err := factoryWith(t, "", dir, "").Actor()
	if err == nil {
		t.Fatal("no credential, no actor")
	}
	for _, want := range []string{"no credential to act with", filepath.Join(dir, "cli-credential"), "Start quench dev", "--data-dir", "api.url and api.token"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestActorAs(t *testing.T) {
	_, err := factoryWith(t, "", devDir(t, false), "bob").Actor()
	var flagErr *FlagError
	if !errors.As(err, &flagErr) || !strings.Contains(err.Error(), "dev.allow_as: true") || !strings.Contains(err.Error(), "cli:alice") {
		t.Fatalf("--as without dev.allow_as: %v, want a usage error naming dev.allow_as", err)
	}
	a, err := factoryWith(t, "", devDir(t, true), "bob").Actor()
	if err != nil || a.Identity != "bob" || a.Client.(*apiclient.Client).ActAs != "bob" {
		t.Fatalf("--as with dev.allow_as: %+v %v", a, err)
	}
	t.Setenv("QUENCH_TEST_TOKEN", "x")
	_, err = factoryWith(t, "api:\n  url: https://quench.example\n  token: env:QUENCH_TEST_TOKEN\n", "", "bob").Actor()
	if !errors.As(err, &flagErr) || !strings.Contains(err.Error(), "refused against a quench server") {
		t.Fatalf("--as against a server: %v", err)
	}
}

func TestActorAgainstAServer(t *testing.T) {
	c := &config.Config{API: config.API{URL: "https://quench.example", Token: "env:QUENCH_TEST_UNSET_TOKEN"}}
	if _, err := NewActor(context.Background(), c, ""); err == nil || !strings.Contains(err.Error(), "QUENCH_TEST_UNSET_TOKEN is not set") {
		t.Fatalf("unset token: %v", err)
	}
	srv := httptest.NewServer(api.New(api.Options{Incidents: incidentsfake.New(nil), Tokens: map[string]string{"api:deploy-bot": "bot-token"},
		Registry: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	t.Setenv("QUENCH_TEST_TOKEN", "bot-token")
	c = &config.Config{API: config.API{URL: srv.URL, Token: "env:QUENCH_TEST_TOKEN"}, DataDir: devDir(t, true)}
	a, err := NewActor(context.Background(), c, "")
	if err != nil || a.Identity != "api:deploy-bot" || a.Client.(*apiclient.Client).URL != srv.URL {
		t.Fatalf("actor %+v %v: the server's api.tokens name the token, and api.url wins over the dev credential", a, err)
	}
	t.Setenv("QUENCH_TEST_TOKEN", "wrong")
	if _, err := NewActor(context.Background(), c, ""); err == nil || !strings.Contains(err.Error(), "refused the credential") {
		t.Fatalf("wrong token: %v", err)
	}
}

func TestPageURLPrefersWebThenAPIThenDev(t *testing.T) {
	dir := devDir(t, true)
	for _, c := range []struct {
		cfg  config.Config
		want string
	}{
		{config.Config{Web: config.Web{URL: "https://page.example/"}, API: config.API{URL: "https://api.example"}, DataDir: dir}, "https://page.example/incidents/1a2b3c"},
		{config.Config{API: config.API{URL: "https://api.example"}, DataDir: dir}, "https://api.example/incidents/1a2b3c"},
		{config.Config{DataDir: dir}, "http://127.0.0.1:18080/incidents/1a2b3c"},
		{config.Config{DataDir: t.TempDir()}, ""},
	} {
		if got := PageURL(&c.cfg, "1a2b3c"); got != c.want {
			t.Errorf("PageURL(%+v) = %q, want %q", c.cfg, got, c.want)
		}
	}
}
