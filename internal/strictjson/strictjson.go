// Package strictjson checks a JSON request body before encoding/json reads it: one object,
// no duplicate keys at any level, bounded nesting. encoding/json keeps the last of two equal
// keys without a word, so {"verdict":"reject","verdict":"approve"} could mean one thing to a
// proxy or log pipeline and another to quench. The alert hooks and the HTTP API share it.
package strictjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxDepth bounds nesting. No request nests deeper than ~5 levels; a deeper document is an
// attack or a mistake, and refusing it early keeps the scan cheap.
const MaxDepth = 32

// Body names the whole body in an Error's Path.
const Body = "body"

// Error is a body refused by Check: Path is the JSON path of the problem ("body" for the
// whole body, e.g. "alerts[2].labels"), Msg says what is wrong.
type Error struct {
	Path string
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Path, e.Msg) }

// Check verifies that body is one JSON object with no duplicate keys at any level
// and no nesting deeper than MaxDepth. It is a single pass over the bytes: encoding/json
// would take the last of two equal keys without a word, and its Token stream, which could
// tell, costs a third of a parse. The scan checks structure only; json.Unmarshal (which
// the caller runs next) validates numbers, literals and escapes, and reports where JSON is
// malformed. ingest's FuzzParseStrictJSON holds it to a reference over encoding/json's Token.
func Check(body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return &Error{Path: Body, Msg: "empty: expected a JSON object"}
	}
	s := &strictScanner{b: body}
	s.skipSpace()
	if s.i < len(s.b) && s.b[s.i] != '{' {
		return &Error{Path: Body, Msg: "must be a JSON object, got " + kind(s.b[s.i])}
	}
	if err := s.value(); err != nil {
		return err
	}
	s.skipSpace()
	if s.i != len(s.b) {
		return &Error{Path: Body, Msg: "trailing data after the JSON object: send one object per request"}
	}
	return nil
}

// strictScanner walks a JSON document, tracking the path to the current value.
type strictScanner struct {
	b    []byte
	i    int
	path []pathSeg // one per open container
}

// pathSeg is the position inside one open container: a key, or an index.
type pathSeg struct {
	array bool
	key   string
	index int
}

func (s *strictScanner) skipSpace() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

// malformed reports a structural error with encoding/json's own description of it.
func (s *strictScanner) malformed() error {
	var v any
	msg := "malformed JSON"
	if err := json.Unmarshal(s.b, &v); err != nil {
		msg += ": " + err.Error()
	}
	return &Error{Path: Body, Msg: msg}
}

func (s *strictScanner) pathString() string {
	var b strings.Builder
	for _, seg := range s.path {
		switch {
		case seg.array:
			fmt.Fprintf(&b, "[%d]", seg.index)
		case b.Len() > 0:
			b.WriteString("." + ShortForMsg(seg.key))
		default:
			b.WriteString(ShortForMsg(seg.key))
		}
	}
	if b.Len() == 0 {
		return Body
	}
	return b.String()
}

func (s *strictScanner) value() error {
	s.skipSpace()
	if s.i >= len(s.b) {
		return s.malformed()
	}
	switch c := s.b[s.i]; {
	case c == '{' || c == '[':
		if len(s.path) >= MaxDepth {
			return &Error{Path: s.pathString(), Msg: fmt.Sprintf("nested deeper than %d levels", MaxDepth)}
		}
		if c == '{' {
			return s.object()
		}
		return s.array()
	case c == '"':
		_, _, err := s.str()
		return err
	case c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n':
		start := s.i
		for s.i < len(s.b) && isScalarByte(s.b[s.i]) {
			s.i++
		}
		if s.i == start {
			return s.malformed()
		}
		return nil
	}
	return s.malformed()
}

// isScalarByte covers the bytes of numbers and of true, false and null.
func isScalarByte(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-' || c == '+' || c == '.' || c == 'E'
}

