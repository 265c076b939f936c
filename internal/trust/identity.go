// Package trust says who decided: identities normalised so look-alikes cannot pass for
// someone else, people behind several identities, and decisions signed by the quench front
// door that authenticated the human (so the workflow can tell them from anything sent to
// Temporal directly). A leaf: standard library and golang.org/x/text only.
package trust

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// DefaultKind is the kind of an identity written without one: "alice" is "cli:alice".
const DefaultKind = "cli"

// maxIdentityBytes bounds an identity; longer is not a name, it is a payload.
const maxIdentityBytes = 200

// CheckIdentity checks an identity and returns it in its display form: NFKC, trimmed, the
// kind prefix lower-case and always present (DefaultKind when there is none), the name's
// case kept. It refuses control and invisible characters, spaces, and names that mix
// scripts or are written entirely in letters that look like Latin ones.
func CheckIdentity(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", errors.New("identity is not valid UTF-8")
	}
	s = strings.TrimSpace(norm.NFKC.String(s))
	if s == "" {
		return "", errors.New("identity is empty: say who")
	}
	if len(s) > maxIdentityBytes {
		return "", fmt.Errorf("identity is %d bytes long: at most %d", len(s), maxIdentityBytes)
	}
	kind, name, ok := splitKind(s)
	if !ok {
		kind, name = DefaultKind, s
	}
	if name == "" {
		return "", fmt.Errorf("identity %q has a kind but no name", s)
	}
	if err := checkName(name); err != nil {
		return "", fmt.Errorf("identity %q: %w", s, err)
	}
	return kind + ":" + name, nil
}

// NormalizeIdentity is the form identities are compared in: CheckIdentity's, with the
// name case-folded too (so Slack user IDs and CLI names compare case-insensitively).
func NormalizeIdentity(s string) (string, error) {
	id, err := CheckIdentity(s)
	if err != nil {
		return "", err
	}
	return fold(id), nil
}

// Qualify gives an identity written without a kind the kind of the channel it came
// through: Qualify("deploy-bot", "api") is "api:deploy-bot". An identity with a kind, or a
// channel that is not a kind, is returned as it is.
func Qualify(identity, kind string) string {
	identity = strings.TrimSpace(identity)
	if _, _, ok := splitKind(norm.NFKC.String(identity)); ok || !isKind(kind) || identity == "" {
		return identity
	}
	return strings.ToLower(kind) + ":" + identity
}

// Kind is the kind of a checked identity ("slack" for "slack:U0123"), DefaultKind without one.
func Kind(identity string) string {
	if kind, _, ok := splitKind(identity); ok {
		return kind
	}
	return DefaultKind
}

// Display is how an identity is shown to people: CLI identities by their bare name, as
// they are typed ("alice"), every other kind with it ("slack:U0123ALICE").
func Display(identity string) string {
	if kind, name, ok := splitKind(identity); ok && kind == DefaultKind {
		return name
	}
	return identity
}

// fold case-folds and re-normalises (folding can leave a string not in NFKC).
func fold(s string) string { return norm.NFKC.String(cases.Fold().String(s)) }

// splitKind splits "kind:name" when the part before the first colon is a kind.
func splitKind(s string) (kind, name string, ok bool) {
	k, n, found := strings.Cut(s, ":")
	if !found || !isKind(k) {
		return "", s, false
	}
	return strings.ToLower(k), n, true
}

// isKind: a short ASCII word, such as cli, slack, api, github.
func isKind(k string) bool {
	if k == "" || len(k) > 32 {
		return false
	}
	for i, r := range k {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '-' || r == '_'):
		default:
			return false
		}
	}
	return true
}

// checkName refuses what would let one name pass for another on screen.
func checkName(name string) error {
	scripts := map[string]bool{}
	for _, r := range name {
		switch {
		case r == utf8.RuneError:
			return errors.New("contains an invalid character")
		case unicode.IsControl(r):
			return fmt.Errorf("contains the control character %U", r)
		case unicode.IsSpace(r) || unicode.Is(unicode.Z, r):
			return fmt.Errorf("contains a space (%U): identities are one word", r)
		case unicode.Is(unicode.Cf, r) || invisible(r):
			return fmt.Errorf("contains the invisible character %U", r)
		case unicode.Is(unicode.Co, r) || !assigned(r):
			return fmt.Errorf("contains the unassigned or private-use character %U", r)
		}
		if s := scriptOf(r); s != "" {
			scripts[s] = true
		}
	}
	if !allowedMix(scripts) {
		names := make([]string, 0, len(scripts))
		for s := range scripts {
			names = append(names, s)
		}
		slices.Sort(names)
		return fmt.Errorf("mixes %s letters: a look-alike of another name? write it in one script", strings.Join(names, " and "))
	}
	if lookalike(name, scripts) {
		return errors.New("is written only in letters that look like Latin ones: a look-alike of another name? write it in Latin letters")
	}
	return nil
}

// invisible lists characters that draw nothing but are not format characters.
func invisible(r rune) bool {
	switch {
	case r == 0x034F, r == 0x115F, r == 0x1160, r == 0x17B4, r == 0x17B5, r == 0x2800, r == 0x3164, r == 0xFFA0:
		return true
	case r >= 0x180B && r <= 0x180F, r >= 0xFE00 && r <= 0xFE0F, r >= 0xE0100 && r <= 0xE01EF:
		return true
	}
	return false
}

func assigned(r rune) bool {
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S)
}

// scriptOf names the script of a letter; "" for digits, punctuation and marks (Common,
// Inherited), which every script shares. Scripts are disjoint, so the map's order does
// not matter.
func scriptOf(r rune) string {
	if !unicode.IsLetter(r) {
		return ""
	}
	for name, table := range unicode.Scripts {
		if name == "Common" || name == "Inherited" {
			continue
		}
		if unicode.Is(table, r) {
			return name
		}
	}
	return ""
}

// allowedMix: one script, or one of the combinations writing systems use together
// (Japanese, Chinese and Korean with Latin), as Unicode's "highly restrictive" level.
func allowedMix(scripts map[string]bool) bool {
	if len(scripts) <= 1 {
		return true
	}
	for _, set := range [][]string{
		{"Latin", "Han", "Hiragana", "Katakana"},
		{"Latin", "Han", "Bopomofo"},
		{"Latin", "Han", "Hangul"},
	} {
		ok := true
		for s := range scripts {
			if !slices.Contains(set, s) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// latinLookalikes are Cyrillic and Greek letters drawn like Latin ones.
const latinLookalikes = "аеорсухѕіјԁһӏԛԝүкАВЕКМНОРСТУХЅІЈԚԜҮ" + "οαικνρτυχΑΒΕΖΗΙΚΜΝΟΡΤΥΧ"

// lookalike: a Cyrillic or Greek name made only of letters that look Latin ("аре").
func lookalike(name string, scripts map[string]bool) bool {
	if len(scripts) != 1 || !(scripts["Cyrillic"] || scripts["Greek"]) {
		return false
	}
	for _, r := range name {
		if unicode.IsLetter(r) && !strings.ContainsRune(latinLookalikes, r) {
			return false
		}
	}
	return true
}
