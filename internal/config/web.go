package config

import (
	"fmt"
	"net/url"
)

// Web configures the incident page quench serves at / on its HTTP listener.
type Web struct {
	// URL is where people reach the page (https://quench.example): links in the Slack card
	// and `quench incident show` point there, and an https URL marks sign-in cookies
	// Secure behind a proxy that ends TLS. Empty: the listen address.
	URL string `yaml:"url"`
	// TemporalUI is the Temporal Web UI's base URL (https://temporal.example), for the
	// page's link to an incident's workflow. quench dev links its own UI without it.
	TemporalUI string `yaml:"temporal_ui"`
	// OIDC signs people in with an OpenID Connect provider; api.tokens sign in too.
	OIDC OIDC `yaml:"oidc"`
}

// OIDC is an OpenID Connect provider (authorization code flow).
type OIDC struct {
	Issuer string `yaml:"issuer"` // https://accounts.example
	// ClientID and ClientSecret (env:NAME or file:/path) are quench's at the provider.
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
	// RedirectURL is registered at the provider; default <web.url>/auth/oidc/callback.
	RedirectURL string `yaml:"redirect_url"`
	// Claim names the ID token claim that identifies a person: email (the default, only
	// when email_verified is true) or sub. The identity is oidc:<value>, which people: maps.
	Claim string `yaml:"claim"`
}

// Enabled reports whether an OIDC provider is configured.
func (o OIDC) Enabled() bool { return o.Issuer != "" }

func (w Web) problems() []string {
	var p []string
	if w.URL != "" {
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			p = append(p, fmt.Sprintf("web.url %q: write https://host[:port]", w.URL))
		}
	}
	if w.TemporalUI != "" {
		if u, err := url.Parse(w.TemporalUI); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			p = append(p, fmt.Sprintf("web.temporal_ui %q: write the Web UI's http(s)://host[:port]", w.TemporalUI))
		}
	}
	o := w.OIDC
	if !o.Enabled() {
		if o.ClientID != "" || o.ClientSecret != "" || o.RedirectURL != "" {
			p = append(p, "web.oidc: give issuer (the provider's https URL) or remove the section")
		}
		return p
	}
	if u, err := url.Parse(o.Issuer); err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && loopbackHost(u.Hostname()))) {
		p = append(p, fmt.Sprintf("web.oidc.issuer %q: write the provider's https:// URL", o.Issuer))
	}
	if o.ClientID == "" {
		p = append(p, "web.oidc.client_id is required")
	}
	if o.ClientSecret == "" || !isSecretRef(o.ClientSecret) {
		p = append(p, "web.oidc.client_secret: write env:NAME or file:/path, never the secret itself")
	}
	if o.RedirectURL == "" && w.URL == "" {
		p = append(p, "web.oidc needs web.url (or web.oidc.redirect_url): the provider sends people back there")
	}
	switch o.Claim {
	case "", "email", "sub":
	default:
		p = append(p, fmt.Sprintf("web.oidc.claim %q: use email or sub", o.Claim))
	}
	return p
}
