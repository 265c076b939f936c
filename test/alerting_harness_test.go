package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/quench-dev/quench/internal/syncbuf"
)

// The real Prometheus and Alertmanager, as Debian packages them (.ci/run installs them).
const installHint = "install them with: apt-get install prometheus prometheus-alertmanager (.ci/run does)"

// lookBinary finds the first of names on PATH; the alerting tests fail, not skip, without it.
func lookBinary(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	t.Fatalf("none of %v is on PATH: %s", names, installHint)
	return ""
}

// childProcess is a Prometheus or Alertmanager run by a test: killed on cleanup, its output
// printed if the test failed.
type childProcess struct {
	name string
	cmd  *exec.Cmd
	logs *syncbuf.Buffer
	done chan struct{}
	err  error
}

func startChild(t *testing.T, name, bin string, args ...string) *childProcess {
	t.Helper()
	c := &childProcess{name: name, cmd: exec.Command(bin, args...), logs: &syncbuf.Buffer{}, done: make(chan struct{})}
	c.cmd.Stdout, c.cmd.Stderr = c.logs, c.logs
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		c.kill()
		if t.Failed() {
			t.Logf("%s output:\n%s", c.name, c.logs.String())
		}
	})
	return c
}

func (c *childProcess) kill() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// waitReady polls url until it answers 200, failing early if the process exits.
func (c *childProcess) waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-c.done:
			t.Fatalf("%s exited before it was ready: %v\n%s", c.name, c.err, c.logs.String())
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready at %s within a minute (last error %v):\n%s", c.name, url, err, c.logs.String())
		}
	}
}

// llmGateway is the metrics endpoint Prometheus scrapes: an LLM gateway whose primary
// provider on route chat fails half its requests while failing is set. Every scrape is
// a hundred more requests, so the counters' rate follows the switch within a few scrapes.
type llmGateway struct {
	failing atomic.Bool
	mu      sync.Mutex
	ok, bad int
	server  *httptest.Server
}

func newLLMGateway(t *testing.T) *llmGateway {
	g := &llmGateway{}
	g.server = httptest.NewServer(http.HandlerFunc(g.metrics))
	t.Cleanup(g.server.Close)
	return g
}

func (g *llmGateway) metrics(w http.ResponseWriter, _ *http.Request) {
	g.mu.Lock()
	if g.failing.Load() {
		g.ok, g.bad = g.ok+50, g.bad+50
	} else {
		g.ok += 100
	}
	ok, bad := g.ok, g.bad
	g.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintln(w, "# TYPE llm_requests_total counter")
	fmt.Fprintf(w, "llm_requests_total{provider=\"primary\",model=\"m1\",route=\"chat\",status=\"200\"} %d\n", ok)
	fmt.Fprintf(w, "llm_requests_total{provider=\"primary\",model=\"m1\",route=\"chat\",status=\"503\"} %d\n", bad)
}

// hostPort is the gateway's address as a Prometheus target.
func (g *llmGateway) hostPort() string { return g.server.Listener.Addr().String() }

const deployDir = "../deploy/alertmanager"

var rangeWindow = regexp.MustCompile(`\[\d+[smhd]\]`)

// fastErrorRateRule is the shipped LLMProviderErrorRateHigh rule with its windows cut to
// seconds and no `for`, so the alert fires and resolves within seconds of the metrics.
func fastErrorRateRule(t *testing.T) []byte {
	t.Helper()
	var file struct {
		Groups []struct {
			Name  string           `yaml:"name"`
			Rules []map[string]any `yaml:"rules"`
		} `yaml:"groups"`
	}
	readYAML(t, filepath.Join(deployDir, "rules", "llm.rules.yml"), &file)
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			if r["alert"] != "LLMProviderErrorRateHigh" {
				continue
			}
			expr, _ := r["expr"].(string)
			fast := rangeWindow.ReplaceAllString(expr, "[5s]")
			if fast == expr {
				t.Fatalf("LLMProviderErrorRateHigh has no range window to shorten: %q", expr)
			}
			r["expr"], r["for"] = fast, "0s"
			return mustYAML(t, map[string]any{"groups": []any{map[string]any{"name": "llm-provider-fast", "rules": []any{r}}}})
		}
	}
	t.Fatal("no LLMProviderErrorRateHigh rule in deploy/alertmanager/rules/llm.rules.yml")
	return nil
}

// startPrometheus scrapes target every second and evaluates rules every second, sending
// alerts to the Alertmanager at amAddr.
func startPrometheus(t *testing.T, rules []byte, target, amAddr string) *childProcess {
	t.Helper()
	bin := lookBinary(t, "prometheus")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules.yml"), string(rules))
	writeFile(t, filepath.Join(dir, "prometheus.yml"), string(mustYAML(t, map[string]any{
		"global":     map[string]any{"scrape_interval": "1s", "evaluation_interval": "1s"},
		"rule_files": []string{filepath.Join(dir, "rules.yml")},
		"alerting": map[string]any{"alertmanagers": []any{
			map[string]any{"static_configs": []any{map[string]any{"targets": []string{amAddr}}}},
		}},
		"scrape_configs": []any{map[string]any{
			"job_name":       "llm-gateway",
			"static_configs": []any{map[string]any{"targets": []string{target}}},
		}},
	})))
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := startChild(t, "prometheus", bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		// Send a firing alert's refresh every second, not every minute.
		"--rules.alert.resend-delay=1s",
	)
	p.waitReady(t, "http://"+addr+"/-/ready")
	return p
}

