package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/quench-dev/quench/internal/trust"
)

// OIDC signs people in with an OpenID Connect provider (authorization code flow with
// PKCE, state and nonce). The provider is discovered on first use, so quench starts while
// the provider is down and sign-in works once it is up.
type OIDC struct {
	Issuer, ClientID, ClientSecret, RedirectURL string
	// Claim identifies the person: "email" (only when email_verified) or "sub".
	Claim string
	// Client is the HTTP client for the provider (nil: a client with a 10 s timeout).
	Client *http.Client

	mu       sync.Mutex
	provider *oidc.Provider
}

const (
	oidcCookie     = "quench_oidc"
	oidcPendingTTL = 10 * time.Minute
	maxOIDCPending = 10000
)

func (o *OIDC) ctx(ctx context.Context) context.Context {
	c := o.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	return oidc.ClientContext(ctx, c)
}

func (o *OIDC) setup(ctx context.Context) (*oidc.Provider, oauth2.Config, error) {
	o.mu.Lock()
	p := o.provider
	o.mu.Unlock()
	if p == nil {
		var err error
		if p, err = oidc.NewProvider(o.ctx(ctx), o.Issuer); err != nil {
			return nil, oauth2.Config{}, fmt.Errorf("the sign-in provider %s cannot be reached or is misconfigured: %w", o.Issuer, err)
		}
		o.mu.Lock()
		o.provider = p
		o.mu.Unlock()
	}
	scopes := []string{oidc.ScopeOpenID}
	if o.claim() == "email" {
		scopes = append(scopes, "email")
	}
	return p, oauth2.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret, Endpoint: p.Endpoint(), RedirectURL: o.RedirectURL, Scopes: scopes}, nil
}

func (o *OIDC) claim() string {
	if o.Claim == "" {
		return "email"
	}
	return o.Claim
}

// identity checks the ID token's claims and names the person: oidc:<email or sub>.
func (o *OIDC) identity(tok *oidc.IDToken) (string, error) {
	var c struct {
		Email         string `json:"email"`
		EmailVerified *bool  `json:"email_verified"`
	}
	if err := tok.Claims(&c); err != nil {
		return "", fmt.Errorf("the ID token's claims could not be read: %w", err)
	}
	name := tok.Subject
	if o.claim() == "email" {
		if c.Email == "" || c.EmailVerified == nil || !*c.EmailVerified {
			return "", errors.New("the provider did not vouch for an email address (email with email_verified true); ask its admin, or set web.oidc.claim: sub")
		}
		name = strings.ToLower(c.Email)
	}
	id, err := trust.CheckIdentity("oidc:" + name)
	if err != nil {
		return "", fmt.Errorf("the provider's %s cannot name a person here: %w", o.claim(), err)
	}
	return id, nil
}

func (h *Handler) oidcStart(w http.ResponseWriter, r *http.Request) {
	o := h.opts.OIDC
	if o == nil {
		h.errorPage(w, r, http.StatusNotFound, "No OIDC sign-in", "This quench has no OpenID Connect provider configured (web.oidc): sign in with a token.")
		return
	}
	_, cfg, err := o.setup(r.Context())
	if err != nil {
		h.opts.Logger.Warn("web OIDC sign-in unavailable", "err", err)
		h.errorPage(w, r, http.StatusBadGateway, "Sign-in provider unavailable", err.Error())
		return
	}
	state, nonce, verifier := randomToken(), randomToken(), oauth2.GenerateVerifier()
	// In the store, not here: the provider may send the browser back to another replica.
	pending := oidcPending{nonce: nonce, verifier: verifier, next: safeNext(r.URL.Query().Get("next")), expires: h.opts.Now().Add(oidcPendingTTL)}
	if err := h.sessions.rememberOIDC(r.Context(), state, pending); err != nil {
		h.storeFailed(w, r, err)
		return
	}
	// Lax, not Strict: the provider sends the browser back with a cross-site navigation,
	// on which a Strict cookie would not come along.
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: state, Path: "/auth/oidc", HttpOnly: true, Secure: h.secure(r),
		SameSite: http.SameSiteLaxMode, MaxAge: int(oidcPendingTTL / time.Second)})
	http.Redirect(w, r, cfg.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
}

func (h *Handler) oidcCallback(w http.ResponseWriter, r *http.Request) {
	o := h.opts.OIDC
	if o == nil {
		h.errorPage(w, r, http.StatusNotFound, "No OIDC sign-in", "This quench has no OpenID Connect provider configured (web.oidc).")
		return
	}
	refuse := func(code int, msg string) {
		h.opts.Logger.Warn("web OIDC sign-in refused", "reason", msg)
		h.showLogin(w, r, code, msg)
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		refuse(http.StatusUnauthorized, "The provider did not sign you in: "+clip(e+" "+q.Get("error_description"), 200))
		return
	}
	state := q.Get("state")
	c, err := r.Cookie(oidcCookie)
	if err != nil || state == "" || c.Value != state {
		refuse(http.StatusBadRequest, "This sign-in did not start in this browser (its state does not match): start again.")
		return
	}
	p, ok, err := h.sessions.takeOIDC(r.Context(), state)
	if err != nil {
		h.storeFailed(w, r, err)
		return
	}
	if !ok {
		refuse(http.StatusBadRequest, "This sign-in expired or was used already: start again.")
		return
	}
	prov, cfg, err := o.setup(r.Context())
	if err != nil {
		refuse(http.StatusBadGateway, err.Error())
		return
	}
	tok, err := cfg.Exchange(o.ctx(r.Context()), q.Get("code"), oauth2.VerifierOption(p.verifier))
	if err != nil {
		refuse(http.StatusUnauthorized, "The provider refused the sign-in code: "+clip(err.Error(), 300))
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		refuse(http.StatusUnauthorized, "The provider sent no ID token.")
		return
	}
	idt, err := prov.Verifier(&oidc.Config{ClientID: o.ClientID}).Verify(o.ctx(r.Context()), raw)
	if err != nil {
		refuse(http.StatusUnauthorized, "The ID token does not hold: "+clip(err.Error(), 300))
		return
	}
	if idt.Nonce != p.nonce {
		refuse(http.StatusUnauthorized, "The ID token was not made for this sign-in (nonce mismatch).")
		return
	}
	identity, err := o.identity(idt)
	if err != nil {
		refuse(http.StatusForbidden, err.Error())
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: "/auth/oidc", HttpOnly: true, Secure: h.secure(r), SameSite: http.SameSiteLaxMode, MaxAge: -1})
	h.signIn(w, r, identity, "oidc", p.next)
}
