package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

// The demo's route and providers: quench's default routing table.
const (
	demoRoute = "chat"
	primary   = "primary"
	fallback  = "fallback"
	demoModel = "demo-model-1"
	alertKey  = "demo-chat-primary"
	alertName = "LLMProviderErrorRateHigh"
	// baselineRows healthy requests are backfilled over the evidence baseline (the 24h before
	// the last 30m), about as many per minute as the demo's live window will hold, so the
	// evidence compares like with like and the error rate, not the volume, stands out.
	baselineRows = 12000
	perTick      = 2 // chat requests per tick
	probesOnTick = 2 // health probes of the primary per tick
)

// record is one request in the JSONL traffic log, with quench's gen_ai.* names.
type record struct {
	Time          time.Time `json:"time"`
	Provider      string    `json:"gen_ai.provider.name"`
	RequestModel  string    `json:"gen_ai.request.model"`
	ResponseModel string    `json:"gen_ai.response.model"`
	Operation     string    `json:"gen_ai.operation.name"`
	FinishReasons []string  `json:"gen_ai.response.finish_reasons,omitempty"`
	InputTokens   int       `json:"gen_ai.usage.input_tokens"`
	OutputTokens  int       `json:"gen_ai.usage.output_tokens,omitempty"`
	DurationMs    int       `json:"duration_ms"`
	ErrorType     string    `json:"error.type,omitempty"`
	Route         string    `json:"route"`
	PromptName    string    `json:"prompt.name"`
	PromptVersion string    `json:"prompt.version"`
}

// app is the synthetic LLM app: each tick it sends a few chat requests to whichever provider
// the route points at (it asks quench's routing table, as a gateway would) and probes the
// primary, writing every request to the traffic log and telling the detector about the
// primary's answers.
type app struct {
	log      *os.File
	routeURL string
	detector *detector

	mu     sync.Mutex
	faulty bool // the injected fault: the primary answers 503 / 429
	n      int
}

func newApp(logPath, httpURL string, d *detector) (*app, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open the demo's traffic log: %w", err)
	}
	return &app{log: f, routeURL: httpURL + "/v1/routes/" + demoRoute, detector: d}, nil
}

// backfill writes the healthy history the evidence baseline compares against.
func (a *app) backfill(now time.Time) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	start := now.Add(-24*time.Hour - 30*time.Minute)
	for i := range baselineRows {
		at := start.Add(time.Duration(i) * 24 * time.Hour / baselineRows)
		if err := enc.Encode(a.request(at, primary, false, i)); err != nil {
			return err
		}
	}
	_, err := a.log.Write(buf.Bytes())
	return err
}

func (a *app) setFault(on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.faulty = on
}

// run sends traffic every tick until ctx ends.
func (a *app) run(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.step(ctx, time.Now().UTC())
		}
	}
}

func (a *app) step(ctx context.Context, now time.Time) {
	provider, err := a.currentProvider(ctx)
	if err != nil {
		return // quench is stopping
	}
	a.mu.Lock()
	faulty := a.faulty
	a.mu.Unlock()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for range perTick {
		a.n++
		r := a.request(now, provider, faulty && provider == primary, a.n)
		_ = enc.Encode(r)
		if provider == primary {
			a.detector.observe(r.ErrorType != "")
		}
	}
	// The health probe of the primary: how the detector sees it recover after failover.
	for range probesOnTick {
		a.n++
		a.detector.observe(faulty && a.n%10 < 7)
	}
	_, _ = a.log.Write(buf.Bytes())
}

