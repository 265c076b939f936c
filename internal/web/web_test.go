package web

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/incidents/incidentsfake"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store/storetest"
	"github.com/quench-dev/quench/internal/trust"
	"github.com/quench-dev/quench/workflows"
)

const (
	incID   = "inc-provider-outage-00000000001a2b3c"
	digest  = "aaaaaaaa11111111111111111111111111111111111111111111111111111111"
	aliceTk = "alice-token-0123456789"
	bobTk   = "bob-token-9876543210"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// waiting is an incident started by an alert, waiting for the fail-back approval.
func waiting(id string) workflows.Status {
	started, ended := t0.Add(time.Second), t0.Add(3*time.Second)
	return workflows.Status{IncidentID: id, Runbook: "provider-outage", Title: "Provider outage on chat", State: workflows.StateAwaiting,
		Severity: "critical", Service: "chat", Requester: "alertmanager", Source: "alertmanager", StartedAt: t0,
		Params: map[string]string{"route": "chat"},
		Steps: []workflows.StepState{
			{ID: "switch", Action: "gateway.switch", State: workflows.StepDone, Summary: "chat now on fallback", StartedAt: &started, EndedAt: &ended},
			{ID: "failback", Action: "gateway.restore", State: workflows.StepAwaiting}},
		Pending: []workflows.PendingApproval{{StepID: "failback", Action: "gateway.restore", Prompt: "Fail back to primary?",
			Params: map[string]string{"route": "chat", "to": "primary"}, Digest: digest, Groups: []string{"sre"}, Quorum: 1}},
		Timeline: []workflows.Event{{At: t0, Kind: workflows.EventStarted, Actor: "alertmanager", Text: "started by an alert"}}}
}

type env struct {
	t    testing.TB
	fake *incidentsfake.Fake
	h    *Handler
	srv  *httptest.Server
}

func newEnv(t testing.TB, mod func(*Options)) *env {
	t.Helper()
	fake := incidentsfake.New(nil)
	fake.Now = func() time.Time { return t0.Add(time.Minute) }
	people, err := trust.NewPeople(map[string][]string{"Alice": {"api:alice"}})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Incidents: fake, OpenRead: true, Tokens: map[string]string{"api:alice": aliceTk, "api:bob": bobTk},
		People: people, UIURL: "http://127.0.0.1:8233", Namespace: "default",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if mod != nil {
		mod(&opts)
	}
	if opts.Store == nil {
		opts.Store = storetest.SQLite(t)
	}
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { h.Close(); srv.Close() })
	return &env{t: t, fake: fake, h: h, srv: srv}
}

