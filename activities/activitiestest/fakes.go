// Package activitiestest has stateful fakes of the activities' ports for tests: they keep
// state like the real thing, record every call and can be told to fail.
package activitiestest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/quench-dev/quench/internal/ports"
)

// Call is one recorded call to a fake.
type Call struct {
	Method string
	Scope  string
	Holder string
	Reason string
	Until  time.Time
	Level  string
	Text   string
}

// Hold is a fake freeze hold.
type Hold struct {
	Holder string
	Reason string
	Until  time.Time
}

// Freezer is a fake ports.Freezer (and FreezeInspector): holds per scope, keyed by
// holder, like the freeze workflow. Holds never expire on their own; tests control time.
type Freezer struct {
	mu    sync.Mutex
	holds map[string]map[string]Hold
	calls []Call
	// Err, when set, is returned by the next calls (and they change nothing).
	Err error
}

var (
	_ ports.Freezer         = (*Freezer)(nil)
	_ ports.FreezeInspector = (*Freezer)(nil)
)

// NewFreezer returns an empty fake freezer.
func NewFreezer() *Freezer { return &Freezer{holds: map[string]map[string]Hold{}} }

// Hold records holder's hold on scope; a repeated hold replaces it.
func (f *Freezer) Hold(ctx context.Context, scope, holder, reason string, until time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, Call{Method: "Hold", Scope: scope, Holder: holder, Reason: reason, Until: until})
	if f.Err != nil {
		return f.Err
	}
	if f.holds[scope] == nil {
		f.holds[scope] = map[string]Hold{}
	}
	f.holds[scope][holder] = Hold{Holder: holder, Reason: reason, Until: until}
	return nil
}

// Release drops holder's hold on scope; releasing twice is harmless.
func (f *Freezer) Release(ctx context.Context, scope, holder string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, Call{Method: "Release", Scope: scope, Holder: holder})
	if f.Err != nil {
		return f.Err
	}
	delete(f.holds[scope], holder)
	return nil
}

// Frozen reports whether anyone holds scope.
func (f *Freezer) Frozen(ctx context.Context, scope string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return false, f.Err
	}
	return len(f.holds[scope]) > 0, nil
}

// Holds returns scope's holds, sorted by holder.
func (f *Freezer) Holds(scope string) []Hold {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Hold, 0, len(f.holds[scope]))
	for _, h := range f.holds[scope] {
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Holder < out[j].Holder })
	return out
}

// Calls returns the calls so far.
func (f *Freezer) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}

// Notifier is a fake ports.Notifier that keeps every posted message.
type Notifier struct {
	mu    sync.Mutex
	posts []ports.Notification
	// Err, when set, is returned by Notify (and nothing is kept).
	Err error
}

var _ ports.Notifier = (*Notifier)(nil)

// Notify keeps the message and answers where it landed: the thread, else the channel.
func (n *Notifier) Notify(ctx context.Context, msg ports.Notification) (ports.ChatRef, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.Err != nil {
		return ports.ChatRef{}, n.Err
	}
	n.posts = append(n.posts, msg)
	if msg.Thread != nil {
		return ports.ChatRef{Channel: msg.Thread.Channel, TS: fmt.Sprintf("reply-%d", len(n.posts))}, nil
	}
	return ports.ChatRef{Channel: msg.Channel, TS: fmt.Sprintf("post-%d", len(n.posts))}, nil
}

// Posts returns the messages posted so far.
func (n *Notifier) Posts() []ports.Notification {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]ports.Notification(nil), n.posts...)
}
