package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/workflows"
)

// This file leaves a line on an incident's timeline when a hostile request aimed at it was
// refused, so the people working the incident see that someone tried. The line is a note by
// "quench"; nothing the request asked for happens, and the refusal answers exactly as it
// would without the line.

// RefusalActor is the actor of the timeline lines that note refused requests.
const RefusalActor = "quench"

// Reasons a refusal is noted for; each is rate-limited on its own per incident.
const (
	whyCrossOrigin     = "cross-origin"
	whyWrongHost       = "wrong-host"
	whyUnauthenticated = "unauthenticated"
	whyIdentityHeader  = "identity-header"
	whyActAs           = "act-as"
	whyNotJSON         = "not-json"
	whyBadBody         = "bad-body"
)

const (
	// refusalWindow is how long a line for one incident and reason holds back the next:
	// refused requests must not flood the history.
	refusalWindow = 10 * time.Second
	// refusalKeys bounds the rate limiter's memory.
	refusalKeys = 4096
	// refusalInFlight bounds the lines being sent at once; more are dropped (and logged).
	refusalInFlight = 16
	// refusalTimeout bounds one line's lookup and signal. The line is sent after the
	// refusal was answered, so a Temporal that is down never slows the answer.
	refusalTimeout = 5 * time.Second
	// maxQuoted is how many characters of an outside string a line quotes.
	maxQuoted = 120
)

// actionPath is the path of a request that acts on an incident.
var actionPath = lazyRegexp(`^/api/v1/incidents/([^/]+)/(decisions|resolve|abort|notes)$`)

// refusalNoter is what Guard asks the handler behind it (the API) to note a refusal with.
type refusalNoter interface {
	noteRefusal(r *http.Request, code int, why, adjective, detail string)
}

// refusalLines sends the timeline lines of refused requests.
type refusalLines struct {
	inc     incidents.Client
	logger  *slog.Logger
	now     func() time.Time
	timeout time.Duration

	sem chan struct{}
	wg  sync.WaitGroup

	mu   sync.Mutex
	last map[string]time.Time // incident ID + reason -> when its last line was let through
}

func newRefusalLines(inc incidents.Client, logger *slog.Logger) *refusalLines {
	return &refusalLines{inc: inc, logger: logger, now: time.Now, timeout: refusalTimeout,
		sem: make(chan struct{}, refusalInFlight), last: map[string]time.Time{}}
}

// note leaves a line on the timeline of the incident r acts on, if it names one, saying
// what was refused and why: "refused a <adjective> POST <path> <detail> (<code>)". detail
// must quote outside strings with quoteOutside and never carry a credential.
func (l *refusalLines) note(r *http.Request, code int, why, adjective, detail string) {
	if l == nil || l.inc == nil || r.Method == http.MethodGet || r.Method == http.MethodHead {
		return
	}
	m := actionPath().FindStringSubmatch(r.URL.Path)
	if m == nil || !(shortRef().MatchString(m[1]) || fullRef().MatchString(m[1])) {
		return // a malformed ID names no incident
	}
	ref := m[1]
	method := r.Method
	if !isToken(method) {
		method = "request"
	}
	what := method + " /api/v1/incidents/" + ref + "/" + m[2]
	if adjective != "" {
		what = adjective + " " + what
	}
	text := fmt.Sprintf("refused a %s %s (%d)", what, detail, code)
	select {
	case l.sem <- struct{}{}:
	default:
		l.logger.Warn("refused request not noted on the incident's timeline: too many notes in flight", "incident", ref, "reason", why)
		return
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer func() { <-l.sem }()
		l.send(ref, why, text)
	}()
}

func (l *refusalLines) send(ref, why, text string) {
	// A flood of the same refusal costs no lookups once its line is on the timeline.
	refKey := "ref\x00" + ref + "\x00" + why
	if l.recent(refKey) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	id, err := l.inc.Resolve(ctx, ref)
	if err != nil {
		if errors.Is(err, incidents.ErrNotFound) || errors.Is(err, incidents.ErrInvalid) {
			return // no such incident: no line
		}
		l.logger.Warn("refused request not noted on the incident's timeline: cannot look the incident up", "incident", ref, "reason", why, "err", err)
		return
	}
	key := "id\x00" + id + "\x00" + why
	if !l.allow(key) {
		return
	}
	l.allow(refKey)
	if _, err := l.inc.Signal(ctx, id, workflows.SignalNote, workflows.Note{By: RefusalActor, Text: text}); err != nil {
		// No line was left, so the next refusal may try again.
		l.forget(key, refKey)
		if errors.Is(err, incidents.ErrNotFound) || errors.Is(err, incidents.ErrConflict) {
			l.logger.Info("refused request not noted: the incident does not exist or is closed", "incident", id, "reason", why)
			return
		}
		l.logger.Warn("refused request not noted on the incident's timeline", "incident", id, "reason", why, "err", err)
	}
}

// allow reports whether a line for key may be sent now, and if so holds the window.
func (l *refusalLines) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if t, ok := l.last[key]; ok && now.Sub(t) < refusalWindow {
		return false
	}
	if len(l.last) >= refusalKeys {
		for k, t := range l.last {
			if now.Sub(t) >= refusalWindow {
				delete(l.last, k)
			}
		}
		if len(l.last) >= refusalKeys {
			l.logger.Warn("refused request not noted on the incident's timeline: too many refusals noted in the last seconds", "window", refusalWindow)
			return false
		}
	}
	l.last[key] = now
	return true
}

// recent reports whether key had a line within the window.
func (l *refusalLines) recent(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.last[key]
	return ok && l.now().Sub(t) < refusalWindow
}

func (l *refusalLines) forget(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		delete(l.last, k)
	}
}

// wait returns when every line started so far was sent or given up (tests).
func (l *refusalLines) wait() { l.wg.Wait() }

// quoteOutside quotes a string that came from outside for a timeline line: control and
// format characters (bidi overrides, zero-width) dropped, at most maxQuoted characters.
func quoteOutside(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			continue
		}
		if n == maxQuoted {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
		n++
	}
	return strconv.Quote(b.String())
}

// quoteOrigin quotes an Origin header without any user:password it may carry (browsers
// send none; a hand-made request might).
func quoteOrigin(origin string) string {
	if scheme, rest, ok := strings.Cut(origin, "://"); ok {
		host, path, _ := strings.Cut(rest, "/")
		if i := strings.LastIndex(host, "@"); i >= 0 {
			origin = scheme + "://…@" + host[i+1:]
			if path != "" {
				origin += "/" + path
			}
		}
	}
	return quoteOutside(origin)
}

func isToken(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for _, r := range s {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}
