package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/api"
	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/trust"
)

// Sessions, one-time links and OIDC sign-ins in progress are kept in the store
// (sessionstore.go), so every replica on one store knows them.
const (
	cookieName  = "quench_session"
	sessionTTL  = 12 * time.Hour
	maxSessions = 10000
	onceTTL     = 24 * time.Hour
)

// session is a signed-in person.
type session struct {
	id       string // the cookie's value: known only to the browser and this request
	hash     string // sha256 of id: the session's key in the store
	Identity string // api:alice, oidc:alice@example.com, cli:alice
	Person   string // from people:, or the identity's name
	Via      string // token | oidc | link
	CSRF     string
	expires  time.Time
	flash    string // the outcome of the last decision, shown once
}

// Display is how the page names the person.
func (s *session) Display() string {
	// A person nobody lists is their own identity: show it once.
	if s.Person != "" && !strings.Contains(s.Person, ":") && s.Person != trust.Display(s.Identity) {
		return s.Person + " (" + trust.Display(s.Identity) + ")"
	}
	return trust.Display(s.Identity)
}

func (s *session) checkCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.CSRF)) == 1
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// sessionKey carries the request's session, read once from the store by withSession.
type sessionKey struct{}

// withSession reads the request's session from the store once, for the handler and the
// page's layout. A store that cannot be reached is a 503 naming it: the page cannot tell
// who is signed in.
func (h *Handler) withSession(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var s *session
		if c, err := r.Cookie(cookieName); err == nil && c.Value != "" {
			if s, err = h.sessions.lookup(r.Context(), c.Value); err != nil {
				h.storeFailed(w, r, err)
				return
			}
		}
		next(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)))
	}
}

// session is the request's session, nil when it has none (or an expired or unknown one).
func (h *Handler) session(r *http.Request) *session {
	s, _ := r.Context().Value(sessionKey{}).(*session)
	return s
}

// storeFailed answers a failure of the store holding sign-ins: 503 with Retry-After
// naming the store when it is unavailable, 500 otherwise.
func (h *Handler) storeFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the browser went away
	}
	if store.IsUnavailable(err) {
		w.Header().Set("Retry-After", strconv.Itoa(api.StoreRetryAfter))
		h.opts.Logger.Warn("web page failed: the store is unavailable", "path", clip(r.URL.Path, 200), "err", err)
		h.errorPage(w, r, http.StatusServiceUnavailable, "The store is unavailable",
			fmt.Sprintf("quench keeps sign-ins in its store and cannot reach it right now; reload in %d s. (%v)", api.StoreRetryAfter, err))
		return
	}
	h.opts.Logger.Error("web sign-in state failed", "path", clip(r.URL.Path, 200), "err", err)
	h.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "quench failed to read or record a sign-in: "+err.Error())
}

// OneTimeLogin returns a path that signs its first visitor in as identity (quench dev
// prints it at start, on loopback): the link is spent on use and lasts a day.
func (h *Handler) OneTimeLogin(ctx context.Context, identity string) (string, error) {
	t, err := h.sessions.addOnce(ctx, identity)
	if err != nil {
		return "", err
	}
	return "/login/once?token=" + t, nil
}

// canLogin says whether the page offers sign-in. Without tokens or OIDC that is only
// while a one-time link is outstanding; a store that is down hides the offer.
func (h *Handler) canLogin(r *http.Request) bool {
	return len(h.opts.Tokens) > 0 || h.opts.OIDC != nil || h.hasOnce(r)
}

func (h *Handler) hasOnce(r *http.Request) bool {
	ok, err := h.sessions.hasOnce(r.Context())
	return ok && err == nil
}

// secure says whether cookies set for r must be Secure.
func (h *Handler) secure(r *http.Request) bool { return r.TLS != nil || h.opts.SecureCookies }

func (h *Handler) setSession(w http.ResponseWriter, r *http.Request, s *session) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: s.id, Path: "/", HttpOnly: true, Secure: h.secure(r),
		SameSite: http.SameSiteStrictMode, MaxAge: int(sessionTTL / time.Second)})
}

