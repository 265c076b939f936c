package api

import (
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/quench-dev/quench/internal/strictjson"
)

// This file holds the checks a request passes before any handler sees it: the Host it was
// sent to (DNS rebinding), where it comes from (cross-origin pages), and what it carries.

// Hosts decides which Host headers name this server. A web page on another origin can make
// the browser send requests to 127.0.0.1 with its own name in Host (DNS rebinding), so the
// API answers only to names it knows.
type Hosts struct {
	// Names are the configured names (http.hosts): "quench.example" or "quench.example:8443".
	Names []string
	// ListenHost is http.listen's host; accepted at the port a request came in on unless it
	// is a wildcard (0.0.0.0, ::) or empty.
	ListenHost string
}

// Allowed reports whether r's Host is one of this server's names: a configured name, or,
// at the port the connection came in on, localhost, 127.0.0.1, [::1], the listen host or
// the local address the connection arrived at (a client that dials an IP sends it in Host;
// a rebinding page cannot, it sends its own name).
func (hs Hosts) Allowed(r *http.Request) bool {
	host := strings.ToLower(strings.TrimSuffix(r.Host, "."))
	if host == "" {
		return false
	}
	for _, n := range hs.Names {
		if strings.EqualFold(host, strings.TrimSuffix(n, ".")) {
			return true
		}
	}
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return false
	}
	localHost, port, err := net.SplitHostPort(local.String())
	if err != nil {
		return false
	}
	names := []string{"localhost", "127.0.0.1", "::1", localHost}
	if lh := strings.Trim(hs.ListenHost, "[]"); lh != "" && lh != "0.0.0.0" && lh != "::" {
		names = append(names, lh)
	}
	for _, n := range names {
		if strings.EqualFold(host, net.JoinHostPort(n, port)) {
			return true
		}
		// A client leaves out the scheme's default port.
		if (port == "80" || port == "443") && strings.EqualFold(strings.Trim(host, "[]"), n) {
			return true
		}
	}
	return false
}

// sameOrigin reports why r comes from another origin, or "" when it does not: a browser
// names the page's origin in Origin and says how it relates in Sec-Fetch-Site; tools that
// are not browsers send neither. adjective and detail describe it for a timeline line.
func sameOrigin(r *http.Request) (why, adjective, detail string) {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return "Sec-Fetch-Site: " + site, "cross-site", "(Sec-Fetch-Site " + quoteOutside(site) + ")"
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return "", "", ""
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.EqualFold(u.Host, r.Host) || u.Path != "" {
		return "Origin: " + origin, "cross-origin", "from Origin " + quoteOrigin(origin)
	}
	return "", "", ""
}

// noterFor finds who notes a refusal of r: the given noter, next itself, or the handler a
// ServeMux next would route r to.
func noterFor(next http.Handler, noter refusalNoter, r *http.Request) refusalNoter {
	if noter != nil {
		return noter
	}
	if n, ok := next.(refusalNoter); ok {
		return n
	}
	if mux, ok := next.(interface {
		Handler(*http.Request) (http.Handler, string)
	}); ok {
		if h, _ := mux.Handler(r); h != nil {
			if n, ok := h.(refusalNoter); ok {
				return n
			}
		}
	}
	return nil
}

// Guard checks every request quench's HTTP server takes, before next (a ServeMux, which
// would otherwise redirect a path with .. to its cleaned form) sees it:
//   - a request a browser sent from another origin gets 403: a page the on-call engineer
//     visits must not post alerts, start incidents or read answers (webhook senders and
//     scripts send no Origin and pass);
//   - a path with . or .. segments gets 400: no quench path has them.
//
// A cross-origin request aimed at an incident is also noted on its timeline when the
// handler next routes it to is the API (New).
func Guard(next http.Handler, logger *slog.Logger) http.Handler {
	return guard(next, logger, nil)
}

// guard is Guard with the noter to use; nil finds it behind next.
func guard(next http.Handler, logger *slog.Logger, noter refusalNoter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if why, adjective, detail := sameOrigin(r); why != "" {
			refuse(w, r, logger, http.StatusForbidden, "cross-origin request refused ("+why+"): quench answers only requests from its own origin or from tools that are not browsers")
			if n := noterFor(next, noter, r); n != nil {
				n.noteRefusal(r, http.StatusForbidden, whyCrossOrigin, adjective, detail)
			}
			return
		}
		if traversal(r) {
			refuse(w, r, logger, http.StatusBadRequest, "path has . or .. segments or empty ones: name the resource directly")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// traversal reports whether a path has "." or ".." segments (also when they were
// percent-encoded): no API path has them, so they are refused rather than cleaned.
func traversal(r *http.Request) bool {
	for _, seg := range strings.Split(r.URL.Path, "/") {
		if seg == ".." || seg == "." {
			return true
		}
	}
	return strings.Contains(r.URL.Path, "//") || strings.Contains(r.URL.Path, "\\")
}

// jsonContentType reports whether the request says its body is JSON (UTF-8 if a charset is
// given). Every API write must: a form or text/plain post is what a cross-site page can
// send without asking.
func jsonContentType(r *http.Request) bool {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return false
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return false
		}
	}
	return true
}

// refuse logs a refused request (WARN when it looks like an attack or a credential
// problem, INFO for an ordinary mistake; never ERROR, which is for quench's own faults)
// and answers it.
func refuse(w http.ResponseWriter, r *http.Request, logger *slog.Logger, code int, msg string) {
	level := slog.LevelInfo
	switch code {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusMisdirectedRequest:
		level = slog.LevelWarn
	}
	logger.Log(r.Context(), level, "api request refused", "method", r.Method, "path", strictjson.ShortForMsg(r.URL.Path), "status", code, "reason", msg)
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="quench"`)
	}
	writeError(w, code, msg)
}
