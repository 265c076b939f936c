package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func loadYAML(t *testing.T, body string) (*Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "quench.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(path)
}

func TestHooksDefaultsAndSecretReferences(t *testing.T) {
	c, err := loadYAML(t, "hooks:\n  alertmanager:\n    token: env:AM_TOKEN\n  grafana:\n    hmac_secret: file:/etc/quench/grafana\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Hooks.MaxBodyBytes != DefaultMaxHookBody {
		t.Errorf("max_body_bytes default = %d, want %d", c.Hooks.MaxBodyBytes, DefaultMaxHookBody)
	}
	if am, _ := c.Hooks.Source("alertmanager"); am.Token != "env:AM_TOKEN" || !am.HasCredentials() {
		t.Errorf("alertmanager credentials not read: %+v", am)
	}
	if g, _ := c.Hooks.Source("grafana"); g.HMACSecret != "file:/etc/quench/grafana" {
		t.Errorf("grafana credentials not read: %+v", g)
	}
	if _, ok := c.Hooks.Source("nagios"); ok {
		t.Error("an unknown source must not be found")
	}

	for name, body := range map[string]string{
		"inline token":    "hooks:\n  alertmanager:\n    token: s3cr3t\n",
		"inline hmac":     "hooks:\n  pagerduty:\n    hmac_secret: s3cr3t\n",
		"unknown source":  "hooks:\n  nagios:\n    token: env:X\n",
		"negative limit":  "hooks:\n  max_body_bytes: -1\n",
		"unknown setting": "hooks:\n  alertmanager:\n    tokn: env:X\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := loadYAML(t, body); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

func TestUnauthenticatedHooks(t *testing.T) {
	allConfigured := Hooks{
		Alertmanager: HookAuth{Token: "env:A"}, Grafana: HookAuth{HMACSecret: "env:G"},
		PagerDuty: HookAuth{HMACSecret: "env:P"}, Datadog: HookAuth{Token: "env:D"}, Generic: HookAuth{Disabled: true},
	}
	onlyAlertmanager := Hooks{Alertmanager: HookAuth{Token: "env:A"}}

	for _, tc := range []struct {
		name     string
		listen   string
		hooks    Hooks
		wantOpen []string
		wantErr  bool
	}{
		{"dev on loopback accepts unsigned posts", "127.0.0.1:8080", Hooks{}, HookSources, false},
		{"exposed without credentials is refused", "0.0.0.0:8080", onlyAlertmanager, []string{"grafana", "pagerduty", "datadog", "generic"}, true},
		{"exposed and explicitly allowed", "0.0.0.0:8080", Hooks{AllowUnauthenticated: true}, HookSources, false},
		{"exposed with every source configured or disabled", ":8080", allConfigured, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Config{HTTP: HTTP{Listen: tc.listen}, Hooks: tc.hooks}
			open, err := c.UnauthenticatedHooks()
			if strings.Join(open, ",") != strings.Join(tc.wantOpen, ",") {
				t.Errorf("unauthenticated sources = %v, want %v", open, tc.wantOpen)
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tc.wantErr)
			}
			if err != nil {
				for _, hint := range []string{"hooks.<source>.token", "grafana, pagerduty, datadog, generic", "allow_unauthenticated", "127.0.0.1"} {
					if !strings.Contains(err.Error(), hint) {
						t.Errorf("the refusal should mention %q: %v", hint, err)
					}
				}
			}
		})
	}
}
