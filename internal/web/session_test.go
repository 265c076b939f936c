package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestReadingNeedsSignInOffLoopback(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.OpenRead = false })
	e.fake.Add(waiting(incID))
	c := e.browser()
	for _, path := range []string{"/", "/incidents/1a2b3c", "/incidents/1a2b3c/evidence", "/incidents/1a2b3c/postmortem.md", "/incidents/1a2b3c/live"} {
		code, _, hdr := e.get(c, path)
		if code != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "/login?next=") {
			t.Errorf("%s without a session: %d %s", path, code, hdr.Get("Location"))
		}
	}
	e.signIn(c, bobTk)
	if code, page, _ := e.get(c, "/"); code != http.StatusOK || !strings.Contains(page, "Signed in as <b>bob</b>") && !strings.Contains(page, "api:bob") {
		t.Errorf("signed in: %d\n%s", code, page)
	}
}

func TestSignInWithTokens(t *testing.T) {
	e := newEnv(t, nil)
	c := e.browser()
	_, page, _ := e.get(c, "/login")
	pre := loginCSRFOf(t, page)
	if code, body, _ := e.post(c, "/login", url.Values{"login_csrf": {pre}, "token": {"wrong"}}); code != http.StatusUnauthorized || !strings.Contains(body, "Unknown token") {
		t.Errorf("wrong token: %d", code)
	}
	// Without the form's token (a cross-site form post), even a good API token is refused.
	if code, _, _ := e.post(e.browser(), "/login", url.Values{"token": {aliceTk}}); code != http.StatusForbidden {
		t.Errorf("login without the form's token: %d", code)
	}
	_, page, _ = e.get(c, "/login?next=/incidents/1a2b3c")
	code, _, hdr := e.post(c, "/login", url.Values{"login_csrf": {loginCSRFOf(t, page)}, "token": {aliceTk}, "next": {"/incidents/1a2b3c"}})
	if code != http.StatusSeeOther || hdr.Get("Location") != "/incidents/1a2b3c" {
		t.Fatalf("sign-in: %d %s", code, hdr.Get("Location"))
	}
	var cookie string
	for _, sc := range hdr.Values("Set-Cookie") {
		if strings.HasPrefix(sc, cookieName+"=") {
			cookie = sc
		}
	}
	for _, want := range []string{"HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("session cookie %q lacks %s", cookie, want)
		}
	}
	if strings.Contains(cookie, "Secure") {
		t.Errorf("plain HTTP on loopback: the cookie cannot be Secure (%q)", cookie)
	}
	_, page, _ = e.get(c, "/")
	if !strings.Contains(page, "Signed in as <b>alice (api:alice)</b>") {
		t.Errorf("the person behind api:alice is not shown:\n%s", page)
	}
	// next must stay on this site.
	_, page, _ = e.get(c, "/login")
	_, _, hdr = e.post(c, "/login", url.Values{"login_csrf": {loginCSRFOf(t, page)}, "token": {aliceTk}, "next": {"//evil.example/x"}})
	if hdr.Get("Location") != "/" {
		t.Errorf("next=//evil.example: redirected to %q", hdr.Get("Location"))
	}
	// Sign out needs the session's CSRF token.
	_, page, _ = e.get(c, "/")
	if code, _, _ := e.post(c, "/logout", url.Values{"csrf": {"nope"}}); code != http.StatusForbidden {
		t.Errorf("logout with a bad token: %d", code)
	}
	if code, _, _ := e.post(c, "/logout", url.Values{"csrf": {csrfOf(t, page)}}); code != http.StatusSeeOther {
		t.Errorf("logout: %d", code)
	}
	if _, page, _ = e.get(c, "/"); strings.Contains(page, "Signed in as") {
		t.Error("still signed in after signing out")
	}
}

func TestSecureCookieOverTLSOrWhenConfigured(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.SecureCookies = true })
	c := e.browser()
	_, page, _ := e.get(c, "/login")
	_, _, hdr := e.post(c, "/login", url.Values{"login_csrf": {loginCSRFOf(t, page)}, "token": {aliceTk}})
	if sc := strings.Join(hdr.Values("Set-Cookie"), "\n"); !strings.Contains(sc, "Secure") {
		t.Errorf("cookies not Secure: %s", sc)
	}
}

func TestOneTimeLink(t *testing.T) {
	e := newEnv(t, nil)
	link, err := e.h.OneTimeLogin(context.Background(), "cli:dev")
	if err != nil {
		t.Fatal(err)
	}
	c := e.browser()
	code, _, hdr := e.get(c, link)
	if code != http.StatusSeeOther || hdr.Get("Location") != "/" {
		t.Fatalf("one-time link: %d %s", code, hdr.Get("Location"))
	}
	if _, page, _ := e.get(c, "/"); !strings.Contains(page, "Signed in as <b>dev</b>") {
		t.Errorf("not signed in as dev:\n%s", page)
	}
	if code, page, _ := e.get(e.browser(), link); code != http.StatusUnauthorized || !strings.Contains(page, "used already") {
		t.Errorf("second use of the link: %d", code)
	}
}

func TestWrongHostIsRefused(t *testing.T) {
	e := newEnv(t, nil)
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/", nil)
	req.Host = "evil.example"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("Host evil.example: %d", resp.StatusCode)
	}
}
