package web

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/trust"
)

// fakeIssuer is a small OpenID Connect provider: discovery, JWKS, an authorize endpoint
// that signs in one fixed user at once, and a token endpoint that checks the code, the
// client and PKCE and answers an RS256-signed ID token.
type fakeIssuer struct {
	srv           *httptest.Server
	key           *rsa.PrivateKey // served in the JWKS
	signWith      *rsa.PrivateKey // signs ID tokens (nil: key)
	clientID      string
	secret        string
	email         string
	emailVerified bool

	mu    sync.Mutex
	codes map[string]fakeGrant
}

type fakeGrant struct{ nonce, challenge, redirect string }

func newFakeIssuer(t *testing.T) *fakeIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeIssuer{key: key, clientID: "quench", secret: "client-secret", email: "Alice@Example.com", emailVerified: true, codes: map[string]fakeGrant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		u := f.srv.URL
		writeJSONT(w, map[string]any{"issuer": u, "authorization_endpoint": u + "/authorize", "token_endpoint": u + "/token",
			"jwks_uri": u + "/keys", "id_token_signing_alg_values_supported": []string{"RS256"}, "response_types_supported": []string{"code"}})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		b64 := base64.RawURLEncoding.EncodeToString
		writeJSONT(w, map[string]any{"keys": []map[string]string{{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "k1",
			"n": b64(f.key.N.Bytes()), "e": b64(big.NewInt(int64(f.key.E)).Bytes())}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != f.clientID || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" {
			http.Error(w, "bad authorize request", http.StatusBadRequest)
			return
		}
		code := randomToken()
		f.mu.Lock()
		f.codes[code] = fakeGrant{nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri")}
		f.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		f.mu.Lock()
		g, found := f.codes[r.PostForm.Get("code")]
		delete(f.codes, r.PostForm.Get("code"))
		f.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if !found || id != f.clientID || secret != f.secret || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge || r.PostForm.Get("redirect_uri") != g.redirect {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		now := time.Now()
		idToken := f.sign(t, map[string]any{"iss": f.srv.URL, "sub": "u-123", "aud": f.clientID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"nonce": g.nonce, "email": f.email, "email_verified": f.emailVerified})
		writeJSONT(w, map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 3600, "id_token": idToken})
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIssuer) sign(t *testing.T, claims map[string]any) string {
	b64 := base64.RawURLEncoding.EncodeToString
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": "k1", "typ": "JWT"})
	c, _ := json.Marshal(claims)
	input := b64(h) + "." + b64(c)
	sum := sha256.Sum256([]byte(input))
	key := f.key
	if f.signWith != nil {
		key = f.signWith
	}
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

func writeJSONT(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// oidcEnv is a page whose OIDC provider is the fake issuer.
func oidcEnv(t *testing.T) (*env, *fakeIssuer) {
	f := newFakeIssuer(t)
	var e *env
	e = newEnv(t, func(o *Options) {
		o.OpenRead = false
		o.People, _ = trust.NewPeople(map[string][]string{"Alice": {"oidc:alice@example.com", "slack:U1"}})
		o.OIDC = &OIDC{Issuer: f.srv.URL, ClientID: f.clientID, ClientSecret: f.secret}
	})
	e.h.opts.OIDC.RedirectURL = e.srv.URL + "/auth/oidc/callback"
	return e, f
}

// follow walks redirects by hand (the jar keeps cookies) and returns the last answer.
func follow(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	for i := 0; i < 5; i++ {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 3 {
			return resp.StatusCode, string(body)
		}
		next, _ := resp.Location()
		u = next.String()
	}
	t.Fatal("too many redirects")
	return 0, ""
}

func TestOIDCSignIn(t *testing.T) {
	e, _ := oidcEnv(t)
	c := e.browser()
	code, page := follow(t, c, e.srv.URL+"/auth/oidc?next=/incidents/1a2b3c")
	if code != http.StatusOK || !strings.Contains(page, "Signed in as alice (oidc:alice@example.com)") || !strings.Contains(page, `url=/incidents/1a2b3c`) {
		t.Fatalf("OIDC sign-in: %d\n%s", code, page)
	}
	_, page, _ = e.get(c, "/")
	if !strings.Contains(page, "Signed in as <b>alice (oidc:alice@example.com)</b>") {
		t.Errorf("after OIDC sign-in:\n%s", page)
	}
}

func TestOIDCRefusals(t *testing.T) {
	e, f := oidcEnv(t)
	// A callback whose state did not start in this browser.
	if code, page, _ := e.get(e.browser(), "/auth/oidc/callback?code=x&state=forged"); code != http.StatusBadRequest || !strings.Contains(page, "did not start in this browser") {
		t.Errorf("forged state: %d", code)
	}
	// The provider did not vouch for the email.
	f.emailVerified = false
	c := e.browser()
	code, page := follow(t, c, e.srv.URL+"/auth/oidc")
	if code != http.StatusForbidden || !strings.Contains(page, "email_verified") {
		t.Errorf("unverified email: %d\n%s", code, page)
	}
	if _, page, _ := e.get(c, "/login"); strings.Contains(page, "Signed in as") {
		t.Error("signed in without a verified email")
	}
	// An ID token signed by another key does not hold.
	f.emailVerified = true
	rogue, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f.signWith = rogue
	code, page = follow(t, e.browser(), e.srv.URL+"/auth/oidc")
	if code != http.StatusUnauthorized || !strings.Contains(page, "The ID token does not hold") {
		t.Errorf("ID token signed by a key the provider does not serve: %d\n%s", code, page)
	}
}
