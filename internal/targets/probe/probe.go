// Package probe measures one provider directly: it sends a few requests to a configured
// URL now and reports their error rate and p95 latency. After a fail over no app traffic
// reaches the old primary, so a fail back judged on traffic sees only the outage's own
// errors; a probe sees the provider as it is.
package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/ports"
)

// parallel bounds the requests in flight, so MaxProbeRequests at MaxProbeTimeout fit in the
// health activity's minute.
const parallel = 5

// maxBody caps how much of an answer is read (and thrown away) so the connection is reused.
const maxBody = 64 << 10

// Probe is one provider's probe. It implements ports.ProviderHealthSource.
type Probe struct {
	cfg    config.Probe
	host   string
	client *http.Client
	// Secret resolves a header's secret reference at each measurement, so a rotated key is
	// picked up; nil: config.Secret.
	Secret func(ref string) (string, error)
}

// New is the probe of a validated config.Probe. client nil: its own client, which never
// follows redirects (a 3xx counts as its status and headers never go to another host).
func New(cfg config.Probe, client *http.Client) (*Probe, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" {
		return nil, errors.New("probe: the url is not an http(s) URL with a host")
	}
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &Probe{cfg: cfg, host: u.Host, client: client}, nil
}

// Source names the probe in a figure: its host only, never the path or query (a key may be
// in it).
func (p *Probe) Source() string { return "probe " + p.host }

// ProviderHealth sends the configured requests now. in.Window is not used: a probe measures
// the present. Every request that got no answer (refused, timed out) is an error; when none
// got an answer the provider is unreachable and nothing was measured: the error says why.
func (p *Probe) ProviderHealth(ctx context.Context, in ports.HealthInput) (ports.HealthFigure, error) {
	headers, err := p.headers()
	if err != nil {
		return ports.HealthFigure{}, err
	}
	n := p.cfg.RequestsOrDefault()
	type answer struct {
		status  int
		latency time.Duration
		err     error
	}
	answers := make([]answer, n)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				answers[i].err = ctx.Err()
				return
			}
			defer func() { <-sem }()
			status, lat, err := p.once(ctx, headers)
			answers[i] = answer{status, lat, err}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return ports.HealthFigure{}, err
	}
	fig := ports.HealthFigure{Requests: n, Source: p.Source(), Probe: true}
	var lats []float64
	var lastErr error
	answered := 0
	for _, a := range answers {
		if a.err != nil {
			fig.Errors++
			lastErr = a.err
			continue
		}
		answered++
		lats = append(lats, float64(a.latency.Microseconds())/1000)
		if !slices.Contains(p.cfg.ExpectOrDefault(), a.status) {
			fig.Errors++
		}
	}
	if answered == 0 {
		return ports.HealthFigure{}, fmt.Errorf("%s: no answer to any of %d requests (last: %s): check the probe's url and that the provider is reachable from quench", p.Source(), n, lastErr)
	}
	fig.ErrorRate = float64(fig.Errors) / float64(n)
	fig.LatencyP95Ms = p95(lats)
	return fig, nil
}

// once sends one request; the error is only for no answer at all, and never names the URL.
func (p *Probe) once(ctx context.Context, headers http.Header) (int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.TimeoutOrDefault())
	defer cancel()
	var body io.Reader
	if p.cfg.Body != "" {
		body = strings.NewReader(p.cfg.Body)
	}
	req, err := http.NewRequestWithContext(ctx, p.cfg.MethodOrDefault(), p.cfg.URL, body)
	if err != nil {
		return 0, 0, errors.New("the request could not be built from the probe's url")
	}
	req.Header = headers.Clone()
	if p.cfg.Body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "quench-probe")
	start := time.Now()
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, 0, noAnswer(err, p.cfg.TimeoutOrDefault())
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	_ = resp.Body.Close()
	return resp.StatusCode, time.Since(start), nil
}

// noAnswer words a transport error without the URL (*url.Error carries it, query and all).
func noAnswer(err error, timeout time.Duration) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Errorf("timed out after %s", timeout)
		}
		err = ue.Err
	}
	return err
}

func (p *Probe) headers() (http.Header, error) {
	secret := p.Secret
	if secret == nil {
		secret = config.Secret
	}
	h := http.Header{}
	for name, ref := range p.cfg.Headers {
		v, err := secret(ref)
		if err != nil {
			// The reference (env:NAME) is named, never a value; asking again cannot help.
			return nil, ports.Permanentf("%s: header %s: %v", p.Source(), name, err)
		}
		h.Set(name, strings.TrimSpace(v))
	}
	return h, nil
}

// p95 is the nearest-rank 95th percentile.
func p95(ms []float64) float64 {
	if len(ms) == 0 {
		return 0
	}
	sort.Float64s(ms)
	i := int(math.Ceil(0.95*float64(len(ms)))) - 1
	return ms[max(i, 0)]
}

// Set is the configured probes by provider name.
type Set map[string]*Probe

// NewSet builds the probes of a validated config.
func NewSet(cfgs map[string]config.Probe) (Set, error) {
	s := Set{}
	for name, c := range cfgs {
		p, err := New(c, nil)
		if err != nil {
			return nil, fmt.Errorf("probes.%s: %w", name, err)
		}
		s[name] = p
	}
	return s, nil
}

// For is the probe of a provider, if one is configured.
func (s Set) For(provider string) (ports.ProviderHealthSource, bool) {
	p, ok := s[provider]
	if !ok {
		return nil, false
	}
	return p, true
}
