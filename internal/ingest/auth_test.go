package ingest

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	testToken  = "tok-7f3a9c1e5b"
	testSecret = "sec-2d8e4b6a0c"
	oldSecret  = "sec-old-91b7c3"
)

var authNow = time.Unix(1714564800, 0)

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func headers(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func genericHeaders(t time.Time, secret string, body []byte) http.Header {
	ts, sig := SignGeneric(secret, t, body)
	return headers(HeaderQuenchTimestamp, ts, HeaderQuenchSignature, sig)
}

func grafanaSignedHeaders(t time.Time, secret string, body []byte, tsHeader string) http.Header {
	ts, sig := SignGrafana(secret, t, body)
	h := headers(HeaderGrafanaSignature, sig)
	if ts != "" {
		h.Set(tsHeader, ts)
	}
	return h
}

func TestAuthenticate(t *testing.T) {
	body := []byte(`{"key":"checkout","status":"firing"}`)
	tampered := []byte(`{"key":"checkout","status":"resolved"}`)
	bearer := Credentials{Token: testToken}
	hmacOnly := Credentials{HMACSecret: testSecret}
	both := Credentials{Token: testToken, HMACSecret: testSecret}
	pdRotating := SignPagerDuty(oldSecret, body) + ", " + SignPagerDuty(testSecret, body)

	cases := []struct {
		name    string
		source  string
		cred    Credentials
		h       http.Header
		body    []byte
		wantErr string // "" = accepted
	}{
		// Bearer token and Basic auth (Alertmanager http_config).
		{"bearer", SourceAlertmanager, bearer, headers("Authorization", "Bearer "+testToken), body, ""},
		{"bearer scheme in lower case", SourceAlertmanager, bearer, headers("Authorization", "bearer "+testToken), body, ""},
		{"basic auth with the token as password", SourceAlertmanager, bearer, headers("Authorization", basic("alertmanager", testToken)), body, ""},
		{"bearer for datadog", SourceDatadog, bearer, headers("Authorization", "Bearer "+testToken), body, ""},
		{"bearer for pagerduty custom header", SourcePagerDuty, bearer, headers("Authorization", "Bearer "+testToken), body, ""},
		{"missing token", SourceAlertmanager, bearer, headers(), body, "missing Authorization header"},
		{"wrong token", SourceAlertmanager, bearer, headers("Authorization", "Bearer nope"), body, "bearer token does not match the token configured for alertmanager"},
		{"token prefix only", SourceAlertmanager, bearer, headers("Authorization", "Bearer "+testToken[:5]), body, "does not match"},
		{"wrong basic password", SourceAlertmanager, bearer, headers("Authorization", basic("am", "nope")), body, "basic auth password does not match"},
		{"token as basic username", SourceAlertmanager, bearer, headers("Authorization", basic(testToken, "")), body, "basic auth password does not match"},
		{"malformed basic", SourceAlertmanager, bearer, headers("Authorization", "Basic !!!"), body, "malformed Basic credentials"},
		{"other scheme", SourceAlertmanager, bearer, headers("Authorization", "Token "+testToken), body, `scheme "Token" is not accepted`},
		{"two Authorization headers", SourceAlertmanager, bearer, headers("Authorization", "Bearer nope", "Authorization", "Bearer "+testToken), body, "more than one Authorization header"},

		// Configuration that can never authenticate.
		{"no credentials", SourceAlertmanager, Credentials{}, headers("Authorization", "Bearer x"), body, "no credentials configured for alertmanager"},
		{"hmac for a source that cannot sign", SourceAlertmanager, hmacOnly, headers(), body, "alertmanager does not sign its webhooks"},
		{"unknown source", "nagios", bearer, headers("Authorization", "Bearer "+testToken), body, `unknown webhook source "nagios"`},

		// Grafana HMAC.
		{"grafana body only", SourceGrafana, hmacOnly, grafanaSignedHeaders(time.Time{}, testSecret, body, ""), body, ""},
		{"grafana with timestamp", SourceGrafana, hmacOnly, grafanaSignedHeaders(authNow.Add(-time.Minute), testSecret, body, HeaderGrafanaTimestamp), body, ""},
		{"grafana with the other timestamp name", SourceGrafana, hmacOnly, grafanaSignedHeaders(authNow, testSecret, body, "X-Grafana-Alerting-Timestamp"), body, ""},
		{"grafana legacy signature header", SourceGrafana, hmacOnly, headers("X-Grafana-Alert-Signature", grafanaSignedHeaders(time.Time{}, testSecret, body, "").Get(HeaderGrafanaSignature)), body, ""},
		{"grafana signature in upper case hex", SourceGrafana, hmacOnly, headers(HeaderGrafanaSignature, strings.ToUpper(grafanaSignedHeaders(time.Time{}, testSecret, body, "").Get(HeaderGrafanaSignature))), body, ""},
		{"grafana missing signature", SourceGrafana, hmacOnly, headers(), body, "missing X-Grafana-Alerting-Signature header"},
		{"grafana stale", SourceGrafana, hmacOnly, grafanaSignedHeaders(authNow.Add(-7*time.Minute), testSecret, body, HeaderGrafanaTimestamp), body, "timestamp is 7m old: requests older than 5m are refused (replay protection)"},
		{"grafana tampered body", SourceGrafana, hmacOnly, grafanaSignedHeaders(authNow, testSecret, body, HeaderGrafanaTimestamp), tampered, "signature does not match the body (check the webhook's secret)"},
		{"grafana wrong secret", SourceGrafana, hmacOnly, grafanaSignedHeaders(authNow, oldSecret, body, HeaderGrafanaTimestamp), body, "signature does not match"},
		{"grafana timestamp added to a body-only signature", SourceGrafana, hmacOnly, func() http.Header {
			h := grafanaSignedHeaders(time.Time{}, testSecret, body, "")
			h.Set(HeaderGrafanaTimestamp, strconv.FormatInt(authNow.Unix(), 10))
			return h
		}(), body, "signature does not match"},
		{"grafana token and signature", SourceGrafana, both, func() http.Header {
			h := grafanaSignedHeaders(authNow, testSecret, body, HeaderGrafanaTimestamp)
			h.Set("Authorization", "Bearer "+testToken)
			return h
		}(), body, ""},
		{"grafana both configured, token missing", SourceGrafana, both, grafanaSignedHeaders(authNow, testSecret, body, HeaderGrafanaTimestamp), body, "missing Authorization header"},
		{"grafana both configured, signature missing", SourceGrafana, both, headers("Authorization", "Bearer "+testToken), body, "missing X-Grafana-Alerting-Signature header"},

		// PagerDuty v1 signatures.
		{"pagerduty", SourcePagerDuty, hmacOnly, headers(HeaderPagerDutySignature, SignPagerDuty(testSecret, body)), body, ""},
		{"pagerduty during secret rotation", SourcePagerDuty, hmacOnly, headers(HeaderPagerDutySignature, pdRotating), body, ""},
		{"pagerduty rotation, old secret still configured", SourcePagerDuty, Credentials{HMACSecret: oldSecret}, headers(HeaderPagerDutySignature, pdRotating), body, ""},
		{"pagerduty unknown scheme ignored", SourcePagerDuty, hmacOnly, headers(HeaderPagerDutySignature, "v2=abcd,"+SignPagerDuty(testSecret, body)), body, ""},
		{"pagerduty wrong secret", SourcePagerDuty, hmacOnly, headers(HeaderPagerDutySignature, SignPagerDuty(oldSecret, body)), body, "signature does not match the body"},
		{"pagerduty tampered body", SourcePagerDuty, hmacOnly, headers(HeaderPagerDutySignature, SignPagerDuty(testSecret, body)), tampered, "signature does not match the body"},
		{"pagerduty missing", SourcePagerDuty, hmacOnly, headers(), body, "missing X-PagerDuty-Signature header"},
		{"pagerduty no v1", SourcePagerDuty, hmacOnly, headers(HeaderPagerDutySignature, "v0=abc"), body, `has no "v1=" signature`},
		{"pagerduty too many signatures", SourcePagerDuty, hmacOnly, headers(HeaderPagerDutySignature, strings.Repeat("v1=00,", maxPagerDutySignatures)+SignPagerDuty(testSecret, body)), body, "at most 8 are checked"},

		// Generic HMAC.
		{"generic", SourceGeneric, hmacOnly, genericHeaders(authNow, testSecret, body), body, ""},
		{"generic 4m old", SourceGeneric, hmacOnly, genericHeaders(authNow.Add(-4*time.Minute), testSecret, body), body, ""},
		{"generic 30s ahead (clock skew)", SourceGeneric, hmacOnly, genericHeaders(authNow.Add(30*time.Second), testSecret, body), body, ""},
		{"generic stale", SourceGeneric, hmacOnly, genericHeaders(authNow.Add(-7*time.Minute), testSecret, body), body, "timestamp is 7m old: requests older than 5m are refused (replay protection)"},
		{"generic days old", SourceGeneric, hmacOnly, genericHeaders(authNow.Add(-72*time.Hour), testSecret, body), body, "timestamp is 3d old"},
		{"generic in the future", SourceGeneric, hmacOnly, genericHeaders(authNow.Add(10*time.Minute), testSecret, body), body, "timestamp is 10m in the future"},
		{"generic tampered body", SourceGeneric, hmacOnly, genericHeaders(authNow, testSecret, body), tampered, "signature does not match the body"},
		{"generic wrong secret", SourceGeneric, hmacOnly, genericHeaders(authNow, oldSecret, body), body, "signature does not match the body"},
		{"generic replay with a fresh timestamp", SourceGeneric, hmacOnly, func() http.Header {
			h := genericHeaders(authNow.Add(-time.Hour), testSecret, body)
			h.Set(HeaderQuenchTimestamp, strconv.FormatInt(authNow.Unix(), 10))
			return h
		}(), body, "signature does not match the body"},
		{"generic missing timestamp", SourceGeneric, hmacOnly, headers(HeaderQuenchSignature, "sha256=00"), body, "missing X-Quench-Timestamp header"},
		{"generic missing signature", SourceGeneric, hmacOnly, headers(HeaderQuenchTimestamp, "1714564800"), body, "missing X-Quench-Signature header"},
		{"generic timestamp not a number", SourceGeneric, hmacOnly, headers(HeaderQuenchTimestamp, "2024-05-01T12:00:00Z", HeaderQuenchSignature, "sha256=00"), body, "must be unix time in seconds"},
		{"generic signature without prefix", SourceGeneric, hmacOnly, func() http.Header {
			h := genericHeaders(authNow, testSecret, body)
			h.Set(HeaderQuenchSignature, strings.TrimPrefix(h.Get(HeaderQuenchSignature), "sha256="))
			return h
		}(), body, `must start with "sha256="`},
		{"generic bearer", SourceGeneric, bearer, headers("Authorization", "Bearer "+testToken), body, ""},
		{"generic both configured, signature missing", SourceGeneric, both, headers("Authorization", "Bearer "+testToken), body, "missing X-Quench-Signature header"},
	}
	for _, c := range cases {
		t.Run(c.source+"/"+c.name, func(t *testing.T) {
			err := Authenticate(c.source, c.h, c.body, c.cred, authNow)
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ae *AuthError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v (%T): want an *AuthError", err, err)
			}
			if !strings.Contains(ae.Msg, c.wantErr) {
				t.Errorf("message %q does not say %q", ae.Msg, c.wantErr)
			}
			for _, secret := range []string{testToken, testSecret, oldSecret} {
				if strings.Contains(ae.Msg, secret) {
					t.Errorf("message %q echoes a secret", ae.Msg)
				}
			}
		})
	}
}

