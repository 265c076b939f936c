package api

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"unicode"
)

// DevCredential is the local credential `quench dev` writes to its data dir (readable by
// its OS user only): a request bearing its token is the CLI of the user running quench dev.
type DevCredential struct {
	Token    string
	Identity string // "cli:<OS user>"
	// AllowActAs lets the holder name someone else with act_as (dev.allow_as: true), so one
	// developer can play several approvers. Never for api.tokens.
	AllowActAs bool
}

// caller is who sent a request, as its bearer token says.
type caller struct {
	Identity string
	Via      string // cli (the dev credential) | api (an api.tokens token)
	Dev      bool   // holds the dev credential
}

// authenticate finds the caller from the bearer token. With no credential configured at
// all (a loopback `quench server` without api.tokens), reads stay open and writes are
// refused by the handlers; a client can never name itself with a header. On a refusal,
// detail says what was wrong for a timeline line, without the token.
func (h *handler) authenticate(r *http.Request) (c caller, code int, msg, detail string) {
	if len(h.opts.Tokens) == 0 && h.opts.Dev == nil {
		return caller{}, 0, "", ""
	}
	auth := r.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(auth, " ")
	if auth == "" || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return caller{}, http.StatusUnauthorized, "missing bearer token: send Authorization: Bearer <token> (the quench CLI uses quench dev's <data-dir>/cli-credential, or api.url and api.token from its config)", "without a bearer token"
	}
	token = strings.TrimSpace(token)
	var found caller
	ok := false
	// Compare against every token, without stopping early, so timing says nothing.
	if d := h.opts.Dev; d != nil && d.Token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(d.Token)) == 1 {
		found, ok = caller{Identity: d.Identity, Via: "cli", Dev: true}, true
	}
	for who, want := range h.opts.Tokens {
		if want != "" && subtle.ConstantTimeCompare([]byte(token), []byte(want)) == 1 && !ok {
			found, ok = caller{Identity: who, Via: "api"}, true
		}
	}
	if !ok {
		return caller{}, http.StatusUnauthorized, "unknown bearer token: use a token from api.tokens, or restart the CLI command after quench dev restarted (it writes a new credential each start)", "with an unknown bearer token"
	}
	return found, 0, "", ""
}

// refuseActor refuses a request whose actor could not be settled and notes it: acting as
// someone else without the right, or with no credentials at all.
func (h *handler) refuseActor(w http.ResponseWriter, r *http.Request, c caller, actAs string, code int, msg string) {
	if actAs == "" {
		h.refuseNoted(w, r, code, msg, whyUnauthenticated, "", "without credentials (this quench has no API tokens)")
		return
	}
	from := "from a caller without credentials"
	if c.Identity != "" {
		from = "from " + quoteOutside(c.Identity)
	}
	why := "act_as is not allowed here"
	if code == http.StatusBadRequest {
		why = "not a valid identity"
	}
	h.refuseNoted(w, r, code, msg, whyActAs, "", from+" acting as "+quoteOutside(actAs)+" ("+why+")")
}

// actor is the identity a request acts as: the caller's, or with act_as the one it names,
// which only the dev credential may do and only when dev.allow_as is on.
func (h *handler) actor(c caller, actAs string) (string, int, string) {
	if actAs == "" {
		if c.Identity == "" {
			return "", http.StatusUnauthorized, "this quench has no API credentials: configure api.tokens (env:NAME or file:/path), or use quench dev, whose CLI credential is in its data dir"
		}
		return c.Identity, 0, ""
	}
	if !c.Dev || h.opts.Dev == nil || !h.opts.Dev.AllowActAs {
		return "", http.StatusForbidden, "act_as refused: only quench dev's own CLI credential may act as someone else, and only with dev.allow_as: true in its config (development only)"
	}
	if err := checkIdentity(actAs); err != "" {
		return "", http.StatusBadRequest, "act_as: " + err
	}
	return actAs, 0, ""
}

// checkIdentity refuses names that could not be told apart on a timeline.
func checkIdentity(s string) string {
	if strings.TrimSpace(s) != s || s == "" {
		return "give a name without surrounding spaces"
	}
	if len(s) > 128 {
		return fmt.Sprintf("longer than 128 bytes (%d)", len(s))
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == unicode.ReplacementChar {
			return fmt.Sprintf("%q has a space or control character", s)
		}
	}
	return ""
}
