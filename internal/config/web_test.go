package config

import (
	"strings"
	"testing"
)

func TestWebConfigProblems(t *testing.T) {
	for _, c := range []struct {
		yaml, want string
	}{
		{"web:\n  url: quench.example\n", "web.url \"quench.example\": write https://host[:port]"},
		{"web:\n  oidc:\n    client_id: q\n", "web.oidc: give issuer"},
		{"web:\n  temporal_ui: temporal:8233\n", "web.temporal_ui"},
		{"web:\n  url: https://q.example\n  oidc:\n    issuer: http://id.example\n    client_id: q\n    client_secret: env:X\n", "write the provider's https:// URL"},
		{"web:\n  url: https://q.example\n  oidc:\n    issuer: https://id.example\n    client_secret: env:X\n", "web.oidc.client_id is required"},
		{"web:\n  url: https://q.example\n  oidc:\n    issuer: https://id.example\n    client_id: q\n    client_secret: s3cret\n", "never the secret itself"},
		{"web:\n  oidc:\n    issuer: https://id.example\n    client_id: q\n    client_secret: env:X\n", "web.oidc needs web.url"},
		{"web:\n  url: https://q.example\n  oidc:\n    issuer: https://id.example\n    client_id: q\n    client_secret: env:X\n    claim: name\n", "use email or sub"},
	} {
		_, err := loadYAML(t, c.yaml)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.yaml, err, c.want)
		}
	}
	cfg, err := loadYAML(t, "web:\n  url: https://q.example\n  oidc:\n    issuer: https://id.example\n    client_id: q\n    client_secret: env:X\n    claim: sub\n")
	if err != nil || !cfg.Web.OIDC.Enabled() {
		t.Fatalf("a good web section: %v", err)
	}
	// A local provider for development may speak http on loopback.
	if _, err := loadYAML(t, "web:\n  url: http://127.0.0.1:8080\n  oidc:\n    issuer: http://127.0.0.1:5556\n    client_id: q\n    client_secret: env:X\n"); err != nil {
		t.Errorf("loopback issuer: %v", err)
	}
}
