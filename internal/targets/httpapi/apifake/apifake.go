// Package apifake is what the stateful API fakes of the LLM targets share: a record of
// every call, and injected failures (429 with Retry-After, 5xx, ...) served before the
// fake's own handler, so adapter tests can check retries, pagination and idempotency.
package apifake

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// Call is one request a fake received.
type Call struct {
	Method string
	Path   string
	Query  string
	Body   []byte
}

// Fault is an injected failure: after letting Skip matching requests through, the next
// Times requests matching Method and Path (a prefix; "" matches any) get Code, with
// Retry-After when set.
type Fault struct {
	Method     string
	Path       string
	Code       int
	RetryAfter string
	Body       string
	Times      int
	Skip       int
}

// Recorder records calls and serves injected faults. The zero value is ready.
type Recorder struct {
	mu     sync.Mutex
	calls  []Call
	faults []Fault
}

// Inject adds a fault.
func (r *Recorder) Inject(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults = append(r.faults, f)
}

// Calls returns the calls so far (injected failures included).
func (r *Recorder) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Call(nil), r.calls...)
}

// Count returns how many calls matched method and path prefix.
func (r *Recorder) Count(method, path string) int {
	n := 0
	for _, c := range r.Calls() {
		if (method == "" || c.Method == method) && strings.HasPrefix(c.Path, path) {
			n++
		}
	}
	return n
}

// Wrap records each request (its body stays readable by next) and answers with an
// injected fault when one matches.
func (r *Recorder) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(req.Body, 8<<20))
		req.Body = io.NopCloser(bytes.NewReader(body))
		r.mu.Lock()
		r.calls = append(r.calls, Call{Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery, Body: body})
		var hit *Fault
		for i := range r.faults {
			f := &r.faults[i]
			if f.Times > 0 && (f.Method == "" || f.Method == req.Method) && strings.HasPrefix(req.URL.Path, f.Path) {
				if f.Skip > 0 {
					f.Skip--
					continue
				}
				f.Times--
				c := *f
				hit = &c
				break
			}
		}
		r.mu.Unlock()
		if hit != nil {
			if hit.RetryAfter != "" {
				w.Header().Set("Retry-After", hit.RetryAfter)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(hit.Code)
			msg := hit.Body
			if msg == "" {
				msg = fmt.Sprintf(`{"error":"injected %d"}`, hit.Code)
			}
			io.WriteString(w, msg)
			return
		}
		next.ServeHTTP(w, req)
	})
}
