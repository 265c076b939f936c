package config

import (
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Probe is a configured health probe of one provider (probes.<provider>): before a fail
// back asks for approval, quench sends Requests requests to URL now and judges the provider
// on their answers, instead of on app traffic that no longer reaches it after a fail over.
//
//	probes:
//	  primary:
//	    url: https://api.primary.example/v1/chat/completions
//	    method: POST                 # GET (default), HEAD or POST
//	    body: '{"model":"m","messages":[{"role":"user","content":"ping"}],"max_tokens":1}'  # not secret
//	    headers:                     # values are secret references only
//	      Authorization: env:PRIMARY_AUTH   # the whole header value, e.g. "Bearer sk-…"
//	    expect_status: [200]         # answers counted healthy (default [200])
//	    requests: 5                  # requests per measurement (default 5, at most 20)
//	    timeout: 5s                  # per request (default 5s, at most 10s)
//
// Only headers hold secrets (references, resolved at each measurement); the URL's host is
// all a figure or an error shows of the URL.
type Probe struct {
	URL          string            `yaml:"url"`
	Method       string            `yaml:"method"`
	Body         string            `yaml:"body"`
	Headers      map[string]string `yaml:"headers"`
	ExpectStatus []int             `yaml:"expect_status"`
	Requests     int               `yaml:"requests"`
	Timeout      string            `yaml:"timeout"`
}

// Probe limits and defaults: a measurement must fit the health activity's one minute.
const (
	DefaultProbeRequests = 5
	MaxProbeRequests     = 20
	DefaultProbeTimeout  = 5 * time.Second
	MaxProbeTimeout      = 10 * time.Second
)

// MethodOrDefault is the probe's HTTP method.
func (p Probe) MethodOrDefault() string {
	if p.Method == "" {
		return http.MethodGet
	}
	return strings.ToUpper(p.Method)
}

// RequestsOrDefault is how many requests one measurement sends.
func (p Probe) RequestsOrDefault() int {
	if p.Requests > 0 {
		return p.Requests
	}
	return DefaultProbeRequests
}

// TimeoutOrDefault is one request's deadline (the config was validated).
func (p Probe) TimeoutOrDefault() time.Duration {
	if d, err := Duration("timeout", p.Timeout); err == nil && d > 0 {
		return d
	}
	return DefaultProbeTimeout
}

// ExpectOrDefault is the statuses counted as a healthy answer.
func (p Probe) ExpectOrDefault() []int {
	if len(p.ExpectStatus) > 0 {
		return p.ExpectStatus
	}
	return []int{http.StatusOK}
}

func probesProblems(probes map[string]Probe) []string {
	var out []string
	names := make([]string, 0, len(probes))
	for n := range probes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		out = append(out, probes[name].problems("probes."+name)...)
	}
	return out
}

func (p Probe) problems(at string) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, at+"."+fmt.Sprintf(format, args...)) }
	u, err := url.Parse(p.URL)
	switch {
	case p.URL == "":
		bad("url: required: the address to probe, e.g. https://api.primary.example/v1/models")
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		// The URL is not echoed: it may carry a key in its query.
		bad("url: not an http(s) URL with a host: write https://host/path")
	case u.User != nil:
		bad("url: holds credentials: put them in a header as a secret reference (headers.Authorization: env:NAME)")
	case u.Scheme == "http" && len(p.Headers) > 0 && !loopbackHost(u.Hostname()):
		bad("url: http:// would send the headers' secrets in clear text: use https:// (http:// only to localhost)")
	}
	switch p.MethodOrDefault() {
	case http.MethodGet, http.MethodHead, http.MethodPost:
	default:
		bad("method: %q: use GET, HEAD or POST", p.Method)
	}
	if p.Body != "" && p.MethodOrDefault() != http.MethodPost {
		bad("body: only a POST sends a body: set method: POST or remove the body")
	}
	for name, ref := range p.Headers {
		if name == "" || textproto.CanonicalMIMEHeaderKey(name) == "" || strings.ContainsAny(name, " :\r\n") {
			bad("headers: %q is not a header name", name)
			continue
		}
		if !isSecretRef(ref) {
			bad("headers.%s: write env:NAME or file:/path (the whole header value), never the value itself", name)
		}
	}
	for _, s := range p.ExpectStatus {
		if s < 100 || s > 599 {
			bad("expect_status: %d is not an HTTP status", s)
		}
	}
	if p.Requests < 0 || p.Requests > MaxProbeRequests {
		bad("requests: %d: send 1 to %d requests per measurement (default %d)", p.Requests, MaxProbeRequests, DefaultProbeRequests)
	}
	if d, err := Duration(at+".timeout", p.Timeout); err != nil {
		out = append(out, err.Error())
	} else if d > MaxProbeTimeout || (p.Timeout != "" && d == 0) {
		bad("timeout: %s: give each request between 1ms and %s (default %s)", p.Timeout, MaxProbeTimeout, DefaultProbeTimeout)
	}
	return out
}
