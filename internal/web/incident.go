package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/workflows"
)

type incidentView struct {
	base
	St workflows.Status
	// CanDecide: a signed-in person may press Approve/Reject (the incident decides whether
	// they count: groups, quorum, four-eyes).
	CanDecide bool
	Closed    bool
	Links     []ports.Link
	// Flash is the outcome of the decision just made; Problem why one was refused.
	Flash, Problem string
	// Decided says who decided the step a refused decision was about.
	Decided []workflows.Event
	Events  []workflows.Event // the timeline, newest first
}

func (h *Handler) incidentView(r *http.Request, st workflows.Status) *incidentView {
	v := &incidentView{base: h.base(r, st.Title), St: st, Closed: st.ClosedAt != nil}
	if v.Title == "" {
		v.Title = "Incident " + st.ShortID
	}
	v.CanDecide = v.Who != nil && !v.Closed
	v.Links = h.links(st)
	v.Events = make([]workflows.Event, len(st.Timeline))
	for i, e := range st.Timeline {
		v.Events[len(st.Timeline)-1-i] = e
	}
	return v
}

// links are the incident's places elsewhere: the Temporal Web UI, then what its steps
// linked (the rollback pull request, the Slack thread, a prompt version).
func (h *Handler) links(st workflows.Status) []ports.Link {
	var out []ports.Link
	if h.opts.UIURL != "" {
		ns := h.opts.Namespace
		if ns == "" {
			ns = "default"
		}
		out = append(out, ports.Link{Name: "Temporal Web UI", URL: strings.TrimRight(h.opts.UIURL, "/") + "/namespaces/" + url.PathEscape(ns) + "/workflows/" + url.PathEscape(st.IncidentID)})
	}
	if u := slackThread(st.Chat); u != "" {
		out = append(out, ports.Link{Name: "Slack thread", URL: u})
	}
	seen := map[string]bool{}
	for _, s := range st.Steps {
		for _, l := range s.Links {
			if seen[l.URL] || !webURL(l.URL) {
				continue
			}
			seen[l.URL] = true
			out = append(out, ports.Link{Name: l.Name + " (step " + s.ID + ")", URL: l.URL})
		}
	}
	for _, e := range st.Timeline {
		for _, k := range []string{"url", "pr_url", "permalink", "thread_url"} {
			if u := e.Data[k]; u != "" && !seen[u] && webURL(u) {
				seen[u] = true
				out = append(out, ports.Link{Name: linkName(k, e), URL: u})
			}
		}
	}
	return out
}

// slackThread is the Slack permalink of the incident's card, whose thread follows it
// ("" without a card, or with a place that is not Slack's shape).
func slackThread(ref *ports.ChatRef) string {
	if ref == nil || !slackChannel.MatchString(ref.Channel) || !slackTS.MatchString(ref.TS) {
		return ""
	}
	return "https://slack.com/archives/" + ref.Channel + "/p" + strings.Replace(ref.TS, ".", "", 1)
}

var (
	slackChannel = regexp.MustCompile(`^[CGD][A-Z0-9]{2,20}$`)
	slackTS      = regexp.MustCompile(`^[0-9]{9,11}\.[0-9]{6}$`)
)

func linkName(key string, e workflows.Event) string {
	switch {
	case key == "permalink" || key == "thread_url":
		return "Slack thread"
	case e.Kind == workflows.EventRollbackProposal || key == "pr_url":
		return "Rollback pull request"
	}
	return stateLabel(e.Kind)
}

// webURL keeps links to http(s) only: a javascript: or data: URL from a step is not a link.
func webURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func (h *Handler) incident(w http.ResponseWriter, r *http.Request, _ *session) {
	st, ok := h.status(w, r)
	if !ok {
		return
	}
	v := h.incidentView(r, st)
	if v.Who != nil {
		var err error
		// A flash that cannot be taken stays for the next load: the decision is on the
		// timeline either way.
		if v.Flash, err = h.sessions.takeFlash(r.Context(), v.Who); err != nil {
			h.opts.Logger.Warn("web page could not take the session's message", "err", err)
		}
	}
	h.render(w, r, http.StatusOK, "incident", v)
}

