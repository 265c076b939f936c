package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/quench-dev/quench/internal/alert"
	"github.com/quench-dev/quench/internal/trust"
)

// signalChannels are the incident's inbound signals.
type signalChannels struct {
	alert, alerts, resolve, abort, note workflow.ReceiveChannel
}

func (w *incident) channels(ctx workflow.Context) signalChannels {
	return signalChannels{
		alert:   workflow.GetSignalChannel(ctx, SignalAlert),
		alerts:  workflow.GetSignalChannel(ctx, SignalAlerts),
		resolve: workflow.GetSignalChannel(ctx, SignalResolve),
		abort:   workflow.GetSignalChannel(ctx, SignalAbort),
		note:    workflow.GetSignalChannel(ctx, SignalNote),
	}
}

// listenForSignals handles signals for the whole run, including while the undos run at close
// (hence the disconnected context: a canceled workflow still hears notes and resolves).
//
// It waits for signals to be buffered and drains them rather than blocking in Receive: a
// blocked receiver would take a signal out of its channel before handling it, and one taken
// just as the run hands over to the next could be lost. Buffered, drainSignals finds it.
func (w *incident) listenForSignals(ctx workflow.Context) {
	listenCtx, _ := workflow.NewDisconnectedContext(ctx)
	ch := w.channels(listenCtx)
	workflow.Go(listenCtx, func(ctx workflow.Context) {
		for {
			if err := workflow.Await(ctx, ch.buffered); err != nil {
				return
			}
			w.drainSignals(ctx)
		}
	})
}

func (ch signalChannels) buffered() bool {
	return ch.alert.Len() > 0 || ch.alerts.Len() > 0 || ch.resolve.Len() > 0 || ch.abort.Len() > 0 || ch.note.Len() > 0
}

// drainSignals handles every signal already delivered but not yet received, so none is lost
// when this run ends (continue-as-new or completion).
func (w *incident) drainSignals(ctx workflow.Context) {
	ch := w.channels(ctx)
	for more := true; more; {
		more = false
		var a alert.Alert
		for ch.alert.ReceiveAsync(&a) {
			w.onAlert(ctx, a)
			a, more = alert.Alert{}, true
		}
		// A batch is exactly its alerts one by one: same counting, same dedup.
		var batch []alert.Alert
		for ch.alerts.ReceiveAsync(&batch) {
			for _, a := range batch {
				w.onAlert(ctx, a)
			}
			batch, more = nil, true
		}
		var r Resolve
		for ch.resolve.ReceiveAsync(&r) {
			w.onResolve(ctx, r)
			r, more = Resolve{}, true
		}
		var ab Abort
		for ch.abort.ReceiveAsync(&ab) {
			w.onAbort(ctx, ab)
			ab, more = Abort{}, true
		}
		var n Note
		for ch.note.ReceiveAsync(&n) {
			w.onNote(ctx, n)
			n, more = Note{}, true
		}
	}
}

// recordInitialAlert counts the alert that started the incident as seen. It adds to what
// signals handled so far counted: the signal listener may already have run.
// With AlertSignalled the start's own signal carries the alert and counts it.
func (w *incident) recordInitialAlert(ctx workflow.Context) {
	if w.in.Alert == nil || w.in.AlertSignalled {
		return
	}
	a := *w.in.Alert
	s := &w.status.Alerts
	s.Received++
	id, status := alertIdentity(a), alertStatus(a)
	if prev, seen := w.st.SeenAlerts[id]; seen && prev == status {
		return
	}
	if !w.track(ctx, id, status) {
		return
	}
	now := workflow.Now(ctx)
	s.Distinct++
	s.LastStatus, s.LastAt = status, &now
	s.Firing = w.countFiring()
}

// onAlert counts an alert of the incident's group. A storm of identical re-sends only bumps
// a counter, so neither the timeline nor the history grows with it.
func (w *incident) onAlert(ctx workflow.Context, a alert.Alert) {
	w.progress++
	if w.redelivered(a) {
		return
	}
	s := &w.status.Alerts
	s.Received++
	id, status := alertIdentity(a), alertStatus(a)
	if prev, seen := w.st.SeenAlerts[id]; seen && prev == status {
		return
	}
	if !w.track(ctx, id, status) {
		return
	}
	now := workflow.Now(ctx)
	// Distinct counts changes of a (fingerprint, status) pair: a flapping alert counts again.
	s.Distinct++
	s.LastStatus, s.LastAt = status, &now
	s.Firing = w.countFiring()
	title := a.Title
	if title == "" {
		title = id
	}
	// The event kind already says "alert"; the text names which one.
	w.event(ctx, EventAlert, "", a.Source, fmt.Sprintf("%s is %s", title, status),
		map[string]string{"fingerprint": id, "status": status, "severity": a.Severity})
	if status == alert.StatusResolved && s.Firing == 0 && !w.status.Resolved {
		w.status.Resolved = true
		w.event(ctx, EventResolved, "", a.Source, "every alert of the incident resolved", nil)
	}
}

