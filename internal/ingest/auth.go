package ingest

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Signature and timestamp headers, as each sender sets them.
const (
	// HeaderGrafanaSignature is Grafana's default HMAC header: hex HMAC-SHA256 of the body,
	// or of "<timestamp>:<body>" when a timestamp header is configured.
	HeaderGrafanaSignature = "X-Grafana-Alerting-Signature"
	// HeaderGrafanaTimestamp is the timestamp header name to configure in Grafana (its field
	// has no default; this is the name Grafana's provisioning docs use).
	HeaderGrafanaTimestamp = "X-Grafana-Alerting-Signature-Timestamp"
	// HeaderPagerDutySignature carries one or more "v1=<hex HMAC-SHA256 of the body>",
	// comma-separated while a subscription's secret is being rotated.
	HeaderPagerDutySignature = "X-PagerDuty-Signature"
	// HeaderQuenchTimestamp and HeaderQuenchSignature sign generic webhooks:
	// "sha256=<hex HMAC-SHA256 of timestamp + "." + body>", timestamp in unix seconds.
	HeaderQuenchTimestamp = "X-Quench-Timestamp"
	HeaderQuenchSignature = "X-Quench-Signature"
	// HeaderLangfuseSignature is Langfuse's automation webhook signature:
	// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">", keyed with the webhook's
	// signing secret (lf-whsec_…) as it is shown.
	HeaderLangfuseSignature = "X-Langfuse-Signature"

	// ReplayWindow is how far a signed timestamp may be from now, either way (clock skew).
	ReplayWindow = 5 * time.Minute
)

// Header names some Grafana versions and setups use instead of the ones above.
var (
	grafanaSignatureHeaders = []string{HeaderGrafanaSignature, "X-Grafana-Alert-Signature"}
	grafanaTimestampHeaders = []string{HeaderGrafanaTimestamp, "X-Grafana-Alerting-Timestamp"}
)

// maxPagerDutySignatures bounds the work one request can ask for.
const maxPagerDutySignatures = 8

// signedSources are the sources that sign their requests with an HMAC secret. Alertmanager,
// Datadog and LiteLLM cannot sign: they authenticate with a bearer token (Alertmanager
// http_config authorization or basic_auth; a Datadog custom Authorization header; LiteLLM's
// webhook URL with the token as its password, which its HTTP client sends as Basic auth).
var signedSources = map[string]bool{SourceGrafana: true, SourcePagerDuty: true, SourceGeneric: true, SourceLangfuseAlerts: true}

