package demo

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// provider is the demo's primary LLM provider as an HTTP endpoint, so quench's configured
// probe (probes.primary) can measure it before the fail back: with the fault on, 7 in 10
// requests answer 503 or 429, as the app's traffic does; without it, a small chat answer.
type provider struct {
	faulty atomic.Bool
	n      atomic.Int64
	srv    *http.Server
	url    string
}

func startProvider() (*provider, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start the demo's fake primary provider: %w", err)
	}
	p := &provider{url: "http://" + ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", p.chat)
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := p.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = ln.Close()
		}
	}()
	return p, nil
}

func (p *provider) chat(w http.ResponseWriter, _ *http.Request) {
	i := p.n.Add(1)
	w.Header().Set("Content-Type", "application/json")
	if p.faulty.Load() && i%10 < 7 {
		status := http.StatusServiceUnavailable
		if i%2 == 0 {
			status = http.StatusTooManyRequests
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":{"message":"demo fault","code":%d}}`, status)
		return
	}
	fmt.Fprintf(w, `{"id":"demo-%d","object":"chat.completion","model":%q,"choices":[{"index":0,"message":{"role":"assistant","content":"pong"},"finish_reason":"stop"}]}`, i, demoModel)
}

// probeConfig is the probes section that points quench at this provider.
func (p *provider) probeConfig() string {
	return fmt.Sprintf(`probes:
  %s:
    url: %s/v1/chat/completions
    method: POST
    body: '{"model":%q,"messages":[{"role":"user","content":"ping"}],"max_tokens":1}'
    expect_status: [200]
    requests: 5
    timeout: 2s
`, primary, p.url, demoModel)
}

func (p *provider) close() { _ = p.srv.Close() }
