// Package web is the incident page: quench's own web view of incidents, approvals and
// evidence, served at / on the same listener as the API. It reads through
// incidents.Client and the evidence report.Source, and decides approvals through
// incidents.Client.Decide exactly as the HTTP API does: the page is another front door
// that authenticated a person (an API token, OIDC, or quench dev's one-time link), and the
// decision it sends is signed for that person by the incidents Service. Pages render
// without JavaScript; app.js only adds live updates (Server-Sent Events).
package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/quench-dev/quench/internal/api"
	"github.com/quench-dev/quench/internal/evidence/report"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/postmortem"
	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/trust"
	"github.com/quench-dev/quench/workflows"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Options configure the page.
type Options struct {
	Incidents incidents.Client
	// Evidence reads bundles (nil: this process has no evidence store; the page says so).
	Evidence report.Source
	// Postmortem builds an incident's postmortem with its history (nil: from its status
	// and evidence only, without activity attempts).
	Postmortem func(ctx context.Context, ref string) (postmortem.Report, error)
	// Tokens maps an identity to its API token (api.tokens): a token signs its holder in.
	Tokens map[string]string
	// People maps identities to people, to show who is signed in.
	People trust.People
	// OIDC signs people in with an OpenID Connect provider (nil: none).
	OIDC *OIDC
	// Hosts are the names the page answers to (DNS rebinding), as the API's.
	Hosts api.Hosts
	// OpenRead lets anyone who reaches the page read it without signing in: loopback only.
	OpenRead bool
	// SecureCookies marks cookies Secure even on plain HTTP (TLS ends at a proxy); a
	// request that came over TLS gets Secure cookies anyway.
	SecureCookies bool
	// UIURL is the Temporal Web UI's base URL and Namespace its namespace, for links.
	UIURL, Namespace string
	Logger           *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// MaxStreams bounds the live streams open at once (default DefaultMaxStreams).
	MaxStreams int
	// Store keeps sessions, one-time links and OIDC sign-ins in progress, so that every
	// replica on the same store knows them (required).
	Store *store.DB
}

// DefaultMaxStreams is how many incident pages may follow their incident live at once.
const DefaultMaxStreams = 256

// Handler serves the page. Register mounts it on a mux beside the API.
type Handler struct {
	opts     Options
	pages    map[string]*template.Template
	sessions *sessions
	// streams bounds the live streams open at once (a slot each).
	streams chan struct{}
	// ctx ends when the server shuts down, ending live streams.
	ctx    context.Context
	cancel context.CancelFunc
}

// New builds the page's handler.
func New(opts Options) (*Handler, error) {
	if opts.Incidents == nil {
		return nil, errors.New("web: no incidents client")
	}
	if opts.Store == nil {
		return nil, errors.New("web: no store for sign-ins")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	if opts.MaxStreams <= 0 {
		opts.MaxStreams = DefaultMaxStreams
	}
	return &Handler{opts: opts, pages: pages, sessions: newSessions(opts.Store, opts.Now), streams: make(chan struct{}, opts.MaxStreams), ctx: ctx, cancel: cancel}, nil
}

// Close ends the live streams (call it when the server shuts down: Shutdown waits for
// open connections, and a stream never ends by itself while its incident runs).
func (h *Handler) Close() { h.cancel() }

// Register mounts the page's routes on mux. The API keeps /api/, /healthz, /metrics and
// /v1/routes; the page takes / and the paths below.
func (h *Handler) Register(mux *http.ServeMux) {
	handle := func(pattern string, f http.HandlerFunc) { mux.Handle(pattern, h.guard(h.withSession(f))) }
	handle("GET /{$}", h.reader(h.list))
	handle("GET /incidents/{id}", h.reader(h.incident))
	handle("GET /incidents/{id}/live", h.reader(h.live))
	handle("GET /incidents/{id}/evidence", h.reader(h.evidence))
	handle("GET /incidents/{id}/postmortem", h.reader(h.postmortemPage))
	handle("GET /incidents/{id}/postmortem.md", h.reader(h.postmortemMarkdown))
	handle("POST /incidents/{id}/decide", h.decide)
	handle("GET /login", h.loginPage)
	handle("POST /login", h.loginToken)
	handle("GET /login/once", h.loginOnce)
	handle("POST /logout", h.logout)
	handle("GET /auth/oidc", h.oidcStart)
	handle("GET /auth/oidc/callback", h.oidcCallback)
	sub, _ := fs.Sub(assetFS, "assets")
	assets := http.StripPrefix("/assets/", http.FileServerFS(sub))
	mux.Handle("GET /assets/", h.guard(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		assets.ServeHTTP(w, r)
	}))
}