// sourceList names the sources for error messages.
func sourceList() string {
	names := make([]string, 0, len(Parsers))
	for s := range Parsers {
		names = append(names, s)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// CheckCredentials reports a configuration that can never authenticate a request: no
// credentials at all, or an HMAC secret for a source that does not sign. Call it at startup.
func CheckCredentials(source string, cred Credentials) error {
	if _, ok := Parsers[source]; !ok {
		return fmt.Errorf("unknown webhook source %q: expected one of %s", source, sourceList())
	}
	if cred.Token == "" && cred.HMACSecret == "" {
		return fmt.Errorf("no credentials configured for %s: set a token (or, for grafana, pagerduty, generic and langfuse_alerts, an HMAC secret)", source)
	}
	if cred.HMACSecret != "" && !signedSources[source] {
		return fmt.Errorf("%s does not sign its webhooks: configure a bearer token for it instead of an HMAC secret", source)
	}
	return nil
}

// Authenticate checks one webhook request of source against its credentials. What is
// configured is required: the token if Token is set, the signature if HMACSecret is set, both
// if both are. body is the exact request body (signatures cover its bytes). A failure is an
// *AuthError whose message says what to fix and never contains a secret.
func Authenticate(source string, h http.Header, body []byte, cred Credentials, now time.Time) error {
	if err := CheckCredentials(source, cred); err != nil {
		return &AuthError{Msg: err.Error()}
	}
	if cred.Token != "" {
		if err := checkToken(source, h, cred.Token); err != nil {
			return err
		}
	}
	if cred.HMACSecret == "" {
		return nil
	}
	switch source {
	case SourceGrafana:
		return checkGrafanaSignature(h, body, cred.HMACSecret, now)
	case SourcePagerDuty:
		return checkPagerDutySignature(h, body, cred.HMACSecret)
	case SourceLangfuseAlerts:
		return checkLangfuseSignature(h, body, cred.HMACSecret, now)
	default: // SourceGeneric (CheckCredentials refused the others)
		return checkGenericSignature(h, body, cred.HMACSecret, now)
	}
}

// checkToken accepts "Authorization: Bearer <token>", or Basic auth whose password is the
// token (Alertmanager's http_config.basic_auth; the username is not checked).
func checkToken(source string, h http.Header, token string) error {
	values := h.Values("Authorization")
	switch {
	case len(values) == 0 || strings.TrimSpace(values[0]) == "":
		return &AuthError{Msg: fmt.Sprintf(`missing Authorization header: send "Authorization: Bearer <token>" with the token configured for %s`, source)}
	case len(values) > 1:
		return &AuthError{Msg: "more than one Authorization header: send exactly one"}
	}
	scheme, cred, _ := strings.Cut(strings.TrimSpace(values[0]), " ")
	cred = strings.TrimSpace(cred)
	switch strings.ToLower(scheme) {
	case "bearer":
		if !secretEqual(cred, token) {
			return &AuthError{Msg: fmt.Sprintf("bearer token does not match the token configured for %s", source)}
		}
	case "basic":
		decoded, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return &AuthError{Msg: "malformed Basic credentials: expected base64 of user:password"}
		}
		_, password, ok := strings.Cut(string(decoded), ":")
		if !ok {
			return &AuthError{Msg: "malformed Basic credentials: expected base64 of user:password"}
		}
		if !secretEqual(password, token) {
			return &AuthError{Msg: fmt.Sprintf("basic auth password does not match the token configured for %s (the password is the token; any username)", source)}
		}
	default:
		return &AuthError{Msg: fmt.Sprintf("Authorization scheme %q is not accepted: send Bearer <token>, or Basic auth with the token as the password", shortForMsg(scheme))}
	}
	return nil
}

// secretEqual compares in constant time; hashing first hides the length too.
func secretEqual(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

func checkGrafanaSignature(h http.Header, body []byte, secret string, now time.Time) error {
	sigHeader, sig := firstHeader(h, grafanaSignatureHeaders)
	if sig == "" {
		return &AuthError{Msg: fmt.Sprintf("missing %s header: set the contact point's HMAC secret in Grafana, or remove the secret from quench's config", HeaderGrafanaSignature)}
	}
	tsHeader, ts := firstHeader(h, grafanaTimestampHeaders)
	if ts != "" {
		if err := checkFresh(tsHeader, ts, now); err != nil {
			return err
		}
	}
	if !hmacHexEqual(secret, grafanaSigned(ts, body), sig) {
		return signatureMismatch(sigHeader)
	}
	return nil
}

// grafanaSigned is what Grafana signs: the body, or "<timestamp>:<body>" with a timestamp.
func grafanaSigned(ts string, body []byte) []byte {
	if ts == "" {
		return body
	}
	return append([]byte(ts+":"), body...)
}

func checkPagerDutySignature(h http.Header, body []byte, secret string) error {
	header := strings.Join(h.Values(HeaderPagerDutySignature), ",")
	if strings.TrimSpace(header) == "" {
		return &AuthError{Msg: fmt.Sprintf("missing %s header: set the webhook subscription's signing secret in quench, or remove it from quench's config", HeaderPagerDutySignature)}
	}
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "v1="); ok {
			sigs = append(sigs, v)
		}
	}
	if len(sigs) == 0 {
		return &AuthError{Msg: fmt.Sprintf(`%s has no "v1=" signature`, HeaderPagerDutySignature)}
	}
	if len(sigs) > maxPagerDutySignatures {
		return &AuthError{Msg: fmt.Sprintf("%s has %d signatures: at most %d are checked", HeaderPagerDutySignature, len(sigs), maxPagerDutySignatures)}
	}
	for _, sig := range sigs { // any one matching passes: PagerDuty sends old and new during a rotation
		if hmacHexEqual(secret, body, sig) {
			return nil
		}
	}
	return signatureMismatch(HeaderPagerDutySignature)
}

func checkGenericSignature(h http.Header, body []byte, secret string, now time.Time) error {
	sig := strings.TrimSpace(h.Get(HeaderQuenchSignature))
	if sig == "" {
		return &AuthError{Msg: fmt.Sprintf(`missing %s header: send "sha256=<hex HMAC-SHA256 of timestamp + "." + body>" with %s`, HeaderQuenchSignature, HeaderQuenchTimestamp)}
	}
	ts := strings.TrimSpace(h.Get(HeaderQuenchTimestamp))
	if ts == "" {
		return &AuthError{Msg: fmt.Sprintf("missing %s header: the unix time in seconds, signed with the body", HeaderQuenchTimestamp)}
	}
	if err := checkFresh(HeaderQuenchTimestamp, ts, now); err != nil {
		return err
	}
	hexSig, ok := strings.CutPrefix(sig, "sha256=")
	if !ok {
		return &AuthError{Msg: fmt.Sprintf(`%s must start with "sha256="`, HeaderQuenchSignature)}
	}
	if !hmacHexEqual(secret, genericSigned(ts, body), hexSig) {
		return signatureMismatch(HeaderQuenchSignature)
	}
	return nil
}

