// Package githubfake is a stateful fake of the GitHub REST API subset quench uses, backed
// by a real in-memory git repository (go-git), so SHAs, trees and refs are real: commits
// (listing with path/since/until and Link pagination, single commits with files), the Git
// Data API (trees, commits, refs; 422 on an existing ref), pull requests (create, list with
// head/base filters, files, by commit, labels, reviewers), commit statuses and Actions
// variables. It records every call and can inject errors (rate limits, 403, 5xx) and hold
// a response until a test lets it go.
package githubfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	git "github.com/go-git/go-git/v5"
)

// Options configure a Fake.
type Options struct {
	Owner, Name   string // the one repository served (acme/prompts)
	DefaultBranch string // main
	// Token, when set, is required as "Authorization: Bearer <token>" (or "token <token>").
	Token string
	// TruncateTreesOver makes a recursive tree listing with more entries than this come
	// back truncated, as GitHub does for huge trees. 0: never.
	TruncateTreesOver int
}

// Fake is the fake GitHub. Safe for concurrent use.
type Fake struct {
	opts   Options
	server *httptest.Server

	mu        sync.Mutex
	repo      *git.Repository
	pulls     []*Pull
	statuses  map[string][]Status
	variables map[string]string
	calls     []Call
	faults    []*Fault
	holds     []*Hold
	nextID    int64
}

// Call is one request the fake answered.
type Call struct {
	Method string
	Path   string // without the query
	Query  string
	Status int
	Auth   bool // it carried the right token
}

func (c Call) String() string { return c.Method + " " + c.Path }

// New starts a fake on a loopback port. Close it when done.
func New(opts Options) *Fake {
	if opts.Owner == "" {
		opts.Owner = "acme"
	}
	if opts.Name == "" {
		opts.Name = "prompts"
	}
	if opts.DefaultBranch == "" {
		opts.DefaultBranch = "main"
	}
	f := &Fake{opts: opts, repo: newRepo(), statuses: map[string][]Status{}, variables: map[string]string{}}
	f.server = httptest.NewServer(f.routes())
	return f
}

// URL is the REST API root to point a client at (with a trailing slash).
func (f *Fake) URL() string { return f.server.URL + "/" }

// Close stops the server, first letting go every held response.
func (f *Fake) Close() {
	f.mu.Lock()
	for _, h := range f.holds {
		h.release()
	}
	f.mu.Unlock()
	f.server.Close()
}

// Repo is owner/name.
func (f *Fake) Repo() string { return f.opts.Owner + "/" + f.opts.Name }

// Fault is an error the fake answers instead of handling a matching request.
type Fault struct {
	Method string // "" matches any
	// Path matches the request path after /repos/{owner}/{name} by prefix ("/pulls",
	// "/git/refs"); "" matches any.
	Path   string
	Status int
	Header http.Header
	Body   string // JSON; default {"message": <status text>}
	// Times is how many requests it answers (0: once; negative: until cleared).
	Times int
}

// Fail injects a fault.
func (f *Fake) Fail(fault Fault) {
	if fault.Times == 0 {
		fault.Times = 1
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, &fault)
}

// ClearFaults removes every injected fault.
func (f *Fake) ClearFaults() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = nil
}

// RateLimited is GitHub's primary rate limit: 403 with no requests remaining until reset.
func RateLimited(method, path string, reset time.Time) Fault {
	h := http.Header{}
	h.Set("X-RateLimit-Limit", "5000")
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Reset", fmt.Sprint(reset.Unix()))
	return Fault{Method: method, Path: path, Status: http.StatusForbidden, Header: h,
		Body: `{"message":"API rate limit exceeded for installation.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}`}
}

// SecondaryRateLimited is GitHub's secondary limit: 403 with Retry-After.
func SecondaryRateLimited(method, path string, retryAfter time.Duration) Fault {
	h := http.Header{}
	h.Set("Retry-After", fmt.Sprint(int(retryAfter.Seconds())))
	return Fault{Method: method, Path: path, Status: http.StatusForbidden, Header: h,
		Body: `{"message":"You have exceeded a secondary rate limit.","documentation_url":"https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`}
}

