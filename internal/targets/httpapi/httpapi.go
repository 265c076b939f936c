// Package httpapi is the small JSON-over-HTTP client the LLM targets (LiteLLM, Portkey,
// Langfuse, Prometheus) share. It does no retries of its own: Temporal owns retries. It
// classifies every failure the way activities need it: a rate limit or an overloaded
// server is retryable (after its Retry-After, when it sends one), a refusal that a retry
// cannot change (bad key, bad request, not found) is permanent.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/traffic/redact"
)

// DefaultMaxResponse caps a response body read into memory.
const DefaultMaxResponse = 32 << 20

// MaxRetryAfter caps a server's Retry-After, so a misconfigured server cannot park a step
// for a day.
const MaxRetryAfter = 10 * time.Minute

// Client calls one HTTP API.
type Client struct {
	// Name is the API as a human knows it ("the LiteLLM proxy"), for error messages.
	Name    string
	BaseURL string
	HTTP    *http.Client
	// Auth sets the credentials on each request (never logged, never in errors).
	Auth func(*http.Request)
	// MaxResponse caps a response body (default DefaultMaxResponse).
	MaxResponse int64
}

// New returns a client for baseURL with a timeout per request.
func New(name, baseURL string, timeout time.Duration, auth func(*http.Request)) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s URL %q: write it as http(s)://host[:port][/prefix]", name, baseURL)
	}
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return &Client{Name: name, BaseURL: u.String(), HTTP: &http.Client{Timeout: timeout}, Auth: auth}, nil
}

// StatusError is an HTTP answer outside 2xx.
type StatusError struct {
	API        string
	Method     string
	Path       string
	Code       int
	Body       string // the start of the answer, for the error message
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s answered %s %s with %d", e.API, e.Method, e.Path, e.Code)
	if e.Body != "" {
		msg += ": " + e.Body
	}
	switch {
	case e.Code == http.StatusUnauthorized || e.Code == http.StatusForbidden:
		msg += " (check the API key in quench's config and its permissions)"
	case e.Code == http.StatusTooManyRequests:
		msg += " (rate limited; retried after its Retry-After)"
	}
	return msg
}

// StatusOf returns the HTTP status of err, or 0 when err is not an HTTP answer.
func StatusOf(err error) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// Do sends method path?query with body (JSON-encoded unless nil or []byte) and decodes a
// 2xx JSON answer into out (unless nil). It returns the raw answer too.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body, out any) ([]byte, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case json.RawMessage:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, ports.Permanentf("encode the request to %s: %v", c.Name, err)
		}
		rd = bytes.NewReader(data)
	}
	u := c.BaseURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, ports.Permanentf("build the request to %s: %v", c.Name, err)
	}
	req.Header.Set("Accept", "application/json")
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Auth != nil {
		c.Auth(req)
	}
	client := c.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// A network failure may heal: retryable. The URL is ours, never a secret.
		return nil, fmt.Errorf("cannot reach %s at %s: %w", c.Name, c.BaseURL, unwrapURLError(err))
	}
	defer resp.Body.Close()
	limit := c.MaxResponse
	if limit <= 0 {
		limit = DefaultMaxResponse
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read the answer of %s %s from %s: %w", method, path, c.Name, err)
	}
	if int64(len(data)) > limit {
		return nil, ports.Permanentf("%s answered %s %s with more than %d bytes: narrow the query", c.Name, method, path, limit)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return data, classify(&StatusError{
			API: c.Name, Method: method, Path: path, Code: resp.StatusCode,
			Body: snippet(data), RetryAfter: ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		})
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return data, ports.Permanentf("%s answered %s %s with JSON quench does not understand (%v): is the URL pointing at the right service and version?", c.Name, method, path, err)
		}
	}
	return data, nil
}

// classify decides what a retry can do for an HTTP failure.
func classify(e *StatusError) error {
	switch {
	case e.Code == http.StatusTooManyRequests || e.Code == http.StatusServiceUnavailable:
		if e.RetryAfter > 0 {
			return ports.RetryAfter(e, e.RetryAfter)
		}
		return e
	case e.Code >= 500 || e.Code == http.StatusRequestTimeout || e.Code == http.StatusConflict:
		return e // the server's trouble, or a race: a retry may succeed
	default:
		return ports.Permanent(e) // 4xx: the request or the key must change
	}
}

// ParseRetryAfter reads a Retry-After header: seconds or an HTTP date. Zero when absent or
// unreadable; capped at MaxRetryAfter.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		d = time.Duration(secs * float64(time.Second))
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	if d <= 0 {
		return 0
	}
	return min(d, MaxRetryAfter)
}

// snippet is the start of an error answer for a message, with anything that looks like a
// secret or personal data masked: some servers echo the request back.
func snippet(data []byte) string {
	s := redact.String(strings.Join(strings.Fields(string(data)), " "))
	if r := []rune(s); len(r) > 300 {
		s = string(r[:300]) + "…"
	}
	return s
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Bearer returns an Auth that sends Authorization: Bearer token.
func Bearer(token string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

// Header returns an Auth that sends one header.
func Header(name, value string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set(name, value) }
}

// Basic returns an Auth for HTTP basic authentication.
func Basic(user, password string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(user, password) }
}
