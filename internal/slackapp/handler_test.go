package slackapp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/slackapp/slackfake"
	"github.com/quench-dev/quench/workflows"
)

const (
	testSecret   = "8f742231b10e8888abcd99yyyzzz85a5"
	testIncident = "inc-provider-outage-0123456789abcdef"
	testDigest   = "sha256:feedface"
)

// fakeIncidents is a stateful fake of the incidents service with one pending approval that
// behaves like the workflow's validator: sre members only, the requester may not approve
// (four-eyes), the digest must match, and the first decision wins.
type fakeIncidents struct {
	mu        sync.Mutex
	decisions []workflows.Decision // accepted
	refused   []workflows.Decision
	signals   []string // "name ref payload"
	starts    []incidents.StartRequest
	decided   bool
	// recorded: the incident records its refusals itself (incidents.ErrRefused).
	recorded bool
}

func (f *fakeIncidents) Start(_ context.Context, req incidents.StartRequest) (incidents.Started, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if req.Runbook != "provider-outage" {
		return incidents.Started{}, fmt.Errorf("no runbook named %q", req.Runbook)
	}
	f.starts = append(f.starts, req)
	return incidents.Started{IncidentID: testIncident, ShortID: "abcdef", Runbook: req.Runbook, Title: "LLM provider outage"}, nil
}

func (f *fakeIncidents) Status(_ context.Context, ref string) (workflows.Status, error) {
	if ref != "abcdef" && ref != testIncident {
		return workflows.Status{}, fmt.Errorf("%w: %s", incidents.ErrNotFound, ref)
	}
	st := workflows.Status{ShortID: "abcdef", Title: "LLM provider outage", State: workflows.StateAwaiting, Runbook: "provider-outage",
		Requester: "slack:UREQ", Steps: []workflows.StepState{{ID: "failback", Action: "gateway.restore", State: workflows.StepAwaiting}},
		Pending: []workflows.PendingApproval{{StepID: "failback", Digest: testDigest}}}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, sig := range f.signals {
		if strings.HasPrefix(sig, workflows.SignalResolve+" ") {
			// As the workflow does when a resolve lands while a verify waits.
			st.Timeline = append(st.Timeline, workflows.Event{Kind: workflows.EventResolved, Text: "incident resolved"},
				workflows.Event{Kind: workflows.EventVerify, StepID: "failover", Text: "verify of step failover stopped: the incident was resolved; the change stays"})
		}
	}
	return st, nil
}

func (f *fakeIncidents) Decide(_ context.Context, ref string, d workflows.Decision) (workflows.DecisionResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	refuse := func(format string, args ...any) (workflows.DecisionResult, error) {
		f.refused = append(f.refused, d)
		if f.recorded {
			return workflows.DecisionResult{}, fmt.Errorf(format+" (%w)", append(args, incidents.ErrRefused)...)
		}
		return workflows.DecisionResult{}, fmt.Errorf(format, args...)
	}
	switch {
	case f.decided:
		return refuse("step failback is already decided: a decision that completed first won")
	case d.Digest != "" && d.Digest != testDigest:
		return refuse("the step's params changed: review again")
	case d.Approver == "slack:UREQ":
		return refuse("%s started this incident and step failback needs four eyes: ask someone else to decide", d.Approver)
	case !slices.Contains(d.Groups, "slack:SSRE"):
		return refuse("%s may not decide on step failback: not a member of sre", d.Approver)
	}
	f.decided = true
	f.decisions = append(f.decisions, d)
	return workflows.DecisionResult{StepID: "failback", Outcome: map[string]string{"approve": "approved", "reject": "rejected"}[d.Verdict]}, nil
}

func (f *fakeIncidents) Signal(_ context.Context, ref, name string, payload any) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, _ := json.Marshal(payload)
	f.signals = append(f.signals, name+" "+ref+" "+string(b))
	return testIncident, nil
}

func (f *fakeIncidents) List(context.Context, incidents.ListFilter) ([]incidents.Summary, error) {
	return []incidents.Summary{{ShortID: "abcdef", Runbook: "provider-outage", State: "running"}}, nil
}

func (f *fakeIncidents) snapshot() (accepted, refused []workflows.Decision, signals []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.decisions), slices.Clone(f.refused), slices.Clone(f.signals)
}

type testApp struct {
	fake    *slackfake.Fake
	svc     *fakeIncidents
	handler *Handler
	server  *httptest.Server
}

