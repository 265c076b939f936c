package e2e

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"os/user"
	"regexp"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/incidents"
)

// quench dev prints a one-time sign-in link; opening it signs the OS user in to the
// incident page as their CLI identity, once. `incident show` links to the page.
func TestDevPrintsAOneTimePageLink(t *testing.T) {
	dev := startDev(t, newDevConfig(t))
	link := regexp.MustCompile(`sign in once: (http://\S+/login/once\?token=\S+)`).FindStringSubmatch(dev.logs.String())
	if link == nil {
		t.Fatalf("quench dev printed no one-time sign-in link:\n%s", dev.logs.String())
	}
	token := link[1][strings.Index(link[1], "token=")+len("token="):]
	for _, line := range strings.Split(dev.logs.String(), "\n") {
		if strings.Contains(line, "level=") && strings.Contains(line, token) {
			t.Errorf("the sign-in token went into a log line: %s", line)
		}
	}
	started := decodeJSON[incidents.Started](t, dev.mustQuench(t, "incident", "start", "provider-outage", "route=chat", "-o", "json"))

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(u string) (int, string) {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	code, page := get(link[1])
	// The list reads visibility, which may not have the new incident yet: only who is signed in.
	if code != http.StatusOK || !strings.Contains(page, "Signed in as <b>"+me.Username) {
		t.Fatalf("after the one-time link: %d\n%s", code, page)
	}
	jar2, _ := cookiejar.New(nil)
	c.Jar = jar2
	if code, page = get(link[1]); code != http.StatusUnauthorized || !strings.Contains(page, "used already") {
		t.Errorf("the link worked twice: %d", code)
	}

	out := dev.mustQuench(t, "incident", "show", started.ShortID)
	want := "Page: http://" + dev.http + "/incidents/" + started.ShortID
	if !strings.Contains(out, want) {
		t.Errorf("incident show does not link the page (%q):\n%s", want, out)
	}
	if code, page = get("http://" + dev.http + "/incidents/" + started.ShortID); code != http.StatusOK || !strings.Contains(page, "provider-outage") {
		t.Errorf("the page `incident show` links: %d", code)
	}
}
