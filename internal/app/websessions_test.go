package app

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/store/storetest"
	"github.com/quench-dev/quench/runbooks"
)

// Two quench servers as HTTPServer builds them, each with its own data dir, on one
// PostgreSQL store (or two processes on one host's SQLite store): a person signed in on
// one is signed in on the other, and signing out on the other ends it on the first.
func TestPageSignInsAreSharedThroughTheStore(t *testing.T) {
	t.Setenv("QUENCH_TEST_ALICE_TOKEN", "alice-token-123")
	lib, err := runbooks.LoadLibrary("")
	require.NoError(t, err)
	shared := t.TempDir()
	for _, tc := range []struct{ name, yaml string }{
		{"sqlite", ""},
		{"postgres", "store:\n  kind: postgres\n  postgres:\n    dsn: env:QUENCH_TEST_PAGE_DSN\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "postgres" {
				t.Setenv("QUENCH_TEST_PAGE_DSN", storetest.NewDatabase(t))
			}
			replica := func() *httptest.Server {
				cfg := hooksConfig(t, "http:\n  listen: 127.0.0.1:0\napi:\n  tokens:\n    alice: env:QUENCH_TEST_ALICE_TOKEN\n"+tc.yaml)
				cfg.DataDir = t.TempDir()
				if tc.yaml == "" {
					cfg.DataDir = shared // SQLite: both processes on one host's data dir
				}
				a, err := Resolve(cfg, nil)
				require.NoError(t, err)
				t.Cleanup(func() { _ = a.Store.Close() })
				h, err := HTTPServer(cfg, incidents.New(nil, lib, "default"), a, slog.New(slog.NewTextHandler(io.Discard, nil)))
				require.NoError(t, err)
				srv := httptest.NewServer(h.Server.Handler)
				t.Cleanup(srv.Close)
				return srv
			}
			a, b := replica(), replica()
			jar, _ := cookiejar.New(nil) // keyed by host: both replicas get the cookies
			c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			get := func(srv *httptest.Server, path string) string {
				resp, err := c.Get(srv.URL + path)
				require.NoError(t, err)
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				return string(body)
			}
			field := func(page, name string) string {
				m := regexp.MustCompile(`name="` + name + `" value="([^"]+)"`).FindStringSubmatch(page)
				require.NotNil(t, m, "no %s in:\n%s", name, page)
				return m[1]
			}
			resp, err := c.PostForm(a.URL+"/login", url.Values{"login_csrf": {field(get(a, "/login"), "login_csrf")}, "token": {"alice-token-123"}})
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)

			au, _ := url.Parse(a.URL)
			kept := jar.Cookies(au) // the session cookie, as a copy in another tab would keep it
			require.NotEmpty(t, kept)

			page := get(b, "/login") // any page shows who is signed in; this one needs no Temporal
			assert.Contains(t, page, `id="signed-in"`, "replica B does not know the session made on A")
			resp, err = c.PostForm(b.URL+"/logout", url.Values{"csrf": {field(page, "csrf")}})
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
			jar.SetCookies(au, kept)
			assert.NotContains(t, get(a, "/login"), `id="signed-in"`, "the session signed out on B still holds on A")
		})
	}
}
