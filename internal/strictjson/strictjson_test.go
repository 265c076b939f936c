package strictjson

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		body, path, msg string // msg "" means accepted
	}{
		{body: `{"verdict":"approve","reason":"ok"}`},
		{body: `{"a":{"b":[1,{"c":2}]}}`},
		{body: `{"verdict":"reject","verdict":"approve"}`, path: "verdict", msg: "duplicate key"},
		{body: `{"\u0076erdict":1,"verdict":2}`, path: "verdict", msg: "duplicate key"},
		{body: `{"a":{"b":[1,{"c":1,"c":2}]}}`, path: "a.b[1].c", msg: "duplicate key"},
		{body: `[]`, path: Body, msg: "must be a JSON object, got an array"},
		{body: ``, path: Body, msg: "empty"},
		{body: `{} {}`, path: Body, msg: "trailing data"},
		{body: `{"a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, msg: "nested deeper than 32"},
		{body: `{"a" 1}`, path: Body, msg: "malformed JSON"},
	} {
		err := Check([]byte(tc.body))
		if tc.msg == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.body, err)
			}
			continue
		}
		var se *Error
		if !errors.As(err, &se) || !strings.Contains(se.Msg, tc.msg) || (tc.path != "" && se.Path != tc.path) {
			t.Errorf("%s: %v, want %q at %q", tc.body, err, tc.msg, tc.path)
		}
	}
}
