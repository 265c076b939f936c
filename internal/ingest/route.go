package ingest

import (
	"fmt"

	"github.com/quench-dev/quench/internal/alert"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/runbooks"
)

// Matcher finds the runbooks whose triggers match an alert; *runbooks.Library has it.
type Matcher interface {
	Match(a alert.Alert) []*runbooks.Spec
}

// Route binds each alert to the incidents it belongs to: one per runbook whose triggers
// match it, named by (runbook, source, key) so every alert of a group lands in the same
// workflow. Alerts no runbook matches are returned apart, to be kept visible. An alert
// without a group key is a malformed delivery (*FieldError).
func Route(m Matcher, source string, alerts []alert.Alert) (routed []Routed, unmatched []alert.Alert, err error) {
	for i, a := range alerts {
		if a.Source == "" {
			a.Source = source
		}
		if a.Key == "" {
			a.Key = a.Fingerprint
		}
		if a.Key == "" {
			return nil, nil, &FieldError{Field: fmt.Sprintf("alerts[%d]", i), Msg: "the alert has neither a group key nor a fingerprint, so it cannot be tied to an incident"}
		}
		specs := m.Match(a)
		if len(specs) == 0 {
			unmatched = append(unmatched, a)
			continue
		}
		for _, spec := range specs {
			id, err := incidents.IncidentID(spec.Name, incidents.StartRequest{Source: a.Source, Alert: &a})
			if err != nil {
				return nil, nil, err
			}
			routed = append(routed, Routed{WorkflowID: id, Runbook: spec.Name, Alert: a})
		}
	}
	return routed, unmatched, nil
}
