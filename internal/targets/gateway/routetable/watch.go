package routetable

import (
	"context"
	"sync"
	"time"
)

// watcher wakes long-polls when the table changes: at once for changes through this
// Table, and within the poll interval for changes by other processes. One goroutine polls
// the store's version for all waiting requests and only while there are any, so a
// thousand waiting apps cost one query per interval.
type watcher struct {
	mu      sync.Mutex
	ch      chan struct{} // closed (and replaced) on the next change seen
	waiters int
	polling bool
	done    chan struct{} // closed by Close
	closed  bool
}

func (w *watcher) init() {
	w.ch = make(chan struct{})
	w.done = make(chan struct{})
}

// notify wakes every waiter.
func (w *watcher) notify() {
	w.mu.Lock()
	defer w.mu.Unlock()
	close(w.ch)
	w.ch = make(chan struct{})
}

// subscribe returns a channel closed on the next change; call the func when done. A
// waiter subscribes before it reads the table, so a change after the read always wakes it.
func (t *Table) subscribe() (<-chan struct{}, func()) {
	w := &t.w
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waiters++
	if !w.polling && !w.closed {
		w.polling = true
		go t.poll()
	}
	var once sync.Once
	return w.ch, func() {
		once.Do(func() {
			w.mu.Lock()
			w.waiters--
			w.mu.Unlock()
		})
	}
}

// poll reads the store's version every interval while anyone waits, and wakes the
// waiters when the snapshot it reads is not the one it read before (or the read fails,
// so they answer 503 rather than wait on a store that is down).
func (t *Table) poll() {
	tick := time.NewTicker(t.pollEvery)
	defer tick.Stop()
	var last *snapshot
	for {
		select {
		case <-tick.C:
		case <-t.w.done:
			return
		}
		t.w.mu.Lock()
		if t.w.waiters == 0 {
			t.w.polling = false
			t.w.mu.Unlock()
			return
		}
		t.w.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), t.pollEvery+5*time.Second)
		s, err := t.snapshot(ctx)
		cancel()
		if err != nil || s != last {
			last = s
			t.w.notify()
		}
	}
}

// Close ends the table's long-polls (they answer with what they have): call it when the
// HTTP server shuts down, so a waiting request does not hold the shutdown up.
func (t *Table) Close() {
	t.w.mu.Lock()
	defer t.w.mu.Unlock()
	if !t.w.closed {
		t.w.closed = true
		close(t.w.done)
	}
}
