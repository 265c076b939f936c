package apiclient

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// CredentialFile is where `quench dev` writes the CLI's credential, in its data dir.
const CredentialFile = "cli-credential"

// Credential is what `quench dev` hands the CLI of the OS user running it: where its API
// listens and the token that makes a request that user's. Only that user can read it (file
// 0600 in a 0700 data dir), the way a Unix socket's permission says who may connect.
type Credential struct {
	URL      string `json:"url"`
	Token    string `json:"token"`
	Identity string `json:"identity"` // cli:<OS user>
	// AllowAs: the quench dev config has dev.allow_as, so the CLI may pass --as.
	AllowAs bool `json:"allow_as,omitempty"`
	PID     int  `json:"pid,omitempty"`
}

// ErrNoCredential means the data dir holds no credential: quench dev is not running there.
var ErrNoCredential = errors.New("no CLI credential")

// NewToken returns a fresh random token (256 bits).
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate the CLI credential: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// CredentialPath is the credential's path in dataDir.
func CredentialPath(dataDir string) string { return filepath.Join(dataDir, CredentialFile) }

// WriteCredential writes c to dataDir for the CLI: the directory is made 0700 (it is
// quench's own), the file 0600, written through a rename so a reader never sees half of it.
// A directory another user owns or may write to is refused: they could swap the file and
// collect the token.
func WriteCredential(dataDir string, c Credential) (string, error) {
	path := CredentialPath(dataDir)
	if err := privateDir(dataDir); err != nil {
		return "", err
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dataDir, ".cli-credential-*") // created 0600
	if err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return path, nil
}

// RemoveCredential removes the credential if it still holds token: a quench dev that
// stops must not remove the credential of another that started on the same dir since.
func RemoveCredential(dataDir, token string) {
	path := CredentialPath(dataDir)
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var c Credential
	if json.Unmarshal(data, &c) == nil && c.Token == token {
		_ = os.Remove(path)
	}
}

// ReadCredential reads the credential quench dev wrote to dataDir. It must be a regular
// file of the current user that no one else can read, in a directory no one else can
// write; anything else was not written by this user's quench dev and is refused.
func ReadCredential(dataDir string) (Credential, error) {
	path := CredentialPath(dataDir)
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Credential{}, fmt.Errorf("%w in %s", ErrNoCredential, dataDir)
	}
	if err != nil {
		return Credential{}, fmt.Errorf("read the CLI credential: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return Credential{}, fmt.Errorf("%s is not a regular file: refusing to use it as a credential", path)
	}
	if err := ownedPrivately(path, fi, 0o077); err != nil {
		return Credential{}, err
	}
	di, err := os.Stat(dataDir)
	if err != nil {
		return Credential{}, fmt.Errorf("read the CLI credential: %w", err)
	}
	if err := ownedPrivately(dataDir, di, 0o022); err != nil {
		return Credential{}, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Credential{}, fmt.Errorf("read the CLI credential: %w", err)
	}
	var c Credential
	if err := json.Unmarshal(data, &c); err != nil || c.URL == "" || c.Token == "" || c.Identity == "" {
		return Credential{}, fmt.Errorf("%s is not a quench CLI credential (restart quench dev to write a new one)", path)
	}
	return c, nil
}

// privateDir makes dir 0700 after checking it is the current user's.
func privateDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("write the CLI credential: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("data dir %s is not a directory", dir)
	}
	if err := ownedPrivately(dir, fi, 0); err != nil {
		return err
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("data dir %s: make it private (0700) for the CLI credential: %w", dir, err)
		}
	}
	return nil
}
