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

func TestLoadPeopleAndDecisions(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		path := filepath.Join(dir, "q.yaml")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	c, err := Load(write("people:\n  Alice: [cli:alice, slack:U0123ALICE]\napprovers:\n  sre: [alice, bob]\n" +
		"decisions:\n  signing_key: env:QUENCH_DECISION_KEY\n  trusted_keys: [AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=]\n"))
	if err != nil {
		t.Fatal(err)
	}
	people, err := c.PeopleMap()
	if err != nil || people.PersonOf("slack:u0123alice") != "alice" {
		t.Fatalf("people %v, %v", people, err)
	}
	for name, tc := range map[string]struct{ body, want string }{
		"inline signing key":   {"decisions:\n  signing_key: c2VjcmV0\n", "never the key itself"},
		"bad trusted key":      {"decisions:\n  trusted_keys: [nope]\n", "trusted_keys[0]"},
		"look-alike in people": {"people:\n  alice: [\"аlice\"]\n", "mixes Cyrillic and Latin"},
		"shared identity":      {"people:\n  alice: [slack:U1]\n  bob: [slack:u1]\n", "also listed under"},
		"look-alike approver":  {"approvers:\n  sre: [\"bоb\"]\n", "approvers.sre"},
	} {
		if _, err := Load(write(tc.body)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v; want %q", name, err, tc.want)
		}
	}
}
