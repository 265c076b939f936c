package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// refFrame is one open object or array during checkStrictJSONReference's scan.
type refFrame struct {
	object    bool
	keys      map[string]struct{}
	key       string // current key (objects)
	hasKey    bool
	index     int // current element (arrays)
	expectKey bool
}

// checkStrictJSONReference is the oracle FuzzParseStrictJSON checks the fast scanner against:
// the same rules over encoding/json's Token stream, slower but obviously right.
// It verifies that body is exactly one JSON object, with no duplicate keys at any
// level and no nesting deeper than maxJSONDepth.
func checkStrictJSONReference(body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return &FieldError{Field: bodyField, Msg: "empty: expected a JSON object"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // numbers stay text: a huge one is not an error here
	tok, err := dec.Token()
	if err != nil {
		return &FieldError{Field: bodyField, Msg: "malformed JSON: " + err.Error()}
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return &FieldError{Field: bodyField, Msg: "must be a JSON object, got " + refTokenKind(tok)}
	}
	stack := []*refFrame{{object: true, keys: map[string]struct{}{}, expectKey: true}}
	for len(stack) > 0 {
		tok, err := dec.Token()
		if err != nil {
			return &FieldError{Field: refFramesPath(stack), Msg: "malformed JSON: " + err.Error()}
		}
		top := stack[len(stack)-1]
		if top.object && top.expectKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = refValueDone(stack[:len(stack)-1])
				continue
			}
			key, ok := tok.(string)
			if !ok { // the decoder does not allow this; keep the scan total anyway
				return &FieldError{Field: refFramesPath(stack), Msg: "malformed JSON: object key is not a string"}
			}
			if _, dup := top.keys[key]; dup {
				top.key, top.hasKey = key, true
				return &FieldError{Field: refFramesPath(stack), Msg: "duplicate key: each key may appear once"}
			}
			top.keys[key] = struct{}{}
			top.key, top.hasKey, top.expectKey = key, true, false
			continue
		}
		switch d, _ := tok.(json.Delim); d {
		case '{', '[':
			if len(stack) >= maxJSONDepth {
				return &FieldError{Field: refFramesPath(stack), Msg: fmt.Sprintf("nested deeper than %d levels", maxJSONDepth)}
			}
			f := &refFrame{object: d == '{', expectKey: d == '{'}
			if f.object {
				f.keys = map[string]struct{}{}
			}
			stack = append(stack, f)
		case ']', '}':
			stack = refValueDone(stack[:len(stack)-1])
		default: // a scalar value
			stack = refValueDone(stack)
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &FieldError{Field: bodyField, Msg: "trailing data after the JSON object: send one object per request"}
	}
	return nil
}

// refValueDone moves the innermost open container past the value that just ended.
func refValueDone(stack []*refFrame) []*refFrame {
	if len(stack) > 0 {
		top := stack[len(stack)-1]
		if top.object {
			top.expectKey = true
		} else {
			top.index++
		}
	}
	return stack
}

// refFramesPath renders the scan position as a JSON path: alerts[2].labels.severity.
func refFramesPath(stack []*refFrame) string {
	var b strings.Builder
	for _, f := range stack {
		if f.object {
			if !f.hasKey {
				break
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(shortForMsg(f.key))
		} else {
			fmt.Fprintf(&b, "[%d]", f.index)
		}
	}
	if b.Len() == 0 {
		return bodyField
	}
	return b.String()
}

func refTokenKind(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			return "an array"
		}
		return "a delimiter"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "something else"
}

// FuzzParseStrictJSON holds the single-pass scanner to the Token-based reference: the same
// documents pass decodeBody's checks, and a duplicate key or too-deep nesting is reported at
// the same path.
func FuzzParseStrictJSON(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, n := range names {
		f.Add(readFixture(f, filepath.Base(n)))
	}
	for _, s := range []string{
		`{"a":1,"a":2}`, `{"a":{"b":[1,{"c":1,"c":2}]}}`, `{"\u0061":1,"a":2}`, "{\"\xff\":1,\"\xfe\":2}",
		`{"a":"\"}","b":[]}`, `{"a":tru}`, `{"a":1e400}`, `{"a":-}`, `{} {}`, `[]`, `{"a" 1}`, `{"a":1,}`,
		`{"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, "{\"a\":\"\x01\"}", `{"a":"\u12"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		refErr := checkStrictJSONReference(body)
		fastErr := checkStrictJSON(body)
		fastOK := fastErr == nil && json.Unmarshal(body, new(map[string]json.RawMessage)) == nil
		if (refErr == nil) != fastOK {
			t.Fatalf("reference says %v, scanner says %v (decodes: %t)", refErr, fastErr, fastOK)
		}
		var ref, fast *FieldError
		if errors.As(refErr, &ref) && errors.As(fastErr, &fast) {
			for _, rule := range []string{"duplicate key", "nested deeper"} {
				if strings.HasPrefix(ref.Msg, rule) && strings.HasPrefix(fast.Msg, rule) && ref.Field != fast.Field {
					t.Fatalf("%s at %q by the reference, at %q by the scanner", rule, ref.Field, fast.Field)
				}
			}
		}
	})
}