func (h *Handler) signIn(w http.ResponseWriter, r *http.Request, identity, via, next string) {
	replaced := ""
	if old := h.session(r); old != nil {
		replaced = old.hash // a new session ID at every sign-in (no fixation)
	}
	s, err := h.sessions.create(r.Context(), identity, h.opts.People.PersonOf(identity), via, replaced)
	if err != nil {
		h.storeFailed(w, r, err)
		return
	}
	h.setSession(w, r, s)
	h.opts.Logger.Info("web sign-in", "identity", identity, "via", via)
	if via == "oidc" {
		// The provider's redirect chain is cross-site, and a browser sends no Strict cookie
		// along it: continue from a page of this site instead of redirecting.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		n := template.HTMLEscapeString(safeNext(next))
		fmt.Fprintf(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=%s"><title>Signed in</title></head><body><p>Signed in as %s. <a href="%s">Continue</a></p></body></html>`,
			n, template.HTMLEscapeString(s.Display()), n)
		return
	}
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}

// safeNext keeps a redirect after sign-in on this site: a local path only.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n") {
		return "/"
	}
	return next
}

// preCookie carries the sign-in form's CSRF token before there is a session (double
// submit: a cross-site page can neither read the cookie nor set it).
const preCookie = "quench_login"

type loginView struct {
	base
	Tokens  bool
	OIDC    bool
	Once    bool
	PreCSRF string
	Problem string
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	h.showLogin(w, r, http.StatusOK, "")
}

func (h *Handler) showLogin(w http.ResponseWriter, r *http.Request, code int, problem string) {
	pre := randomToken()
	http.SetCookie(w, &http.Cookie{Name: preCookie, Value: pre, Path: "/login", HttpOnly: true, Secure: h.secure(r),
		SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	v := &loginView{base: h.base(r, "Sign in"), Tokens: len(h.opts.Tokens) > 0, OIDC: h.opts.OIDC != nil, Once: h.hasOnce(r), PreCSRF: pre, Problem: problem}
	v.Next = safeNext(r.URL.Query().Get("next"))
	if r.Method == http.MethodPost {
		v.Next = safeNext(r.PostForm.Get("next"))
	}
	h.render(w, r, code, "login", v)
}

// loginToken signs in with an API token (api.tokens): the holder of a token is its identity.
func (h *Handler) loginToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		h.showLogin(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	c, err := r.Cookie(preCookie)
	if err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostForm.Get("login_csrf"))) != 1 {
		h.showLogin(w, r, http.StatusForbidden, "This sign-in form expired or came from another page: sign in again here.")
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if token == "" || len(h.opts.Tokens) == 0 {
		h.showLogin(w, r, http.StatusUnauthorized, "Give an API token (one of api.tokens in quench's config).")
		return
	}
	found := ""
	// Compare against every token, without stopping early, so timing says nothing.
	for who, want := range h.opts.Tokens {
		if want != "" && subtle.ConstantTimeCompare([]byte(token), []byte(want)) == 1 && found == "" {
			found = who
		}
	}
	if found == "" {
		h.opts.Logger.Warn("web sign-in refused: unknown token")
		h.showLogin(w, r, http.StatusUnauthorized, "Unknown token: use a token from api.tokens in quench's config.")
		return
	}
	h.signIn(w, r, found, "token", r.PostForm.Get("next"))
}

// loginOnce signs in with quench dev's one-time link.
func (h *Handler) loginOnce(w http.ResponseWriter, r *http.Request) {
	who, err := h.sessions.takeOnce(r.Context(), r.URL.Query().Get("token"))
	if err != nil {
		h.storeFailed(w, r, err)
		return
	}
	if who == "" {
		h.showLogin(w, r, http.StatusUnauthorized, "That sign-in link was used already or is unknown: each link signs in once. Restart quench dev for a new one, or sign in with a token.")
		return
	}
	h.signIn(w, r, who, "link", "/")
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	s := h.session(r)
	if s != nil {
		r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
		if err := r.ParseForm(); err != nil || !s.checkCSRF(r.PostForm.Get("csrf")) {
			h.errorPage(w, r, http.StatusForbidden, "Form expired", "Reload the page and sign out again.")
			return
		}
		// The row goes: the cookie is then worthless on every replica, wherever it is.
		if err := h.sessions.drop(r.Context(), s.hash); err != nil {
			h.storeFailed(w, r, err)
			return
		}
		h.opts.Logger.Info("web sign-out", "identity", s.Identity)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", HttpOnly: true, Secure: h.secure(r), SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
