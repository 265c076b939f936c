package portkey

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/targets/gateway/gwstate"
)

// Redact then Unredact against the same config gives back its exact bytes, and the
// redacted form holds no secret value.
func FuzzRedactRoundTrip(f *testing.F) {
	for _, seed := range []string{
		fallbackConfig, loadbalanceConfig, singleConfig, withKeys,
		`{"a":{"api_key":["not","a","string"]},"token":"t-1","x":[{"secret":"s"},{"secret":"s"}]}`,
		`{"Authorization" : "Bearer x\"y" , "n":{"password":""}}`,
		`{"token_count":3,"nested":{"deeper":{"access_key_id":"AKIA1"}}}`,
	} {
		f.Add(seed)
	}
	r := &remote{}
	f.Fuzz(func(t *testing.T, body string) {
		if !json.Valid([]byte(body)) {
			return
		}
		s := gwstate.Snapshot{State: []byte(body)}
		red, err := r.Redact(s)
		if err != nil {
			return // secrets that cannot be told apart: the state stays local
		}
		spans, err := secretSpans([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		// Every plain secret occurrence is gone: what is left of its value is elsewhere in
		// the body (under a key that is no secret) or inside a placeholder.
		n := map[string]int{}
		for _, sp := range spans {
			if body[sp.start:sp.end] == `"`+sp.value+`"` {
				n[sp.value]++
			}
		}
		for v, c := range n {
			if strings.Contains(placeholderPrefix, v) || len(v) < 5 {
				continue
			}
			if strings.Count(string(red), v) > strings.Count(body, v)-c {
				t.Fatalf("secret %q left in %s", v, red)
			}
		}
		back, err := r.Unredact(red, s)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back, []byte(body)) {
			t.Fatalf("round trip:\n%s\n%s", back, body)
		}
	})
}
