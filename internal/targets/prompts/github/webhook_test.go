package github

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/prompts/github/githubfake"
)

const hookSecret = "hook-secret"

// freezeSwitch is the freeze state the webhook reads, changed by the test.
type freezeSwitch struct{ state ports.FreezeEnforcement }

func (s *freezeSwitch) lookup(context.Context, string) (ports.FreezeEnforcement, error) {
	return s.state, nil
}

func sign(body []byte) string {
	m := hmac.New(sha256.New, []byte(hookSecret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func pullEvent(action string, number int, ref, sha string) []byte {
	return pullEventFrom(action, number, ref, sha, "acme/prompts")
}

func pullEventFrom(action string, number int, ref, sha, headRepo string) []byte {
	b, _ := json.Marshal(map[string]any{
		"action": action,
		"number": number,
		"pull_request": map[string]any{"number": number, "head": map[string]any{
			"ref": ref, "sha": sha, "repo": map[string]string{"full_name": headRepo}}},
		"repository": map[string]string{"full_name": "acme/prompts"},
	})
	return b
}

func deliver(t *testing.T, h http.Handler, event string, body []byte, signature string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/hooks/github", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	if signature != "" {
		req.Header.Set("X-Hub-Signature-256", signature)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestWebhookMarksAPullRequestOpenedWhileFrozen(t *testing.T) {
	f := newFake(t, githubfake.Options{})
	base := f.Commit("main", "initial", "Alice Smith", now.Add(-48*time.Hour), map[string]*string{"prompts/system.txt": text(goodSystem), "src/app.go": text("x\n")})
	a := newAdapter(t, f, Options{})
	freeze := &freezeSwitch{state: frozenBy("inc-x")}
	h := a.WebhookHandler(WebhookOptions{Secret: []byte(hookSecret), Freeze: freeze.lookup})

	f.Branch("sneaky", base)
	sneaky := f.Commit("sneaky", "ship a prompt", "Dan Brown", now, map[string]*string{"prompts/system.txt": text(badSystem)})
	n := f.OpenPR("sneaky", "main", "Ship a prompt during the freeze")
	body := pullEvent("opened", n, "sneaky", sneaky)
	rec := deliver(t, h, "pull_request", body, sign(body))
	if rec.Code != http.StatusOK {
		t.Fatalf("delivery: %d %s", rec.Code, rec.Body)
	}
	if st, ok := f.LatestStatus(sneaky, DefaultStatusContext); !ok || st.State != "failure" {
		t.Fatalf("status on the new pull request = %+v, %v; want failure", st, ok)
	}

	// A push to it after the freeze lifts gets success.
	freeze.state = ports.FreezeEnforcement{Scope: "prompts"}
	pushed := f.Commit("sneaky", "more", "Dan Brown", now.Add(time.Minute), map[string]*string{"prompts/system.txt": text(badSystem + "x\n")})
	body = pullEvent("synchronize", n, "sneaky", pushed)
	if rec := deliver(t, h, "pull_request", body, sign(body)); rec.Code != http.StatusOK {
		t.Fatalf("delivery: %d %s", rec.Code, rec.Body)
	}
	if st, _ := f.LatestStatus(pushed, DefaultStatusContext); st.State != "success" {
		t.Fatalf("status after the lift = %+v; want success", st)
	}

	// A pull request that does not touch the prompts gets nothing.
	freeze.state = frozenBy("inc-x")
	f.Branch("code", base)
	code := f.Commit("code", "code", "Dan Brown", now, map[string]*string{"src/app.go": text("y\n")})
	cn := f.OpenPR("code", "main", "Code only")
	body = pullEvent("opened", cn, "code", code)
	if rec := deliver(t, h, "pull_request", body, sign(body)); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "does not touch") {
		t.Fatalf("code-only delivery: %d %s", rec.Code, rec.Body)
	}
	if _, ok := f.LatestStatus(code, DefaultStatusContext); ok {
		t.Fatal("a code-only pull request got a freeze status")
	}

	// quench's own rollback passes while frozen.
	f.Branch("quench/rollback-abcdef", base)
	rb := f.Commit("quench/rollback-abcdef", "rollback", "quench", now, map[string]*string{"prompts/system.txt": text(goodSystem + "\n")})
	rn := f.OpenPR("quench/rollback-abcdef", "main", "Rollback")
	body = pullEvent("opened", rn, "quench/rollback-abcdef", rb)
	if rec := deliver(t, h, "pull_request", body, sign(body)); rec.Code != http.StatusOK {
		t.Fatalf("rollback delivery: %d %s", rec.Code, rec.Body)
	}
	if st, _ := f.LatestStatus(rb, DefaultStatusContext); st.State != "success" {
		t.Fatalf("rollback PR status = %+v; want success (exempt)", st)
	}

	// A fork's branch named like quench's is not exempt.
	body = pullEventFrom("synchronize", rn, "quench/rollback-abcdef", rb, "mallory/prompts")
	if rec := deliver(t, h, "pull_request", body, sign(body)); rec.Code != http.StatusOK {
		t.Fatalf("fork delivery: %d %s", rec.Code, rec.Body)
	}
	if st, _ := f.LatestStatus(rb, DefaultStatusContext); st.State != "failure" {
		t.Fatalf("fork's rollback-named PR status = %+v; want failure", st)
	}
}

func TestWebhookMarksANewBaseHeadWhileFrozen(t *testing.T) {
	f := newFake(t, githubfake.Options{})
	f.Commit("main", "initial", "Alice Smith", now.Add(-48*time.Hour), map[string]*string{"prompts/system.txt": text(goodSystem)})
	a := newAdapter(t, f, Options{})
	h := a.WebhookHandler(WebhookOptions{Secret: []byte(hookSecret), Freeze: (&freezeSwitch{state: frozenBy("inc-x")}).lookup})
	head := f.Commit("main", "hotfix", "Dan Brown", now, map[string]*string{"prompts/system.txt": text(badSystem)})
	body, _ := json.Marshal(map[string]any{"ref": "refs/heads/main", "after": head, "repository": map[string]string{"full_name": "acme/prompts"}})
	if rec := deliver(t, h, "push", body, sign(body)); rec.Code != http.StatusOK {
		t.Fatalf("push delivery: %d %s", rec.Code, rec.Body)
	}
	if st, _ := f.LatestStatus(head, DefaultStatusContext); st.State != "failure" {
		t.Fatalf("new head status = %+v; want failure", st)
	}
}

func TestWebhookRefusesBadDeliveries(t *testing.T) {
	f := newFake(t, githubfake.Options{})
	a := newAdapter(t, f, Options{})
	h := a.WebhookHandler(WebhookOptions{Secret: []byte(hookSecret), Freeze: (&freezeSwitch{state: frozenBy("inc-x")}).lookup, MaxBody: 512})
	body := pullEvent("opened", 1, "x", strings.Repeat("a", 40))
	cases := []struct {
		name      string
		event     string
		body      []byte
		signature string
		want      int
	}{
		{"no signature", "pull_request", body, "", http.StatusUnauthorized},
		{"wrong secret", "pull_request", body, "sha256=" + strings.Repeat("0", 64), http.StatusUnauthorized},
		{"sha1 only", "pull_request", body, "sha1=abc", http.StatusUnauthorized},
		{"too big", "pull_request", []byte(strings.Repeat(" ", 600)), "", http.StatusRequestEntityTooLarge},
		{"ping", "ping", []byte(`{"zen":"hi"}`), sign([]byte(`{"zen":"hi"}`)), http.StatusOK},
		{"other event", "issues", []byte(`{}`), sign([]byte(`{}`)), http.StatusAccepted},
		{"closed action", "pull_request", pullEvent("closed", 1, "x", "y"), sign(pullEvent("closed", 1, "x", "y")), http.StatusAccepted},
		{"malformed", "pull_request", []byte(`{"action":`), sign([]byte(`{"action":`)), http.StatusBadRequest},
	}
	for _, c := range cases {
		if rec := deliver(t, h, c.event, c.body, c.signature); rec.Code != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, rec.Code, rec.Body, c.want)
		}
	}
	if n := len(f.Calls()); n != 0 {
		t.Fatalf("refused deliveries called GitHub %d times", n)
	}
}

// FuzzWebhook: any signed body gets an answer, never a panic or a 2xx for garbage.
func FuzzWebhook(f *testing.F) {
	f.Add("pull_request", string(pullEvent("opened", 1, "x", strings.Repeat("a", 40))))
	f.Add("push", `{"ref":"refs/heads/main","after":"0000","repository":{"full_name":"acme/prompts"}}`)
	f.Add("pull_request", `{"action":"opened","pull_request":null}`)
	f.Add("ping", `{}`)
	fake := githubfake.New(githubfake.Options{Token: token})
	defer fake.Close()
	fake.Commit("main", "initial", "Alice Smith", now, map[string]*string{"prompts/a.txt": text("a\n")})
	a, err := New(Options{Owner: "acme", Repo: "prompts", BaseURL: fake.URL()}, Auth{Token: token})
	if err != nil {
		f.Fatal(err)
	}
	h := a.WebhookHandler(WebhookOptions{Secret: []byte(hookSecret), Freeze: (&freezeSwitch{state: frozenBy("inc-x")}).lookup})
	f.Fuzz(func(t *testing.T, event, body string) {
		rec := deliver(t, h, event, []byte(body), sign([]byte(body)))
		if rec.Code < 200 || rec.Code >= 600 {
			t.Fatalf("status %d", rec.Code)
		}
		if rec.Code == http.StatusOK && event == "pull_request" && !json.Valid([]byte(body)) {
			t.Fatalf("accepted invalid JSON: %s", rec.Body)
		}
	})
}