func newTestApp(t testing.TB) *testApp {
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	fake.SetGroup("SSRE", "UALICE", "UREQ")
	api := newAPI("xoxb-test", fake.APIURL(), nil)
	svc := &fakeIncidents{}
	h := &Handler{Incidents: svc, API: api, Logger: slog.New(slog.DiscardHandler),
		Groups: &GroupResolver{API: api, Map: map[string][]string{"SSRE": {"sre"}}, Logger: slog.New(slog.DiscardHandler)}}
	srv := httptest.NewServer(HTTPHandler(h, testSecret))
	t.Cleanup(srv.Close)
	return &testApp{fake: fake, svc: svc, handler: h, server: srv}
}

// signed builds a request signed as Slack signs it.
func signed(t testing.TB, url, secret string, at time.Time, body string) *http.Request {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	ts := fmt.Sprint(at.Unix())
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:%s", ts, body)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	return req
}

func do(t testing.TB, req *http.Request) (int, string) {
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func commandBody(user, text, responseURL string) string {
	return url.Values{"command": {"/quench"}, "text": {text}, "user_id": {user}, "channel_id": {"C1"},
		"response_url": {responseURL}, "trigger_id": {"trig-1"}, "team_id": {"T1"}}.Encode()
}

func clickBody(user, action string, v ButtonValue) string {
	payload := map[string]any{
		"type": "block_actions", "trigger_id": "trig-2", "user": map[string]any{"id": user},
		"channel": map[string]any{"id": "C1"}, "container": map[string]any{"message_ts": "1700000000.000001"},
		"actions": []map[string]any{{"action_id": action, "block_id": "approval:failback", "value": v.encode(), "type": "button"}},
	}
	b, _ := json.Marshal(payload)
	return url.Values{"payload": {string(b)}}.Encode()
}

func failbackButton() ButtonValue {
	return ButtonValue{IncidentID: testIncident, StepID: "failback", Digest: testDigest}
}

func TestSignedCommandIsAnsweredAndUnsignedOnesAreRefused(t *testing.T) {
	app := newTestApp(t)
	cmdURL := app.server.URL + "/slack/commands"
	body := commandBody("UALICE", "note abcdef rolling back now", app.fake.ResponseURL("1"))

	tampered := signed(t, cmdURL, testSecret, time.Now(), strings.Replace(body, "rolling", "ignoring", 1))
	tampered.Header = signed(t, cmdURL, testSecret, time.Now(), body).Header // the signature of the original
	unsigned := signed(t, cmdURL, testSecret, time.Now(), body)
	unsigned.Header.Del("X-Slack-Signature")
	for name, req := range map[string]*http.Request{
		"stale":        signed(t, cmdURL, testSecret, time.Now().Add(-6*time.Minute), body),
		"future":       signed(t, cmdURL, testSecret, time.Now().Add(6*time.Minute), body),
		"tampered":     tampered,
		"wrong secret": signed(t, cmdURL, "not-the-secret", time.Now(), body),
		"unsigned":     unsigned,
	} {
		code, _ := do(t, req)
		assert.Equal(t, http.StatusUnauthorized, code, name)
	}
	app.handler.Wait()
	_, _, signals := app.svc.snapshot()
	assert.Empty(t, signals, "a refused request touches no incident")

	code, answer := do(t, signed(t, cmdURL, testSecret, time.Now(), body))
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, answer, `"response_type":"ephemeral"`)
	app.handler.Wait()
	_, _, signals = app.svc.snapshot()
	assert.Equal(t, []string{`note abcdef {"by":"slack:UALICE","text":"rolling back now","request_key":"slack-command:T1:trig-1"}`}, signals)
	require.Len(t, app.fake.Responses(), 1)
	assert.Equal(t, "Noted on abcdef.", app.fake.Responses()[0].Msg.Text)
}

func TestApproveClickDecidesAsTheSlackUser(t *testing.T) {
	app := newTestApp(t)
	code, _ := do(t, signed(t, app.server.URL+"/slack/interactions", testSecret, time.Now(), clickBody("UALICE", ActionApprove, failbackButton())))
	require.Equal(t, http.StatusOK, code)
	app.handler.Wait()

	accepted, refused, _ := app.svc.snapshot()
	require.Len(t, accepted, 1)
	assert.Empty(t, refused)
	assert.Equal(t, workflows.Decision{StepID: "failback", Digest: testDigest, Approver: "slack:UALICE", Groups: []string{"slack:SSRE"},
		Verdict: workflows.VerdictApprove, Via: "slack"}, accepted[0])
	assert.Len(t, app.fake.Calls("usergroups.users.list"), 1, "groups come from Slack, not from the payload")
	assert.Empty(t, app.fake.Ephemerals())
}