func TestAuthCheckCredentials(t *testing.T) {
	for _, c := range []struct {
		source string
		cred   Credentials
		ok     bool
	}{
		{SourceAlertmanager, Credentials{Token: "t"}, true},
		{SourceAlertmanager, Credentials{HMACSecret: "s"}, false},
		{SourceDatadog, Credentials{HMACSecret: "s"}, false},
		{SourceGrafana, Credentials{HMACSecret: "s"}, true},
		{SourcePagerDuty, Credentials{Token: "t", HMACSecret: "s"}, true},
		{SourceGeneric, Credentials{}, false},
		{"nagios", Credentials{Token: "t"}, false},
	} {
		if err := CheckCredentials(c.source, c.cred); (err == nil) != c.ok {
			t.Errorf("CheckCredentials(%s, token=%t hmac=%t) = %v, want ok=%t", c.source, c.cred.Token != "", c.cred.HMACSecret != "", err, c.ok)
		}
	}
}

// FuzzAuthenticate: arbitrary headers, bodies, credentials and clocks never panic, a refusal
// is an *AuthError that does not echo the secrets, and what the Sign helpers produce is
// accepted for any body and refused once the body changes.
func FuzzAuthenticate(f *testing.F) {
	f.Add(uint8(0), "Bearer "+testToken, "", "", []byte(`{"a":1}`), testToken, "", int64(1714564800))
	f.Add(uint8(1), "", "v1=00", "1714564800", []byte(`{}`), "", testSecret, int64(1714564800))
	f.Add(uint8(2), basic("u", "p"), "sha256=zz", "-1", []byte{}, "p", testSecret, int64(-1))
	f.Add(uint8(4), "Basic", "v1=", "99999999999999999999", []byte("x"), "tok", "sec", int64(1<<62))
	sources := []string{SourceAlertmanager, SourceGrafana, SourcePagerDuty, SourceDatadog, SourceGeneric, "other"}
	f.Fuzz(func(t *testing.T, src uint8, authz, sig, ts string, body []byte, token, secret string, nowUnix int64) {
		source := sources[int(src)%len(sources)]
		now := time.Unix(nowUnix, 0)
		h := http.Header{}
		h.Set("Authorization", authz)
		for _, name := range []string{HeaderGrafanaSignature, HeaderPagerDutySignature, HeaderQuenchSignature} {
			h.Set(name, sig)
		}
		h.Set(HeaderQuenchTimestamp, ts)
		h.Set(HeaderGrafanaTimestamp, ts)
		cred := Credentials{Token: token, HMACSecret: secret}
		if err := Authenticate(source, h, body, cred, now); err != nil {
			var ae *AuthError
			if !errors.As(err, &ae) {
				t.Fatalf("error of type %T", err)
			}
			for _, s := range []string{token, secret} {
				if len(s) >= 12 && strings.Contains(ae.Msg, s) {
					t.Fatalf("message %q echoes a secret", ae.Msg)
				}
			}
		}
		if secret == "" {
			return
		}
		// Round trip through the Sign helpers, at any clock.
		signedTS, signed := SignGeneric(secret, now, body)
		gh := headers(HeaderQuenchTimestamp, signedTS, HeaderQuenchSignature, signed)
		pd := headers(HeaderPagerDutySignature, SignPagerDuty(secret, body))
		gts, gsig := SignGrafana(secret, now, body)
		gr := headers(HeaderGrafanaSignature, gsig, HeaderGrafanaTimestamp, gts)
		hmacOnly := Credentials{HMACSecret: secret}
		if nowUnix >= 0 { // SignGeneric's timestamp is unix seconds: a negative clock cannot sign
			if err := Authenticate(SourceGeneric, gh, body, hmacOnly, now); err != nil {
				t.Fatalf("generic signature refused: %v", err)
			}
			if err := Authenticate(SourceGrafana, gr, body, hmacOnly, now); err != nil {
				t.Fatalf("grafana signature refused: %v", err)
			}
		}
		if err := Authenticate(SourcePagerDuty, pd, body, hmacOnly, now); err != nil {
			t.Fatalf("pagerduty signature refused: %v", err)
		}
		changed := append(append([]byte(nil), body...), '!')
		if Authenticate(SourceGeneric, gh, changed, hmacOnly, now) == nil ||
			Authenticate(SourcePagerDuty, pd, changed, hmacOnly, now) == nil ||
			Authenticate(SourceGrafana, gr, changed, hmacOnly, now) == nil {
			t.Fatal("a changed body passed a signature made for the original")
		}
	})
}
