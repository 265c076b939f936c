package trust

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// People maps a person to the identities they use (person -> normalised identities), as
// the config's `people:` section says. It is plain data so it can travel in a workflow's
// state; build it with NewPeople, which normalises and checks it.
type People map[string][]string

// NewPeople checks and normalises the config's people: every person name and identity must
// pass the identity checks, a person's name is one word without a colon (so it never reads
// as an identity), and no identity belongs to two people.
func NewPeople(in map[string][]string) (People, error) {
	out := People{}
	owner := map[string]string{}
	var problems []string
	names := make([]string, 0, len(in))
	for name := range in {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		person, err := PersonName(name)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if _, dup := out[person]; dup {
			problems = append(problems, fmt.Sprintf("people.%s: the same person as another entry once normalised (%s)", name, person))
			continue
		}
		ids := []string{}
		for _, raw := range in[name] {
			id, err := NormalizeIdentity(raw)
			if err != nil {
				problems = append(problems, fmt.Sprintf("people.%s: %v", name, err))
				continue
			}
			if prev, taken := owner[id]; taken && prev != person {
				problems = append(problems, fmt.Sprintf("people.%s: identity %s is also listed under %s; an identity belongs to one person", name, raw, prev))
				continue
			}
			owner[id] = person
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		out[person] = ids
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return out, nil
}

// PersonName checks and normalises a person's name ("Alice" -> "alice").
func PersonName(name string) (string, error) {
	if strings.Contains(name, ":") {
		return "", fmt.Errorf("people.%s: a person's name has no colon (identities do): write e.g. alice: [cli:alice, slack:U0123]", name)
	}
	id, err := NormalizeIdentity(name)
	if err != nil {
		return "", fmt.Errorf("people.%s: %w", name, err)
	}
	_, person, _ := splitKind(id)
	return person, nil
}

// PersonOf is the person an identity belongs to: the person who lists it, or, when nobody
// does, the identity itself in its normalised form (its own person). An identity that does
// not pass the checks belongs to nobody: "".
func (p People) PersonOf(identity string) string {
	id, err := NormalizeIdentity(identity)
	if err != nil {
		return ""
	}
	// Sorted, so the answer is the same everywhere (workflows replay it).
	names := make([]string, 0, len(p))
	for name := range p {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if slices.Contains(p[name], id) {
			return name
		}
	}
	return id
}

// Person resolves what a config list names, a person or an identity, to the person:
// "alice" is the person alice when people lists her, else the identity cli:alice.
func (p People) Person(nameOrIdentity string) string {
	if !strings.Contains(nameOrIdentity, ":") {
		if name, err := PersonName(nameOrIdentity); err == nil {
			if _, ok := p[name]; ok {
				return name
			}
		}
	}
	return p.PersonOf(nameOrIdentity)
}

// IsPerson reports whether name is a person people lists (not an identity standing alone).
func (p People) IsPerson(name string) bool {
	_, ok := p[name]
	return ok
}
