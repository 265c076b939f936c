package incidents

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/quench-dev/quench/workflows"
)

// This file is the one place where what a human typed (a short incident ID, a short
// digest) is expanded, so the CLI, the API, Slack and the fake agree on it.

// MinDigestPrefix is the shortest digest prefix accepted: `incident show` prints 12.
const MinDigestPrefix = 8

// ParseRef checks an incident reference: a full "inc-..." ID comes back as it is with
// full=true; otherwise ref must be a short ID (hex, as `incident list` shows it).
func ParseRef(ref string) (id string, full bool, err error) {
	ref = strings.TrimSpace(ref)
	switch {
	case ref == "":
		return "", false, Invalid(errors.New("give an incident ID (see `quench incident list`)"))
	case strings.HasPrefix(ref, "inc-"):
		return ref, true, nil
	case !isHex(ref):
		return "", false, Invalid(fmt.Errorf("%q is not an incident ID: use the 6-character short ID or the full inc-... ID", ref))
	}
	return ref, false, nil
}

// PickID chooses the incident a short ID names among the IDs found for it.
func PickID(short string, ids []string) (string, error) {
	uniq := map[string]bool{}
	for _, id := range ids {
		uniq[id] = true
	}
	switch len(uniq) {
	case 0:
		return "", fmt.Errorf("%w: no incident with ID %s (see `quench incident list`)", ErrNotFound, short)
	case 1:
		for id := range uniq {
			return id, nil
		}
	}
	list := make([]string, 0, len(uniq))
	for id := range uniq {
		list = append(list, id)
	}
	sort.Strings(list)
	return "", Invalid(fmt.Errorf("short ID %s is ambiguous: use one of %s", short, strings.Join(list, ", ")))
}

// PickApproval finds the pending approval a decision is about. stepID may be empty when one
// approval is pending (or one matches digest); digest may be empty (the caller just read
// the status) or a prefix of at least MinDigestPrefix characters, as `incident show` prints.
func PickApproval(st workflows.Status, stepID, digest string) (workflows.PendingApproval, error) {
	if st.ClosedAt != nil {
		return workflows.PendingApproval{}, Conflict(fmt.Errorf("incident %s is closed (%s): nothing to decide", st.ShortID, st.State))
	}
	if len(st.Pending) == 0 && st.Verifying != nil {
		v := st.Verifying
		return workflows.PendingApproval{}, Conflict(fmt.Errorf("incident %s has no approval pending yet: it is verifying step %s until %s (%s); "+
			"the next approval comes after it. To stop the verify and keep the change: quench incident resolve %s",
			st.ShortID, v.StepID, v.Deadline.UTC().Format(time.TimeOnly+" UTC"), v.Condition, st.ShortID))
	}
	if len(st.Pending) == 0 {
		return workflows.PendingApproval{}, Conflict(fmt.Errorf("incident %s has no approval pending (see `quench incident show %s`)", st.ShortID, st.ShortID))
	}
	if digest != "" && len(digest) < MinDigestPrefix {
		return workflows.PendingApproval{}, Invalid(fmt.Errorf("digest %s is too short: give at least %d characters of the digest `quench incident show %s` prints", digest, MinDigestPrefix, st.ShortID))
	}
	var candidates []workflows.PendingApproval
	for _, p := range st.Pending {
		if stepID == "" || p.StepID == stepID {
			candidates = append(candidates, p)
		}
	}
	if len(candidates) == 0 {
		return workflows.PendingApproval{}, Conflict(fmt.Errorf("step %s of incident %s is not waiting for approval; waiting: %s", stepID, st.ShortID, pendingSteps(st)))
	}
	if digest != "" {
		var matched []workflows.PendingApproval
		for _, p := range candidates {
			if strings.HasPrefix(p.Digest, digest) {
				matched = append(matched, p)
			}
		}
		if len(matched) == 0 {
			return workflows.PendingApproval{}, Conflict(fmt.Errorf("digest %s does not match what incident %s is waiting on: the params changed, review them with `quench incident show %s`", digest, st.ShortID, st.ShortID))
		}
		candidates = matched
	}
	if len(candidates) > 1 {
		return workflows.PendingApproval{}, Invalid(fmt.Errorf("several approvals are pending (%s): pass --step", pendingSteps(st)))
	}
	return candidates[0], nil
}

func pendingSteps(st workflows.Status) string {
	ids := make([]string, 0, len(st.Pending))
	for _, p := range st.Pending {
		ids = append(ids, p.StepID)
	}
	return strings.Join(ids, ", ")
}
