package postmortem

import (
	"encoding/json"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"

	"github.com/quench-dev/quench/internal/trust"
	"github.com/quench-dev/quench/workflows"
)

// historyFacts is what the raw history tells that the Status does not keep.
type historyFacts struct {
	attempts  map[string]int // step ID -> most attempts of one of its activities
	retries   []Retry
	decisions []Decision
}

// activityCall is the part of a step activity's input the postmortem reads.
type activityCall struct {
	StepID string `json:"step_id"`
	Action string `json:"action"`
}

// scanHistory reads attempts (ActivityTaskStarted's attempt, the last one when an activity
// was retried) and accepted decide updates out of the events of every run.
func scanHistory(events []*historypb.HistoryEvent) historyFacts {
	h := historyFacts{attempts: map[string]int{}}
	type runKey struct {
		run int
		id  int64
	}
	run := 0
	scheduled := map[runKey]activityCall{}
	accepted := map[runKey]workflows.Decision{}
	acceptedAt := map[runKey]*historypb.HistoryEvent{}
	for _, ev := range events {
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
			run++ // event IDs start again in each continue-as-new run
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			a := ev.GetActivityTaskScheduledEventAttributes()
			var call activityCall
			decodeFirst(a.GetInput(), &call)
			if call.Action == "" {
				call.Action = a.GetActivityType().GetName()
			}
			scheduled[runKey{run, ev.GetEventId()}] = call
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			a := ev.GetActivityTaskStartedEventAttributes()
			call, ok := scheduled[runKey{run, a.GetScheduledEventId()}]
			if !ok {
				continue
			}
			n := int(a.GetAttempt())
			if call.StepID != "" && n > h.attempts[call.StepID] {
				h.attempts[call.StepID] = n
			}
			if n > 1 {
				h.retries = append(h.retries, Retry{StepID: call.StepID, Action: call.Action, Attempts: n,
					LastFailure: oneLine(a.GetLastFailure().GetMessage()), At: ev.GetEventTime().AsTime()})
			}
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			a := ev.GetWorkflowExecutionUpdateAcceptedEventAttributes()
			in := a.GetAcceptedRequest().GetInput()
			if in.GetName() != workflows.UpdateDecide {
				continue
			}
			var d workflows.Decision
			if decodeFirst(in.GetArgs(), &d) {
				accepted[runKey{run, ev.GetEventId()}] = d
				acceptedAt[runKey{run, ev.GetEventId()}] = ev
			}
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
			a := ev.GetWorkflowExecutionUpdateCompletedEventAttributes()
			key := runKey{run, a.GetAcceptedEventId()}
			d, ok := accepted[key]
			if !ok || a.GetOutcome().GetSuccess() == nil {
				continue // a decision the workflow refused changed nothing
			}
			var res workflows.DecisionResult
			decodeFirst(a.GetOutcome().GetSuccess(), &res)
			h.decisions = append(h.decisions, Decision{StepID: firstNonEmpty(res.StepID, d.StepID), Approver: trust.Display(d.Approver),
				Verdict: d.Verdict, Reason: d.Reason, Via: d.Via, At: acceptedAt[key].GetEventTime().AsTime(), Outcome: res.Outcome})
		}
	}
	return h
}

// decodeFirst decodes the first payload as JSON (quench's workflows use the default JSON
// converter); it reports whether it could.
func decodeFirst(p *commonpb.Payloads, v any) bool {
	ps := p.GetPayloads()
	if len(ps) == 0 {
		return false
	}
	return json.Unmarshal(ps[0].GetData(), v) == nil
}

// StatusFromHistory reads the final Status from the close of the last run: the result of a
// completed run, or the details of the failure a failed or aborted incident closes its
// workflow with. ok is false when the history has neither.
func StatusFromHistory(events []*historypb.HistoryEvent) (workflows.Status, bool) {
	for i := len(events) - 1; i >= 0; i-- {
		var st workflows.Status
		if a := events[i].GetWorkflowExecutionCompletedEventAttributes(); a != nil && decodeFirst(a.GetResult(), &st) {
			return st, true
		}
		if f := events[i].GetWorkflowExecutionFailedEventAttributes().GetFailure(); f != nil {
			info := f.GetApplicationFailureInfo()
			if workflows.IsIncidentCloseFailure(info.GetType()) && decodeFirst(info.GetDetails(), &st) {
				return st, true
			}
		}
	}
	return workflows.Status{}, false
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 200 {
		return string(r[:199]) + "…"
	}
	return s
}
