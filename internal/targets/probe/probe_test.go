package probe

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/ports"
)

// provider is a fake LLM endpoint: request n (from 0) answers statuses[n % len], and a
// status of 0 means it holds the request until the client gives up (a timeout).
type provider struct {
	statuses []int
	n        atomic.Int64
	auth     atomic.Value // the last Authorization header seen
	method   atomic.Value
	body     atomic.Value
}

func (p *provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := int(p.n.Add(1) - 1)
	p.auth.Store(r.Header.Get("Authorization"))
	p.method.Store(r.Method)
	body, _ := io.ReadAll(r.Body)
	p.body.Store(string(body))
	s := p.statuses[i%len(p.statuses)]
	if s == 0 {
		<-r.Context().Done()
		return
	}
	if s == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(s)
	_, _ = w.Write([]byte(`{"id":"x"}`))
}

func newProbe(t *testing.T, p *provider, cfg config.Probe) (*Probe, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	cfg.URL = srv.URL + "/v1/chat/completions?key=query-secret"
	pr, err := New(cfg, srv.Client())
	require.NoError(t, err)
	return pr, srv
}

var in = ports.HealthInput{Provider: "primary", Window: 10 * time.Minute}

func TestHealthyProviderSendsTheConfiguredRequests(t *testing.T) {
	t.Setenv("PROBE_TEST_AUTH", "Bearer sk-probe-secret\n")
	p := &provider{statuses: []int{200}}
	pr, srv := newProbe(t, p, config.Probe{Method: "post", Body: `{"max_tokens":1}`, Requests: 7,
		Headers: map[string]string{"Authorization": "env:PROBE_TEST_AUTH"}})

	fig, err := pr.ProviderHealth(context.Background(), in)
	require.NoError(t, err)
	assert.Equal(t, 7, fig.Requests)
	assert.Equal(t, 0, fig.Errors)
	assert.Zero(t, fig.ErrorRate)
	assert.Positive(t, fig.LatencyP95Ms)
	assert.True(t, fig.Probe)
	assert.Equal(t, "probe "+strings.TrimPrefix(srv.URL, "http://"), fig.Source, "the host only: the query may hold a key")
	assert.EqualValues(t, 7, p.n.Load())
	assert.Equal(t, "Bearer sk-probe-secret", p.auth.Load(), "the header's secret reference is resolved and trimmed")
	assert.Equal(t, http.MethodPost, p.method.Load())
	assert.Equal(t, `{"max_tokens":1}`, p.body.Load())
}

func TestUnhealthyProviderCounts5xx429AndTimeoutsAsErrors(t *testing.T) {
	// 10 requests: 2 x 503, 2 x 429, 1 timeout, 5 x 200.
	p := &provider{statuses: []int{503, 200, 429, 200, 0, 200, 503, 200, 429, 200}}
	pr, _ := newProbe(t, p, config.Probe{Requests: 10, Timeout: "200ms"})

	fig, err := pr.ProviderHealth(context.Background(), in)
	require.NoError(t, err)
	assert.Equal(t, 10, fig.Requests)
	assert.Equal(t, 5, fig.Errors)
	assert.InDelta(t, 0.5, fig.ErrorRate, 1e-9)
}

func TestExpectStatusDecidesWhatIsHealthy(t *testing.T) {
	p := &provider{statuses: []int{204, 200}}
	pr, _ := newProbe(t, p, config.Probe{Requests: 4, ExpectStatus: []int{204}})
	fig, err := pr.ProviderHealth(context.Background(), in)
	require.NoError(t, err)
	assert.Equal(t, 2, fig.Errors, "a 200 is not what this probe expects")
}

func TestUnreachableProviderIsNotMeasured(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL + "/v1/models?api_key=query-secret"
		srv.Close() // nothing listens there now
		pr, err := New(config.Probe{URL: url, Requests: 3}, nil)
		require.NoError(t, err)
		_, err = pr.ProviderHealth(context.Background(), in)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "no answer to any of 3 requests")
		assert.Contains(t, err.Error(), "refused")
		assert.NotContains(t, err.Error(), "query-secret", "the URL's query never goes into an error")
		assert.False(t, ports.IsPermanent(err), "the provider may come back: measure again later")
	})
	t.Run("timeouts", func(t *testing.T) {
		p := &provider{statuses: []int{0}}
		pr, _ := newProbe(t, p, config.Probe{Requests: 2, Timeout: "100ms"})
		_, err := pr.ProviderHealth(context.Background(), in)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "timed out after 100ms")
		assert.NotContains(t, err.Error(), "query-secret")
	})
}

func TestMissingHeaderSecretIsPermanentAndNamesNoValue(t *testing.T) {
	p := &provider{statuses: []int{200}}
	pr, _ := newProbe(t, p, config.Probe{Headers: map[string]string{"Authorization": "env:PROBE_TEST_UNSET_VAR"}})
	_, err := pr.ProviderHealth(context.Background(), in)
	require.Error(t, err)
	assert.True(t, ports.IsPermanent(err))
	assert.Contains(t, err.Error(), "PROBE_TEST_UNSET_VAR")
	assert.Zero(t, p.n.Load(), "nothing is sent without its credentials")
}

func TestCancelledMeasurementReportsTheCancel(t *testing.T) {
	p := &provider{statuses: []int{0}}
	pr, _ := newProbe(t, p, config.Probe{Requests: 3})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := pr.ProviderHealth(ctx, in)
	assert.True(t, errors.Is(err, context.Canceled), "got %v", err)
}

func TestSetFindsAProvidersProbe(t *testing.T) {
	s, err := NewSet(map[string]config.Probe{"primary": {URL: "https://api.primary.example/v1/models"}})
	require.NoError(t, err)
	got, ok := s.For("primary")
	require.True(t, ok)
	assert.Equal(t, "probe api.primary.example", got.(*Probe).Source())
	_, ok = s.For("fallback")
	assert.False(t, ok)
}

func TestP95(t *testing.T) {
	assert.Zero(t, p95(nil))
	assert.Equal(t, 7.0, p95([]float64{7}))
	ms := make([]float64, 0, 20)
	for i := 20; i >= 1; i-- {
		ms = append(ms, float64(i))
	}
	assert.Equal(t, 19.0, p95(ms))
}