// alertmanagerConfig is the shipped alertmanager.yml pointed at hookURL with the bearer
// token in tokenFile, and its quench route's timers cut to a second.
func alertmanagerConfig(t *testing.T, hookURL, tokenFile string) []byte {
	t.Helper()
	var cfg map[string]any
	readYAML(t, filepath.Join(deployDir, "alertmanager.yml"), &cfg)
	route, _ := cfg["route"].(map[string]any)
	routes, _ := route["routes"].([]any)
	found := false
	for _, r := range routes {
		r, _ := r.(map[string]any)
		if r["receiver"] == "quench" {
			r["group_wait"], r["group_interval"], r["repeat_interval"] = "1s", "1s", "1h"
			found = true
		}
	}
	if !found {
		t.Fatal("deploy/alertmanager/alertmanager.yml has no route to the quench receiver")
	}
	found = false
	receivers, _ := cfg["receivers"].([]any)
	for _, rc := range receivers {
		rc, _ := rc.(map[string]any)
		if rc["name"] != "quench" {
			continue
		}
		hooks, _ := rc["webhook_configs"].([]any)
		if len(hooks) != 1 {
			t.Fatalf("the quench receiver has %d webhook_configs, want 1", len(hooks))
		}
		hook, _ := hooks[0].(map[string]any)
		hook["url"] = hookURL
		httpCfg, _ := hook["http_config"].(map[string]any)
		auth, _ := httpCfg["authorization"].(map[string]any)
		if auth == nil {
			t.Fatal("the quench receiver has no http_config.authorization")
		}
		auth["credentials_file"] = tokenFile
		found = true
	}
	if !found {
		t.Fatal("deploy/alertmanager/alertmanager.yml has no quench receiver")
	}
	return mustYAML(t, cfg)
}

// startAlertmanager runs a single, unclustered Alertmanager with config.
func startAlertmanager(t *testing.T, config []byte) (*childProcess, string) {
	t.Helper()
	bin := lookBinary(t, "prometheus-alertmanager", "alertmanager")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "alertmanager.yml"), string(config))
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	am := startChild(t, "alertmanager", bin,
		"--config.file="+filepath.Join(dir, "alertmanager.yml"),
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--cluster.listen-address=", // no gossip: one instance, no port 9094
	)
	am.waitReady(t, "http://"+addr+"/-/ready")
	return am, addr
}

// webhookCall is one request Alertmanager made to the quench receiver.
type webhookCall struct {
	Authorization string
	ContentType   string
	Body          []byte
	Status        int // what the upstream answered (0 when there is none)
}

// webhookTap records each request to the quench receiver and, when upstream is set,
// forwards it there and records the answer: the test sees exactly what Alertmanager sent
// and what quench said back.
type webhookTap struct {
	calls    chan webhookCall
	upstream string
	server   *httptest.Server
}

func newWebhookTap(t *testing.T, upstream string) *webhookTap {
	tap := &webhookTap{calls: make(chan webhookCall, 100), upstream: upstream}
	tap.server = httptest.NewServer(http.HandlerFunc(tap.serve))
	t.Cleanup(tap.server.Close)
	return tap
}

func (tap *webhookTap) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	call := webhookCall{Authorization: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type"), Body: body}
	if tap.upstream == "" {
		call.Status = http.StatusOK
		w.WriteHeader(http.StatusOK)
	} else {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, tap.upstream+r.URL.Path, bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			call.Status = http.StatusBadGateway
		} else {
			answer, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			call.Status = resp.StatusCode
			w.WriteHeader(resp.StatusCode)
			_, _ = w.Write(answer)
		}
	}
	select {
	case tap.calls <- call:
	default: // a test that stopped listening does not block Alertmanager
	}
}

// url is the webhook URL to give Alertmanager.
func (tap *webhookTap) url() string { return tap.server.URL + "/hooks/alertmanager" }

// next waits for Alertmanager's next notification.
func (tap *webhookTap) next(t *testing.T, what string) webhookCall {
	t.Helper()
	select {
	case c := <-tap.calls:
		return c
	case <-time.After(2 * time.Minute):
		t.Fatalf("Alertmanager sent no %s notification within 2 minutes", what)
		return webhookCall{}
	}
}

// pollUntil evaluates cond every 200ms until it is true or the deadline passes.
func pollUntil(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not within %s", what, within)
		case <-tick.C:
		}
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func mustYAML(t *testing.T, v any) []byte {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
