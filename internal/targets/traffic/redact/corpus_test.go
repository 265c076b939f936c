package redact

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// secretCase is one shape of secret from testdata/secrets.txt.
type secretCase struct {
	name    string
	text    string
	secrets []string
	kind    string // "" = any
}

func loadSecretCorpus(t testing.TB) []secretCase {
	t.Helper()
	f, err := os.Open("testdata/secrets.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []secretCase
	var cur *secretCase
	var text []string
	inSecrets := false
	flush := func() {
		if cur != nil {
			cur.text = strings.Join(text, "\n")
			cases = append(cases, *cur)
		}
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "=== "):
			flush()
			cur, text, inSecrets = &secretCase{name: strings.TrimPrefix(line, "=== ")}, nil, false
		case cur == nil:
			// the file's header
		case line == "--- secrets":
			inSecrets = true
		case strings.HasPrefix(line, "--- kind "):
			cur.kind = strings.TrimPrefix(line, "--- kind ")
		case inSecrets:
			if line != "" {
				cur.secrets = append(cur.secrets, line)
			}
		default:
			text = append(text, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	flush()
	for i := range cases {
		// The blank line before the next case belongs to no text.
		cases[i].text = strings.TrimRight(cases[i].text, "\n")
		if len(cases[i].secrets) == 0 {
			t.Fatalf("case %q plants no secret", cases[i].name)
		}
	}
	return cases
}

func loadOrdinaryCorpus(t testing.TB) []string {
	t.Helper()
	data, err := os.ReadFile("testdata/ordinary.txt")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		lines = append(lines, line)
	}
	return lines
}

func TestSecretCorpusIsMasked(t *testing.T) {
	cases := loadSecretCorpus(t)
	if len(cases) < 60 {
		t.Fatalf("only %d secret cases loaded", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := Redact(c.text)
			for _, s := range c.secrets {
				if strings.Contains(res.Text, s) {
					t.Errorf("secret %q survived:\n  in  %q\n  out %q", s, c.text, res.Text)
				}
			}
			if len(res.Masked) == 0 {
				t.Errorf("nothing reported masked for %q", c.text)
			}
			if c.kind != "" && res.Masked[c.kind] == 0 {
				t.Errorf("kind %s not reported; got %v", c.kind, res.Masked)
			}
			if again := Redact(res.Text); again.Text != res.Text || len(again.Masked) != 0 {
				t.Errorf("not idempotent: %q → %q (%v)", res.Text, again.Text, again.Masked)
			}
		})
	}
	if !t.Failed() {
		t.Logf("redaction corpus: %d secret cases, all masked", len(cases))
	}
}

// TestOrdinaryTrafficIsUntouched measures the false-positive rate (ordinary lines the
// redactor changes) and requires it to be zero on this corpus.
func TestOrdinaryTrafficIsUntouched(t *testing.T) {
	lines := loadOrdinaryCorpus(t)
	changed := 0
	for _, line := range lines {
		if res := Redact(line); res.Text != line {
			changed++
			t.Errorf("ordinary text changed:\n  in  %q\n  out %q (%v)", line, res.Text, res.Masked)
		}
	}
	// The lines as one document too: context across lines (YAML, PEM) must not change it.
	doc := strings.Join(lines, "\n")
	if res := Redact(doc); res.Text != doc {
		t.Errorf("the ordinary corpus as one document changed: %v", res.Masked)
	}
	t.Logf("redaction false-positive rate: %d of %d ordinary lines changed (%.1f%%)", changed, len(lines), 100*float64(changed)/float64(len(lines)))
}
