package app

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/trust"
)

func TestDevSigningKeyIsCreatedOnceAndReused(t *testing.T) {
	dir := t.TempDir()
	cfg := &config.Config{}
	first, err := ResolveDecisions(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, DevSigningKeyFile)
	if first.Signer == nil || first.Created != path || len(first.Keys) != 1 {
		t.Fatalf("first start: %+v", first)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v", err, info.Mode())
	}
	again, err := ResolveDecisions(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.Created != "" || !again.Signer.PublicKey().Equal(first.Signer.PublicKey()) {
		t.Fatal("the second start did not reuse the key")
	}

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ResolveDecisions(cfg, dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a key others can read: %v", err)
	}
}

func TestConfiguredKeysAndNoKey(t *testing.T) {
	seed := bytes.Repeat([]byte{4}, 32)
	t.Setenv("QUENCH_TEST_DECISION_KEY", base64.StdEncoding.EncodeToString(seed))
	other, _ := trust.NewSigner(bytes.Repeat([]byte{6}, 32))
	cfg := &config.Config{Decisions: config.Decisions{SigningKey: "env:QUENCH_TEST_DECISION_KEY",
		TrustedKeys: []string{trust.EncodePublicKey(other.PublicKey())}}}
	dir := t.TempDir()
	d, err := ResolveDecisions(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := trust.NewSigner(seed)
	if !d.Signer.PublicKey().Equal(want.PublicKey()) || len(d.Keys) != 2 || !d.Keys[1].Equal(other.PublicKey()) {
		t.Fatalf("keys %+v", d)
	}
	if _, err := os.Stat(filepath.Join(dir, DevSigningKeyFile)); !os.IsNotExist(err) {
		t.Fatal("a dev key was created although the config names one")
	}

	// quench worker / server without a key: no signer, nothing trusted, no file written.
	none, err := ResolveDecisions(&config.Config{}, "")
	if err != nil || none.Signer != nil || len(none.Keys) != 0 {
		t.Fatalf("no key: %+v, %v", none, err)
	}
	cfg.Decisions.SigningKey = "env:QUENCH_TEST_NO_SUCH_VAR"
	if _, err := ResolveDecisions(cfg, ""); err == nil || !strings.Contains(err.Error(), "decisions.signing_key") {
		t.Fatalf("unset key variable: %v", err)
	}
}

func TestPolicyCarriesPeopleAndSlackGroups(t *testing.T) {
	cfg := &config.Config{
		Approvers: map[string][]string{"sre": {"alice"}},
		People:    map[string][]string{"alice": {"cli:alice", "slack:U0123ALICE"}},
		Slack:     config.Slack{Groups: map[string][]string{"S0123SRE": {"sre"}}},
	}
	p := PolicyFrom(cfg, false, "")
	if p.People.PersonOf("slack:U0123ALICE") != "alice" {
		t.Errorf("people: %v", p.People)
	}
	if got := p.ExternalGroups["slack:S0123SRE"]; len(got) != 1 || got[0] != "sre" {
		t.Errorf("external groups: %v", p.ExternalGroups)
	}
	if len(p.DecisionKeys) != 0 {
		t.Error("PolicyFrom invented keys")
	}
}
