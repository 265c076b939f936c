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

func TestLLMHooksConfig(t *testing.T) {
	c, err := loadYAML(t, "hooks:\n  litellm:\n    token: env:LITELLM_HOOK\n  langfuse_alerts:\n    hmac_secret: file:/etc/quench/langfuse\n")
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := c.Hooks.Source("litellm"); a.Token != "env:LITELLM_HOOK" {
		t.Errorf("litellm credentials not read: %+v", a)
	}
	if a, _ := c.Hooks.Source("langfuse_alerts"); a.HMACSecret != "file:/etc/quench/langfuse" {
		t.Errorf("langfuse_alerts credentials not read: %+v", a)
	}
	for name, body := range map[string]string{
		"inline litellm token":     "hooks:\n  litellm:\n    token: sk-litellm-hook\n",
		"inline langfuse secret":   "hooks:\n  langfuse_alerts:\n    hmac_secret: lf-whsec_abc\n",
		"the path name as the key": "hooks:\n  langfuse-alerts:\n    hmac_secret: env:X\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := loadYAML(t, body); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

// The LLM hooks are opt-in where other machines can reach quench: off without credentials
// (and saying what to set), on with them, on loopback, or with allow_unauthenticated.
func TestHookOff(t *testing.T) {
	exposed := HTTP{Listen: "0.0.0.0:8080"}
	for _, tc := range []struct {
		name    string
		c       Config
		source  string
		off     bool
		mention string
	}{
		{"exposed, no credentials", Config{HTTP: exposed}, "litellm", true, "hooks.litellm.token"},
		{"exposed, no secret", Config{HTTP: exposed}, "langfuse_alerts", true, "hooks.langfuse_alerts.hmac_secret"},
		{"exposed, with a token", Config{HTTP: exposed, Hooks: Hooks{LiteLLM: HookAuth{Token: "env:T"}}}, "litellm", false, ""},
		{"exposed, allowed unauthenticated", Config{HTTP: exposed, Hooks: Hooks{AllowUnauthenticated: true}}, "langfuse_alerts", false, ""},
		{"loopback", Config{HTTP: HTTP{Listen: "127.0.0.1:8080"}}, "litellm", false, ""},
		{"disabled though configured", Config{HTTP: exposed, Hooks: Hooks{LiteLLM: HookAuth{Token: "env:T", Disabled: true}}}, "litellm", true, "hooks.litellm.disabled"},
		{"an older source is never opt-in", Config{HTTP: exposed}, "grafana", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			off, why := tc.c.HookOff(tc.source)
			if off != tc.off || !strings.Contains(why, tc.mention) {
				t.Errorf("HookOff(%s) = %t, %q; want %t mentioning %q", tc.source, off, why, tc.off, tc.mention)
			}
		})
	}
	c := Config{HTTP: exposed, Hooks: Hooks{Alertmanager: HookAuth{Token: "env:A"}, Grafana: HookAuth{Disabled: true},
		PagerDuty: HookAuth{Disabled: true}, Datadog: HookAuth{Disabled: true}, Generic: HookAuth{Disabled: true}}}
	if open, err := c.UnauthenticatedHooks(); err != nil || len(open) != 0 {
		t.Errorf("a config from before the LLM hooks: open %v, err %v; want it to start with them off", open, err)
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
