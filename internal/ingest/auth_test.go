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

		// LiteLLM sends no header of its own choosing: the token rides in WEBHOOK_URL's
		// userinfo, which its HTTP client (httpx) sends as Basic auth.
		{"litellm basic from the URL", SourceLiteLLM, bearer, headers("Authorization", basic("litellm", testToken)), body, ""},
		{"litellm bearer from a proxy", SourceLiteLLM, bearer, headers("Authorization", "Bearer "+testToken), body, ""},
		{"litellm no userinfo in the URL", SourceLiteLLM, bearer, headers(), body, "missing Authorization header"},
		{"litellm wrong password", SourceLiteLLM, bearer, headers("Authorization", basic("litellm", "guess")), body, "basic auth password does not match the token configured for litellm"},
		{"litellm cannot sign", SourceLiteLLM, hmacOnly, headers(), body, "litellm does not sign its webhooks"},

		// Langfuse: t=<ts>,v1=<hex HMAC of "<ts>.<body>">.
		{"langfuse", SourceLangfuseAlerts, hmacOnly, headers(HeaderLangfuseSignature, SignLangfuse(testSecret, authNow, body)), body, ""},
		{"langfuse header name in lower case", SourceLangfuseAlerts, hmacOnly, headers("x-langfuse-signature", SignLangfuse(testSecret, authNow.Add(-2*time.Minute), body)), body, ""},
		{"langfuse spaces after the comma", SourceLangfuseAlerts, hmacOnly, headers(HeaderLangfuseSignature, strings.Replace(SignLangfuse(testSecret, authNow, body), ",", ", ", 1)), body, ""},
		{"langfuse missing", SourceLangfuseAlerts, hmacOnly, headers(), body, "missing X-Langfuse-Signature header"},
		{"langfuse no v1", SourceLangfuseAlerts, hmacOnly, headers(HeaderLangfuseSignature, "t=1714564800"), body, `must be "t=<unix seconds>,v1=<hex signature>"`},
		{"langfuse no t", SourceLangfuseAlerts, hmacOnly, headers(HeaderLangfuseSignature, "v1=00"), body, `must be "t=<unix seconds>,v1=<hex signature>"`},
		{"langfuse stale", SourceLangfuseAlerts, hmacOnly, headers(HeaderLangfuseSignature, SignLangfuse(testSecret, authNow.Add(-6*time.Minute), body)), body, "timestamp is 6m old"},
		{"langfuse tampered body", SourceLangfuseAlerts, hmacOnly, headers(HeaderLangfuseSignature, SignLangfuse(testSecret, authNow, body)), tampered, "X-Langfuse-Signature: signature does not match the body"},
		{"langfuse wrong secret", SourceLangfuseAlerts, hmacOnly, headers(HeaderLangfuseSignature, SignLangfuse(oldSecret, authNow, body)), body, "signature does not match"},
		{"langfuse timestamp moved", SourceLangfuseAlerts, hmacOnly, headers(HeaderLangfuseSignature, strings.Replace(SignLangfuse(testSecret, authNow.Add(-time.Minute), body), "t="+strconv.FormatInt(authNow.Add(-time.Minute).Unix(), 10), "t="+strconv.FormatInt(authNow.Unix(), 10), 1)), body, "signature does not match"},
		{"langfuse two headers", SourceLangfuseAlerts, hmacOnly, headers(HeaderLangfuseSignature, "t=1,v1=00", HeaderLangfuseSignature, SignLangfuse(testSecret, authNow, body)), body, "more than one X-Langfuse-Signature header"},
		{"langfuse static bearer header and signature", SourceLangfuseAlerts, both, headers("Authorization", "Bearer "+testToken, HeaderLangfuseSignature, SignLangfuse(testSecret, authNow, body)), body, ""},
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

// Langfuse's scheme, from its documentation: hex HMAC-SHA256 of "<t>.<raw body>" with the
// signing secret as shown. The vector was computed apart from quench (Python's hmac).
func TestAuthLangfuseKnownVector(t *testing.T) {
	const secret = "lf-whsec_3f9a2c7e"
	body := []byte(`{"type":"monitor-alert"}`)
	header := "t=1714564800,v1=64e987a5ca6cf61cf7f7aac1a840531c682c317d889a3422a57916e3dc53120e"
	if got := SignLangfuse(secret, authNow, body); got != header {
		t.Errorf("SignLangfuse = %q, want %q", got, header)
	}
	if err := Authenticate(SourceLangfuseAlerts, headers(HeaderLangfuseSignature, header), body, Credentials{HMACSecret: secret}, authNow.Add(time.Minute)); err != nil {
		t.Errorf("Langfuse's own signature refused: %v", err)
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
		{SourceLiteLLM, Credentials{Token: "t"}, true},
		{SourceLiteLLM, Credentials{HMACSecret: "s"}, false},
		{SourceLangfuseAlerts, Credentials{HMACSecret: "s"}, true},
		{SourceLangfuseAlerts, Credentials{Token: "t"}, true},
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
	sources := []string{SourceAlertmanager, SourceGrafana, SourcePagerDuty, SourceDatadog, SourceGeneric, SourceLiteLLM, SourceLangfuseAlerts, "other"}
	f.Fuzz(func(t *testing.T, src uint8, authz, sig, ts string, body []byte, token, secret string, nowUnix int64) {
		source := sources[int(src)%len(sources)]
		now := time.Unix(nowUnix, 0)
		h := http.Header{}
		h.Set("Authorization", authz)
		for _, name := range []string{HeaderGrafanaSignature, HeaderPagerDutySignature, HeaderQuenchSignature, HeaderLangfuseSignature} {
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
			lf := headers(HeaderLangfuseSignature, SignLangfuse(secret, now, body))
			if err := Authenticate(SourceLangfuseAlerts, lf, body, hmacOnly, now); err != nil {
				t.Fatalf("langfuse signature refused: %v", err)
			}
			if Authenticate(SourceLangfuseAlerts, lf, append(append([]byte(nil), body...), '!'), hmacOnly, now) == nil {
				t.Fatal("a changed body passed a Langfuse signature made for the original")
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
