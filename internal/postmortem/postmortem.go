// Package postmortem turns a closed (or running) incident into a postmortem: summary,
// timeline, decisions, retries, mitigations and undos, evidence and links.
//
// Build is a pure function over what the incident left behind: its final Status (the
// workflow's query answer, or its completion result), the raw workflow history (for what the
// Status does not keep: activity attempts and each decision's full payload) and the evidence
// bundles read from the store. The CLI and `quench demo` gather those; tests feed a recorded
// history.
package postmortem

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	historypb "go.temporal.io/api/history/v1"

	"github.com/quench-dev/quench/internal/evidence/report"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/workflows"
)

// Schema names the JSON shape of Report; it changes only when a field is renamed or removed.
const Schema = "quench.postmortem/v1"

// Input is everything a postmortem is made of.
type Input struct {
	Status  workflows.Status
	History []*historypb.HistoryEvent // every run's events, oldest run first; may be empty
	// Bundles are the evidence bundles, each verified against Status.Evidence's sha256.
	Bundles []report.Bundle
	// EvidenceError says why the bundles could not be read ("" when they were).
	EvidenceError string
	// UIURL is the Temporal Web UI's base URL ("" for no link); Namespace its namespace.
	UIURL     string
	Namespace string
}

// Report is the postmortem; `-o json` prints it as is.
type Report struct {
	Schema      string       `json:"schema"`
	Summary     Summary      `json:"summary"`
	Steps       []Step       `json:"steps"`
	Decisions   []Decision   `json:"decisions"`
	Retries     []Retry      `json:"retries"`
	Mitigations []Mitigation `json:"mitigations"`
	Undos       []Undo       `json:"undos"`
	Timeline    []Entry      `json:"timeline"`
	Evidence    Evidence     `json:"evidence"`
	Links       []Link       `json:"links"`
}

// Summary is the incident in a few lines.
type Summary struct {
	IncidentID      string            `json:"incident_id"`
	ShortID         string            `json:"short_id"`
	Runbook         string            `json:"runbook"`
	Title           string            `json:"title"`
	Severity        string            `json:"severity,omitempty"`
	Service         string            `json:"service,omitempty"`
	Requester       string            `json:"requester"`
	Source          string            `json:"source"`
	StartedAt       time.Time         `json:"started_at"`
	ClosedAt        *time.Time        `json:"closed_at,omitempty"`
	DurationSeconds float64           `json:"duration_seconds,omitempty"`
	Duration        string            `json:"duration,omitempty"`
	State           string            `json:"state"`
	Resolved        bool              `json:"resolved"`
	Resolution      string            `json:"resolution"`
	Params          map[string]string `json:"params,omitempty"`
	Alerts          int               `json:"alerts_received"`
	Runs            int               `json:"runs"`
	TimelineDropped int               `json:"timeline_dropped,omitempty"`
}

