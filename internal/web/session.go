package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/quench-dev/quench/internal/trust"
)

// Sessions live in this process's memory: behind several quench servers, route a person
// to the same one (sticky sessions) or they sign in again where they land.
const (
	cookieName  = "quench_session"
	sessionTTL  = 12 * time.Hour
	maxSessions = 10000
	onceTTL     = 24 * time.Hour
)

// session is a signed-in person.
type session struct {
	ID       string
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

type sessions struct {
	now  func() time.Time
	mu   sync.Mutex
	byID map[string]*session
	once map[string]string // one-time login token -> identity
	// onceExp is when each one-time token stops working.
	onceExp map[string]time.Time
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{now: now, byID: map[string]*session{}, once: map[string]string{}, onceExp: map[string]time.Time{}}
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (ss *sessions) create(identity, person, via string) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	now := ss.now()
	if len(ss.byID) >= maxSessions {
		for id, s := range ss.byID {
			if now.After(s.expires) {
				delete(ss.byID, id)
			}
		}
		for id := range ss.byID { // still full: drop one (the map's order is arbitrary)
			if len(ss.byID) < maxSessions {
				break
			}
			delete(ss.byID, id)
		}
	}
	s := &session{ID: randomToken(), Identity: identity, Person: person, Via: via, CSRF: randomToken(), expires: now.Add(sessionTTL)}
	ss.byID[s.ID] = s
	return s
}

// from is the request's session, nil when it has none (or an expired or unknown one).
func (ss *sessions) from(r *http.Request) *session {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		return nil
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.byID[c.Value]
	if !ok {
		return nil
	}
	if ss.now().After(s.expires) {
		delete(ss.byID, c.Value)
		return nil
	}
	return s
}

func (ss *sessions) setFlash(s *session, msg string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s.flash = msg
}

func (ss *sessions) takeFlash(s *session) string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	msg := s.flash
	s.flash = ""
	return msg
}

func (ss *sessions) drop(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.byID, id)
}

// addOnce makes a one-time login token for identity.
func (ss *sessions) addOnce(identity string) string {
	t := randomToken()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.once[t], ss.onceExp[t] = identity, ss.now().Add(onceTTL)
	return t
}

// takeOnce spends a one-time token: its identity, or "" when it is unknown, spent or old.
func (ss *sessions) takeOnce(token string) string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for t, who := range ss.once {
		if subtle.ConstantTimeCompare([]byte(t), []byte(token)) == 1 {
			exp := ss.onceExp[t]
			delete(ss.once, t)
			delete(ss.onceExp, t)
			if ss.now().After(exp) {
				return ""
			}
			return who
		}
	}
	return ""
}

func (ss *sessions) hasOnce() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.once) > 0
}

// OneTimeLogin returns a path that signs its first visitor in as identity (quench dev
// prints it at start, on loopback): the link is spent on use and lasts a day.
func (h *Handler) OneTimeLogin(identity string) string {
	return "/login/once?token=" + h.sessions.addOnce(identity)
}

// secure says whether cookies set for r must be Secure.
func (h *Handler) secure(r *http.Request) bool { return r.TLS != nil || h.opts.SecureCookies }

func (h *Handler) setSession(w http.ResponseWriter, r *http.Request, s *session) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: s.ID, Path: "/", HttpOnly: true, Secure: h.secure(r),
		SameSite: http.SameSiteStrictMode, MaxAge: int(sessionTTL / time.Second)})
}

func (h *Handler) signIn(w http.ResponseWriter, r *http.Request, identity, via, next string) {
	if old := h.sessions.from(r); old != nil {
		h.sessions.drop(old.ID) // a new session ID at every sign-in (no fixation)
	}
	s := h.sessions.create(identity, h.opts.People.PersonOf(identity), via)
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
	v := &loginView{base: h.base(r, "Sign in"), Tokens: len(h.opts.Tokens) > 0, OIDC: h.opts.OIDC != nil, Once: h.sessions.hasOnce(), PreCSRF: pre, Problem: problem}
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
	who := h.sessions.takeOnce(r.URL.Query().Get("token"))
	if who == "" {
		h.showLogin(w, r, http.StatusUnauthorized, "That sign-in link was used already or is unknown: each link signs in once. Restart quench dev for a new one, or sign in with a token.")
		return
	}
	h.signIn(w, r, who, "link", "/")
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	s := h.sessions.from(r)
	if s != nil {
		r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
		if err := r.ParseForm(); err != nil || !s.checkCSRF(r.PostForm.Get("csrf")) {
			h.errorPage(w, r, http.StatusForbidden, "Form expired", "Reload the page and sign out again.")
			return
		}
		h.sessions.drop(s.ID)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", HttpOnly: true, Secure: h.secure(r), SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
