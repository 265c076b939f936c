// Package promtest runs a real Prometheus (the Debian package's binary, which .ci/run
// installs) scraping a test-controlled exporter of the LLM metrics quench reads, for the
// Prometheus adapter's tests and the end-to-end tests. Without the binary the test fails
// with an install hint: a skipped test would hide that CI lost its Prometheus.
package promtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/quench-dev/quench/internal/syncbuf"
)

// InstallHint says how to get the binary.
const InstallHint = "install it with: apt-get install prometheus (.ci/run does)"

// Exporter serves the LLM metrics quench expects (see the prometheus adapter's doc).
type Exporter struct {
	URL      string
	Requests *prometheus.CounterVec   // provider, model, route, status
	Duration *prometheus.HistogramVec // provider, model, route; seconds
	Tokens   *prometheus.HistogramVec // provider, model, route
	Cost     *prometheus.CounterVec   // route, agent

	scrapes atomic.Int64
	mu      sync.Mutex
	scraped *sync.Cond
	flows   []*flow
}

// flow is traffic at a steady rate, added to the counters at each scrape.
type flow struct {
	route, provider, model, status string
	perSec                         float64
	last                           time.Time
}

// Steady makes requests flow at perSec from now on with the given status ("200", "503"...):
// each scrape finds the counter grown by the time since the last one, so any window
// Prometheus looks at sees the rate, without a goroutine feeding the exporter.
func (e *Exporter) Steady(route, provider, model, status string, perSec float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.Requests.WithLabelValues(provider, model, route, status)
	e.flows = append(e.flows, &flow{route: route, provider: provider, model: model, status: status, perSec: perSec, last: time.Now()})
}

func (e *Exporter) advance() {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	for _, f := range e.flows {
		e.Requests.WithLabelValues(f.provider, f.model, f.route, f.status).Add(f.perSec * now.Sub(f.last).Seconds())
		f.last = now
	}
}

// NewExporter starts an exporter; it stops with the test.
func NewExporter(t testing.TB) *Exporter {
	t.Helper()
	reg := prometheus.NewRegistry()
	e := &Exporter{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llm_requests_total", Help: "LLM requests by status."}, []string{"provider", "model", "route", "status"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "llm_request_duration_seconds", Help: "LLM request latency.",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}}, []string{"provider", "model", "route"}),
		Tokens: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "llm_output_tokens", Help: "Output tokens per answer.",
			Buckets: []float64{50, 100, 200, 400, 800, 1600}}, []string{"provider", "model", "route"}),
		Cost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llm_cost_usd_total", Help: "Spend."}, []string{"route", "agent"}),
	}
	e.scraped = sync.NewCond(&e.mu)
	reg.MustRegister(e.Requests, e.Duration, e.Tokens, e.Cost)
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.advance()
		h.ServeHTTP(w, r)
		e.mu.Lock()
		e.scrapes.Add(1)
		e.scraped.Broadcast()
		e.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	e.URL = srv.URL
	return e
}

// Request records one request: status "200", "503", "429", "timeout"...
func (e *Exporter) Request(provider, model, route, status string, seconds, outputTokens float64) {
	e.Requests.WithLabelValues(provider, model, route, status).Inc()
	e.Duration.WithLabelValues(provider, model, route).Observe(seconds)
	if status == "200" {
		e.Tokens.WithLabelValues(provider, model, route).Observe(outputTokens)
	}
}

// Scrapes is how many times Prometheus has scraped the exporter.
func (e *Exporter) Scrapes() int64 { return e.scrapes.Load() }

// AwaitScrapes blocks until n more scrapes than now have completed: then a sample taken
// after this call is in Prometheus (two, because the scrape under way may have started
// before it).
func (e *Exporter) AwaitScrapes(t testing.TB, n int64) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	want := e.scrapes.Load() + n
	timer := time.AfterFunc(time.Minute, func() {
		e.mu.Lock()
		e.scraped.Broadcast()
		e.mu.Unlock()
	})
	defer timer.Stop()
	deadline := time.Now().Add(time.Minute)
	for e.scrapes.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus did not scrape the exporter %d times within a minute", n)
		}
		e.scraped.Wait()
	}
}

// Server is a running Prometheus.
type Server struct {
	URL string
}

// Start runs Prometheus scraping targets (host:port or URLs) every second; it is killed
// with the test and its output printed if the test failed.
func Start(t testing.TB, targets ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("the prometheus binary is not on PATH: %s", InstallHint)
	}
	dir := t.TempDir()
	var hosts []string
	for _, tg := range targets {
		if u, err := url.Parse(tg); err == nil && u.Host != "" {
			tg = u.Host
		}
		hosts = append(hosts, strconv.Quote(tg))
	}
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: llm\n    scrape_interval: 1s\n    static_configs:\n      - targets: [%s]\n", joinComma(hosts))
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port), "--log.level=warn")
	var logs syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		if t.Failed() {
			t.Logf("prometheus output:\n%s", logs.String())
		}
	})
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case <-done:
			t.Fatalf("prometheus exited before it was ready:\n%s", logs.String())
		default:
		}
		if resp, err := http.Get(s.URL + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus was not ready within a minute:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond) // polling a readiness endpoint, not synchronising
	}
}

// Value evaluates an instant query now; ok is false on an empty answer.
func (s *Server) Value(ctx context.Context, query string) (float64, bool, error) {
	resp, err := http.Get(s.URL + "/api/v1/query?" + url.Values{"query": {query}}.Encode())
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, false, err
	}
	if len(body.Data.Result) == 0 {
		return 0, false, nil
	}
	v, _ := body.Data.Result[0].Value[1].(string)
	f, err := strconv.ParseFloat(v, 64)
	return f, err == nil, err
}

// AwaitValue polls query until it equals want: the exporter's latest values are in.
func (s *Server) AwaitValue(t testing.TB, query string, want float64) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var last float64
	for time.Now().Before(deadline) {
		v, ok, err := s.Value(context.Background(), query)
		if err == nil && ok && v == want {
			return
		}
		last = v
		time.Sleep(100 * time.Millisecond) // polling Prometheus for a condition
	}
	t.Fatalf("Prometheus did not see %s = %g within a minute (last %g)", query, want, last)
}

// AwaitQuery polls query until ok accepts its value.
func (s *Server) AwaitQuery(t testing.TB, query string, ok func(float64) bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var last float64
	for time.Now().Before(deadline) {
		v, has, err := s.Value(context.Background(), query)
		if err == nil && has && ok(v) {
			return
		}
		last = v
		time.Sleep(100 * time.Millisecond) // polling Prometheus for a condition
	}
	t.Fatalf("Prometheus did not satisfy %s within a minute (last %g)", query, last)
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func joinComma(s []string) string {
	var b bytes.Buffer
	for i, v := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(v)
	}
	return b.String()
}
