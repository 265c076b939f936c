package redact

import (
	"encoding/base64"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// Kinds of what the redactor masks, as the evidence manifest counts them.
const (
	KindPrivateKey     = "private_key"       // PEM private key block, complete or cut off
	KindPGPPrivateKey  = "pgp_private_key"   // PGP private key block, complete or cut off
	KindAuthHeader     = "auth_header"       // the credentials of an Authorization header
	KindBearerToken    = "bearer_token"      // "Bearer <token>" outside a header
	KindBasicAuth      = "basic_auth"        // "Basic <base64 user:password>" outside a header
	KindJWT            = "jwt"               // a JSON Web Token
	KindURLCredentials = "url_credentials"   // the password of scheme://user:password@host
	KindSlackWebhook   = "slack_webhook"     // a Slack incoming webhook URL
	KindAzureKey       = "azure_key"         // AccountKey= / SharedAccessKey= of a connection string
	KindAzureSAS       = "azure_sas"         // the sig= of a shared access signature
	KindSecretValue    = "secret_value"      // the value of a key that names a secret
	KindOpenAIKey      = "openai_key"        // sk-… (any case)
	KindAnthropicKey   = "anthropic_key"     // sk-ant-…
	KindStripeKey      = "stripe_key"        // sk_/rk_/pk_ live|test, whsec_
	KindAWSAccessKeyID = "aws_access_key_id" // AKIA…, ASIA…
	KindGitHubToken    = "github_token"      // ghp_, gho_, ghu_, ghs_, ghr_, github_pat_
	KindGitLabToken    = "gitlab_token"      // glpat-
	KindSlackToken     = "slack_token"       // xoxb-, xoxp-, xoxa-, xoxr-, xoxe-, xapp-
	KindGrafanaToken   = "grafana_token"     // glsa_, glc_
	KindNPMToken       = "npm_token"         // npm_
	KindGoogleAPIKey   = "google_api_key"    // AIza…
	KindHuggingFace    = "huggingface_token" // hf_
	KindLangfuseKey    = "langfuse_key"      // pk-lf-, sk-lf-
)

// vendorKeys are API keys recognisable by their prefix. Langfuse before OpenAI: both start
// with sk-. Stripe's publishable pk_ keys are public by design; they are masked anyway, as a
// sample has no use for them and they name the account.
var vendorKeys = []struct {
	kind string
	re   *regexp.Regexp
}{
	{KindLangfuseKey, regexp.MustCompile(`\b[ps]k-lf-[A-Za-z0-9-]{16,}`)},
	{KindAnthropicKey, regexp.MustCompile(`(?i)\bsk-ant-[A-Za-z0-9_-]{16,}`)},
	{KindOpenAIKey, regexp.MustCompile(`(?i)\bsk-[A-Za-z0-9_-]{16,}`)},
	{KindStripeKey, regexp.MustCompile(`\b(?:(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9]{24,})`)},
	{KindAWSAccessKeyID, regexp.MustCompile(`\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b`)},
	{KindGitHubToken, regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})`)},
	{KindGitLabToken, regexp.MustCompile(`\bglpat-[A-Za-z0-9_-]{20,}`)},
	{KindSlackToken, regexp.MustCompile(`\b(?:xox[abposre]-[A-Za-z0-9-]{10,}|xapp-[A-Za-z0-9-]{10,})`)},
	{KindGrafanaToken, regexp.MustCompile(`\b(?:glsa_[A-Za-z0-9_]{20,}|glc_[A-Za-z0-9_=+/-]{20,})`)},
	{KindNPMToken, regexp.MustCompile(`\bnpm_[A-Za-z0-9]{30,}`)},
	{KindGoogleAPIKey, regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}`)},
	{KindHuggingFace, regexp.MustCompile(`\bhf_[A-Za-z0-9]{30,}`)},
}