// track remembers an alert's last status and says whether it is tracked. The map travels
// in the state and through continue-as-new, so it is bounded (Limits.MaxTrackedAlerts):
// at the bound, resolved fingerprints are forgotten (all of them: map order is not
// deterministic, deleting every match is); a new firing one while every tracked one
// still fires is counted as untracked, once on the timeline; a resolved one never seen is
// dropped. Histories recorded before the bound keep the unbounded map (GetVersion).
func (w *incident) track(ctx workflow.Context, id, status string) bool {
	if _, known := w.st.SeenAlerts[id]; known || len(w.st.SeenAlerts) < w.limits.MaxTrackedAlerts {
		w.st.SeenAlerts[id] = status
		return true
	}
	if workflow.GetVersion(ctx, "bound-seen-alerts", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		w.st.SeenAlerts[id] = status
		return true
	}
	for k, st := range w.st.SeenAlerts {
		if st == alert.StatusResolved {
			delete(w.st.SeenAlerts, k)
			delete(w.st.Deliveries, k)
		}
	}
	if len(w.st.SeenAlerts) < w.limits.MaxTrackedAlerts {
		w.st.SeenAlerts[id] = status
		return true
	}
	if status == alert.StatusResolved {
		return false
	}
	w.status.Alerts.Untracked++
	if w.status.Alerts.Untracked == 1 {
		w.event(ctx, EventAlert, "", "", fmt.Sprintf("%d distinct alerts fire at once: new ones are counted as untracked, not followed one by one", w.limits.MaxTrackedAlerts), nil)
	}
	return false
}

func (w *incident) countFiring() int {
	n := 0
	for _, status := range w.st.SeenAlerts {
		if status != alert.StatusResolved {
			n++
		}
	}
	return n
}

func alertIdentity(a alert.Alert) string {
	if a.Fingerprint != "" {
		return a.Fingerprint
	}
	return a.Key
}

func alertStatus(a alert.Alert) string {
	if a.Status == "" {
		return alert.StatusFiring
	}
	return a.Status
}

// onResolve: a human says the condition is over; wait.resolved steps pass.
func (w *incident) onResolve(ctx workflow.Context, r Resolve) {
	if w.replayedRequest(ctx, r.RequestKey) {
		return
	}
	w.progress++
	w.status.Resolved = true
	w.resolveSignalled = true
	// Who resolved it is the event's actor, which every view shows beside the text
	// ("— root"); naming them in the text too read "root resolved the incident — root".
	text := "incident resolved"
	if r.Reason != "" {
		text += ": " + r.Reason
	}
	w.event(ctx, EventResolved, "", r.By, text, nil)
}

// onAbort stops the incident: what runs now is canceled, the rest is skipped, undos run.
func (w *incident) onAbort(ctx workflow.Context, a Abort) {
	if w.replayedRequest(ctx, a.RequestKey) {
		return
	}
	w.progress++
	if w.closed {
		return
	}
	reason := a.Reason
	if reason == "" {
		reason = "no reason given"
	}
	if !w.st.Aborted {
		w.abort(ctx, a.By, reason)
		return
	}
	// Aborted already (e.g. an undo now waits for an approval nobody gives): stop that wait.
	if w.cancelCurrent != nil {
		w.event(ctx, EventAborted, "", a.By, fmt.Sprintf("%s aborted again: %s; stopping the current wait", a.By, reason), nil)
		w.cancelCurrent()
	}
}

func (w *incident) abort(ctx workflow.Context, by, reason string) {
	w.st.Aborted = true
	w.st.AbortReason = reason
	w.event(ctx, EventAborted, "", by, fmt.Sprintf("%s aborted the incident: %s", by, reason), nil)
	if w.cancelCurrent != nil {
		w.cancelCurrent()
	}
}

func (w *incident) onNote(ctx workflow.Context, n Note) {
	if w.replayedRequest(ctx, n.RequestKey) {
		return
	}
	w.progress++
	w.event(ctx, EventNote, "", n.By, n.Text, nil)
}

// RequestKeyWindow is how long a signal's request key is remembered: Slack's signed
// requests are valid for five minutes, so a replay falls well inside it.
const RequestKeyWindow = 10 * time.Minute

// maxRequestKeys bounds the keys remembered within the window.
const maxRequestKeys = 1000

// replayedRequest reports whether a keyed signal was acted on before, and remembers the key
// otherwise. Unkeyed signals (CLI, API, old histories) are always new. A full log (over
// maxRequestKeys keyed signals in the window) acts on the signal without remembering it:
// better a rare duplicate note than a lost resolve.
func (w *incident) replayedRequest(ctx workflow.Context, key string) bool {
	if key == "" {
		return false
	}
	now := workflow.Now(ctx)
	seen, err := w.st.Requests.Record(key, now, now, RequestKeyWindow, maxRequestKeys)
	if errors.Is(err, trust.ErrReused) {
		w.logger.Info("Ignored a replayed request", "request_key", key)
		return true
	}
	if err == nil {
		w.st.Requests = seen
	}
	return false
}
