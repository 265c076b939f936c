package redact

import (
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"empty", "", ""},
		{"plain text", "The capital of France is Paris.", "The capital of France is Paris."},
		{"email", "mail jane.doe+llm@example.co.uk today", "mail [EMAIL] today"},
		{"two emails", "a@b.io, c.d@e-f.org", "[EMAIL], [EMAIL]"},
		{"card with spaces", "card 4111 1111 1111 1111 exp 12/27", "card [CARD] exp 12/27"},
		{"card with dashes", "5500-0000-0000-0004.", "[CARD]."},
		{"card bare", "amex 378282246310005", "amex [CARD]"},
		{"not luhn, too long for a phone", "order 1234 5678 9012 3456", "order 1234 5678 9012 3456"},
		{"us phone", "call +1 (555) 123-4567 now", "call [PHONE] now"},
		{"uk phone", "ring 020 7946 0958", "ring [PHONE]"},
		{"dotted phone", "tel: 555.123.4567", "tel: [PHONE]"},
		{"international phone", "+44 20 7946 0958", "[PHONE]"},
		{"ssn", "ssn 123-45-6789.", "ssn [SSN]."},
		{"openai key", "key sk-proj-abcdefghijklmnopqrstuvwxyz123456 leaked", "key [API_KEY] leaked"},
		{"anthropic key", "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv", "[API_KEY]"},
		{"aws key", "id AKIAIOSFODNN7EXAMPLE", "id [API_KEY]"},
		{"github token", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "[API_KEY]"},
		{"slack token", "xoxb-123456789012-abcdefghij", "[API_KEY]"},
		{"bearer", "Authorization: Bearer abc.def-ghi_jkl~123", "Authorization: Bearer [TOKEN]"},
		{"bearer lower case", "bearer 0123456789abcdef", "bearer [TOKEN]"},
		{"jwt", "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.SflKxwRJSMeKKF2QT4", "token [JWT]"},
		{"key value secret", `api_key="abcd1234efgh" and password: hunter2!!`, `api_key="[SECRET]" and password: [SECRET]`},
		{"private key", "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", "[PRIVATE_KEY]"},
		{"date time stays", "on 2025-06-01 12:30 we used 1500 tokens", "on 2025-06-01 12:30 we used 1500 tokens"},
		{"uuid stays", "id 123e4567-e89b-12d3-a456-426614174000", "id 123e4567-e89b-12d3-a456-426614174000"},
		{"version stays", "model gpt-4o-2024-08-06 v1.2.3", "model gpt-4o-2024-08-06 v1.2.3"},
		{"short numbers stay", "costs $12.50 for 3 items, code 4821", "costs $12.50 for 3 items, code 4821"},
		{"mixed", "Hi, I'm bob@corp.com, card 4242424242424242, phone 555-867-5309",
			"Hi, I'm [EMAIL], card [CARD], phone [PHONE]"},
	}
	for _, c := range cases {
		if got := String(c.in); got != c.want {
			t.Errorf("%s:\n  in   %q\n  got  %q\n  want %q", c.name, c.in, got, c.want)
		}
	}
}

func TestDigest(t *testing.T) {
	if got := Digest("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("Digest(abc) = %s", got)
	}
}

// FuzzRedact: the redactor never panics, reports a mask whenever it changed the text,
// is idempotent (masks never look like secrets), and a secret of the corpus planted
// between any two texts is masked.
func FuzzRedact(f *testing.F) {
	cases := loadSecretCorpus(f)
	for i, s := range []string{"a@b.io", "4111 1111 1111 1111", "+1 (555) 123-4567", "Bearer abcdefgh12",
		`{"password": "`, "authorization:", "-----BEGIN PRIVATE KEY-----", "key: value", `\"`, "sk-", "https://u:"} {
		f.Add(s, "tail "+s, i)
	}
	f.Fuzz(func(t *testing.T, before, after string, pick int) {
		for _, s := range []string{before, after, before + after} {
			res := Redact(s)
			if len(res.Masked) == 0 && res.Text != s {
				t.Fatalf("changed without saying so: %q → %q", s, res.Text)
			}
			if again := Redact(res.Text); again.Text != res.Text {
				t.Fatalf("not idempotent: %q → %q → %q", s, res.Text, again.Text)
			}
		}
		c := cases[uint(pick)%uint(len(cases))]
		// Blank lines around the planted text: a line of its own, as in a log or a prompt.
		text := before + "\n\n" + c.text + "\n\n" + after
		out := Redact(text).Text
		for _, secret := range c.secrets {
			if strings.Count(out, secret) > strings.Count(before+after, secret) {
				t.Fatalf("planted secret %q (%s) survived in %q", secret, c.name, out)
			}
		}
	})
}

func BenchmarkString(b *testing.B) {
	text := ""
	for len(text) < 64<<10 {
		text += "Hello bob@corp.com, your order 1234 ships 2025-06-01; call +1 555 123 4567. "
	}
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		String(text)
	}
}
