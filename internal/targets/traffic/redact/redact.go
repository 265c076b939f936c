// Package redact masks personal data and secrets in free text (LLM inputs and outputs kept
// as evidence samples) and says what it masked, by kind. Secrets: PEM and PGP private key
// blocks (also cut off), Authorization headers, Bearer and Basic credentials, JWTs, URL
// passwords, Slack webhooks, Azure account keys and SAS signatures, vendor API keys by their
// prefix (OpenAI, Anthropic, Stripe, AWS access key IDs, GitHub, GitLab, Slack, Grafana,
// npm, Google, Hugging Face, Langfuse), and the value of any key that names a secret
// (password, api_key, client_secret, X-Api-Key, aws_secret_access_key, …) in JSON, YAML,
// key=value and header form. Personal data: e-mail addresses, phone numbers, payment card
// numbers, US social security numbers. It errs towards masking: a sample is for recognising
// a failure mode, not for replay. What it does not know (a bare 40-character AWS secret key
// with no key name, a password in a sentence) it cannot mask.
package redact

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Masks put in place of what was found.
const (
	MaskEmail      = "[EMAIL]"
	MaskPhone      = "[PHONE]"
	MaskCard       = "[CARD]"
	MaskSSN        = "[SSN]"
	MaskAPIKey     = "[API_KEY]"
	MaskToken      = "[TOKEN]"
	MaskJWT        = "[JWT]"
	MaskSecret     = "[SECRET]"
	MaskPrivateKey = "[PRIVATE_KEY]"
)

// Kinds of personal data (the secret kinds are in secrets.go).
const (
	KindEmail = "email"
	KindPhone = "phone"
	KindCard  = "card_number"
	KindSSN   = "ssn"
)

// Result is redacted text and what was masked in it: kind → count.
type Result struct {
	Text   string
	Masked map[string]int
}

// Add counts another result's masks into r (r.Masked is made when nil).
func (r *Result) Add(masked map[string]int) {
	if len(masked) == 0 {
		return
	}
	if r.Masked == nil {
		r.Masked = map[string]int{}
	}
	for k, n := range masked {
		r.Masked[k] += n
	}
}

// Kinds lists the kinds of masked, sorted.
func Kinds(masked map[string]int) []string { return slices.Sorted(maps.Keys(masked)) }

// replacer returns the replacement of a match, where the replaced text ends (a rule may
// read past its regexp's match), and the kind masked; kind "" leaves the match as it is.
type replacer func(text string, m []int) (repl string, end int, kind string)

type rule struct {
	re      *regexp.Regexp
	replace replacer
}

// Order matters: secrets first (they may contain digit runs or '@'), then the shapes of
// personal data from most to least specific.
var rules = append(secretRules(),
	rule{regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`), fixedKind(MaskEmail, KindEmail)},
	rule{regexp.MustCompile(`\b\d{3}-\d{2}-\d{4}\b`), standalone(MaskSSN, KindSSN)},
	rule{regexp.MustCompile(`\b\d(?:[ -]?\d){12,18}\b`), card},
	rule{regexp.MustCompile(`(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]?\d{2,4}){1,5}`), phone},
)

// String returns s with everything the rules find masked.
func String(s string) string { return Redact(s).Text }

// Redact masks what the rules find in s and counts it by kind.
func Redact(s string) Result {
	res := Result{Text: s}
	// A mask changes the context of what is around it (a quote closed early, a key now
	// standing on its own), so after a pass that masked something, pass again until
	// nothing more is found: redacting a redacted text then changes nothing.
	for range maxPasses {
		before := total(res.Masked)
		for _, r := range rules {
			res.Text = apply(r, res.Text, &res)
		}
		if total(res.Masked) == before {
			break
		}
	}
	return res
}

func total(masked map[string]int) int {
	n := 0
	for _, c := range masked {
		n += c
	}
	return n
}

// maxPasses bounds the passes of Redact (each pass only shortens what it masks).
const maxPasses = 8

// Digest is the hex sha256 of the raw text, kept beside a redacted sample so the original
// can be matched later without being stored.
func Digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func apply(r rule, s string, res *Result) string {
	matches := r.re.FindAllStringSubmatchIndex(s, -1)
	if matches == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range matches {
		if m[0] < last {
			continue // inside what an earlier match of this rule replaced
		}
		repl, end, kind := r.replace(s, m)
		if kind == "" {
			continue
		}
		b.WriteString(s[last:m[0]])
		b.WriteString(repl)
		last = end
		res.Add(map[string]int{kind: 1})
	}
	b.WriteString(s[last:])
	return b.String()
}

// isolated reports whether the match stands on its own rather than being part of a longer
// token (a UUID, a hash, a version string, an identifier).
func isolated(text string, start, end int) bool {
	// Beside a mask, it was beside what the mask replaced: decide as then (idempotence).
	if endsWithMask(text[:start]) || startsWithMask(text[end:]) {
		return false
	}
	if start > 0 {
		r, _ := utf8.DecodeLastRuneInString(text[:start])
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' {
			return false
		}
		if r == '-' || r == '.' || r == '/' {
			before := text[:start-1]
			if p, _ := utf8.DecodeLastRuneInString(before); len(before) > 0 && (unicode.IsLetter(p) || unicode.IsDigit(p)) {
				return false
			}
		}
	}
	if end < len(text) {
		r, _ := utf8.DecodeRuneInString(text[end:])
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' {
			return false
		}
		if r == '-' || r == '/' {
			after := text[end+1:]
			if n, _ := utf8.DecodeRuneInString(after); len(after) > 0 && (unicode.IsLetter(n) || unicode.IsDigit(n)) {
				return false
			}
		}
	}
	return true
}

var allMasks = []string{MaskEmail, MaskPhone, MaskCard, MaskSSN, MaskAPIKey, MaskToken, MaskJWT, MaskSecret, MaskPrivateKey}

func endsWithMask(s string) bool {
	for _, m := range allMasks {
		if strings.HasSuffix(s, m) {
			return true
		}
	}
	return false
}

func startsWithMask(s string) bool {
	for _, m := range allMasks {
		if strings.HasPrefix(s, m) {
			return true
		}
	}
	return false
}

func standalone(mask, kind string) replacer {
	return func(text string, m []int) (string, int, string) {
		if !isolated(text, m[0], m[1]) {
			return "", 0, ""
		}
		return mask, m[1], kind
	}
}

func digitsOf(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// card masks 13-19 digit numbers that pass the Luhn check (real card numbers do; most
// order numbers and timestamps do not).
func card(text string, m []int) (string, int, string) {
	if !isolated(text, m[0], m[1]) || !luhn(digitsOf(text[m[0]:m[1]])) {
		return "", 0, ""
	}
	return MaskCard, m[1], KindCard
}

func luhn(digits string) bool {
	if len(digits) < 13 || len(digits) > 19 {
		return false
	}
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

var (
	dateLike = regexp.MustCompile(`^\d{4}[-./]\d{1,2}[-./]\d{1,2}`)
	// A Unix time in seconds or milliseconds (2001-2033) written as one run of digits.
	epochLike = regexp.MustCompile(`^1\d{9}(?:\d{3})?$`)
)

// phone masks digit groups that read like a phone number: 9 to 15 digits (E.164 allows
// 15), standing alone, not a date.
func phone(text string, m []int) (string, int, string) {
	match := text[m[0]:m[1]]
	n := len(digitsOf(match))
	if n < 9 || n > 15 || dateLike.MatchString(match) || epochLike.MatchString(match) || !isolated(text, m[0], m[1]) {
		return "", 0, ""
	}
	return MaskPhone, m[1], KindPhone
}
