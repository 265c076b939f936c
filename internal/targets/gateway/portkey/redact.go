package portkey

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/quench-dev/quench/internal/targets/gateway/gwstate"
)

// secretWords mark a config field whose string value may be a credential (a target's
// api_key, an Azure or Bedrock secret). Such values never go into workflow history.
var secretWords = []string{"api_key", "apikey", "secret", "password", "token", "authorization", "credential", "private_key", "access_key"}

func secretKey(k string) bool {
	lk := strings.ToLower(k)
	for _, w := range secretWords {
		if strings.Contains(lk, w) {
			return true
		}
	}
	return false
}

// placeholderPrefix marks a redacted value. The tag after it is a 16-bit digest of the
// value: enough to tell a config's few secrets apart, far too little to confirm a guess.
const placeholderPrefix = "quench-redacted:"

var placeholderRE = regexp.MustCompile(`"` + placeholderPrefix + `([0-9a-f]{4})"`)

func tag(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:2])
}

// span is one secret string in a config body: its raw bytes (quotes included) and value.
type span struct {
	start, end int
	value      string
}

// secretSpans finds every non-empty string value under a secret-looking key, at any depth.
func secretSpans(body []byte) ([]span, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var out []span
	// One entry per open container: true for an object that expects a key next.
	var expectKey []bool
	inObject := func() bool { return len(expectKey) > 0 }
	var objects []bool // whether each open container is an object
	secretValue := false
	// valueDone marks the end of a value in the enclosing object: a key comes next.
	valueDone := func() {
		if n := len(objects); n > 0 && objects[n-1] {
			expectKey[n-1] = true
		}
		secretValue = false
	}
	for {
		before := dec.InputOffset()
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				secretValue = false
				objects = append(objects, d == '{')
				expectKey = append(expectKey, d == '{')
			default:
				objects, expectKey = objects[:len(objects)-1], expectKey[:len(expectKey)-1]
				valueDone()
			}
			continue
		}
		if n := len(objects); inObject() && objects[n-1] && expectKey[n-1] {
			k, _ := tok.(string)
			secretValue = secretKey(k)
			expectKey[n-1] = false
			continue
		}
		if v, ok := tok.(string); ok && secretValue && v != "" {
			raw := body[before:dec.InputOffset()]
			q := bytes.IndexByte(raw, '"')
			out = append(out, span{start: int(before) + q, end: int(dec.InputOffset()), value: v})
		}
		valueDone()
	}
}

// Redact replaces every secret value of the config with a placeholder (gwstate.Redactor).
func (r *remote) Redact(s gwstate.Snapshot) (json.RawMessage, error) {
	spans, err := secretSpans(s.State)
	if err != nil {
		return nil, fmt.Errorf("reading the config for secrets: %w", err)
	}
	seen := map[string]string{}
	var b bytes.Buffer
	last := 0
	for _, sp := range spans {
		tg := tag(sp.value)
		if other, ok := seen[tg]; ok && other != sp.value {
			return nil, fmt.Errorf("two of the config's secrets have the same tag %s", tg)
		}
		seen[tg] = sp.value
		b.Write(s.State[last:sp.start])
		b.WriteString(`"` + placeholderPrefix + tg + `"`)
		last = sp.end
	}
	b.Write(s.State[last:])
	return b.Bytes(), nil
}

// Unredact puts the secrets of cur (the config as it is now) back into a redacted body: a
// switch moves targets and weights, never a key, so every secret is still there.
func (r *remote) Unredact(redacted json.RawMessage, cur gwstate.Snapshot) (json.RawMessage, error) {
	if !bytes.Contains(redacted, []byte(placeholderPrefix)) {
		return redacted, nil
	}
	spans, err := secretSpans(cur.State)
	if err != nil {
		return nil, fmt.Errorf("reading the current config for its secrets: %w", err)
	}
	raw := map[string][]byte{}
	for _, sp := range spans {
		raw[tag(sp.value)] = cur.State[sp.start:sp.end]
	}
	var missing []string
	out := placeholderRE.ReplaceAllFunc(redacted, func(m []byte) []byte {
		tg := string(placeholderRE.FindSubmatch(m)[1])
		if v, ok := raw[tg]; ok {
			return v
		}
		missing = append(missing, tg)
		return m
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("a key in the config changed since quench read it (%d secret value(s) not found in it now), so the saved config cannot be put back exactly; look at the config and restore it by hand", len(missing))
	}
	return out, nil
}