func TestRefusedClicksAreExplainedAndRecorded(t *testing.T) {
	for _, tc := range []struct{ name, user, says string }{
		{"not an approver", "UBOB", "not a member of sre"},
		{"four eyes", "UREQ", "needs four eyes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := newTestApp(t)
			code, _ := do(t, signed(t, app.server.URL+"/slack/interactions", testSecret, time.Now(), clickBody(tc.user, ActionApprove, failbackButton())))
			require.Equal(t, http.StatusOK, code)
			app.handler.Wait()

			accepted, refused, signals := app.svc.snapshot()
			assert.Empty(t, accepted)
			require.Len(t, refused, 1)
			eph := app.fake.Ephemerals()
			require.Len(t, eph, 1)
			assert.Equal(t, slackfake.Ephemeral{Channel: "C1", User: tc.user, Text: eph[0].Text}, eph[0])
			assert.Contains(t, eph[0].Text, tc.says)
			require.Len(t, signals, 1, "the refusal is on the timeline")
			assert.Contains(t, signals[0], "refused: approve of failback via slack")
			assert.Contains(t, signals[0], tc.says)
		})
	}
}

// A refusal the incident put on its own timeline is not noted a second time.
func TestRefusalRecordedByTheIncidentIsNotNotedTwice(t *testing.T) {
	app := newTestApp(t)
	app.svc.recorded = true
	code, _ := do(t, signed(t, app.server.URL+"/slack/interactions", testSecret, time.Now(), clickBody("UBOB", ActionApprove, failbackButton())))
	require.Equal(t, http.StatusOK, code)
	app.handler.Wait()
	_, refused, signals := app.svc.snapshot()
	require.Len(t, refused, 1)
	assert.Empty(t, signals)
	require.Len(t, app.fake.Ephemerals(), 1)
	assert.Contains(t, app.fake.Ephemerals()[0].Text, "not a member of sre")
}

func TestReplayedAndDoubleClicksDecideOnce(t *testing.T) {
	app := newTestApp(t)
	body := clickBody("UALICE", ActionApprove, failbackButton())
	first := signed(t, app.server.URL+"/slack/interactions", testSecret, time.Now(), body)
	replay := first.Clone(context.Background())
	replay.Body = io.NopCloser(strings.NewReader(body))
	// A second real click: Slack gives it its own trigger_id, so its own signed body.
	second := signed(t, app.server.URL+"/slack/interactions", testSecret, time.Now(), strings.Replace(body, "trig-2", "trig-3", 1))

	var wg sync.WaitGroup
	for _, req := range []*http.Request{first, replay, second} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _ := do(t, req)
			assert.Equal(t, http.StatusOK, code, "a replay is acknowledged too")
		}()
	}
	wg.Wait()
	app.handler.Wait()
	accepted, refused, signals := app.svc.snapshot()
	assert.Len(t, accepted, 1, "one decision")
	assert.Len(t, refused, 1, "the second click is refused; the replay never reaches the incident")
	assert.Len(t, signals, 1, "one refusal on the timeline")
	eph := app.fake.Ephemerals()
	require.Len(t, eph, 1, "the replay posts nothing")
	assert.Contains(t, eph[0].Text, "already decided")
}

