package runbooks

import "testing"

// TestBuiltinsTakeTheEvidenceFirst: in every built-in runbook the traffic snapshot is taken
// before anything waits, at most one mitigation after the start: no approval, wait or
// inline verify before it (a verify before it must name it in after:, so it runs once the
// snapshot is in), while the incident window's traffic is still there.
func TestBuiltinsTakeTheEvidenceFirst(t *testing.T) {
	lib, err := LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range lib.List() {
		snap := -1
		for i, st := range s.Steps {
			if st.Action == ActionTrafficSnapshot {
				snap = i
				break
			}
		}
		if snap < 0 {
			t.Errorf("%s takes no traffic snapshot", s.Name)
			continue
		}
		mitigations := 0
		for _, st := range s.Steps[:snap] {
			act := Catalog[st.Action]
			switch {
			case st.Approval != nil || act.Kind != KindActivity:
				t.Errorf("%s: step %s waits (approval or wait) before the snapshot %s", s.Name, st.ID, s.Steps[snap].ID)
			case st.Verify != nil && st.Verify.After != s.Steps[snap].ID:
				t.Errorf("%s: step %s verifies before the snapshot; give its verify after: %s", s.Name, st.ID, s.Steps[snap].ID)
			}
			if act.SideEffect {
				mitigations++
			}
		}
		if mitigations > 1 {
			t.Errorf("%s: %d mitigations before the snapshot, want it right after the first", s.Name, mitigations)
		}
	}
}

// provider-outage judges the fallback on enough requests sent after the switch, once the
// evidence is in.
func TestProviderOutageVerifiesAfterTheEvidence(t *testing.T) {
	lib, err := LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	po, err := lib.Get("provider-outage")
	if err != nil {
		t.Fatal(err)
	}
	v := po.Steps[0].Verify
	if v == nil || v.After != "evidence" || v.MinRequests != 20 || po.Steps[1].ID != "evidence" {
		t.Fatalf("failover verify %+v, step 2 %s: want after: evidence, min_requests: 20", v, po.Steps[1].ID)
	}
}
