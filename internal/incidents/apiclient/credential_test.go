package apiclient

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestCredentialRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadCredential(dir); !errors.Is(err, ErrNoCredential) {
		t.Fatalf("empty dir: %v, want ErrNoCredential", err)
	}
	tok, err := NewToken()
	if err != nil || len(tok) < 40 {
		t.Fatalf("token %q %v", tok, err)
	}
	want := Credential{URL: "http://127.0.0.1:8080", Token: tok, Identity: "cli:alice", AllowAs: true, PID: 42}
	path, err := WriteCredential(dir, want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadCredential(dir)
	if err != nil || got != want {
		t.Fatalf("read back %+v %v, want %+v", got, err, want)
	}
	if runtime.GOOS == "windows" {
		return
	}
	fi, _ := os.Stat(path)
	di, _ := os.Stat(dir)
	if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
		t.Errorf("file %04o dir %04o, want 0600 in 0700", fi.Mode().Perm(), di.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}

	// Another quench dev's stop leaves a newer credential alone.
	RemoveCredential(dir, "another-token")
	if _, err := os.Stat(path); err != nil {
		t.Fatal("removed a credential it did not write")
	}

	// A file others can read, or a dir others can write, was not written by quench dev.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadCredential(dir); err == nil || !strings.Contains(err.Error(), "other users could read") {
		t.Errorf("0644 credential: %v", err)
	}
	_ = os.Chmod(path, 0o600)
	_ = os.Chmod(dir, 0o777)
	if _, err := ReadCredential(dir); err == nil || !strings.Contains(err.Error(), "0777") {
		t.Errorf("world-writable dir: %v", err)
	}
	_ = os.Chmod(dir, 0o700)

	RemoveCredential(dir, tok)
	if _, err := ReadCredential(dir); !errors.Is(err, ErrNoCredential) {
		t.Errorf("after remove: %v", err)
	}
}

func TestCredentialMustBeAFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/etc/hostname", CredentialPath(dir)); err != nil {
		t.Skip(err)
	}
	if _, err := ReadCredential(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("symlink: %v", err)
	}
}