// request makes one deterministic request: with the fault, 7 in 10 fail (503 and 429 in turn).
func (a *app) request(at time.Time, provider string, faulty bool, i int) record {
	r := record{Time: at, Provider: provider, RequestModel: demoModel, ResponseModel: demoModel, Operation: "chat",
		InputTokens: 300 + i%50, Route: demoRoute, PromptName: "answer", PromptVersion: "v1", DurationMs: 400 + (i*37)%300}
	if provider == fallback {
		r.ResponseModel = "demo-fallback-model"
		r.DurationMs += 150
	}
	if faulty && i%10 < 7 {
		r.ErrorType = "503"
		if i%2 == 0 {
			r.ErrorType = "429"
		}
		r.DurationMs = 30 + i%20
		return r
	}
	r.FinishReasons = []string{"stop"}
	r.OutputTokens = 120 + i%40
	return r
}

// currentProvider asks quench's routing table where the route points.
func (a *app) currentProvider(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.routeURL, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var v struct {
		Provider string `json:"provider"`
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return "", fmt.Errorf("GET %s: %d %s", a.routeURL, resp.StatusCode, body)
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return "", err
	}
	return v.Provider, nil
}

func (a *app) close() error { return a.log.Close() }

// detector is the demo's own little alerting rule: the primary's error rate over its last
// window answers, at or above fireAt for forN answers in a row (Prometheus's `for:`),
// fires the alert; below resolveAt resolves it.
type detector struct {
	window    int
	forN      int
	fireAt    float64
	resolveAt float64
	changes   chan string // "firing" | "resolved"

	mu     sync.Mutex
	recent []bool
	above  int
	firing bool
}

func newDetector() *detector {
	return &detector{window: 20, forN: 20, fireAt: 0.3, resolveAt: 0.1, changes: make(chan string, 4)}
}

func (d *detector) observe(failed bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.recent = append(d.recent, failed)
	if len(d.recent) > d.window {
		d.recent = d.recent[len(d.recent)-d.window:]
	}
	if len(d.recent) < d.window/2 {
		return
	}
	rate := d.rateLocked()
	if rate >= d.fireAt {
		d.above++
	} else {
		d.above = 0
	}
	switch {
	case !d.firing && d.above >= d.forN:
		d.firing = true
		d.notify("firing")
	case d.firing && rate < d.resolveAt:
		d.firing = false
		d.notify("resolved")
	}
}

// notify never blocks the app: a change nobody reads yet waits in the buffer, and the
// hysteresis keeps changes few.
func (d *detector) notify(change string) {
	select {
	case d.changes <- change:
	default:
	}
}

func (d *detector) rate() float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rateLocked()
}

func (d *detector) rateLocked() float64 {
	if len(d.recent) == 0 {
		return 0
	}
	n := 0
	for _, f := range d.recent {
		if f {
			n++
		}
	}
	return float64(n) / float64(len(d.recent))
}

// hookResponse is the part of quench's webhook answer the demo reads.
type hookResponse struct {
	Incidents []struct {
		IncidentID string `json:"incident_id"`
		ShortID    string `json:"short_id"`
		Result     string `json:"result"`
	} `json:"incidents"`
}

// postAlert posts the alert to quench's generic webhook, as a monitoring system would.
func postAlert(ctx context.Context, httpURL, status string, rate float64) (hookResponse, error) {
	body, err := json.Marshal(map[string]any{
		"key":      alertKey,
		"status":   status,
		"title":    fmt.Sprintf("Provider primary error rate %.0f%% on route chat", 100*rate),
		"severity": "critical",
		"labels":   map[string]string{"alertname": alertName, "route": demoRoute, "provider": primary, "service": "demo-chat"},
		"annotations": map[string]string{
			"summary": "the demo app sees 5xx / 429 from the primary provider",
		},
	})
	if err != nil {
		return hookResponse{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, httpURL+"/hooks/generic", bytes.NewReader(body))
	if err != nil {
		return hookResponse{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return hookResponse{}, fmt.Errorf("post the alert: %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return hookResponse{}, fmt.Errorf("quench refused the alert: %d %s", resp.StatusCode, data)
	}
	var hr hookResponse
	if err := json.Unmarshal(data, &hr); err != nil {
		return hookResponse{}, fmt.Errorf("quench's answer to the alert: %w", err)
	}
	return hr, nil
}
