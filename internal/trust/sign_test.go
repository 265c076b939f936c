package trust

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func testSigner(t *testing.T, b byte) *Signer {
	t.Helper()
	s, err := NewSigner(bytes.Repeat([]byte{b}, ed25519.SeedSize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var t0 = time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC)

func testClaim() Claim {
	return Claim{Person: "alice", Identity: "slack:U0123ALICE", Via: "slack", IncidentID: "inc-x-1", StepID: "failback",
		Digest: "abc", Verdict: "approve", Reason: "ok", Groups: []string{"slack:S1"}, At: t0, Nonce: "n1"}
}

func TestSignVerify(t *testing.T) {
	s := testSigner(t, 1)
	other := testSigner(t, 2)
	good := s.Sign(testClaim())

	tamper := func(f func(*Proof)) Proof {
		p := good
		p.Claim.Groups = append([]string(nil), good.Claim.Groups...)
		p.Signature = append([]byte(nil), good.Signature...)
		f(&p)
		return p
	}
	for name, tc := range map[string]struct {
		key  ed25519.PublicKey
		p    Proof
		now  time.Time
		want error
	}{
		"valid":                 {s.PublicKey(), good, t0.Add(time.Minute), nil},
		"valid, slightly ahead": {s.PublicKey(), good, t0.Add(-30 * time.Second), nil},
		"tampered verdict":      {s.PublicKey(), tamper(func(p *Proof) { p.Claim.Verdict = "reject" }), t0, ErrBadSignature},
		"tampered person":       {s.PublicKey(), tamper(func(p *Proof) { p.Claim.Person = "mallory" }), t0, ErrBadSignature},
		"added group":           {s.PublicKey(), tamper(func(p *Proof) { p.Claim.Groups = append(p.Claim.Groups, "slack:S2") }), t0, ErrBadSignature},
		"moved in time":         {s.PublicKey(), tamper(func(p *Proof) { p.Claim.At = t0.Add(time.Hour) }), t0.Add(time.Hour), ErrBadSignature},
		"flipped bit":           {s.PublicKey(), tamper(func(p *Proof) { p.Signature[0] ^= 1 }), t0, ErrBadSignature},
		"short signature":       {s.PublicKey(), tamper(func(p *Proof) { p.Signature = p.Signature[:10] }), t0, ErrBadSignature},
		"wrong key":             {other.PublicKey(), good, t0, ErrUnknownKey},
		"key ID forged":         {other.PublicKey(), tamper(func(p *Proof) { p.KeyID = other.KeyID() }), t0, ErrBadSignature},
		"stale":                 {s.PublicKey(), good, t0.Add(DefaultMaxAge + time.Second), ErrStale},
		"future":                {s.PublicKey(), good, t0.Add(-ClockSkew - time.Second), ErrFuture},
	} {
		err := Verify(tc.key, tc.p, tc.now, DefaultMaxAge)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: Verify = %v; want %v", name, err, tc.want)
		}
	}
	incomplete := testClaim()
	incomplete.Digest = ""
	if err := Verify(s.PublicKey(), s.Sign(incomplete), t0, DefaultMaxAge); !errors.Is(err, ErrIncomplete) {
		t.Errorf("incomplete claim: %v", err)
	}
	if err := VerifyAny([]ed25519.PublicKey{other.PublicKey(), s.PublicKey()}, good, t0, DefaultMaxAge); err != nil {
		t.Errorf("VerifyAny with the key among others: %v", err)
	}
	if err := VerifyAny([]ed25519.PublicKey{other.PublicKey()}, good, t0, DefaultMaxAge); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("VerifyAny without the key: %v", err)
	}
}

// A proof survives the trip through JSON (workflow history) and still verifies.
func TestProofJSONRoundTrip(t *testing.T) {
	s := testSigner(t, 1)
	c := testClaim()
	c.At = time.Date(2026, 12, 3, 17, 0, 0, 123456789, time.FixedZone("X", 3600))
	p := s.Sign(c)
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Proof
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := Verify(s.PublicKey(), back, c.At, DefaultMaxAge); err != nil {
		t.Fatalf("after JSON: %v", err)
	}
}

// Field boundaries are unambiguous: moving text from one field to the next changes the bytes.
func TestSigningBytesUnambiguous(t *testing.T) {
	a, b := testClaim(), testClaim()
	a.Person, a.Identity = "ab", "c"
	b.Person, b.Identity = "a", "bc"
	if bytes.Equal(SigningBytes(a), SigningBytes(b)) {
		t.Fatal("different claims, same signing bytes")
	}
	c := testClaim()
	c.Groups = []string{"x\ngroup=1:y"}
	d := testClaim()
	d.Groups = []string{"x", "y"}
	if bytes.Equal(SigningBytes(c), SigningBytes(d)) {
		t.Fatal("group lists collide")
	}
}

func TestSignFillsTimeAndNonce(t *testing.T) {
	s := testSigner(t, 1)
	p1, p2 := s.Sign(Claim{Identity: "cli:a"}), s.Sign(Claim{Identity: "cli:a"})
	if p1.Claim.At.IsZero() || p1.Claim.Nonce == "" || p1.Claim.Nonce == p2.Claim.Nonce {
		t.Fatalf("claims %+v %+v", p1.Claim, p2.Claim)
	}
}

func TestNewSignerAndKeys(t *testing.T) {
	if _, err := NewSigner([]byte("short")); err == nil {
		t.Error("a short seed was accepted")
	}
	if _, err := ParseSeed("not base64!"); err == nil {
		t.Error("bad base64 accepted")
	}
	s := testSigner(t, 3)
	pub, err := ParsePublicKey(EncodePublicKey(s.PublicKey()))
	if err != nil || !pub.Equal(s.PublicKey()) {
		t.Errorf("public key round trip: %v", err)
	}
	if _, err := ParsePublicKey("AAAA"); err == nil {
		t.Error("short public key accepted")
	}
	if len(s.KeyID()) != 16 || s.KeyID() != KeyID(s.PublicKey()) {
		t.Errorf("key ID %q", s.KeyID())
	}
}

func TestNonceLog(t *testing.T) {
	var l NonceLog
	var err error
	l, err = l.Record("n1", t0, t0, time.Minute, 3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Record("n1", t0, t0, time.Minute, 3); !errors.Is(err, ErrReused) {
		t.Fatalf("reused nonce: %v", err)
	}
	l, _ = l.Record("n2", t0, t0, time.Minute, 3)
	l, _ = l.Record("n3", t0, t0, time.Minute, 3)
	if _, err := l.Record("n4", t0, t0, time.Minute, 3); !errors.Is(err, ErrNonceLogFull) {
		t.Fatalf("over the cap: %v", err)
	}
	// Past the window the old ones are dropped and new ones fit.
	later := t0.Add(2 * time.Minute)
	l, err = l.Record("n4", later, later, time.Minute, 3)
	if err != nil || len(l) != 1 || !l.Seen("n4") || l.Seen("n1") {
		t.Fatalf("after the window: %v %+v", err, l)
	}
}
