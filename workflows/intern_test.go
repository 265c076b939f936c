package workflows

import (
	"crypto/ed25519"
	"encoding/json"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/runbooks"
)

// decoded is v through JSON, as an incident's input arrives: a fresh copy every time.
func decoded[T any](t *testing.T, v T) T {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var out T
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

func internSpec() runbooks.Spec {
	spec := testSpec(switchStep("failover"), restoreStep("failback"))
	spec.Digest = "sha256:intern-test"
	spec.Actions = runbooks.ActionsFor(&spec)
	return spec
}

func TestEqualSpecsAreShared(t *testing.T) {
	in := &interner{}
	first := in.spec(decoded(t, internSpec()))
	second := decoded(t, internSpec())
	require.NotSame(t, &first.Steps[0], &second.Steps[0])

	got := in.spec(second)
	assert.Equal(t, second, got)
	assert.Same(t, &first.Steps[0], &got.Steps[0], "an equal spec was not shared")
}

func TestDifferentSpecsAreNotShared(t *testing.T) {
	in := &interner{}
	first := in.spec(decoded(t, internSpec()))

	// Same digest (the runbook as written), other catalog entries saved with it.
	other := decoded(t, internSpec())
	other.Actions[runbooks.ActionGatewaySwitch] = runbooks.Action{Name: runbooks.ActionGatewaySwitch, Kind: runbooks.KindActivity}
	got := in.spec(other)
	assert.Equal(t, other, got)
	assert.NotSame(t, &first.Steps[0], &got.Steps[0])

	// No digest (a spec built in code): never shared.
	bare := decoded(t, internSpec())
	bare.Digest = ""
	in.spec(bare)
	again := decoded(t, bare)
	assert.NotSame(t, &bare.Steps[0], &in.spec(again).Steps[0])
}

func TestSharedSpecsAreBounded(t *testing.T) {
	in := &interner{}
	for i := range maxSharedSpecs + 10 {
		spec := decoded(t, internSpec())
		spec.Digest = "sha256:" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		in.spec(spec)
		assert.LessOrEqual(t, in.nspecs, maxSharedSpecs)
	}
}

func TestEqualPoliciesAreShared(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	policy := activities.Policy{Groups: map[string][]string{"sre": {"bob"}}, DecisionKeys: []ed25519.PublicKey{pub}, OpenGroups: true}
	in := &interner{}
	first := in.policy(decoded(t, policy))
	got := in.policy(decoded(t, policy))
	assert.Equal(t, policy, got)
	assert.Same(t, &first.DecisionKeys[0], &got.DecisionKeys[0], "an equal policy was not shared")

	changed := decoded(t, policy)
	changed.Groups["sre"] = []string{"carol"}
	got = in.policy(changed)
	assert.Equal(t, []string{"carol"}, got.Groups["sre"])
	assert.NotSame(t, &first.DecisionKeys[0], &got.DecisionKeys[0])

	for range maxSharedPolicies + 3 {
		p := decoded(t, policy)
		p.UIURL = "http://" + t.Name() + string(rune('a'+len(in.policies)))
		in.policy(p)
		assert.LessOrEqual(t, len(in.policies), maxSharedPolicies)
	}
}

// Workers run many incidents at once: sharing is safe from concurrent workflow tasks.
func TestSharingIsSafeConcurrently(t *testing.T) {
	in := &interner{}
	var wg sync.WaitGroup
	for range 8 {
		spec := decoded(t, internSpec())
		wg.Go(func() {
			for range 50 {
				got := in.spec(spec)
				assert.Len(t, got.Steps, 2)
			}
		})
	}
	wg.Wait()
}