// str consumes a string and returns its raw content and whether it needs decoding.
func (s *strictScanner) str() (raw []byte, escaped bool, err error) {
	s.i++ // opening quote
	start := s.i
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, escaped, nil
		case c == '\\':
			escaped = true
			s.i += 2
		case c < 0x20:
			return nil, false, s.malformed()
		default:
			s.i++
		}
	}
	return nil, false, s.malformed()
}

// decodedKey is the key as encoding/json will see it: escapes resolved and invalid UTF-8
// replaced, so two spellings of one key count as a duplicate.
func decodedKey(raw []byte, escaped bool) string {
	if !escaped && utf8.Valid(raw) {
		return string(raw)
	}
	var k string
	quoted := make([]byte, 0, len(raw)+2)
	quoted = append(append(append(quoted, '"'), raw...), '"')
	if err := json.Unmarshal(quoted, &k); err != nil {
		return string(raw) // malformed: json.Unmarshal reports it after the scan
	}
	return k
}

func (s *strictScanner) object() error {
	s.i++ // {
	s.path = append(s.path, pathSeg{})
	defer func() { s.path = s.path[:len(s.path)-1] }()
	var seen keySet
	s.skipSpace()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		s.skipSpace()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return s.malformed()
		}
		raw, escaped, err := s.str()
		if err != nil {
			return err
		}
		key := decodedKey(raw, escaped)
		s.path[len(s.path)-1].key = key
		if !seen.add(key) {
			return &Error{Path: s.pathString(), Msg: "duplicate key: each key may appear once"}
		}
		s.skipSpace()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.malformed()
		}
		s.i++
		if err := s.value(); err != nil {
			return err
		}
		if done, err := s.next('}'); done || err != nil {
			return err
		}
	}
}

// next reads what follows a member or element: a comma (more to come) or the closing
// byte (done); anything else is malformed.
func (s *strictScanner) next(closing byte) (done bool, err error) {
	s.skipSpace()
	if s.i >= len(s.b) {
		return false, s.malformed()
	}
	switch s.b[s.i] {
	case ',':
		s.i++
		return false, nil
	case closing:
		s.i++
		return true, nil
	}
	return false, s.malformed()
}

func (s *strictScanner) array() error {
	s.i++ // [
	s.path = append(s.path, pathSeg{array: true})
	defer func() { s.path = s.path[:len(s.path)-1] }()
	s.skipSpace()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return nil
	}
	for n := 0; ; n++ {
		s.path[len(s.path)-1].index = n
		if err := s.value(); err != nil {
			return err
		}
		if done, err := s.next(']'); done || err != nil {
			return err
		}
	}
}

// keySet remembers an object's keys: a slice while small (most objects), a map beyond.
type keySet struct {
	few  []string
	many map[string]struct{}
}

func (k *keySet) add(key string) bool {
	if k.many != nil {
		if _, dup := k.many[key]; dup {
			return false
		}
		k.many[key] = struct{}{}
		return true
	}
	for _, have := range k.few {
		if have == key {
			return false
		}
	}
	if len(k.few) < 16 {
		k.few = append(k.few, key)
		return true
	}
	k.many = make(map[string]struct{}, 32)
	for _, have := range k.few {
		k.many[have] = struct{}{}
	}
	k.many[key] = struct{}{}
	return true
}

// kind names the JSON type a value starting with c has, for messages.
func kind(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// Kind names the JSON type of a raw value ("an object", "a string", ..., "nothing" when it
// is empty), for error messages and type checks.
func Kind(raw []byte) string {
	t := bytes.TrimLeft(raw, " \t\r\n")
	if len(t) == 0 {
		return "nothing"
	}
	return kind(t[0])
}

// ShortForMsg quotes attacker-controlled text for an error message without letting it grow
// the message (or a log line) without bound.
func ShortForMsg(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return CutUTF8(s, max) + "…"
}

// CutUTF8 cuts s to at most n bytes without splitting a UTF-8 sequence.
func CutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
