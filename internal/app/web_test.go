package app

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quench-dev/quench/internal/config"
)

// The page shares the API's listener: / is the page (sign-in first off loopback), the API,
// health and hooks answer as before.
func TestHTTPServerMountsThePage(t *testing.T) {
	t.Setenv("QUENCH_TEST_API", "api-token")
	t.Setenv("QUENCH_TEST_AM", "am-token")
	t.Setenv("QUENCH_TEST_HMAC", "hmac-secret")
	h, err := hooksServer(t, hooksConfig(t, allHooksConfigured+"http:\n  listen: 0.0.0.0:8080\n"))
	require.NoError(t, err)
	require.NotNil(t, h.Page)
	srv := httptest.NewServer(h.Server.Handler)
	defer srv.Close()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path, token string) (int, string, http.Header) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	code, _, hdr := get("/", "")
	assert.Equal(t, http.StatusSeeOther, code, "off loopback, reading needs a sign-in")
	assert.Equal(t, "/login?next=%2F", hdr.Get("Location"))
	code, body, _ := get("/login", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `id="token-form"`)
	code, body, _ = get("/healthz", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ok\n", body)
	code, body, _ = get("/api/v1/whoami", "api-token")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"api:ops"`)
	code, _, _ = get("/assets/app.js", "")
	assert.Equal(t, http.StatusOK, code)
}

func TestHTTPServerRefusesOIDCWithoutItsSecret(t *testing.T) {
	cfg := hooksConfig(t, "web:\n  url: https://quench.example\n  oidc:\n    issuer: https://id.example\n    client_id: quench\n    client_secret: env:QUENCH_TEST_OIDC_UNSET\n")
	_, err := hooksServer(t, cfg)
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "web.oidc.client_secret"), err.Error())
}

func TestPageURL(t *testing.T) {
	for _, c := range []struct {
		cfg  config.Config
		want string
	}{
		{config.Config{Web: config.Web{URL: "https://quench.example/"}, HTTP: config.HTTP{Listen: "127.0.0.1:8080"}}, "https://quench.example/incidents/1a2b3c"},
		{config.Config{HTTP: config.HTTP{Listen: "127.0.0.1:8080"}}, "http://127.0.0.1:8080/incidents/1a2b3c"},
		{config.Config{HTTP: config.HTTP{Listen: "0.0.0.0:9000"}}, "http://127.0.0.1:9000/incidents/1a2b3c"},
		{config.Config{HTTP: config.HTTP{Listen: "127.0.0.1:0"}}, ""},
	} {
		assert.Equal(t, c.want, PageURL(&c.cfg, "1a2b3c"), "%+v", c.cfg)
	}
}
