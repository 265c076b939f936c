package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/ports"
)

func TestFailuresAreClassified(t *testing.T) {
	cases := []struct {
		name       string
		code       int
		retryAfter string
		permanent  bool
		delay      time.Duration
	}{
		{"rate limited with Retry-After", 429, "7", false, 7 * time.Second},
		{"rate limited without Retry-After", 429, "", false, 0},
		{"overloaded with Retry-After", 503, "2", false, 2 * time.Second},
		{"server error", 500, "", false, 0},
		{"bad gateway", 502, "", false, 0},
		{"bad key", 401, "", true, 0},
		{"forbidden", 403, "", true, 0},
		{"not found", 404, "", true, 0},
		{"bad request", 400, "", true, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if c.retryAfter != "" {
					w.Header().Set("Retry-After", c.retryAfter)
				}
				w.WriteHeader(c.code)
				w.Write([]byte(`{"error":"nope, key sk-abcdefghijklmnopqrstuvwxyz123456"}`))
			}))
			defer srv.Close()
			cl, err := New("the test API", srv.URL, time.Second, Bearer("secret-token"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = cl.Do(context.Background(), "GET", "/x", nil, nil, nil)
			if err == nil {
				t.Fatal("no error")
			}
			if got := ports.IsPermanent(err); got != c.permanent {
				t.Errorf("permanent = %v, want %v (%v)", got, c.permanent, err)
			}
			delay, _ := ports.RetryDelay(err)
			if delay != c.delay {
				t.Errorf("retry delay %s, want %s", delay, c.delay)
			}
			if StatusOf(err) != c.code {
				t.Errorf("status %d, want %d", StatusOf(err), c.code)
			}
			if strings.Contains(err.Error(), "sk-abcdefghijklmnopqrstuvwxyz123456") || strings.Contains(err.Error(), "secret-token") {
				t.Errorf("a secret leaked into the error: %v", err)
			}
		})
	}
}

func TestSuccessDecodesAndSendsAuth(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer k" || r.URL.Query().Get("a") != "b" {
			w.WriteHeader(401)
			return
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	cl, _ := New("t", srv.URL+"/", time.Second, Bearer("k"))
	var out struct{ OK bool }
	if _, err := cl.Do(context.Background(), "GET", "/p", map[string][]string{"a": {"b"}}, nil, &out); err != nil || !out.OK {
		t.Fatalf("out %+v err %v", out, err)
	}
}

func TestUnreachableIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	cl, _ := New("t", url, time.Second, nil)
	_, err := cl.Do(context.Background(), "GET", "/", nil, nil, nil)
	if err == nil || ports.IsPermanent(err) {
		t.Fatalf("want a retryable error, got %v", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":                              0,
		"0":                             0,
		"3":                             3 * time.Second,
		"1.5":                           1500 * time.Millisecond,
		"86400":                         MaxRetryAfter,
		"Wed, 01 Jan 2025 00:00:30 GMT": 30 * time.Second,
		"Tue, 31 Dec 2024 00:00:30 GMT": 0,
		"soon":                          0,
	}
	for in, want := range cases {
		if got := ParseRetryAfter(in, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestBadURLIsRefused(t *testing.T) {
	for _, u := range []string{"", "localhost:4000", "ftp://x"} {
		if _, err := New("t", u, 0, nil); err == nil {
			t.Errorf("URL %q accepted", u)
		}
	}
}
