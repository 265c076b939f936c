package trust

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Freshness of a signed decision. A proof older than DefaultMaxAge, or dated more than
// ClockSkew ahead of the workflow's clock, does not count.
const (
	DefaultMaxAge = 5 * time.Minute
	ClockSkew     = time.Minute
)

// Claim is what a front door vouches for: this person, authenticated as Identity through
// Via, decided Verdict on step StepID (params digest Digest) of incident IncidentID, at At.
// Groups are groups the front door itself verified with their owner (Slack user groups,
// as "slack:S0123"); the incident's policy says what they mean. Nonce makes each claim
// usable once.
type Claim struct {
	Person     string    `json:"person"`
	Identity   string    `json:"identity"`
	Via        string    `json:"via"`
	IncidentID string    `json:"incident_id"`
	StepID     string    `json:"step_id"`
	Digest     string    `json:"digest"`
	Verdict    string    `json:"verdict"`
	Reason     string    `json:"reason,omitempty"`
	Groups     []string  `json:"groups,omitempty"`
	At         time.Time `json:"at"`
	Nonce      string    `json:"nonce"`
}

// Proof is a signed claim. It goes into workflow history: it holds no secret.
type Proof struct {
	Claim     Claim  `json:"claim"`
	KeyID     string `json:"key_id"`
	Signature []byte `json:"signature"`
}

// signingDomain separates quench decision signatures from anything else the key could sign.
const signingDomain = "quench-decision-v1"

// SigningBytes is the fixed encoding a claim is signed in: the line "quench-decision-v1",
// then one line per field in this order, each "name=<byte length>:<value>" (lengths make
// any value, newlines included, unambiguous): person, identity, via, incident_id, step_id,
// digest, verdict, reason, groups (the count, then one "group=" line each), at (UTC,
// RFC 3339 with nanoseconds), nonce.
func SigningBytes(c Claim) []byte {
	var b strings.Builder
	b.WriteString(signingDomain + "\n")
	field := func(name, v string) {
		b.WriteString(name + "=" + strconv.Itoa(len(v)) + ":" + v + "\n")
	}
	field("person", c.Person)
	field("identity", c.Identity)
	field("via", c.Via)
	field("incident_id", c.IncidentID)
	field("step_id", c.StepID)
	field("digest", c.Digest)
	field("verdict", c.Verdict)
	field("reason", c.Reason)
	field("groups", strconv.Itoa(len(c.Groups)))
	for _, g := range c.Groups {
		field("group", g)
	}
	field("at", c.At.UTC().Format(time.RFC3339Nano))
	field("nonce", c.Nonce)
	return []byte(b.String())
}

// Signer signs claims with a front door's private key.
type Signer struct {
	key ed25519.PrivateKey
	id  string
}

// NewSigner makes a signer from a 32-byte ed25519 seed.
func NewSigner(seed []byte) (*Signer, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("decision signing key: the seed is %d bytes, want %d (generate one with `head -c 32 /dev/urandom | base64`)", len(seed), ed25519.SeedSize)
	}
	key := ed25519.NewKeyFromSeed(seed)
	return &Signer{key: key, id: KeyID(key.Public().(ed25519.PublicKey))}, nil
}

// ParseSeed decodes a base64 seed, as the config's decisions.signing_key holds it.
func ParseSeed(s string) ([]byte, error) {
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("decision signing key: not base64 (generate one with `head -c 32 /dev/urandom | base64`)")
	}
	return seed, nil
}

// ParsePublicKey decodes a base64 ed25519 public key (decisions.trusted_keys).
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("trusted decision key %q: want the base64 of a %d-byte ed25519 public key", s, ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// EncodePublicKey is the base64 form ParsePublicKey reads.
func EncodePublicKey(pub ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(pub) }

// PublicKey is the key that verifies this signer's proofs.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// KeyID is the signer's key ID.
func (s *Signer) KeyID() string { return s.id }

// Sign signs a claim. A claim without a time or nonce gets the current time and a fresh
// random nonce: a claim is never signed replayable.
func (s *Signer) Sign(c Claim) Proof {
	if c.At.IsZero() {
		c.At = time.Now()
	}
	if c.Nonce == "" {
		c.Nonce = NewNonce()
	}
	return Proof{Claim: c, KeyID: s.id, Signature: ed25519.Sign(s.key, SigningBytes(c))}
}

// KeyID is a short name for a public key: the first 16 hex digits of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// NewNonce is 16 random bytes in hex.
func NewNonce() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("trust: no randomness: " + err.Error()) // crypto/rand does not fail on supported systems
	}
	return hex.EncodeToString(b)
}

// Reasons a proof does not count.
var (
	ErrUnknownKey   = errors.New("signed by a key this incident does not trust")
	ErrBadSignature = errors.New("the signature does not match the claim: it was altered or forged")
	ErrStale        = errors.New("the decision is too old")
	ErrFuture       = errors.New("the decision is dated in the future")
	ErrIncomplete   = errors.New("the claim is incomplete")
)

// Verify checks a proof against one trusted key: the key ID, the signature over
// SigningBytes, a complete claim, and freshness (at most maxAge old, at most ClockSkew
// ahead of now).
func Verify(pub ed25519.PublicKey, p Proof, now time.Time, maxAge time.Duration) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: the trusted key is malformed", ErrUnknownKey)
	}
	if p.KeyID != KeyID(pub) {
		return fmt.Errorf("%w (key %q)", ErrUnknownKey, p.KeyID)
	}
	if len(p.Signature) != ed25519.SignatureSize || !ed25519.Verify(pub, SigningBytes(p.Claim), p.Signature) {
		return ErrBadSignature
	}
	c := p.Claim
	for _, f := range [][2]string{{"identity", c.Identity}, {"incident_id", c.IncidentID}, {"step_id", c.StepID},
		{"digest", c.Digest}, {"verdict", c.Verdict}, {"nonce", c.Nonce}} {
		if f[1] == "" {
			return fmt.Errorf("%w: no %s", ErrIncomplete, f[0])
		}
	}
	if c.At.IsZero() {
		return fmt.Errorf("%w: no time", ErrIncomplete)
	}
	if age := now.Sub(c.At); age > maxAge {
		return fmt.Errorf("%w: signed %s ago, at most %s counts (decide again)", ErrStale, age.Round(time.Second), maxAge)
	}
	if ahead := c.At.Sub(now); ahead > ClockSkew {
		return fmt.Errorf("%w: %s ahead of the incident's clock (check the front door's clock)", ErrFuture, ahead.Round(time.Second))
	}
	return nil
}

// VerifyAny checks a proof against the trusted key its KeyID names.
func VerifyAny(keys []ed25519.PublicKey, p Proof, now time.Time, maxAge time.Duration) error {
	for _, k := range keys {
		if len(k) == ed25519.PublicKeySize && KeyID(k) == p.KeyID {
			return Verify(k, p, now, maxAge)
		}
	}
	return fmt.Errorf("%w (key %q)", ErrUnknownKey, p.KeyID)
}