func TestRejectAsksForAReason(t *testing.T) {
	app := newTestApp(t)
	code, _ := do(t, signed(t, app.server.URL+"/slack/interactions", testSecret, time.Now(), clickBody("UALICE", ActionReject, failbackButton())))
	require.Equal(t, http.StatusOK, code)
	app.handler.Wait()
	views := app.fake.Views()
	require.Len(t, views, 1)
	assert.Equal(t, CallbackReject, views[0].CallbackID)
	require.Equal(t, "trig-2", app.fake.Calls("views.open")[0].JSON["trigger_id"])
	accepted, _, _ := app.svc.snapshot()
	assert.Empty(t, accepted, "a Reject click decides nothing until the reason is given")

	submit := func(reason string) (int, string) {
		payload := map[string]any{"type": "view_submission", "user": map[string]any{"id": "UALICE"},
			"view": map[string]any{"callback_id": CallbackReject, "private_metadata": views[0].PrivateMetadata,
				"state": map[string]any{"values": map[string]any{reasonBlock: map[string]any{reasonInput: map[string]any{"type": "plain_text_input", "value": reason}}}}}}
		b, _ := json.Marshal(payload)
		return do(t, signed(t, app.server.URL+"/slack/interactions", testSecret, time.Now(), url.Values{"payload": {string(b)}}.Encode()))
	}
	code, answer := submit("  ")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, answer, `"response_action":"errors"`)

	code, _ = submit("provider still flaky")
	require.Equal(t, http.StatusOK, code)
	app.handler.Wait()
	accepted, _, _ = app.svc.snapshot()
	require.Len(t, accepted, 1)
	assert.Equal(t, workflows.VerdictReject, accepted[0].Verdict)
	assert.Equal(t, "provider still flaky", accepted[0].Reason)
	assert.Equal(t, testDigest, accepted[0].Digest)
}

func TestSlashCommands(t *testing.T) {
	for _, tc := range []struct {
		text      string
		immediate string // in the immediate answer
		later     string // in the response_url post ("" = none)
	}{
		{"", "/quench start RUNBOOK", ""},
		{"help", "/quench approve ID", ""},
		{"frobnicate", "Unknown command `frobnicate`", ""},
		{"start", "Usage: `/quench start RUNBOOK", ""},
		{"start provider-outage route", "`route` is not key=value", ""},
		{"start provider-outage route=chat to=anthropic", "Working on", "started incident *abcdef*"},
		{"start no-such-runbook", "Working on", "Could not start no-such-runbook"},
		{"status abcdef", "Working on", "waits for approval"},
		{"status nope", "Working on", "Usage: `/quench status ID`"},
		{"status", "Working on", "*abcdef* provider-outage"},
		{"list", "Working on", "*abcdef* provider-outage"},
		{"approve", "Usage: `/quench approve ID", ""},
		{"approve abcdef", "Working on", "approved step failback"},
		{"reject abcdef", "Usage: `/quench reject ID reason", ""},
		{"reject abcdef too risky", "Working on", "rejected step failback"},
		{"resolve abcdef", "Working on", "resolved incident abcdef\n• verify of step failover stopped: the incident was resolved; the change stays"},
		{"note abcdef", "Usage: `/quench note ID text", ""},
	} {
		t.Run(tc.text, func(t *testing.T) {
			app := newTestApp(t)
			msg := app.handler.Command(slack.SlashCommand{Text: tc.text, UserID: "UALICE", ResponseURL: app.fake.ResponseURL("r")})
			assert.Equal(t, slack.ResponseTypeEphemeral, msg.ResponseType)
			assert.Contains(t, msg.Text, tc.immediate)
			app.handler.Wait()
			responses := app.fake.Responses()
			if tc.later == "" {
				assert.Empty(t, responses)
				return
			}
			require.Len(t, responses, 1)
			assert.Contains(t, responses[0].Msg.Text, tc.later)
		})
	}

	app := newTestApp(t)
	app.handler.Command(slack.SlashCommand{Text: "start provider-outage route=chat", UserID: "UALICE", ResponseURL: app.fake.ResponseURL("s")})
	app.handler.Wait()
	require.Len(t, app.svc.starts, 1)
	assert.Equal(t, incidents.StartRequest{Runbook: "provider-outage", Params: map[string]string{"route": "chat"},
		Requester: "slack:UALICE", Source: "slack"}, app.svc.starts[0])
}

func TestGroupsAreCachedBriefly(t *testing.T) {
	app := newTestApp(t)
	r := app.handler.Groups
	assert.Equal(t, []string{"slack:SSRE"}, r.VerifiedGroups(context.Background(), "UALICE"))
	assert.Empty(t, r.VerifiedGroups(context.Background(), "UBOB"))
	assert.Len(t, app.fake.Calls("usergroups.users.list"), 1, "the second lookup used the cache")

	app.fake.Fail("usergroups.users.list", slackfake.Failure{Status: http.StatusInternalServerError})
	r.TTL = time.Nanosecond
	assert.Empty(t, r.VerifiedGroups(context.Background(), "UALICE"), "a group Slack cannot list admits nobody")
}