// TooManyRequests is a 429 with Retry-After.
func TooManyRequests(method, path string, retryAfter time.Duration) Fault {
	h := http.Header{}
	h.Set("Retry-After", fmt.Sprint(int(retryAfter.Seconds())))
	return Fault{Method: method, Path: path, Status: http.StatusTooManyRequests, Header: h}
}

// Forbidden is a permission refusal, as GitHub words it for an app or token without it.
func Forbidden(method, path string) Fault {
	return Fault{Method: method, Path: path, Status: http.StatusForbidden,
		Body: `{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest"}`}
}

// Hold pauses the response of the first matching request after its effect happened.
type Hold struct {
	method, path string
	// Reached is closed when a matching request has done its work and waits to answer.
	Reached  chan struct{}
	released chan struct{}
	once     sync.Once
	used     bool
}

func (h *Hold) release() { h.once.Do(func() { close(h.released) }) }

// Release lets the held response go.
func (h *Hold) Release() { h.release() }

// HoldAfter holds the answer to the next request matching method and path prefix (as in
// Fault) until Release: the change is made, the caller does not hear of it yet.
func (f *Fake) HoldAfter(method, path string) *Hold {
	h := &Hold{method: method, path: path, Reached: make(chan struct{}), released: make(chan struct{})}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.holds = append(f.holds, h)
	return h
}

// Calls lists the requests answered so far.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}

// CountCalls counts answered requests with this method and path prefix (as in Fault)
// that succeeded (2xx).
func (f *Fake) CountCalls(method, path string) int {
	n := 0
	for _, c := range f.Calls() {
		if c.Method == method && strings.HasPrefix(f.repoPath(c.Path), path) && c.Status < 300 {
			n++
		}
	}
	return n
}

func (f *Fake) repoPath(p string) string {
	return strings.TrimPrefix(p, "/repos/"+f.opts.Owner+"/"+f.opts.Name)
}

// recorder captures the status of an answer.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (f *Fake) serve(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		authed := f.opts.Token == "" || r.Header.Get("Authorization") == "Bearer "+f.opts.Token ||
			r.Header.Get("Authorization") == "token "+f.opts.Token
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			f.mu.Lock()
			f.calls = append(f.calls, Call{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: rec.status, Auth: authed})
			f.mu.Unlock()
		}()
		if !authed {
			writeJSON(rec, http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
			return
		}
		if fault := f.takeFault(r); fault != nil {
			for k, vs := range fault.Header {
				for _, v := range vs {
					rec.Header().Add(k, v)
				}
			}
			body := fault.Body
			if body == "" {
				b, _ := json.Marshal(map[string]string{"message": http.StatusText(fault.Status)})
				body = string(b)
			}
			rec.Header().Set("Content-Type", "application/json")
			rec.WriteHeader(fault.Status)
			_, _ = rec.Write([]byte(body))
			return
		}
		hold := f.takeHold(r)
		if hold == nil {
			next.ServeHTTP(rec, r)
			return
		}
		// Do the work into a buffer, tell the test, answer only when released.
		buf := httptest.NewRecorder()
		next.ServeHTTP(buf, r)
		close(hold.Reached)
		<-hold.released
		for k, vs := range buf.Header() {
			rec.Header()[k] = vs
		}
		rec.WriteHeader(buf.Code)
		_, _ = rec.Write(buf.Body.Bytes())
	})
}

func (f *Fake) matches(method, path string, r *http.Request) bool {
	return (method == "" || method == r.Method) && strings.HasPrefix(f.repoPath(r.URL.Path), path) &&
		strings.HasPrefix(r.URL.Path, "/repos/")
}

func (f *Fake) takeFault(r *http.Request) *Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, fault := range f.faults {
		if !f.matches(fault.Method, fault.Path, r) {
			continue
		}
		if fault.Times > 0 {
			fault.Times--
			if fault.Times == 0 {
				f.faults = append(f.faults[:i:i], f.faults[i+1:]...)
			}
		}
		return fault
	}
	return nil
}

func (f *Fake) takeHold(r *http.Request) *Hold {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range f.holds {
		if !h.used && f.matches(h.method, h.path, r) {
			h.used = true
			return h
		}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
}

// unprocessable is GitHub's 422 "Validation Failed" with one error message.
func unprocessable(w http.ResponseWriter, message string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"message": "Validation Failed",
		"errors":  []map[string]string{{"resource": "PullRequest", "code": "custom", "message": message}},
	})
}
