package trust

import (
	"strings"
	"testing"
)

func TestNormalizeIdentity(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "alice", want: "cli:alice"},
		{in: "  Alice ", want: "cli:alice"},
		{in: "cli:alice", want: "cli:alice"},
		{in: "CLI:Alice", want: "cli:alice"},
		{in: "ａｌｉｃｅ", want: "cli:alice"},                   // fullwidth: NFKC
		{in: "slack：U0123ALICE", want: "slack:u0123alice"}, // fullwidth colon
		{in: "slack:U0123ALICE", want: "slack:u0123alice"}, // Slack IDs compare case-insensitively
		{in: "api:deploy-bot", want: "api:deploy-bot"},
		{in: "github:Alice", want: "github:alice"},
		{in: "Straße", want: "cli:strasse"},        // full case folding
		{in: "ﬁona", want: "cli:fiona"},            // ligature
		{in: "weird-kind:x", want: "weird-kind:x"}, // unknown kinds are fine
		{in: "alice@example.com", want: "cli:alice@example.com"},
		{in: "山田太郎", want: "cli:山田太郎"},
		{in: "すずきtaro", want: "cli:すずきtaro"},                      // Japanese with Latin is a real mix
		{in: "Борис", want: "cli:борис"},                          // a Cyrillic name is fine
		{in: "аlice", err: "mixes Cyrillic and Latin"},            // Cyrillic а
		{in: "slack:U0123АLICE", err: "mixes Cyrillic and Latin"}, // Cyrillic А
		{in: "bοb", err: "mixes Greek and Latin"},                 // Greek ο
		{in: "аре", err: "look like Latin"},                       // all Cyrillic, all look-alikes
		{in: "ВОВ", err: "look like Latin"},
		{in: "al\u200bice", err: "invisible character U+200B"},
		{in: "alice\u200d", err: "invisible character U+200D"},
		{in: "ali\u202ece", err: "invisible character U+202E"}, // bidi override
		{in: "al\u3164ice", err: "invisible character"},        // NFKC turns it into U+1160, also invisible
		{in: "al\x07ice", err: "control character U+0007"},
		{in: "alice smith", err: "space"},
		{in: "al\u00a0ice", err: "space"},
		{in: "", err: "empty"},
		{in: "   ", err: "empty"},
		{in: "slack:", err: "no name"},
		{in: strings.Repeat("a", 300), err: "at most"},
		{in: "\xff", err: "UTF-8"},
		{in: "a\ue000", err: "private-use"},
	} {
		got, err := NormalizeIdentity(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("NormalizeIdentity(%q) = %q, %v; want an error containing %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NormalizeIdentity(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestCheckIdentityKeepsCase(t *testing.T) {
	got, err := CheckIdentity(" Slack:U0123ALICE ")
	if err != nil || got != "slack:U0123ALICE" {
		t.Fatalf("CheckIdentity = %q, %v; want slack:U0123ALICE", got, err)
	}
}

func TestQualifyKindDisplay(t *testing.T) {
	for _, tc := range []struct{ id, kind, want string }{
		{"deploy-bot", "api", "api:deploy-bot"},
		{"slack:U1", "api", "slack:U1"},
		{"alice", "not a kind", "alice"},
		{"", "api", ""},
	} {
		if got := Qualify(tc.id, tc.kind); got != tc.want {
			t.Errorf("Qualify(%q, %q) = %q; want %q", tc.id, tc.kind, got, tc.want)
		}
	}
	if Kind("slack:U1") != "slack" || Kind("alice") != "cli" {
		t.Errorf("Kind: %q %q", Kind("slack:U1"), Kind("alice"))
	}
	if Display("cli:bob") != "bob" || Display("slack:U1") != "slack:U1" {
		t.Errorf("Display: %q %q", Display("cli:bob"), Display("slack:U1"))
	}
}

func TestPeople(t *testing.T) {
	p, err := NewPeople(map[string][]string{
		"Alice": {"cli:alice", "slack:U0123ALICE", "api:deploy-bot", "github:alice"},
		"bob":   {"bob"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ id, want string }{
		{"cli:alice", "alice"},
		{"alice", "alice"},
		{"ALICE", "alice"},
		{"slack:u0123alice", "alice"},
		{"slack:U0123ALICE", "alice"},
		{"api:deploy-bot", "alice"},
		{"cli:bob", "bob"},
		{"slack:U999", "slack:u999"}, // nobody lists it: its own person
		{"mallory", "cli:mallory"},
		{"аlice", ""}, // refused identities belong to nobody
	} {
		if got := p.PersonOf(tc.id); got != tc.want {
			t.Errorf("PersonOf(%q) = %q; want %q", tc.id, got, tc.want)
		}
	}
	if got := p.Person("alice"); got != "alice" {
		t.Errorf("Person(alice) = %q", got)
	}
	if got := p.Person("carol"); got != "cli:carol" {
		t.Errorf("Person(carol) = %q; want the identity cli:carol", got)
	}
	if !p.IsPerson("alice") || p.IsPerson("cli:alice") {
		t.Error("IsPerson")
	}
	var none People
	if got := none.PersonOf("Bob"); got != "cli:bob" {
		t.Errorf("no people: PersonOf(Bob) = %q", got)
	}
}

func TestNewPeopleRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		in   map[string][]string
		want string
	}{
		"identity of two people": {map[string][]string{"alice": {"slack:U1"}, "bob": {"SLACK:u1"}}, "also listed under"},
		"look-alike identity":    {map[string][]string{"alice": {"аlice"}}, "mixes"},
		"look-alike person":      {map[string][]string{"аlice": {"cli:x"}}, "mixes"},
		"colon in person":        {map[string][]string{"cli:alice": {"cli:x"}}, "no colon"},
		"same person twice":      {map[string][]string{"alice": {"a"}, "ALICE": {"b"}}, "same person"},
	} {
		if _, err := NewPeople(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v; want %q", name, err, tc.want)
		}
	}
}
