package config

import (
	"fmt"
	"sort"

	"github.com/quench-dev/quench/internal/trust"
)

// Decisions configures how approvals are signed: the front door that authenticated a
// human (HTTP API, Slack) signs their decision, and the worker counts only decisions signed
// by a key it trusts.
type Decisions struct {
	// SigningKey is the front door's ed25519 seed (32 bytes, base64) as a secret reference
	// (env:NAME or file:/path). Generate one with `head -c 32 /dev/urandom | base64`.
	// `quench dev` without it creates <data-dir>/decision-signing.key.
	SigningKey string `yaml:"signing_key"`
	// TrustedKeys are more public keys (base64) whose decisions the worker counts: a front
	// door with its own key, or the previous key while rotating. Public: not secrets.
	TrustedKeys []string `yaml:"trusted_keys"`
}

// PeopleMap is the config's people, normalised (see trust.NewPeople).
func (c *Config) PeopleMap() (trust.People, error) {
	if len(c.People) == 0 {
		return nil, nil
	}
	return trust.NewPeople(c.People)
}

func (c *Config) trustProblems() []string {
	var p []string
	if c.Decisions.SigningKey != "" && !isSecretRef(c.Decisions.SigningKey) {
		p = append(p, "decisions.signing_key: write env:NAME or file:/path, never the key itself")
	}
	for i, k := range c.Decisions.TrustedKeys {
		if _, err := trust.ParsePublicKey(k); err != nil {
			p = append(p, fmt.Sprintf("decisions.trusted_keys[%d]: %v", i, err))
		}
	}
	if _, err := c.PeopleMap(); err != nil {
		p = append(p, err.Error())
	}
	groups := make([]string, 0, len(c.Approvers))
	for g := range c.Approvers {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	for _, g := range groups {
		for _, m := range c.Approvers[g] {
			if _, err := trust.CheckIdentity(m); err != nil {
				p = append(p, fmt.Sprintf("approvers.%s: %v", g, err))
			}
		}
	}
	return p
}
