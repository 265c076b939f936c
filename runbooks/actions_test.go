package runbooks

import (
	"slices"
	"testing"
	"time"
)

func TestParseSavesTheActionsTheSpecUses(t *testing.T) {
	spec, err := Parse([]byte(`name: saved
steps:
  - id: block
    action: gateway.block
    with: {route: chat, key: agent-7}
  - id: recovered
    action: wait.resolved
`), "saved.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range spec.Actions {
		names = append(names, name)
	}
	slices.Sort(names)
	want := []string{ActionGatewayBlock, ActionGatewayUnblock, ActionNotify, ActionWaitResolved}
	if !slices.Equal(names, want) {
		t.Errorf("saved actions %v, want %v (steps, their undos, and notify for escalations)", names, want)
	}
	if got := spec.Actions[ActionGatewayBlock]; got.DefaultTimeout != Catalog[ActionGatewayBlock].DefaultTimeout || got.Kind != KindActivity {
		t.Errorf("saved gateway.block = %+v, want the catalog's", got)
	}
}

func TestSpecActionPrefersTheSavedDefinition(t *testing.T) {
	spec, err := Parse([]byte("name: pinned\nsteps:\n  - id: tell\n    action: notify\n    with: {text: hi}\n"), "pinned.yaml")
	if err != nil {
		t.Fatal(err)
	}
	digest := spec.Digest

	// A later binary changes notify's timeout; the loaded spec keeps the one it was validated with.
	live := Catalog[ActionNotify]
	changed := live
	changed.DefaultTimeout = Duration(7 * time.Minute)
	Catalog[ActionNotify] = changed
	t.Cleanup(func() { Catalog[ActionNotify] = live })

	if a, ok := spec.Action(ActionNotify); !ok || a.DefaultTimeout != live.DefaultTimeout {
		t.Errorf("spec.Action(notify) = %+v, %v; want the saved timeout %s", a, ok, live.DefaultTimeout)
	}
	if spec.ComputeDigest() != digest {
		t.Error("the saved actions changed the digest: it names the runbook as written")
	}

	// A spec without saved actions (an incident started before they were saved) has only
	// the live catalog.
	old := *spec
	old.Actions = nil
	if a, ok := old.Action(ActionNotify); !ok || a.DefaultTimeout != changed.DefaultTimeout {
		t.Errorf("without saved actions, spec.Action(notify) = %+v, %v; want the live catalog's", a, ok)
	}
	if _, ok := spec.Action("no.such.action"); ok {
		t.Error("an action neither saved nor in the catalog was found")
	}
}
