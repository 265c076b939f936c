package app

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/runbooks"
)

func probe(t *testing.T, h http.Handler) (int, http.Header, readyAnswer) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	var ans readyAnswer
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &ans), rec.Body.String())
	return rec.Code, rec.Header(), ans
}

func TestReadyzAnswers503WithTheFailingCheck(t *testing.T) {
	r := NewReadiness(
		ReadyCheck{Name: "temporal", Check: func(context.Context) error { return nil }},
		ReadyCheck{Name: "store", Check: func(context.Context) error { return errors.New("PostgreSQL at db:5432 refused the connection") }},
	)
	code, hdr, ans := probe(t, r)
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "5", hdr.Get("Retry-After"))
	assert.Equal(t, "application/json", hdr.Get("Content-Type"))
	assert.False(t, ans.Ready)
	assert.Equal(t, "store: PostgreSQL at db:5432 refused the connection", ans.Reason)
	assert.Equal(t, []checkResult{{Name: "temporal", OK: true}, {Name: "store", Error: "PostgreSQL at db:5432 refused the connection"}}, ans.Checks)

	code, hdr, ans = probe(t, NewReadiness(ReadyCheck{Name: "temporal", Check: func(context.Context) error { return nil }}))
	assert.Equal(t, http.StatusOK, code)
	assert.Empty(t, hdr.Get("Retry-After"))
	assert.True(t, ans.Ready)
}

// Probes within the cache period share one round of checks, concurrent ones included;
// after it, the next probe asks again and sees the change.
func TestReadyzCachesOneRound(t *testing.T) {
	var calls atomic.Int32
	var down atomic.Bool
	r := NewReadiness(ReadyCheck{Name: "temporal", Check: func(context.Context) error {
		calls.Add(1)
		if down.Load() {
			return errors.New("unreachable")
		}
		return nil
	}})
	now := time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
	r.now = func() time.Time { return now }

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			code, _, _ := probe(t, r)
			assert.Equal(t, http.StatusOK, code)
		})
	}
	wg.Wait()
	assert.Equal(t, int32(1), calls.Load(), "concurrent probes each asked Temporal")

	down.Store(true)
	now = now.Add(ReadyCacheFor - time.Millisecond)
	code, _, _ := probe(t, r)
	assert.Equal(t, http.StatusOK, code, "answered from the cache")
	now = now.Add(time.Millisecond)
	code, _, ans := probe(t, r)
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "temporal: unreachable", ans.Reason)
	assert.Equal(t, int32(2), calls.Load())
}

type describeFake struct {
	workflowservice.WorkflowServiceClient
	err error
}

func (f describeFake) DescribeNamespace(context.Context, *workflowservice.DescribeNamespaceRequest, ...grpc.CallOption) (*workflowservice.DescribeNamespaceResponse, error) {
	return &workflowservice.DescribeNamespaceResponse{}, f.err
}

type fakeTemporal struct{ svc describeFake }

func (f fakeTemporal) WorkflowService() workflowservice.WorkflowServiceClient { return f.svc }

func TestTemporalReadyCheckSaysWhatIsWrong(t *testing.T) {
	ctx := context.Background()
	require.NoError(t, TemporalReadyCheck(fakeTemporal{}, "quench").Check(ctx))
	err := TemporalReadyCheck(fakeTemporal{describeFake{err: serviceerror.NewNamespaceNotFound("quench")}}, "quench").Check(ctx)
	require.EqualError(t, err, "namespace \"quench\" is not registered: run `quench setup`")
	err = TemporalReadyCheck(fakeTemporal{describeFake{err: serviceerror.NewUnavailable("connection refused")}}, "quench").Check(ctx)
	require.EqualError(t, err, "Temporal is unreachable: connection refused")
}

// /readyz is mounted next to /healthz, outside the API's token and Host checks, and runs
// the process's extra checks.
func TestHTTPServerMountsReadyz(t *testing.T) {
	lib, err := runbooks.LoadLibrary("")
	require.NoError(t, err)
	cfg := hooksConfig(t, "http:\n  listen: 127.0.0.1:0\n")
	cfg.DataDir = t.TempDir()
	a, err := Resolve(cfg, nil)
	require.NoError(t, err)
	web, err := HTTPServerWith(cfg, incidents.New(nil, lib, "default"), a, slog.New(slog.NewTextHandler(io.Discard, nil)),
		HTTPOptions{ReadyChecks: []ReadyCheck{{Name: "store", Check: func(context.Context) error { return errors.New("down") }}}})
	require.NoError(t, err)

	req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
	req.Host = "10.1.2.3:8080"
	rec := httptest.NewRecorder()
	web.Server.Handler.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), `"reason":"store: down"`)

	rec = httptest.NewRecorder()
	web.Server.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	assert.Equal(t, http.StatusOK, rec.Code, "liveness does not depend on readiness")
}

// The store every process shares is part of readiness: a PostgreSQL store nobody answers
// at makes /readyz 503 naming the store, while /healthz stays 200; the SQLite store of a
// data dir is ready.
func TestReadyzAsksTheStore(t *testing.T) {
	lib, err := runbooks.LoadLibrary("")
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	require.NoError(t, ln.Close())
	t.Setenv("QUENCH_TEST_READYZ_DSN", "postgres://quench:s3cret-pw@"+closed+"/quench?sslmode=disable&connect_timeout=1")

	for _, tc := range []struct {
		name, yaml string
		want       int
	}{
		{"postgres down", "store:\n  kind: postgres\n  postgres:\n    dsn: env:QUENCH_TEST_READYZ_DSN\n", http.StatusServiceUnavailable},
		{"sqlite", "", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := hooksConfig(t, "http:\n  listen: 127.0.0.1:0\n"+tc.yaml)
			cfg.DataDir = t.TempDir()
			a, err := Resolve(cfg, nil)
			require.NoError(t, err)
			t.Cleanup(func() { _ = a.Store.Close() })
			web, err := HTTPServer(cfg, incidents.New(nil, lib, "default"), a, slog.New(slog.NewTextHandler(io.Discard, nil)))
			require.NoError(t, err)
			rec := httptest.NewRecorder()
			web.Server.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			assert.Equal(t, tc.want, rec.Code, rec.Body.String())
			if tc.want != http.StatusOK {
				assert.Contains(t, rec.Body.String(), `"reason":"store: the store (PostgreSQL quench@`+closed+`/quench) is unavailable`)
				assert.NotContains(t, rec.Body.String(), "s3cret-pw")
				assert.Equal(t, "5", rec.Header().Get("Retry-After"))
			}
			rec = httptest.NewRecorder()
			web.Server.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
			assert.Equal(t, http.StatusOK, rec.Code)
		})
	}
}