var (
	// A complete PEM or PGP private key block.
	privateBlock = regexp.MustCompile(`-----BEGIN ([A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?)-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----`)
	// The start of one whose END line is missing (the text was cut); see cutBlockEnd.
	privateBlockCut = regexp.MustCompile(`-----BEGIN ([A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?)-----`)
	base64Line      = regexp.MustCompile(`^[A-Za-z0-9+/=]+$`)
	pemHeaderLine   = regexp.MustCompile(`^[A-Za-z-]+: \S`)

	authHeader   = regexp.MustCompile(`(?i)\b(authorization["']?\s*[:=]\s*["']?\s*((?:bearer|basic|token|digest|apikey|negotiate|sso-key)\s+)?)([^\s"',;]+)`)
	bearer       = regexp.MustCompile(`(?i)\b(bearer[ \t]+)([A-Za-z0-9._~+/=-]{8,})`)
	basic        = regexp.MustCompile(`(?i)\b(basic[ \t]+)([A-Za-z0-9+/]{8,}={0,2})`)
	jwt          = regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}`)
	slackWebhook = regexp.MustCompile(`https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+`)
	urlPassword  = regexp.MustCompile(`\b([A-Za-z][A-Za-z0-9+.-]*://[^\s:/@"'<>]*:)([^\s@/"'<>]+)@`)
	azureKey     = regexp.MustCompile(`(?i)\b((?:AccountKey|SharedAccessKey)\s*=\s*)([^;\s"']{8,})`)
	azureSAS     = regexp.MustCompile(`(?i)([?&;]sig=)([A-Za-z0-9%+/=]{10,})`)
	// keyValue finds a key (maybe quoted) followed by : or =; the value is parsed by hand.
	// A quote may be escaped (JSON inside a JSON string).
	keyValue = regexp.MustCompile(`(?:^|[^A-Za-z0-9_.\-])(\\?["']?)([A-Za-z_][A-Za-z0-9_.\-]{0,63})(\\?["']?)[ \t]*([:=])[ \t]*`)
)

// isMask reports whether s is one of the masks (so a second pass leaves it).
func isMask(s string) bool { return slices.Contains(allMasks, s) }

func containsMask(s string) bool {
	return slices.ContainsFunc(allMasks, func(m string) bool { return strings.Contains(s, m) })
}