// Step is one runbook step as it ended.
type Step struct {
	ID        string     `json:"id"`
	Action    string     `json:"action"`
	Title     string     `json:"title,omitempty"`
	State     string     `json:"state"`
	Summary   string     `json:"summary,omitempty"`
	Error     string     `json:"error,omitempty"`
	StartedAt *time.Time `json:"started_at,omitempty"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	Attempts  int        `json:"attempts,omitempty"` // the most attempts of the step's activity (history)
}

// Decision is one accepted approval decision: who, when, why, via what.
type Decision struct {
	StepID   string    `json:"step_id"`
	Approver string    `json:"approver"`
	Verdict  string    `json:"verdict"`
	Reason   string    `json:"reason,omitempty"`
	Via      string    `json:"via,omitempty"`
	At       time.Time `json:"at"`
	Outcome  string    `json:"outcome,omitempty"` // approved | rejected | counted (from the history)
}

// Retry is an activity that needed more than one attempt.
type Retry struct {
	StepID      string    `json:"step_id,omitempty"`
	Action      string    `json:"action"`
	Attempts    int       `json:"attempts"`
	LastFailure string    `json:"last_failure,omitempty"`
	At          time.Time `json:"at"`
}

// Mitigation is a step that changed something, with what put it back.
type Mitigation struct {
	StepID  string `json:"step_id"`
	Action  string `json:"action"`
	Summary string `json:"summary"`
	Undo    *Undo  `json:"undo,omitempty"`
}

// Undo is a registered compensation and what became of it.
type Undo struct {
	StepID      string            `json:"step_id"`
	Action      string            `json:"action"`
	Description string            `json:"description,omitempty"`
	Params      map[string]string `json:"params,omitempty"`
	State       string            `json:"state"` // done | kept | rejected | failed | cleared | not run
}

// Entry is one line of the timeline.
type Entry struct {
	At     time.Time         `json:"at"`
	Kind   string            `json:"kind"`
	StepID string            `json:"step_id,omitempty"`
	Actor  string            `json:"actor,omitempty"`
	Text   string            `json:"text"`
	Data   map[string]string `json:"data,omitempty"`
}

// Evidence is the evidence section.
type Evidence struct {
	Refs     []ports.EvidenceRef `json:"refs"`
	Verified bool                `json:"verified"`        // every ref's bundle was read and its sha256 matched
	Error    string              `json:"error,omitempty"` // why the store could not be read
	Bundles  []BundleSummary     `json:"bundles"`
}

// BundleSummary is one bundle's comparison of incident against baseline.
type BundleSummary struct {
	Name              string     `json:"name"`
	SHA256            string     `json:"sha256"`
	Route             string     `json:"route,omitempty"`
	Requests          int        `json:"requests"`
	BaselineRequests  int        `json:"baseline_requests"`
	ErrorRate         float64    `json:"error_rate"`
	BaselineErrorRate float64    `json:"baseline_error_rate"`
	TopChange         string     `json:"top_change,omitempty"`
	Changes           []string   `json:"changes,omitempty"`
	Groups            []GroupRow `json:"groups"`
}

// GroupRow is one provider / model / prompt version, incident against baseline.
type GroupRow struct {
	Provider          string  `json:"provider"`
	Model             string  `json:"model,omitempty"`
	Prompt            string  `json:"prompt,omitempty"`
	Requests          int     `json:"requests"`
	BaselineRequests  int     `json:"baseline_requests"`
	ErrorRate         float64 `json:"error_rate"`
	BaselineErrorRate float64 `json:"baseline_error_rate"`
}

// Link is a named URL.
type Link struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// Build makes the postmortem. It reads only its input.
func Build(in Input) Report {
	st := in.Status
	hist := scanHistory(in.History)
	r := Report{Schema: Schema, Summary: summarize(st)}
	for _, s := range st.Steps {
		r.Steps = append(r.Steps, Step{ID: s.ID, Action: s.Action, Title: s.Title, State: s.State, Summary: s.Summary,
			Error: s.Error, StartedAt: s.StartedAt, EndedAt: s.EndedAt, Attempts: hist.attempts[s.ID]})
	}
	r.Decisions = decisions(st, hist)
	r.Retries = hist.retries
	r.Undos, r.Mitigations = undosAndMitigations(st)
	for _, e := range st.Timeline {
		r.Timeline = append(r.Timeline, Entry(e))
	}
	r.Timeline = append(r.Timeline, retryEntries(hist.retries)...)
	sort.SliceStable(r.Timeline, func(i, j int) bool { return r.Timeline[i].At.Before(r.Timeline[j].At) })
	r.Evidence = evidenceSection(st, in.Bundles, in.EvidenceError)
	r.Links = links(st, in.UIURL, in.Namespace)
	if r.Steps == nil {
		r.Steps = []Step{}
	}
	if r.Decisions == nil {
		r.Decisions = []Decision{}
	}
	if r.Retries == nil {
		r.Retries = []Retry{}
	}
	if r.Mitigations == nil {
		r.Mitigations = []Mitigation{}
	}
	if r.Undos == nil {
		r.Undos = []Undo{}
	}
	if r.Timeline == nil {
		r.Timeline = []Entry{}
	}
	if r.Links == nil {
		r.Links = []Link{}
	}
	return r
}

func summarize(st workflows.Status) Summary {
	s := Summary{
		IncidentID: st.IncidentID, ShortID: st.ShortID, Runbook: st.Runbook, Title: st.Title,
		Severity: st.Severity, Service: st.Service, Requester: st.Requester, Source: st.Source,
		StartedAt: st.StartedAt, ClosedAt: st.ClosedAt, State: st.State, Resolved: st.Resolved,
		Params: st.Params, Alerts: st.Alerts.Received, Runs: max(st.Runs, 1), TimelineDropped: st.TimelineDropped,
	}
	if st.ClosedAt != nil {
		d := st.ClosedAt.Sub(st.StartedAt)
		s.DurationSeconds = d.Seconds()
		s.Duration = d.Round(time.Second).String()
		if d < time.Second {
			s.Duration = d.Round(time.Millisecond).String()
		}
	}
	s.Resolution = resolution(st)
	return s
}

// resolution says in words how the incident ended, from the timeline's closing events.
func resolution(st workflows.Status) string {
	var resolvedBy, abortedBy string
	for _, e := range st.Timeline {
		switch e.Kind {
		case workflows.EventResolved:
			if resolvedBy == "" {
				resolvedBy = strings.TrimSpace(e.Text)
				if e.Actor != "" {
					resolvedBy = e.Actor + ": " + resolvedBy
				}
			}
		case workflows.EventAborted:
			abortedBy = e.Text
			if e.Actor != "" {
				abortedBy = e.Actor + ": " + abortedBy
			}
		}
	}
	switch {
	case st.ClosedAt == nil:
		return "still open (" + st.State + ")"
	case st.State == workflows.StateAborted:
		return "aborted by " + orText(abortedBy, "a human")
	case st.State == workflows.StateFailed:
		return "the runbook failed: see the steps below"
	case resolvedBy != "":
		return "resolved by " + resolvedBy
	default:
		return "the runbook ran to its end (" + st.State + ")"
	}
}

func decisions(st workflows.Status, h historyFacts) []Decision {
	if len(h.decisions) > 0 {
		// The history has every accepted decision with its full payload; take the time the
		// workflow recorded (the timeline's) when the two line up.
		out := append([]Decision(nil), h.decisions...)
		var tl []workflows.Event
		for _, e := range st.Timeline {
			if e.Kind == workflows.EventDecision {
				tl = append(tl, e)
			}
		}
		for i := range out {
			for j, e := range tl {
				if e.StepID == out[i].StepID && e.Actor == out[i].Approver {
					out[i].At = e.At
					tl = append(tl[:j], tl[j+1:]...)
					break
				}
			}
		}
		// A fail back quench approved on measured health is no update: only the timeline has it.
		for _, e := range tl {
			if e.Data["via"] == workflows.ViaHealth {
				out = append(out, timelineDecision(e))
			}
		}
		sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
		return out
	}
	// No history: the timeline's decision events carry who, when, verdict and via; the
	// reason is the text after the colon the workflow writes.
	var out []Decision
	for _, e := range st.Timeline {
		if e.Kind != workflows.EventDecision {
			continue
		}
		out = append(out, timelineDecision(e))
	}
	return out
}

// timelineDecision reads a decision event: who, when, verdict and via; the reason is the
// text after the colon the workflow writes.
func timelineDecision(e workflows.Event) Decision {
	d := Decision{StepID: e.StepID, Approver: e.Actor, Verdict: e.Data["verdict"], Via: e.Data["via"], At: e.At}
	if _, reason, ok := strings.Cut(e.Text, ": "); ok {
		d.Reason = reason
	}
	return d
}

// mitigatingState are the step states in which a step's change happened.
var mitigatingState = map[string]bool{workflows.StepDone: true, workflows.StepReverted: true}

func undosAndMitigations(st workflows.Status) ([]Undo, []Mitigation) {
	var undos []Undo
	for _, u := range st.Undo {
		state := u.State
		switch {
		case state == "" && u.Keep:
			state = "kept"
		case state == "":
			state = "not run"
		}
		undos = append(undos, Undo{StepID: u.StepID, Action: u.Undo.Action, Description: u.Undo.Description, Params: u.Undo.Params, State: state})
	}
	// Undos a later step made unnecessary (a fail back clears the switch's undo) leave the
	// stack; the timeline still has them, registered (with the action) and then cleared.
	registered := map[string]Undo{} // undo key -> as registered
	for _, e := range st.Timeline {
		if e.Kind != workflows.EventUndo {
			continue
		}
		switch {
		case strings.HasPrefix(e.Text, "registered undo "):
			_, what, _ := strings.Cut(e.Text, ": ")
			registered[e.Data["key"]] = Undo{StepID: e.StepID, Action: e.Data["action"], Description: what}
		case strings.HasPrefix(e.Text, "cleared the undo"):
			u, ok := registered[e.Data["key"]]
			if !ok {
				u = Undo{StepID: clearedStep(e.Text), Action: e.Data["key"]}
			}
			u.State = "cleared: step " + e.StepID + " already reversed it"
			undos = append(undos, u)
		}
	}
	byStep := map[string]*Undo{}
	for i := range undos {
		byStep[undos[i].StepID] = &undos[i]
	}
	var mit []Mitigation
	for _, s := range st.Steps {
		if !mitigatingState[s.State] {
			continue
		}
		u, hasUndo := byStep[s.ID]
		if !hasUndo && !changes(s.Action) {
			continue
		}
		m := Mitigation{StepID: s.ID, Action: s.Action, Summary: s.Summary}
		if hasUndo {
			cp := *u
			m.Undo = &cp
		}
		mit = append(mit, m)
	}
	return undos, mit
}

// changes tells the actions that change something outside quench from those that only
// read or wait, for steps that registered no undo (a fail back, a PR).
func changes(action string) bool {
	switch {
	case strings.HasPrefix(action, "wait."), strings.HasPrefix(action, "traffic."), strings.HasPrefix(action, "notify."),
		strings.HasSuffix(action, ".changes"), strings.HasSuffix(action, ".snapshot"):
		return false
	}
	return true
}

// clearedStep reads the step ID out of "cleared the undo of step X (...)".
func clearedStep(text string) string {
	rest, ok := strings.CutPrefix(text, "cleared the undo of step ")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, " ")
	return id
}

func retryEntries(rs []Retry) []Entry {
	var out []Entry
	for _, r := range rs {
		text := fmt.Sprintf("%s took %d attempts", r.Action, r.Attempts)
		if r.LastFailure != "" {
			text += "; last failure: " + r.LastFailure
		}
		out = append(out, Entry{At: r.At, Kind: workflows.EventStepRetry, StepID: r.StepID, Text: text,
			Data: map[string]string{"attempts": fmt.Sprint(r.Attempts), "source": "history"}})
	}
	return out
}

func evidenceSection(st workflows.Status, bundles []report.Bundle, loadErr string) Evidence {
	ev := Evidence{Refs: st.Evidence, Error: loadErr, Bundles: []BundleSummary{}}
	if ev.Refs == nil {
		ev.Refs = []ports.EvidenceRef{}
	}
	verified := 0
	for _, b := range bundles {
		if b.Verified {
			verified++
		}
		d := b.Doc
		bs := BundleSummary{Name: b.Ref.Name, SHA256: b.Ref.SHA256, Route: d.Manifest.Route,
			Requests: d.Headline.Requests, BaselineRequests: d.Headline.BaselineRequests,
			ErrorRate: d.Headline.ErrorRate, BaselineErrorRate: d.Headline.BaselineErrorRate,
			TopChange: d.Headline.TopChange, Groups: []GroupRow{}}
		for _, c := range d.Changes {
			bs.Changes = append(bs.Changes, c.Text)
		}
		for _, g := range d.Groups {
			prompt := g.PromptName
			if g.PromptVersion != "" {
				prompt += "@" + g.PromptVersion
			}
			bs.Groups = append(bs.Groups, GroupRow{Provider: g.Provider, Model: g.ResponseModel, Prompt: prompt,
				Requests: g.Incident.Requests, BaselineRequests: g.Baseline.Requests,
				ErrorRate: g.Incident.ErrorRate, BaselineErrorRate: g.Baseline.ErrorRate})
		}
		ev.Bundles = append(ev.Bundles, bs)
	}
	ev.Verified = loadErr == "" && len(st.Evidence) > 0 && verified == len(st.Evidence)
	return ev
}

func links(st workflows.Status, uiURL, namespace string) []Link {
	var out []Link
	if uiURL != "" && st.IncidentID != "" {
		ns := namespace
		if ns == "" {
			ns = "default"
		}
		out = append(out, Link{Name: "Temporal Web UI: workflow " + st.IncidentID,
			URL: strings.TrimRight(uiURL, "/") + "/namespaces/" + url.PathEscape(ns) + "/workflows/" + url.PathEscape(st.IncidentID)})
	}
	seen := map[string]bool{}
	for _, s := range st.Steps {
		for _, l := range s.Links {
			if seen[l.URL] {
				continue
			}
			seen[l.URL] = true
			out = append(out, Link{Name: l.Name + " (step " + s.ID + ")", URL: l.URL})
		}
	}
	return out
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
