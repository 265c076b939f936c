package app

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/trust"
)

// DevSigningKeyFile is the key `quench dev` creates in its data dir when the config names
// none, and reuses on every later start.
const DevSigningKeyFile = "decision-signing.key"

// Decisions is what a process needs to vouch for decisions and to check them.
type Decisions struct {
	// Signer signs the decisions of the humans this process authenticated; nil when no
	// signing key is configured (the process then refuses to decide).
	Signer *trust.Signer
	// Keys are the public keys whose decisions count: the signer's and
	// decisions.trusted_keys. They go into the incident policy; never the private key.
	Keys []ed25519.PublicKey
	// People is the config's people, normalised.
	People trust.People
	// Created is the key file created at this start ("" when none was).
	Created string
}

// ResolveDecisions reads the signing key (decisions.signing_key) and the trusted keys.
// devDir, when set (`quench dev`), is where a key is created, or found again, when the
// config names none. Call it after the data-dir lock is taken: it may write there.
func ResolveDecisions(cfg *config.Config, devDir string) (*Decisions, error) {
	d := &Decisions{}
	var err error
	if d.People, err = cfg.PeopleMap(); err != nil {
		return nil, err
	}
	var seed []byte
	switch {
	case cfg.Decisions.SigningKey != "":
		v, err := config.Secret(cfg.Decisions.SigningKey)
		if err != nil {
			return nil, fmt.Errorf("decisions.signing_key: %w", err)
		}
		if seed, err = trust.ParseSeed(v); err != nil {
			return nil, fmt.Errorf("decisions.signing_key: %w", err)
		}
	case devDir != "":
		if seed, d.Created, err = devSigningKey(filepath.Join(devDir, DevSigningKeyFile)); err != nil {
			return nil, err
		}
	}
	if seed != nil {
		if d.Signer, err = trust.NewSigner(seed); err != nil {
			return nil, fmt.Errorf("decisions.signing_key: %w", err)
		}
		d.Keys = append(d.Keys, d.Signer.PublicKey())
	}
	for i, k := range cfg.Decisions.TrustedKeys {
		pub, err := trust.ParsePublicKey(k)
		if err != nil {
			return nil, fmt.Errorf("decisions.trusted_keys[%d]: %w", i, err)
		}
		d.Keys = append(d.Keys, pub)
	}
	return d, nil
}

// devSigningKey reads the dev key, or creates it (mode 0600) on first start. A key file
// others can read is refused: whoever reads it can approve as anyone.
func devSigningKey(path string) (seed []byte, created string, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		seed = make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return nil, "", fmt.Errorf("create the decision signing key: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, "", fmt.Errorf("create the decision signing key: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, "", fmt.Errorf("create the decision signing key %s: %w", path, err)
		}
		_, werr := f.WriteString(base64.StdEncoding.EncodeToString(seed) + "\n")
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			os.Remove(path)
			return nil, "", fmt.Errorf("write the decision signing key %s: %w", path, werr)
		}
		return seed, path, nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("read the decision signing key: %w", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, "", fmt.Errorf("read the decision signing key: %w", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, "", fmt.Errorf("refusing the decision signing key %s: others can read it (mode %#o), and whoever reads it can approve as anyone: chmod 600 %s",
			path, info.Mode().Perm(), path)
	}
	if seed, err = trust.ParseSeed(strings.TrimSpace(string(b))); err != nil {
		return nil, "", fmt.Errorf("%s: %w (delete the file to have quench dev create a new one)", path, err)
	}
	return seed, "", nil
}

// externalGroups maps the Slack user groups of slack.groups, as the Slack front door puts
// them in signed claims ("slack:S0123"), to quench approver groups.
func externalGroups(cfg *config.Config) map[string][]string {
	if len(cfg.Slack.Groups) == 0 {
		return nil
	}
	out := make(map[string][]string, len(cfg.Slack.Groups))
	for id, groups := range cfg.Slack.Groups {
		out["slack:"+id] = groups
	}
	return out
}
