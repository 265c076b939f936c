package e2e

import (
	"bytes"
	"net/http"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/workflows"
)

// TestFrontDoorsRefuseHostileClients plays a web page and a local impostor against quench
// dev without dev.allow_as: --as is refused, a cross-origin or wrong-Host post, one
// without JSON, one naming itself in a header and one without a token change nothing, and
// the incident is still the one its starter started.
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

	st := decodeJSON[workflows.Status](t, dev.mustQuench(t, "incident", "show", started.ShortID, "-o", "json"))
	if st.ClosedAt != nil || st.Requester != "cli:"+me.Username || st.Source != "cli" {
		t.Fatalf("after the refused requests: closed %v, requester %q via %q; want it open, started by cli:%s via cli", st.ClosedAt, st.Requester, st.Source, me.Username)
	}
	for _, e := range st.Timeline {
		if e.Kind == workflows.EventAborted || e.Actor == "bob" || e.Actor == "mallory" {
			t.Errorf("a refused request left %+v on the timeline", e)
		}
	}
	if strings.Contains(dev.logs.String(), "level=ERROR msg=\"api request") {
		t.Errorf("client errors logged at ERROR:\n%s", dev.logs.String())
	}
}
