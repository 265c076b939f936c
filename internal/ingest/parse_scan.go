package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// checkStrictJSON verifies that body is one JSON object with no duplicate keys at any level
// and no nesting deeper than maxJSONDepth. It is a single pass over the bytes: encoding/json
// would take the last of two equal keys without a word, and its Token stream, which could
// tell, costs a third of a parse. The scan checks structure only; json.Unmarshal (which
// decodeBody runs next) validates numbers, literals and escapes, and reports where JSON is
// malformed. FuzzParseStrictJSON holds it to checkStrictJSONReference, the same rules over Token.
func checkStrictJSON(body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return &FieldError{Field: bodyField, Msg: "empty: expected a JSON object"}
	}
	s := &strictScanner{b: body}
	s.skipSpace()
	if s.i < len(s.b) && s.b[s.i] != '{' {
		return &FieldError{Field: bodyField, Msg: "must be a JSON object, got " + rawKind(s.b[s.i:])}
	}
	if err := s.value(); err != nil {
		return err
	}
	s.skipSpace()
	if s.i != len(s.b) {
		return &FieldError{Field: bodyField, Msg: "trailing data after the JSON object: send one object per request"}
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
	return &FieldError{Field: bodyField, Msg: msg}
}

func (s *strictScanner) pathString() string {
	var b strings.Builder
	for _, seg := range s.path {
		switch {
		case seg.array:
			fmt.Fprintf(&b, "[%d]", seg.index)
		case b.Len() > 0:
			b.WriteString("." + shortForMsg(seg.key))
		default:
			b.WriteString(shortForMsg(seg.key))
		}
	}
	if b.Len() == 0 {
		return bodyField
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
		if len(s.path) >= maxJSONDepth {
			return &FieldError{Field: s.pathString(), Msg: fmt.Sprintf("nested deeper than %d levels", maxJSONDepth)}
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
			return &FieldError{Field: s.pathString(), Msg: "duplicate key: each key may appear once"}
		}
		s.skipSpace()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.malformed()
		}
		s.i++
		if err := s.value(); err != nil {
			return err
		}
		s.skipSpace()
		if s.i >= len(s.b) {
			return s.malformed()
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return s.malformed()
		}
	}
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
		s.skipSpace()
		if s.i >= len(s.b) {
			return s.malformed()
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return s.malformed()
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
