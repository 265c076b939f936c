package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadDefaultsWithoutFile(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("QUENCH_CONFIG", "")
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != DefaultDataDir || c.HTTP.Listen != DefaultListen || c.Temporal.Address != DefaultAddress {
		t.Fatalf("defaults not applied: %+v", c)
	}
	if got := c.Gateway.Routes["chat"]; len(got) != 2 || got[0] != "primary" {
		t.Fatalf("default routes: %v", c.Gateway.Routes)
	}
}

func TestLoadRejectsTyposAndInlineSecrets(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"unknown key":   "aprovers:\n  sre: [alice]\n",
		"inline secret": "api:\n  tokens:\n    bot: s3cr3t\n",
		"empty group":   "approvers:\n  sre: []\n",
		"empty route":   "gateway:\n  routes:\n    chat: []\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
			os.WriteFile(path, []byte(body), 0o600)
			if _, err := Load(path); err == nil {
				t.Fatal("want an error")
			}
		})
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("an explicit missing file must be an error")
	}
}

func TestSecretReferences(t *testing.T) {
	t.Setenv("QUENCH_TEST_TOKEN", "abc")
	if v, err := Secret("env:QUENCH_TEST_TOKEN"); err != nil || v != "abc" {
		t.Fatalf("env: %q %v", v, err)
	}
	file := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(file, []byte("xyz\n"), 0o600)
	if v, err := Secret("file:" + file); err != nil || v != "xyz" {
		t.Fatalf("file: %q %v", v, err)
	}
	if _, err := Secret("env:QUENCH_TEST_UNSET_VAR"); err == nil {
		t.Fatal("unset env must be an error")
	}
	if _, err := Secret("plain"); err == nil {
		t.Fatal("a bare value must be refused")
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "localhost:80": true, "[::1]:8080": true,
		"0.0.0.0:8080": false, ":8080": false, "10.0.0.5:80": false, "nonsense": false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
