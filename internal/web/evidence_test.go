package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/evidence/bundle"
	"github.com/quench-dev/quench/internal/evidence/report"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/workflows"
)

// evidenceOf is a bundle with two groups, a change and a sample whose text tries to be HTML.
func evidenceOf(t testing.TB) ([]byte, ports.EvidenceRef) {
	var b bundle.Bundle
	b.Schema = bundle.Schema
	b.Headline = ports.TrafficHeadline{Requests: 120, BaselineRequests: 600, ErrorRate: 0.42, BaselineErrorRate: 0.01, TopChange: "error rate of openai rose 41 points"}
	b.Manifest = bundle.Manifest{Source: "jsonl:/var/log/llm.jsonl", Route: "chat", Redaction: "emails and keys masked in 1 sample",
		Window: bundle.Span{From: t0, To: t0.Add(10 * time.Minute)}, Baseline: bundle.Span{From: t0.Add(-time.Hour), To: t0}}
	b.Groups = []bundle.Group{
		{Provider: "openai", ResponseModel: "gpt-4o", PromptName: "support", PromptVersion: "7",
			Incident: bundle.Stats{Requests: 100, ErrorRate: 0.5, LatencyMs: &bundle.Percentiles{P95: 2400}, OutputTokens: &bundle.TokenStats{Mean: 80}, CostPerRequest: 0.002},
			Baseline: bundle.Stats{Requests: 500, ErrorRate: 0.01, LatencyMs: &bundle.Percentiles{P95: 900}, OutputTokens: &bundle.TokenStats{Mean: 310}, CostPerRequest: 0.004}},
		{Provider: "anthropic", ResponseModel: "claude", Incident: bundle.Stats{Requests: 20}, Baseline: bundle.Stats{Requests: 100}},
	}
	b.Changes = []bundle.Change{{Kind: "error_rate", Text: "error rate of openai rose from 1.0% to 50.0%"}}
	b.Samples = []bundle.Sample{{Time: t0.Add(time.Minute), Provider: "openai", ResponseModel: "gpt-4o", ErrorType: "rate_limit", Input: "<script>alert(1)</script> [email]", Output: ""}}
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return data, ports.EvidenceRef{Name: "traffic", URI: "dir:traffic.json", SHA256: hex.EncodeToString(sum[:]), Bytes: int64(len(data))}
}

func storeOf(data []byte, ref ports.EvidenceRef) report.Source {
	return report.SourceFunc(func(_ context.Context, incident, name string) (ports.EvidenceRef, []byte, bool, error) {
		if incident != incID || name != ref.Name {
			return ports.EvidenceRef{}, nil, false, nil
		}
		return ref, data, true, nil
	})
}

func TestEvidencePage(t *testing.T) {
	data, ref := evidenceOf(t)
	e := newEnv(t, func(o *Options) { o.Evidence = storeOf(data, ref) })
	st := waiting(incID)
	st.Evidence = []ports.EvidenceRef{ref}
	e.fake.Add(st)
	code, page, _ := e.get(e.browser(), "/incidents/1a2b3c/evidence")
	if code != http.StatusOK {
		t.Fatalf("%d\n%s", code, page)
	}
	for _, want := range []string{"What changed most", "error rate of openai rose from 1.0% to 50.0%", "sha256 " + ref.SHA256, "verified",
		`<svg class="chart"`, "Error rate", "Latency p95 (ms)", "Output tokens (mean)", "Cost per request (USD)",
		"openai / gpt-4o / support@7", "50.0%", "2400", "&lt;script&gt;alert(1)&lt;/script&gt; [email]", "emails and keys masked"} {
		if !strings.Contains(page, want) {
			t.Errorf("evidence page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>alert") {
		t.Error("a sample's text went into the page unescaped")
	}
}

func TestEvidencePageSaysWhatIsWrong(t *testing.T) {
	data, ref := evidenceOf(t)
	tampered := append([]byte(nil), data...)
	tampered[len(tampered)-2] = ' '
	for name, c := range map[string]struct {
		src  report.Source
		want string
	}{
		"no store": {nil, "no evidence store"},
		"changed":  {storeOf(tampered, ref), "was changed after capture"},
		"not in it": {report.SourceFunc(func(context.Context, string, string) (ports.EvidenceRef, []byte, bool, error) {
			return ports.EvidenceRef{}, nil, false, nil
		}), "is not in the evidence store"},
		"store fails": {report.SourceFunc(func(context.Context, string, string) (ports.EvidenceRef, []byte, bool, error) {
			return ports.EvidenceRef{}, nil, false, fmt.Errorf("disk on fire")
		}), "disk on fire"},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, func(o *Options) { o.Evidence = c.src })
			st := waiting(incID)
			st.Evidence = []ports.EvidenceRef{ref}
			e.fake.Add(st)
			code, page, _ := e.get(e.browser(), "/incidents/1a2b3c/evidence")
			if code != http.StatusOK || !strings.Contains(page, c.want) || strings.Contains(page, "<svg") {
				t.Errorf("%d, want %q:\n%s", code, c.want, page)
			}
		})
	}
	e := newEnv(t, nil)
	e.fake.Add(waiting(incID))
	if _, page, _ := e.get(e.browser(), "/incidents/1a2b3c/evidence"); !strings.Contains(page, "no evidence bundle yet") {
		t.Error("an incident without evidence does not say so")
	}
}