// guard refuses a request sent to a Host that is not this quench (DNS rebinding) and sets
// the headers every page carries.
func (h *Handler) guard(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
		if !h.opts.Hosts.Allowed(r) {
			h.errorPage(w, r, http.StatusMisdirectedRequest, "Not this quench",
				"This request named a host that is not a name of this quench. Use the address it listens on, or add the name to http.hosts in the config.")
			return
		}
		next(w, r)
	})
}

// reader lets a request read when reading is open or the caller is signed in; otherwise
// it sends the caller to sign in.
func (h *Handler) reader(next func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := h.session(r)
		if s == nil && !h.opts.OpenRead {
			http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		next(w, r, s)
	}
}

// Incident references, as the API takes them; compiled on first use (every quench
// command links this package, few serve a page).
var (
	shortRef = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-f]{4,16}$`) })
	fullRef  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^inc-[a-z0-9][a-z0-9_-]{0,199}$`) })
)

// ref checks the {id} of a path; false means it answered.
func (h *Handler) ref(w http.ResponseWriter, r *http.Request) (string, bool) {
	ref := r.PathValue("id")
	if shortRef().MatchString(ref) || fullRef().MatchString(ref) {
		return ref, true
	}
	h.errorPage(w, r, http.StatusNotFound, "No such incident", fmt.Sprintf("%q is not an incident ID: use the 6-character short ID or the full inc-... ID from the incident list.", clip(ref, 80)))
	return "", false
}

// status reads the status of the incident the path names, answering an error page when
// it cannot (ok false).
func (h *Handler) status(w http.ResponseWriter, r *http.Request) (st workflows.Status, ok bool) {
	ref, ok := h.ref(w, r)
	if !ok {
		return st, false
	}
	st, err := h.opts.Incidents.Status(r.Context(), ref)
	if err != nil {
		h.fail(w, r, err)
		return st, false
	}
	return st, true
}

// fail answers an error of the incidents client with a page whose status says its kind.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, incidents.ErrNotFound):
		h.errorPage(w, r, http.StatusNotFound, "No such incident", err.Error()+". The incident list shows the incidents this quench knows.")
	case errors.Is(err, incidents.ErrInvalid):
		h.errorPage(w, r, http.StatusBadRequest, "Cannot show that", err.Error())
	case incidents.IsUnavailable(err):
		w.Header().Set("Retry-After", strconv.Itoa(api.RetryAfter))
		h.opts.Logger.Warn("web page failed: Temporal is unreachable", "path", clip(r.URL.Path, 200), "err", err)
		h.errorPage(w, r, http.StatusServiceUnavailable, "Temporal is unreachable", fmt.Sprintf("quench cannot reach Temporal right now; reload in %d s. (%v)", api.RetryAfter, err))
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
	default:
		h.opts.Logger.Error("web page failed", "path", clip(r.URL.Path, 200), "err", err)
		h.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "quench failed to show this page: "+err.Error())
	}
}

type errorView struct {
	base
	Code    int
	Heading string
	Message string
}

func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, code int, heading, msg string) {
	h.render(w, r, code, "error", &errorView{base: h.base(r, heading), Code: code, Heading: heading, Message: msg})
}

// base is what every page's layout shows: the title, who is signed in, the CSRF token.
type base struct {
	Title    string
	Who      *session
	CSRF     string
	CanLogin bool
	Next     string
}

func (h *Handler) base(r *http.Request, title string) base {
	b := base{Title: title, Who: h.session(r), CanLogin: h.canLogin(r), Next: r.URL.RequestURI()}
	if b.Who != nil {
		b.CSRF = b.Who.CSRF
	}
	return b
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// render executes a page into a buffer first, so a template error is a 500, not half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, code int, page string, data any) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if err := h.pages[page].ExecuteTemplate(buf, "layout", data); err != nil {
		h.opts.Logger.Error("web page failed to render", "page", page, "err", err)
		http.Error(w, "quench failed to render this page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}