// browser is a client with its own cookies that does not follow redirects.
func (e *env) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (e *env) get(c *http.Client, path string) (int, string, http.Header) {
	e.t.Helper()
	resp, err := c.Get(e.srv.URL + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func (e *env) post(c *http.Client, path string, form url.Values) (int, string, http.Header) {
	e.t.Helper()
	resp, err := c.PostForm(e.srv.URL+path, form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

var (
	hiddenCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	loginCSRF  = regexp.MustCompile(`name="login_csrf" value="([^"]+)"`)
)

func loginCSRFOf(t testing.TB, page string) string {
	t.Helper()
	m := loginCSRF.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no login_csrf field in the page:\n%s", page)
	}
	return m[1]
}

func csrfOf(t testing.TB, page string) string {
	t.Helper()
	m := hiddenCSRF.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf field in the page:\n%s", page)
	}
	return m[1]
}

// signIn signs c in with an API token through the sign-in form.
func (e *env) signIn(c *http.Client, token string) {
	e.t.Helper()
	code, page, _ := e.get(c, "/login")
	if code != http.StatusOK {
		e.t.Fatalf("GET /login: %d", code)
	}
	code, body, hdr := e.post(c, "/login", url.Values{"login_csrf": {loginCSRFOf(e.t, page)}, "token": {token}, "next": {"/"}})
	if code != http.StatusSeeOther || hdr.Get("Location") != "/" {
		e.t.Fatalf("sign-in: %d %s\n%s", code, hdr.Get("Location"), body)
	}
}

func TestListShowsOpenFirstWithBadgesAndFilters(t *testing.T) {
	e := newEnv(t, nil)
	closed := waiting("inc-provider-outage-0000000000aaaaa1")
	closed.State, closed.Pending = workflows.StateResolved, nil
	closedAt := t0.Add(time.Hour)
	closed.ClosedAt, closed.StartedAt = &closedAt, t0.Add(30*time.Minute) // newer, but closed
	e.fake.Add(closed)
	e.fake.Add(waiting(incID))
	other := waiting("inc-quality-drop-0000000000bbbbb2")
	other.Runbook, other.Service, other.State, other.Pending = "quality-drop", "search", "brand_new_state", nil
	e.fake.Add(other)

	code, page, hdr := e.get(e.browser(), "/")
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", code, hdr.Get("Content-Type"))
	}
	open1, open2, closedRow := strings.Index(page, ">1a2b3c<"), strings.Index(page, ">bbbbb2<"), strings.Index(page, ">aaaaa1<")
	if open1 < 0 || open2 < 0 || closedRow < 0 || closedRow < open1 || closedRow < open2 {
		t.Fatalf("open incidents must come before closed ones (positions %d %d %d):\n%s", open1, open2, closedRow, page)
	}
	for _, want := range []string{`class="badge b-wait" data-state="awaiting_approval">awaiting approval<`,
		`class="badge b-ok" data-state="resolved">resolved<`,
		`class="badge b-other" data-state="brand_new_state">brand new state<`, "2 open, 1 closed"} {
		if !strings.Contains(page, want) {
			t.Errorf("list lacks %q", want)
		}
	}
	for _, c := range []struct{ query, in, out string }{
		{"runbook=quality-drop", ">bbbbb2<", ">1a2b3c<"},
		{"state=resolved", ">aaaaa1<", ">bbbbb2<"},
		{"service=search", ">bbbbb2<", ">aaaaa1<"},
		{"q=1a2b", ">1a2b3c<", ">bbbbb2<"},
		{"q=inc-quality", ">bbbbb2<", ">1a2b3c<"},
	} {
		_, page := func() (int, string) { c, p, _ := e.get(e.browser(), "/?"+c.query); return c, p }()
		if !strings.Contains(page, c.in) || strings.Contains(page, c.out) {
			t.Errorf("/?%s: want %s and not %s", c.query, c.in, c.out)
		}
	}
	_, page, _ = e.get(e.browser(), "/?q=ffffff")
	if !strings.Contains(page, "No incident matches these filters") {
		t.Error("a search without matches says so")
	}
}

func TestListAnswersTemporalDown(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.Fail("List", incidents.Unavailable(context.DeadlineExceeded))
	code, page, hdr := e.get(e.browser(), "/")
	if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || !strings.Contains(page, "Temporal is unreachable") {
		t.Fatalf("got %d %q:\n%s", code, hdr.Get("Retry-After"), page)
	}
}

func TestIncidentPageNotFound(t *testing.T) {
	e := newEnv(t, nil)
	for _, path := range []string{"/incidents/abcdef", "/incidents/inc-nope-000000000000", "/incidents/%3Cscript%3E", "/incidents/abcdef/evidence", "/incidents/abcdef/postmortem",
		"/incidents/abcdef/postmortem.md", "/incidents/abcdef/live"} {
		code, page, _ := e.get(e.browser(), path)
		if code != http.StatusNotFound || !strings.Contains(page, "No such incident") || strings.Contains(page, "<script>") {
			t.Errorf("%s: %d\n%s", path, code, page)
		}
	}
}

func TestIncidentPageNotSignedInHasNoButtonsAndASignInLink(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.Add(waiting(incID))
	code, page, _ := e.get(e.browser(), "/incidents/1a2b3c")
	if code != http.StatusOK {
		t.Fatalf("%d\n%s", code, page)
	}
	for _, want := range []string{"Provider outage on chat", "by <b>alertmanager</b> from alertmanager", "Fail back to primary?", digest,
		`<th>to</th><td><code>primary</code></td>`, "chat now on fallback", "2.0 s", `href="/login?next=%2fincidents%2f1a2b3c"`,
		`href="http://127.0.0.1:8233/namespaces/default/workflows/` + incID + `"`, `data-live="/incidents/1a2b3c/live"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, `class="approve"`) || strings.Contains(page, `action="/incidents/1a2b3c/decide"`) {
		t.Error("a visitor who is not signed in sees decision buttons")
	}
	// A decision without a session is refused, whatever the form says.
	code, _, _ = e.post(e.browser(), "/incidents/1a2b3c/decide", url.Values{"verdict": {"approve"}, "step_id": {"failback"}, "digest": {digest}})
	if code != http.StatusUnauthorized {
		t.Errorf("decide without a session: %d", code)
	}
	if got := e.fake.Methods(); contains(got, "Decide") {
		t.Errorf("a decision reached the client: %v", got)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestIncidentLinksSlackThreadAndRollbackPR(t *testing.T) {
	e := newEnv(t, nil)
	st := waiting(incID)
	st.Chat = &ports.ChatRef{Channel: "C0123ABC", TS: "1700000000.123456"}
	st.Steps[0].Links = []ports.Link{{Name: "rollback PR #42", URL: "https://github.com/acme/prompts/pull/42"}, {Name: "bad", URL: "javascript:alert(1)"}}
	e.fake.Add(st)
	_, page, _ := e.get(e.browser(), "/incidents/1a2b3c")
	for _, want := range []string{`href="https://slack.com/archives/C0123ABC/p1700000000123456"`, ">Slack thread<",
		`href="https://github.com/acme/prompts/pull/42"`, "rollback PR #42 (step switch)"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "javascript:") {
		t.Error("a javascript: link from a step reached the page")
	}
	st.IncidentID, st.Chat = "inc-provider-outage-0000000000ffff01", &ports.ChatRef{Channel: "C1\"><script>", TS: "1"}
	e.fake.Add(st)
	if _, page, _ = e.get(e.browser(), "/incidents/ffff01"); strings.Contains(page, "Slack thread") {
		t.Error("a chat place of the wrong shape became a link")
	}
}

// A step verifying its change shows what it waits for and what it measured last.
func TestIncidentShowsTheVerify(t *testing.T) {
	e := newEnv(t, nil)
	st := waiting(incID)
	st.State, st.Pending = workflows.StateVerifying, nil
	st.Steps[0].State = workflows.StepVerifying
	st.Verifying = &workflows.Verifying{StepID: "switch", Signal: "error_rate", Condition: "error_rate below 0.05 over at least 20 requests",
		Deadline: t0.Add(5 * time.Minute), Polls: 3, Last: &workflows.Measurement{At: t0.Add(time.Minute), Value: 0.12, Requests: 8}}
	e.fake.Add(st)
	_, page, _ := e.get(e.browser(), "/incidents/1a2b3c")
	for _, want := range []string{`id="verifying-switch"`, "error_rate below 0.05 over at least 20 requests", "3 measurement(s)",
		"0.12 over 8 request(s) (not enough to judge yet)", `class="badge b-verify" data-state="verifying"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestClosedIncidentHasNoButtons(t *testing.T) {
	e := newEnv(t, nil)
	st := waiting(incID)
	e.fake.Add(st)
	e.fake.Close(incID, workflows.StateAborted)
	c := e.browser()
	e.signIn(c, aliceTk)
	_, page, _ := e.get(c, "/incidents/1a2b3c")
	if strings.Contains(page, `class="approve"`) || strings.Contains(page, "Waiting for approval") {
		t.Errorf("a closed incident shows decision buttons:\n%s", page)
	}
	if !strings.Contains(page, `data-state="aborted"`) {
		t.Error("the closed state is not shown")
	}
}

func TestApproveThroughTheSignedDecisionPath(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.Add(waiting(incID))
	alice, bob := e.browser(), e.browser()
	e.signIn(alice, aliceTk)
	e.signIn(bob, bobTk)
	_, alicePage, _ := e.get(alice, "/incidents/1a2b3c")
	_, bobPage, _ := e.get(bob, "/incidents/1a2b3c")
	if !strings.Contains(alicePage, `class="approve"`) {
		t.Fatalf("a signed-in person sees no Approve button:\n%s", alicePage)
	}
	aliceCSRF, bobCSRF := csrfOf(t, alicePage), csrfOf(t, bobPage)
	form := func(csrf, verdict, reason string) url.Values {
		return url.Values{"csrf": {csrf}, "step_id": {"failback"}, "digest": {digest}, "verdict": {verdict}, "reason": {reason}}
	}
	// Another session's CSRF token does not pass.
	if code, _, _ := e.post(alice, "/incidents/1a2b3c/decide", form(bobCSRF, "approve", "")); code != http.StatusForbidden {
		t.Errorf("alice with bob's CSRF token: %d", code)
	}
	if contains(e.fake.Methods(), "Decide") {
		t.Fatal("a decision with a wrong CSRF token reached the client")
	}
	code, _, hdr := e.post(alice, "/incidents/1a2b3c/decide", form(aliceCSRF, "approve", ""))
	if code != http.StatusSeeOther {
		t.Fatalf("approve: %d", code)
	}
	var d workflows.Decision
	for _, call := range e.fake.Calls() {
		if call.Method == "Decide" {
			d = call.Arg.(workflows.Decision)
		}
	}
	if d.Approver != "api:alice" || d.Via != "web" || d.Verdict != "approve" || d.StepID != "failback" || d.Digest != digest {
		t.Errorf("decision sent: %+v", d)
	}
	if hdr.Get("Location") != "/incidents/1a2b3c" {
		t.Errorf("after approving, sent to %q", hdr.Get("Location"))
	}
	_, page, _ := e.get(alice, hdr.Get("Location"))
	if !strings.Contains(page, "step failback: approved by alice (api:alice)") || strings.Contains(page, `class="approve"`) {
		t.Errorf("after approving:\n%s", page)
	}
	if _, page, _ = e.get(alice, "/incidents/1a2b3c"); strings.Contains(page, `id="flash"`) {
		t.Error("the outcome is shown more than once")
	}
	if _, page, _ = e.get(alice, "/incidents/1a2b3c?decided=approved+by+the+CEO"); strings.Contains(page, "the CEO") {
		t.Error("a link made the page claim a decision")
	}
	// Bob clicks on the page he loaded before: he learns who decided.
	code, page, _ = e.post(bob, "/incidents/1a2b3c/decide", form(bobCSRF, "reject", "too early"))
	if code < 400 || !strings.Contains(page, "was decided by <b>api:alice</b>") {
		t.Errorf("second approver: %d\n%s", code, page)
	}
}

func TestDecisionWithoutASigningKeySaysWhatToConfigure(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.Add(waiting(incID))
	e.fake.Fail("Decide", fmt.Errorf("approve refused: %w", incidents.ErrNoSigner))
	c := e.browser()
	e.signIn(c, aliceTk)
	_, page, _ := e.get(c, "/incidents/1a2b3c")
	code, page, _ := e.post(c, "/incidents/1a2b3c/decide", url.Values{"csrf": {csrfOf(t, page)}, "step_id": {"failback"}, "digest": {digest}, "verdict": {"approve"}})
	if code != http.StatusServiceUnavailable || !strings.Contains(page, "decisions are signed by a quench front door") {
		t.Errorf("%d\n%s", code, page)
	}
}

func TestRejectNeedsAReason(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.Add(waiting(incID))
	c := e.browser()
	e.signIn(c, bobTk)
	_, page, _ := e.get(c, "/incidents/1a2b3c")
	form := url.Values{"csrf": {csrfOf(t, page)}, "step_id": {"failback"}, "digest": {digest}, "verdict": {"reject"}}
	if code, page, _ := e.post(c, "/incidents/1a2b3c/decide", form); code != http.StatusBadRequest || !strings.Contains(page, "Say why you reject") {
		t.Errorf("reject without reason: %d", code)
	}
	form.Set("reason", "fallback is fine for now")
	if code, _, _ := e.post(c, "/incidents/1a2b3c/decide", form); code != http.StatusSeeOther {
		t.Fatalf("reject: %d", code)
	}
	st, _ := e.fake.Get(incID)
	if st.Steps[1].State != workflows.StepRejected || !strings.Contains(st.Timeline[len(st.Timeline)-1].Text, "fallback is fine for now") {
		t.Errorf("after rejecting: %+v", st.Steps[1])
	}
}

func TestLiveStreamsChanges(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.Add(waiting(incID))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/incidents/1a2b3c/live", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	rd := bufio.NewReader(resp.Body)
	next := func() (string, string) {
		var event string
		var data []string
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("stream ended: %v", err)
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = append(data, strings.TrimPrefix(line, "data: "))
			case line == "" && event != "":
				return event, strings.Join(data, "\n")
			}
		}
	}
	if ev, data := next(); ev != "status" || !strings.Contains(data, "Fail back to primary?") {
		t.Fatalf("first event %s:\n%s", ev, data)
	}
	// A note with a carriage return cannot start a field (event: closed) of its own.
	e.fake.Update(incID, func(st *workflows.Status) {
		st.Timeline = append(st.Timeline, workflows.Event{At: t0.Add(time.Minute), Kind: workflows.EventNote, Text: "x\revent: closed\rdata: <b>"})
	})
	if ev, data := next(); ev != "status" || !strings.Contains(data, "x\nevent: closed\ndata: &lt;b&gt;") {
		t.Fatalf("after a note with CRs, %s:\n%s", ev, data)
	}
	e.fake.Update(incID, func(st *workflows.Status) {
		st.Steps = append(st.Steps, workflows.StepState{ID: "verify-fallback", Action: "traffic.check", State: workflows.StepRunning})
		st.Timeline = append(st.Timeline, workflows.Event{At: t0.Add(time.Minute), Kind: workflows.EventStepStarted, StepID: "verify-fallback", Text: "checking"})
	})
	if ev, data := next(); ev != "status" || !strings.Contains(data, `data-step="verify-fallback"`) {
		t.Fatalf("after a step started, %s:\n%s", ev, data)
	}
	e.fake.Close(incID, workflows.StateResolved)
	// The closing change comes as a status, then the stream says it is over.
	ev, data := next()
	if ev == "status" {
		ev, data = next()
	}
	if ev != "closed" || !strings.Contains(data, `data-state="resolved"`) {
		t.Fatalf("after closing, %s:\n%s", ev, data)
	}
}

func TestAssetsAreEmbedded(t *testing.T) {
	e := newEnv(t, nil)
	for _, p := range []string{"/assets/app.css", "/assets/app.js"} {
		code, body, _ := e.get(e.browser(), p)
		if code != http.StatusOK || len(body) < 100 {
			t.Errorf("%s: %d (%d bytes)", p, code, len(body))
		}
	}
}

func TestLiveStreamsAreBounded(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxStreams = 1 })
	e.fake.Add(waiting(incID))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/incidents/1a2b3c/live", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("first stream: %d", resp.StatusCode)
	}
	code, _, hdr := e.get(e.browser(), "/incidents/1a2b3c/live")
	if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
		t.Errorf("a stream past the bound: %d %q", code, hdr.Get("Retry-After"))
	}
	// The page itself still answers.
	if code, _, _ := e.get(e.browser(), "/incidents/1a2b3c"); code != http.StatusOK {
		t.Errorf("page: %d", code)
	}
}