func TestPostmortemPageAndMarkdown(t *testing.T) {
	data, ref := evidenceOf(t)
	e := newEnv(t, func(o *Options) { o.Evidence = storeOf(data, ref) })
	st := waiting(incID)
	st.Evidence = []ports.EvidenceRef{ref}
	e.fake.Add(st)
	c := e.browser()
	e.signIn(c, aliceTk)
	_, page, _ := e.get(c, "/incidents/1a2b3c")
	e.post(c, "/incidents/1a2b3c/decide", map[string][]string{"csrf": {csrfOf(t, page)}, "step_id": {"failback"}, "digest": {digest}, "verdict": {"approve"}})
	e.fake.Close(incID, workflows.StateResolved)

	code, page, _ := e.get(c, "/incidents/1a2b3c/postmortem")
	if code != http.StatusOK {
		t.Fatalf("%d\n%s", code, page)
	}
	for _, want := range []string{"Postmortem: Provider outage on chat", `href="/incidents/1a2b3c/postmortem.md"`, "<b>api:alice</b>", "error rate of openai rose 41 points", "Temporal Web UI"} {
		if !strings.Contains(page, want) {
			t.Errorf("postmortem page lacks %q", want)
		}
	}
	code, md, hdr := e.get(c, "/incidents/1a2b3c/postmortem.md")
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/markdown") || hdr.Get("Content-Disposition") != `attachment; filename="postmortem-1a2b3c.md"` {
		t.Fatalf("markdown: %d %v", code, hdr)
	}
	if !strings.HasPrefix(md, "# ") || !strings.Contains(md, "api:alice") {
		t.Errorf("markdown:\n%s", md)
	}
}

// BenchmarkList1000 renders the list of 1,000 incidents (the most it reads), server time
// only: go test ./internal/web -run x -bench List1000 -benchmem
func BenchmarkList1000(b *testing.B) {
	e := newEnv(b, nil)
	states := []string{workflows.StateRunning, workflows.StateAwaiting, "verifying", workflows.StateResolved, workflows.StateAborted, workflows.StateFailed}
	for i := 0; i < 1000; i++ {
		st := waiting(fmt.Sprintf("inc-provider-outage-%016x", 0x100000+i))
		st.State, st.StartedAt = states[i%len(states)], t0.Add(time.Duration(i)*time.Minute)
		st.Service = fmt.Sprintf("svc-%d", i%20)
		if i%3 == 0 {
			at := st.StartedAt.Add(time.Hour)
			st.ClosedAt = &at
		}
		e.fake.Add(st)
	}
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req = req.WithContext(context.WithValue(context.Background(), http.LocalAddrContextKey, fakeAddr{}))
	req.Host = "127.0.0.1:8080"
	mux := http.NewServeMux()
	e.h.Register(mux)
	rows, _ := e.fake.List(context.Background(), incidents.ListFilter{Limit: listLimit})
	if len(rows) != 1000 {
		b.Fatalf("%d rows", len(rows))
	}
	// The floor, measured in the same loop: the same 1,000 rows as the JSON the API's list
	// answers (listing them from the client and encoding them), so the figure says what the
	// page's HTML costs on top of reading the incidents at all.
	b.ResetTimer()
	var page, floor time.Duration
	for i := 0; i < b.N; i++ {
		begin := time.Now()
		w := &countingWriter{header: http.Header{}}
		mux.ServeHTTP(w, req)
		page += time.Since(begin)
		if w.code != http.StatusOK || w.n < 100000 {
			b.Fatalf("%d, %d bytes", w.code, w.n)
		}
		begin = time.Now()
		listed, err := e.fake.List(context.Background(), incidents.ListFilter{Limit: listLimit})
		if err != nil {
			b.Fatal(err)
		}
		if err := json.NewEncoder(&countingWriter{header: http.Header{}}).Encode(listed); err != nil {
			b.Fatal(err)
		}
		floor += time.Since(begin)
	}
	perPage := float64(page.Microseconds()) / 1000 / float64(b.N)
	perFloor := float64(floor.Microseconds()) / 1000 / float64(b.N)
	b.ReportMetric(perPage, "ms/page")
	b.ReportMetric(perFloor, "ms/floor")
	b.Logf("1,000 incidents: %.1f ms of server time per list page; floor (list + JSON, as the API answers) %.1f ms: %.2f×", perPage, perFloor, perPage/perFloor)
}

type fakeAddr struct{}

func (fakeAddr) Network() string { return "tcp" }
func (fakeAddr) String() string  { return "127.0.0.1:8080" }

type countingWriter struct {
	header http.Header
	code   int
	n      int
}

func (w *countingWriter) Header() http.Header  { return w.header }
func (w *countingWriter) WriteHeader(code int) { w.code = code }
func (w *countingWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}