// checkLangfuseSignature checks "t=<ts>,v1=<hex>" over "<ts>.<body>", and that ts is fresh
// (Langfuse signs each attempt anew, so a retry carries a fresh timestamp).
func checkLangfuseSignature(h http.Header, body []byte, secret string, now time.Time) error {
	values := h.Values(HeaderLangfuseSignature)
	if len(values) == 0 || strings.TrimSpace(values[0]) == "" {
		return &AuthError{Msg: fmt.Sprintf("missing %s header: set the automation's signing secret in quench (hooks.langfuse_alerts.hmac_secret), or remove it from quench's config", HeaderLangfuseSignature)}
	}
	if len(values) > 1 {
		return &AuthError{Msg: fmt.Sprintf("more than one %s header: send exactly one", HeaderLangfuseSignature)}
	}
	var ts, sig string
	for _, part := range strings.Split(values[0], ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = strings.TrimSpace(v)
		case "v1":
			sig = strings.TrimSpace(v)
		}
	}
	if ts == "" || sig == "" {
		return &AuthError{Msg: fmt.Sprintf(`%s must be "t=<unix seconds>,v1=<hex signature>"`, HeaderLangfuseSignature)}
	}
	if err := checkFresh(HeaderLangfuseSignature+" t", ts, now); err != nil {
		return err
	}
	if !hmacHexEqual(secret, genericSigned(ts, body), sig) {
		return signatureMismatch(HeaderLangfuseSignature)
	}
	return nil
}

// SignLangfuse returns the HeaderLangfuseSignature value Langfuse sends for body at ts.
func SignLangfuse(secret string, ts time.Time, body []byte) string {
	t := strconv.FormatInt(ts.Unix(), 10)
	return "t=" + t + ",v1=" + hex.EncodeToString(hmacSum(secret, genericSigned(t, body)))
}

// genericSigned is "<ts>.<body>": what quench's generic signature and Langfuse's sign.
func genericSigned(ts string, body []byte) []byte {
	return append([]byte(ts+"."), body...)
}

func signatureMismatch(header string) error {
	return &AuthError{Msg: fmt.Sprintf("%s: signature does not match the body (check the webhook's secret)", header)}
}

// hmacHexEqual reports whether sigHex is the hex HMAC-SHA256 of msg under secret.
func hmacHexEqual(secret string, msg []byte, sigHex string) bool {
	got, err := hex.DecodeString(strings.TrimSpace(sigHex))
	if err != nil {
		return false
	}
	return hmac.Equal(got, hmacSum(secret, msg))
}

func hmacSum(secret string, msg []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(msg)
	return m.Sum(nil)
}

// checkFresh refuses a timestamp (unix seconds) more than ReplayWindow from now.
func checkFresh(header, ts string, now time.Time) error {
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || secs < 0 {
		return &AuthError{Msg: fmt.Sprintf("%s must be unix time in seconds, got %q", header, shortForMsg(ts))}
	}
	t := time.Unix(secs, 0)
	if age := now.Sub(t); age > ReplayWindow {
		return &AuthError{Msg: fmt.Sprintf("timestamp is %s old: requests older than %s are refused (replay protection)", roughDuration(age), roughDuration(ReplayWindow))}
	}
	if ahead := t.Sub(now); ahead > ReplayWindow {
		return &AuthError{Msg: fmt.Sprintf("timestamp is %s in the future: requests more than %s ahead are refused (check the sender's clock)", roughDuration(ahead), roughDuration(ReplayWindow))}
	}
	return nil
}

// roughDuration renders 7m, 5m30s, 3h10m, 12d: precise enough for an error message.
func roughDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d >= time.Hour:
		if m := (d % time.Hour) / time.Minute; m != 0 {
			return fmt.Sprintf("%dh%dm", d/time.Hour, m)
		}
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute:
		if s := (d % time.Minute) / time.Second; s != 0 {
			return fmt.Sprintf("%dm%ds", d/time.Minute, s)
		}
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

func firstHeader(h http.Header, names []string) (name, value string) {
	for _, n := range names {
		if v := strings.TrimSpace(h.Get(n)); v != "" {
			return n, v
		}
	}
	return names[0], ""
}

// SignGeneric signs a generic webhook body: set HeaderQuenchTimestamp to tsHeader and
// HeaderQuenchSignature to sigHeader.
func SignGeneric(secret string, ts time.Time, body []byte) (tsHeader, sigHeader string) {
	tsHeader = strconv.FormatInt(ts.Unix(), 10)
	return tsHeader, "sha256=" + hex.EncodeToString(hmacSum(secret, genericSigned(tsHeader, body)))
}

// SignPagerDuty returns the HeaderPagerDutySignature value PagerDuty sends for body.
func SignPagerDuty(secret string, body []byte) string {
	return "v1=" + hex.EncodeToString(hmacSum(secret, body))
}

// SignGrafana signs as Grafana does: with a timestamp (set HeaderGrafanaTimestamp to
// tsHeader) unless ts is zero, when Grafana has no timestamp header configured and signs the
// body alone (tsHeader is then ""). Set HeaderGrafanaSignature to sigHeader.
func SignGrafana(secret string, ts time.Time, body []byte) (tsHeader, sigHeader string) {
	if !ts.IsZero() {
		tsHeader = strconv.FormatInt(ts.Unix(), 10)
	}
	return tsHeader, hex.EncodeToString(hmacSum(secret, grafanaSigned(tsHeader, body)))
}