// cutBlockEnd is where a private key block with no END line ends: after the key material
// on the BEGIN line, header lines (Proc-Type: …, Version: …), one blank line, and lines of
// base64, the lines broken by real or JSON-escaped newlines. The first other line ends it.
func cutBlockEnd(text string, from int) int {
	end := from
	// Key material pasted on the BEGIN line, space-separated.
	for {
		rest := text[end:]
		trimmed := strings.TrimLeft(rest, " \t")
		word := trimmed[:len(trimmed)-len(strings.TrimLeft(trimmed, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="))]
		if word == "" || len(trimmed) == len(rest) {
			break
		}
		end += len(rest) - len(trimmed) + len(word)
	}
	const (
		headers = iota
		blank
		body
	)
	state := headers
	pos := end
	for pos < len(text) {
		nl := 0
		switch {
		case strings.HasPrefix(text[pos:], "\r\n"):
			nl = 2
		case text[pos] == '\n':
			nl = 1
		case strings.HasPrefix(text[pos:], `\r\n`):
			nl = 4
		case strings.HasPrefix(text[pos:], `\n`):
			nl = 2
		default:
			return end
		}
		start := pos + nl
		stop := len(text)
		for _, sep := range []string{"\n", `\n`} {
			if i := strings.Index(text[start:], sep); i >= 0 && start+i < stop {
				stop = start + i
			}
		}
		line := strings.TrimSpace(strings.TrimSuffix(strings.TrimSuffix(text[start:stop], "\r"), `\r`))
		switch {
		case line == "" && state == headers:
			state = blank
		case pemHeaderLine.MatchString(line) && state == headers:
			end = stop
		case base64Line.MatchString(line):
			state = body
			end = stop
		default:
			return end
		}
		pos = stop
	}
	return end
}

func blockKind(label string) string {
	if strings.Contains(label, "PGP") {
		return KindPGPPrivateKey
	}
	return KindPrivateKey
}

// secretRules run before the personal-data rules: secrets may hold digit runs or '@'.
func secretRules() []rule {
	rules := []rule{
		{privateBlock, func(text string, m []int) (string, int, string) {
			return MaskPrivateKey, m[1], blockKind(text[m[2]:m[3]])
		}},
		{privateBlockCut, func(text string, m []int) (string, int, string) {
			return MaskPrivateKey, cutBlockEnd(text, m[1]), blockKind(text[m[2]:m[3]])
		}},
		{authHeader, func(text string, m []int) (string, int, string) {
			cred := text[m[6]:m[7]]
			if isMask(cred) || isPlaceholder(cred) || strings.HasPrefix(cred, "$") || strings.HasPrefix(cred, "{") {
				return "", 0, ""
			}
			// Prose ("Authorization: see below", "Basic with your password") is told
			// apart by the credential's look.
			scheme := ""
			if m[4] >= 0 {
				scheme = strings.ToLower(strings.TrimSpace(text[m[4]:m[5]]))
			}
			switch {
			case scheme == "basic" && (decodesToUserPass(cred) || strong(cred)):
			case scheme != "" && scheme != "basic" && (strong(cred) || len(cred) >= 16):
			case scheme == "" && strong(cred):
			default:
				return "", 0, ""
			}
			return text[m[2]:m[3]] + MaskToken, m[1], KindAuthHeader
		}},
		{bearer, func(text string, m []int) (string, int, string) {
			// Prose says "bearer authentication"; a token has digits or punctuation.
			if !strings.ContainsFunc(text[m[4]:m[5]], func(r rune) bool { return !unicode.IsLetter(r) }) {
				return "", 0, ""
			}
			return text[m[2]:m[3]] + MaskToken, m[1], KindBearerToken
		}},
		{basic, func(text string, m []int) (string, int, string) {
			// "basic arithmetic" is prose; Basic credentials decode to user:password.
			if !decodesToUserPass(text[m[4]:m[5]]) {
				return "", 0, ""
			}
			return text[m[2]:m[3]] + MaskToken, m[1], KindBasicAuth
		}},
		{jwt, fixedKind(MaskJWT, KindJWT)},
		{slackWebhook, fixedKind(MaskAPIKey, KindSlackWebhook)},
		{urlPassword, func(text string, m []int) (string, int, string) {
			if isMask(text[m[4]:m[5]]) {
				return "", 0, ""
			}
			return text[m[2]:m[3]] + MaskSecret + "@", m[1], KindURLCredentials
		}},
		{azureKey, keepLabel(MaskSecret, KindAzureKey)},
		{azureSAS, keepLabel(MaskSecret, KindAzureSAS)},
	}
	for _, v := range vendorKeys {
		rules = append(rules, rule{v.re, fixedKind(MaskAPIKey, v.kind)})
	}
	return append(rules, rule{keyValue, secretValue})
}

func fixedKind(mask, kind string) replacer {
	return func(_ string, m []int) (string, int, string) { return mask, m[1], kind }
}

// keepLabel keeps submatch 1 (the label) and masks submatch 2.
func keepLabel(mask, kind string) replacer {
	return func(text string, m []int) (string, int, string) {
		if isMask(text[m[4]:m[5]]) {
			return "", 0, ""
		}
		return text[m[2]:m[3]] + mask, m[1], kind
	}
}

func decodesToUserPass(s string) bool {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	}
	if err != nil || len(b) < 3 {
		return false
	}
	i := strings.IndexByte(string(b), ':')
	if i <= 0 {
		return false
	}
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// secretWords are key segments that name a secret; secretPairs are two adjacent segments
// that do (api key, access key). notSecret segments make a key about a secret rather than
// one: token_count, max_tokens, password_reset_url, token_type, secret_name.
var (
	secretWords = set("password", "passwd", "pwd", "pass", "passphrase", "passcode", "secret", "secrets", "token",
		"credential", "credentials", "creds", "auth", "authorization", "apikey", "accesskey", "secretkey",
		"privatekey", "clientsecret", "sessiontoken", "authtoken", "accesstoken", "refreshtoken", "idtoken",
		"bearertoken", "signingkey", "encryptionkey", "masterkey", "accountkey", "connectionstring")
	secretPairs = set("api key", "access key", "private key", "secret key", "account key", "signing key",
		"encryption key", "master key", "auth key", "connection string", "client secret")
	notSecret = set("count", "counts", "max", "min", "limit", "limits", "usage", "used", "type", "types", "url", "uri",
		"urls", "path", "file", "filename", "length", "len", "id", "ids", "expiry", "expires", "expiration", "ttl",
		"name", "names", "endpoint", "reset", "hint", "policy", "field", "header", "format", "estimate", "window",
		"encoding", "prompt", "required", "enabled", "rotation", "valid", "validity", "budget", "kind", "version",
		"scope", "scopes", "label", "description", "env", "ref", "provider", "method", "mode", "strategy",
		"location", "store", "rate", "index", "position", "cost", "price", "size", "total", "per", "input",
		"output", "prefix", "suffix", "pattern", "regex", "placeholder", "strength", "hash", "salt", "algorithm",
		"changed", "created", "updated", "at", "last", "first", "manager", "field", "form", "min", "chars")
)

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// keySegments splits a key into lower-case words at punctuation and camelCase humps:
// "X-Api-Key" → x api key, "maxTokens" → max tokens, "DB_PASSWORD" → db password.
func keySegments(key string) []string {
	var segs []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			segs = append(segs, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	rs := []rune(key)
	for i, r := range rs {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
			continue
		case unicode.IsUpper(r) && i > 0 && unicode.IsLower(rs[i-1]):
			flush()
		case unicode.IsUpper(r) && i > 0 && unicode.IsUpper(rs[i-1]) && i+1 < len(rs) && unicode.IsLower(rs[i+1]):
			flush() // "APIKey" → API Key
		}
		cur = append(cur, r)
	}
	flush()
	return segs
}

// namesSecret reports whether a key names a secret.
func namesSecret(key string) bool {
	segs := keySegments(key)
	found := false
	for i, s := range segs {
		if notSecret[s] {
			return false
		}
		if secretWords[s] {
			found = true
		}
		if i > 0 && secretPairs[segs[i-1]+" "+s] {
			found = true
		}
	}
	return found
}

// secretValue masks the value after a key that names a secret: a quoted string, or a bare
// word. A bare word that reads like prose or code (a lower-case word, a call) stays unless
// the context says it is a value: a quoted key, a query string, a line of its own.
func secretValue(text string, m []int) (string, int, string) {
	openQ, key, closeQ := text[m[2]:m[3]], text[m[4]:m[5]], text[m[6]:m[7]]
	if !namesSecret(key) {
		return "", 0, ""
	}
	keyStart := m[4] - len(openQ)
	pos := m[1]
	if pos >= len(text) {
		return "", 0, ""
	}
	head := text[m[0]:pos] // what stays: the key and the separator
	c := text[pos]
	if c == '=' || (text[m[8]:m[9]] == ":" && c == ':') {
		return "", 0, "" // ==, :=, ::
	}
	if q := quoteAt(text, pos); q != "" {
		if openQ != "" && closeQ == "" && q == openQ {
			return "", 0, "" // the quote closes a string the key was inside: prose
		}
		end := closingQuote(text, pos+len(q), q)
		if end < 0 {
			return "", 0, ""
		}
		val := text[pos+len(q) : end]
		if val == "" || containsMask(val) || strings.HasPrefix(val, "${") || strings.HasPrefix(val, "{{") || isPlaceholder(val) {
			return "", 0, ""
		}
		return head + q + MaskSecret + q, end + len(q), KindSecretValue
	}
	end := pos
	for end < len(text) && !strings.ContainsRune(" \t\r\n,;&\"'(){}[]<>\\`|", rune(text[end])) {
		end++
	}
	val := text[pos:end]
	if val == "" || isLiteral(val) || strings.HasPrefix(val, "$") || isPlaceholder(val) {
		return "", 0, ""
	}
	if end < len(text) && strings.IndexByte("([\"'", text[end]) >= 0 {
		return "", 0, "" // a call, an index, a string prefix (f"…"): code
	}
	val = strings.TrimRight(val, ".:") // the end of a sentence
	end = pos + len(val)
	if val == "" {
		return "", 0, ""
	}
	if !(closeQ != "" || inQuery(text, keyStart) || ownLine(text, keyStart, end) || strong(val)) {
		return "", 0, ""
	}
	return head + MaskSecret, end, KindSecretValue
}

// quoteAt is the quote that opens a value at pos: ", ', or one escaped (\").
func quoteAt(text string, pos int) string {
	switch {
	case text[pos] == '"' || text[pos] == '\'':
		return text[pos : pos+1]
	case text[pos] == '\\' && pos+1 < len(text) && (text[pos+1] == '"' || text[pos+1] == '\''):
		return text[pos : pos+2]
	}
	return ""
}

// closingQuote finds the quote q that ends a value starting at from, on the same line.
func closingQuote(text string, from int, q string) int {
	for i := from; i < len(text) && i-from < 8192; i++ {
		switch {
		case strings.HasPrefix(text[i:], q):
			return i
		case text[i] == '\\':
			i++
		case text[i] == '\n':
			return -1
		}
	}
	return -1
}

func isLiteral(v string) bool {
	switch strings.ToLower(v) {
	case "null", "nil", "none", "true", "false", "~", "undefined", "required", "optional", "string", "str", "bool", "int":
		return true
	}
	return false
}

// isPlaceholder: what documentation and code answers put where a secret goes
// (YOUR_API_KEY, <your-token>, ********, sk-..., xxxx).
func isPlaceholder(v string) bool {
	l := strings.ToLower(v)
	if strings.Contains(l, "your") && strings.ContainsAny(l, "_- ") || strings.HasPrefix(l, "<") || strings.HasSuffix(l, "...") || strings.HasSuffix(l, "…") {
		return true
	}
	return len(l) >= 3 && strings.Trim(l, "x*.-_#") == ""
}

// inQuery: the key is a URL query parameter (…?api_key=… or …&token=…).
func inQuery(text string, keyStart int) bool {
	return keyStart > 0 && (text[keyStart-1] == '?' || text[keyStart-1] == '&')
}

// ownLine: the key starts its line (after indentation, "- ", "export ") and the value ends
// it: a config line (YAML, .env), not a sentence.
func ownLine(text string, keyStart, valEnd int) bool {
	lineStart := strings.LastIndexByte(text[:keyStart], '\n') + 1
	prefix := strings.TrimSpace(text[lineStart:keyStart])
	prefix = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(prefix, "-"), "export"))
	if prefix != "" {
		return false
	}
	rest := text[valEnd:]
	if i := strings.IndexByte(rest, '\n'); i >= 0 {
		rest = rest[:i]
	}
	rest = strings.TrimSpace(rest)
	return rest == "" || strings.HasPrefix(rest, "#")
}

// strong: a bare value that does not read as a word: digits, symbols, mixed case, or long.
func strong(v string) bool {
	if len(v) >= 12 && !strings.ContainsAny(v, ".") {
		return true
	}
	var lower, upperAfterFirst, digit, symbol bool
	for i, r := range v {
		switch {
		case unicode.IsDigit(r):
			digit = true
		case unicode.IsLower(r):
			lower = true
		case unicode.IsUpper(r):
			if i > 0 {
				upperAfterFirst = true
			}
		case r == '.' || r == '_' || r == '-':
		default:
			symbol = true
		}
	}
	return digit || symbol || (lower && upperAfterFirst)
}
