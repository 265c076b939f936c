package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAPIClientAndDevConfig(t *testing.T) {
	for _, tc := range []struct {
		yaml    string
		wantErr string
	}{
		{yaml: "api:\n  url: https://quench.example\n  token: env:QUENCH_API_TOKEN\ndev:\n  allow_as: true\nhttp:\n  hosts: [quench.example, \"quench.example:8443\"]\n"},
		{yaml: "api:\n  url: http://127.0.0.1:8080\n  token: file:/run/token\n"},
		{yaml: "api:\n  url: https://quench.example\n  token: abc123\n", wantErr: "api.token: write env:NAME"},
		{yaml: "api:\n  url: http://quench.example\n  token: env:T\n", wantErr: "clear text"},
		{yaml: "api:\n  url: quench.example\n  token: env:T\n", wantErr: "write https://host"},
		{yaml: "api:\n  url: https://quench.example\n", wantErr: "without api.token"},
		{yaml: "http:\n  hosts: [\"https://quench.example/\"]\n", wantErr: "not a host name"},
	} {
		path := filepath.Join(t.TempDir(), "quench.yaml")
		if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path)
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.yaml, err)
			} else if tc.yaml[:4] == "api:" && c.API.URL == "" {
				t.Errorf("%s: api.url not read", tc.yaml)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: %v, want %q", tc.yaml, err, tc.wantErr)
		}
	}
}