// live streams the incident's changing part (state, steps, approvals, undo stack,
// timeline) as HTML fragments over Server-Sent Events until it closes; app.js swaps them
// in. A page without JavaScript never opens it.
func (h *Handler) live(w http.ResponseWriter, r *http.Request, _ *session) {
	ref, ok := h.ref(w, r)
	if !ok {
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming is not supported here", http.StatusInternalServerError)
		return
	}
	// Each stream holds a long poll on Temporal: bound them. The browser's EventSource
	// tries again by itself, and the page still works without the stream.
	select {
	case h.streams <- struct{}{}:
		defer func() { <-h.streams }()
	default:
		w.Header().Set("Retry-After", "10")
		http.Error(w, "too many live pages are open on this quench: reload later", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(h.ctx, cancel)
	defer stop()
	started := false
	var last string
	send := func(event string, st workflows.Status) error {
		key := fmt.Sprintf("%d/%d/%s/%d/%v/%d", len(st.Timeline), st.TimelineDropped, st.State, len(st.Pending), st.ClosedAt != nil, len(st.Steps))
		if key == last && event == "status" {
			return nil
		}
		last = key
		var buf bytes.Buffer
		if err := h.pages["incident"].ExecuteTemplate(&buf, "live", h.incidentView(r, st)); err != nil {
			return err
		}
		if !started {
			w.Header().Set("Content-Type", "text/event-stream")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusOK)
			started = true
		}
		fmt.Fprintf(w, "event: %s\n", event)
		// A CR ends a line in an event stream too: text from outside (a note) must not
		// start a field of its own.
		frag := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(buf.String())
		for _, line := range strings.Split(frag, "\n") {
			fmt.Fprintf(w, "data: %s\n", line)
		}
		fmt.Fprint(w, "\n")
		flusher.Flush()
		return nil
	}
	var renderErr error
	st, err := h.opts.Incidents.Watch(ctx, ref, func(_ workflows.Event, st workflows.Status) {
		if renderErr == nil {
			renderErr = send("status", st)
		}
	})
	switch {
	case renderErr != nil:
		h.opts.Logger.Error("web live update failed to render", "err", renderErr)
	case err != nil && ctx.Err() != nil:
		// The page went away or the server is stopping.
	case err != nil && !started:
		h.fail(w, r, err)
	case err != nil:
		h.opts.Logger.Warn("web live update ended", "err", err)
	default:
		_ = send("closed", st)
	}
}

// decide approves or rejects a pending approval for the signed-in person, through the
// same incidents.Client.Decide the API uses: the Service signs the claim for this person.
func (h *Handler) decide(w http.ResponseWriter, r *http.Request) {
	ref, ok := h.ref(w, r)
	if !ok {
		return
	}
	s := h.session(r)
	if s == nil {
		h.errorPage(w, r, http.StatusUnauthorized, "Sign in to decide", "Approving and rejecting need a signed-in person: sign in, then decide from the incident page.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, "Bad form", "The form could not be read: "+err.Error())
		return
	}
	if !s.checkCSRF(r.PostForm.Get("csrf")) {
		h.opts.Logger.Warn("web decision refused: bad CSRF token", "identity", s.Identity)
		h.errorPage(w, r, http.StatusForbidden, "Form expired", "This form does not carry your session's token (it is from another session or page). Reload the incident page and decide again.")
		return
	}
	verdict := r.PostForm.Get("verdict")
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	if verdict != workflows.VerdictApprove && verdict != workflows.VerdictReject {
		h.errorPage(w, r, http.StatusBadRequest, "Bad form", "verdict must be approve or reject")
		return
	}
	if verdict == workflows.VerdictReject && reason == "" {
		h.decideRefused(w, r, ref, http.StatusBadRequest, "Say why you reject: the reason goes on the timeline and in the postmortem.", "")
		return
	}
	if len(reason) > 1000 {
		h.decideRefused(w, r, ref, http.StatusBadRequest, "The reason is longer than 1,000 bytes: shorten it.", "")
		return
	}
	stepID, digest := r.PostForm.Get("step_id"), r.PostForm.Get("digest")
	if stepID == "" || digest == "" {
		h.errorPage(w, r, http.StatusBadRequest, "Bad form", "step_id and digest are required: decide from the incident page")
		return
	}
	d := workflows.Decision{StepID: stepID, Digest: digest, Approver: s.Identity, Verdict: verdict, Reason: reason, Via: "web"}
	res, err := h.opts.Incidents.Decide(r.Context(), ref, d)
	if err != nil {
		code := http.StatusInternalServerError
		switch {
		case errors.Is(err, incidents.ErrNotFound):
			h.fail(w, r, err)
			return
		case errors.Is(err, incidents.ErrConflict):
			code = http.StatusConflict
		case errors.Is(err, incidents.ErrRefused):
			code = http.StatusForbidden
		case errors.Is(err, incidents.ErrInvalid):
			code = http.StatusBadRequest
		case errors.Is(err, incidents.ErrNoSigner):
			// quench server without decisions.signing_key: the message says what to configure.
			code = http.StatusServiceUnavailable
		case incidents.IsUnavailable(err):
			code = http.StatusServiceUnavailable
		default:
			h.opts.Logger.Error("web decision failed", "identity", s.Identity, "err", err)
		}
		h.decideRefused(w, r, ref, code, err.Error(), stepID)
		return
	}
	h.opts.Logger.Info("web decision", "identity", s.Identity, "step", res.StepID, "outcome", res.Outcome)
	msg := fmt.Sprintf("%s: %s by %s", subject(res), res.Outcome, s.Display())
	if res.Remaining > 0 {
		msg += fmt.Sprintf(" (%d more approval(s) needed)", res.Remaining)
	}
	// The outcome travels in the session, not the URL: a link cannot make the page claim a
	// decision nobody made.
	if err := h.sessions.setFlash(r.Context(), s, msg); err != nil {
		h.opts.Logger.Warn("web page could not keep the decision's outcome for the next page", "err", err)
	}
	http.Redirect(w, r, "/incidents/"+url.PathEscape(ref), http.StatusSeeOther)
}

func subject(res workflows.DecisionResult) string {
	if res.Subject != "" {
		return res.Subject
	}
	return "step " + res.StepID
}

// decideRefused shows the incident again with why the decision did not count and, for
// a step someone else already decided, who decided it.
func (h *Handler) decideRefused(w http.ResponseWriter, r *http.Request, ref string, code int, problem, stepID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer cancel()
	st, err := h.opts.Incidents.Status(ctx, ref)
	if err != nil {
		h.errorPage(w, r, code, "Decision not counted", problem)
		return
	}
	v := h.incidentView(r, st)
	v.Problem = problem
	if stepID != "" {
		for _, e := range st.Timeline {
			if e.Kind == workflows.EventDecision && e.StepID == stepID {
				v.Decided = append(v.Decided, e)
			}
		}
	}
	h.render(w, r, code, "incident", v)
}
