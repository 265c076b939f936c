package workflows

import (
	"reflect"
	"sync"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/runbooks"
)

// Every incident's input carries its runbook spec (with the catalog entries it was
// validated against) and, from quench dev, the worker's policy. A thousand incidents of
// one runbook hold a thousand equal copies of both in the worker's workflow cache. The
// interpreter never changes either in place (it copies the policy struct and assigns its
// fields, decide.go), so incidents can share one copy: a shared value is equal to the one
// decoded, so sharing changes nothing a replay could see.

// maxSharedSpecs bounds the specs kept for sharing: a worker that sees more distinct
// specs (edited runbooks) starts over rather than growing.
const maxSharedSpecs = 256

// maxSharedPolicies bounds the policies kept: one per config the worker's starters used.
const maxSharedPolicies = 8

type interner struct {
	mu       sync.Mutex
	specs    map[string][]*runbooks.Spec // by digest
	nspecs   int
	policies []*activities.Policy // newest last
}

var shared = &interner{}

// spec returns a copy of s sharing its slices and maps with an equal spec seen before, or
// s itself (remembered for the next incident). A spec without a digest (built in code)
// is not shared.
func (in *interner) spec(s runbooks.Spec) runbooks.Spec {
	if s.Digest == "" {
		return s
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, seen := range in.specs[s.Digest] {
		// Equal digests name equal runbooks as written; the saved catalog entries are
		// outside the digest, hence the whole comparison.
		if reflect.DeepEqual(*seen, s) {
			return *seen
		}
	}
	if in.specs == nil || in.nspecs >= maxSharedSpecs {
		in.specs, in.nspecs = map[string][]*runbooks.Spec{}, 0
	}
	kept := s
	in.specs[s.Digest] = append(in.specs[s.Digest], &kept)
	in.nspecs++
	return s
}

// policy is spec for a policy.
func (in *interner) policy(p activities.Policy) activities.Policy {
	in.mu.Lock()
	defer in.mu.Unlock()
	for i := len(in.policies) - 1; i >= 0; i-- {
		if reflect.DeepEqual(*in.policies[i], p) {
			return *in.policies[i]
		}
	}
	if len(in.policies) >= maxSharedPolicies {
		in.policies = in.policies[1:]
	}
	kept := p
	in.policies = append(in.policies, &kept)
	return p
}
