package e2e

import (
	"bytes"
	"net/http"
	"os/user"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/workflows"
)

// TestFrontDoorsRefuseHostileClients plays a web page and a local impostor against quench
// dev without dev.allow_as: --as is refused, a cross-origin or wrong-Host post, one
// without JSON, one naming itself in a header and one without a token change nothing but
// one line per reason on the incident's timeline, and the incident is still the one its
// starter started.
func TestFrontDoorsRefuseHostileClients(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "quench.yaml")
	writeFile(t, cfgFile, "dev:\n  allow_as: false\n")
	dev := startDev(t, newDevConfig(t, "--config", cfgFile))
	base := "http://" + dev.http

	res := dev.quench(t, "incident", "start", "provider-outage", "route=chat", "--as", "mallory")
	if res.ExitCode != 2 || !strings.Contains(res.Stderr, "--as is for development only") {
		t.Fatalf("--as without dev.allow_as: exit %d, stderr %q", res.ExitCode, res.Stderr)
	}
	started := decodeJSON[incidents.Started](t, dev.mustQuench(t, "incident", "start", "provider-outage", "route=chat", "-o", "json"))
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	// Let the incident settle where it waits for a human, so anything that changes after
	// this point is the refused requests' doing.
	w := dev.watch(t, started.IncidentID)
	defer w.stop()
	w.waitFor(t, workflows.EventStepStarted, "recovered")
	before := decodeJSON[workflows.Status](t, dev.mustQuench(t, "incident", "show", started.ShortID, "-o", "json"))
	abort := base + "/api/v1/incidents/" + started.ShortID + "/abort"
	for _, tc := range []struct {
		name    string
		headers map[string]string
		host    string
		code    int
	}{
		{name: "cross-origin page", headers: map[string]string{"Origin": "https://evil.example", "Content-Type": "application/json", "Authorization": "Bearer " + dev.token}, code: 403},
		{name: "cross-site fetch", headers: map[string]string{"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json", "Authorization": "Bearer " + dev.token}, code: 403},
		{name: "DNS rebinding", host: "evil.example:" + strings.Split(dev.http, ":")[1], headers: map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + dev.token}, code: 421},
		{name: "no content type", headers: map[string]string{"Authorization": "Bearer " + dev.token}, code: 415},
		{name: "identity header", headers: map[string]string{"X-Quench-User": "bob", "Content-Type": "application/json"}, code: 400},
		{name: "no token", headers: map[string]string{"Content-Type": "application/json"}, code: 401},
		{name: "act_as without dev.allow_as", headers: map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + dev.token}, code: 403},
	} {
		body := []byte(`{}`)
		if tc.name == "act_as without dev.allow_as" {
			body = []byte(`{"act_as":"bob"}`)
		}
		req, err := http.NewRequest("POST", abort, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range tc.headers {
			req.Header.Set(k, v)
		}
		if tc.host != "" {
			req.Host = tc.host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.code)
		}
	}
	doJSON(t, "GET", base+"/api/v1/incidents/zzzzzz", dev.token, nil, http.StatusNotFound, nil)
	doJSON(t, "GET", base+"/api/v1/incidents/..%2F..%2Fetc%2Fpasswd", dev.token, nil, http.StatusBadRequest, nil)

	// One line per reason: the cross-origin page and the cross-site fetch share one (the
	// second falls within the first's window), the other five have a line each.
	reasons := map[string]string{
		"cross-origin": "cross-(origin|site) POST /api/v1/incidents/" + started.ShortID + "/abort .*\\(403\\)$",
		"wrong Host":   `sent to Host "evil\.example:\d+", not a name of this quench \(421\)$`,
		"no JSON":      `with no Content-Type \(only application/json is accepted\) \(415\)$`,
		"header":       `X-Quench-User header \("bob"\) \(400\)$`,
		"no token":     `without a bearer token \(401\)$`,
		"act_as":       `from "cli:` + regexp.QuoteMeta(me.Username) + `" acting as "bob" \(act_as is not allowed here\) \(403\)$`,
	}
	for range reasons {
		w.waitFor(t, workflows.EventNote, "")
	}

	st := decodeJSON[workflows.Status](t, dev.mustQuench(t, "incident", "show", started.ShortID, "-o", "json"))
	if st.ClosedAt != nil || st.Requester != "cli:"+me.Username || st.Source != "cli" {
		t.Fatalf("after the refused requests: closed %v, requester %q via %q; want it open, started by cli:%s via cli", st.ClosedAt, st.Requester, st.Source, me.Username)
	}
	var lines []string
	var others []workflows.Event
	for _, e := range st.Timeline {
		if e.Kind == workflows.EventAborted || e.Actor == "bob" || e.Actor == "mallory" {
			t.Errorf("a refused request left %+v on the timeline", e)
		}
		if e.Kind == workflows.EventNote && e.Actor == "quench" {
			lines = append(lines, e.Text)
			for _, secret := range []string{dev.token, "Bearer", "Authorization"} {
				if strings.Contains(e.Text, secret) {
					t.Errorf("refusal line %q contains %q", e.Text, secret)
				}
			}
			continue
		}
		others = append(others, e)
	}
	for name, pattern := range reasons {
		n := 0
		for _, line := range lines {
			if strings.HasPrefix(line, "refused a ") && regexp.MustCompile(pattern).MatchString(line) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: %d refusal lines match %s, want 1; lines:\n%s", name, n, pattern, strings.Join(lines, "\n"))
		}
	}
	t.Logf("refusal lines on %s:\n%s", started.ShortID, strings.Join(lines, "\n"))
	if len(lines) != len(reasons) {
		t.Errorf("%d refusal lines, want %d:\n%s", len(lines), len(reasons), strings.Join(lines, "\n"))
	}
	// Otherwise unchanged: the same events, steps, state and approvals as before.
	if !reflect.DeepEqual(others, before.Timeline) || !reflect.DeepEqual(st.Steps, before.Steps) || st.State != before.State || !reflect.DeepEqual(st.Pending, before.Pending) {
		t.Errorf("the refused requests changed the incident:\nbefore %+v\nafter  %+v", before, st)
	}
	if strings.Contains(dev.logs.String(), "level=ERROR msg=\"api request") {
		t.Errorf("client errors logged at ERROR:\n%s", dev.logs.String())
	}
}
