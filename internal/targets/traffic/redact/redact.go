// Package redact masks personal data and secrets in free text (LLM inputs and outputs kept
// as evidence samples): e-mail addresses, phone numbers, payment card numbers, US social
// security numbers, API keys, bearer tokens, JWTs, private keys and `secret=value` pairs.
// It errs towards masking: a sample is for recognising a failure mode, not for replay.
package redact

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
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

type rule struct {
	re *regexp.Regexp
	// replace returns the replacement for a match (given the text around it), or ok=false
	// to leave it.
	replace func(text string, m []int) (string, bool)
}

func fixed(mask string) func(string, []int) (string, bool) {
	return func(string, []int) (string, bool) { return mask, true }
}

// keepGroup keeps submatch 1 (a label) and masks the rest.
func keepGroup(mask string) func(string, []int) (string, bool) {
	return func(text string, m []int) (string, bool) { return text[m[2]:m[3]] + mask, true }
}

// Order matters: secrets first (they may contain digit runs or '@'), then the shapes of
// personal data from most to least specific.
var rules = []rule{
	{regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----`), fixed(MaskPrivateKey)},
	{regexp.MustCompile(`(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}`), keepGroup(MaskToken)},
	{regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}`), fixed(MaskJWT)},
	{regexp.MustCompile(`\b(?:` +
		`sk-[A-Za-z0-9_-]{16,}` + // OpenAI (sk-, sk-proj-), Anthropic (sk-ant-)
		`|(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}` + // Stripe
		`|AKIA[0-9A-Z]{16}` + // AWS access key ID
		`|gh[pousr]_[A-Za-z0-9]{30,}` + // GitHub
		`|github_pat_[A-Za-z0-9_]{30,}` +
		`|glpat-[A-Za-z0-9_-]{20,}` + // GitLab
		`|xox[abposr]-[A-Za-z0-9-]{10,}` + // Slack
		`|xapp-[A-Za-z0-9-]{10,}` +
		`|AIza[0-9A-Za-z_-]{35}` + // Google
		`|hf_[A-Za-z0-9]{30,}` + // Hugging Face
		`|pk-lf-[A-Za-z0-9-]{16,}|sk-lf-[A-Za-z0-9-]{16,}` + // Langfuse
		`)`), fixed(MaskAPIKey)},
	{regexp.MustCompile(`(?i)\b((?:api[_-]?key|secret|password|passwd|pwd|token|access[_-]?key|auth)\s*[:=]\s*"?)[^\s"',;]{6,}`), keepGroup(MaskSecret)},
	{regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`), fixed(MaskEmail)},
	{regexp.MustCompile(`\b\d{3}-\d{2}-\d{4}\b`), standalone(MaskSSN)},
	{regexp.MustCompile(`\b\d(?:[ -]?\d){12,18}\b`), card},
	{regexp.MustCompile(`(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]?\d{2,4}){1,5}`), phone},
}

// String returns s with everything the rules find masked.
func String(s string) string {
	for _, r := range rules {
		s = apply(r, s)
	}
	return s
}

// Digest is the hex sha256 of the raw text, kept beside a redacted sample so the original
// can be matched later without being stored.
func Digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func apply(r rule, s string) string {
	matches := r.re.FindAllStringSubmatchIndex(s, -1)
	if matches == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range matches {
		repl, ok := r.replace(s, m)
		if !ok {
			continue
		}
		b.WriteString(s[last:m[0]])
		b.WriteString(repl)
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

// isolated reports whether the match stands on its own rather than being part of a longer
// token (a UUID, a hash, a version string, an identifier).
func isolated(text string, start, end int) bool {
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

func standalone(mask string) func(string, []int) (string, bool) {
	return func(text string, m []int) (string, bool) { return mask, isolated(text, m[0], m[1]) }
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
func card(text string, m []int) (string, bool) {
	if !isolated(text, m[0], m[1]) || !luhn(digitsOf(text[m[0]:m[1]])) {
		return "", false
	}
	return MaskCard, true
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

var dateLike = regexp.MustCompile(`^\d{4}[-./]\d{1,2}[-./]\d{1,2}`)

// phone masks digit groups that read like a phone number: 9 to 15 digits (E.164 allows
// 15), standing alone, not a date.
func phone(text string, m []int) (string, bool) {
	match := text[m[0]:m[1]]
	n := len(digitsOf(match))
	if n < 9 || n > 15 || dateLike.MatchString(match) || !isolated(text, m[0], m[1]) {
		return "", false
	}
	return MaskPhone, true
}
