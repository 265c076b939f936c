package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/store/storetest"
)

// Two quench servers behind a load balancer: two handlers with their own memory, one
// store and one incidents client. Both listen on 127.0.0.1, and a cookie jar keys cookies
// by host, not port, so one browser's cookies go to both, as behind one address.
func replicas(t *testing.T, db *store.DB, mod func(*Options)) (a, b *env) {
	t.Helper()
	a = newEnv(t, func(o *Options) {
		if mod != nil {
			mod(o)
		}
		o.Store = db
	})
	b = newEnv(t, func(o *Options) {
		if mod != nil {
			mod(o)
		}
		o.Store = db
		o.Incidents = a.fake
	})
	b.fake = a.fake
	return a, b
}

// clock is a settable time for expiry tests (read by handlers on other goroutines).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// sessionCookie is the browser's session cookie for e's server.
func sessionCookie(t *testing.T, e *env, c *http.Client) string {
	t.Helper()
	u, _ := url.Parse(e.srv.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == cookieName {
			return ck.Value
		}
	}
	t.Fatal("the browser has no session cookie")
	return ""
}

// withCookie is a browser that holds only the given session cookie.
func withCookie(e *env, value string) *http.Client {
	c := e.browser()
	u, _ := url.Parse(e.srv.URL)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: cookieName, Value: value, Path: "/"}})
	return c
}

func countRows(t *testing.T, db *store.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestASessionFromOneReplicaWorksOnAnother(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a, b := replicas(t, db, func(o *Options) { o.OpenRead = false })
		a.fake.Add(waiting(incID))
		c := a.browser()
		a.signIn(c, aliceTk)

		code, page, _ := b.get(c, "/incidents/1a2b3c")
		if code != http.StatusOK || !strings.Contains(page, "Signed in as <b>alice (api:alice)</b>") {
			t.Fatalf("replica B does not know A's session: %d\n%s", code, page)
		}
		// The CSRF token B shows is the one A made: a form from A's page passes on B.
		_, pageA, _ := a.get(c, "/incidents/1a2b3c")
		if csrfOf(t, pageA) != csrfOf(t, page) {
			t.Fatal("the replicas show different CSRF tokens for one session")
		}
		code, _, hdr := b.post(c, "/incidents/1a2b3c/decide", url.Values{"csrf": {csrfOf(t, pageA)}, "step_id": {"failback"},
			"digest": {digest}, "verdict": {"approve"}})
		if code != http.StatusSeeOther {
			t.Fatalf("decide on B with A's form: %d", code)
		}
		// The outcome B kept for the next page is shown by A, once.
		if _, page, _ = a.get(c, hdr.Get("Location")); !strings.Contains(page, "step failback: approved by alice (api:alice)") {
			t.Errorf("A does not show the outcome of the decision made on B:\n%s", page)
		}
		if _, page, _ = b.get(c, "/incidents/1a2b3c"); strings.Contains(page, `id="flash"`) {
			t.Error("the outcome is shown again on the other replica")
		}
	})
}

func TestTheStoreHoldsOnlyTheSessionIDsHash(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a, _ := replicas(t, db, nil)
		c := a.browser()
		a.signIn(c, aliceTk)
		id := sessionCookie(t, a, c)
		sum := sha256.Sum256([]byte(id))
		rows, err := db.Query(context.Background(), `SELECT id_sha256, identity, person, via, csrf, flash FROM web_sessions`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			n++
			var cols [6]string
			if err := rows.Scan(&cols[0], &cols[1], &cols[2], &cols[3], &cols[4], &cols[5]); err != nil {
				t.Fatal(err)
			}
			if cols[0] != hex.EncodeToString(sum[:]) {
				t.Errorf("the row's key is %q, want the sha256 of the cookie", cols[0])
			}
			for _, v := range cols {
				if strings.Contains(v, id) {
					t.Fatalf("the session ID is in the store as is: %q", cols)
				}
			}
		}
		if n != 1 {
			t.Fatalf("%d session rows, want 1", n)
		}
	})
}

func TestSessionsExpireOnEveryReplicaAndAreSwept(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clk := &clock{t: time.Now()}
		a, b := replicas(t, db, func(o *Options) { o.OpenRead = false; o.Now = clk.now })
		c, other := a.browser(), a.browser()
		a.signIn(c, aliceTk)
		b.signIn(other, bobTk)
		clk.add(sessionTTL - time.Second)
		if _, page, _ := b.get(c, "/"); !strings.Contains(page, "Signed in as") {
			t.Fatal("signed out before the session's end")
		}
		clk.add(2 * time.Second)
		if code, _, hdr := b.get(c, "/"); code != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "/login") {
			t.Fatalf("an expired session still reads on B: %d %s", code, hdr.Get("Location"))
		}
		if code, _, _ := a.get(c, "/"); code != http.StatusSeeOther {
			t.Fatalf("an expired session still reads on A: %d", code)
		}
		// Read once after its end, alice's row went; bob's, never read again, goes at the
		// next sign-in.
		if n := countRows(t, db, "web_sessions"); n != 1 {
			t.Fatalf("%d session rows after alice's expired session was read, want bob's only", n)
		}
		a.signIn(a.browser(), aliceTk)
		if n := countRows(t, db, "web_sessions"); n != 1 {
			t.Fatalf("%d session rows after a new sign-in, want 1 (bob's expired one swept)", n)
		}
	})
}

func TestSignOutOnOneReplicaEndsTheSessionOnAll(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a, b := replicas(t, db, func(o *Options) { o.OpenRead = false })
		c := a.browser()
		a.signIn(c, aliceTk)
		id := sessionCookie(t, a, c)
		_, page, _ := b.get(c, "/")
		if code, _, _ := b.post(c, "/logout", url.Values{"csrf": {csrfOf(t, page)}}); code != http.StatusSeeOther {
			t.Fatalf("sign-out on B: %d", code)
		}
		// A copy of the cookie (another tab, a stolen one) is worth nothing on A now.
		if code, _, _ := a.get(withCookie(a, id), "/"); code != http.StatusSeeOther {
			t.Fatalf("the signed-out session still reads on A: %d", code)
		}
		if code, _, _ := a.post(withCookie(a, id), "/incidents/1a2b3c/decide", url.Values{"csrf": {csrfOf(t, page)}, "verdict": {"approve"}}); code != http.StatusUnauthorized {
			t.Fatalf("the signed-out session still decides on A: %d", code)
		}
		if n := countRows(t, db, "web_sessions"); n != 0 {
			t.Fatalf("%d session rows after sign-out", n)
		}
	})
}

func TestSignInAgainReplacesTheOldSessionEverywhere(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a, b := replicas(t, db, func(o *Options) { o.OpenRead = false })
		c := a.browser()
		a.signIn(c, aliceTk)
		old := sessionCookie(t, a, c)
		b.signIn(c, bobTk)
		if sessionCookie(t, b, c) == old {
			t.Fatal("signing in again kept the session ID")
		}
		if code, _, _ := a.get(withCookie(a, old), "/"); code != http.StatusSeeOther {
			t.Fatalf("the replaced session still reads: %d", code)
		}
	})
}

func TestOneTimeLinkFromOneReplicaIsSpentOnAll(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a, b := replicas(t, db, nil)
		link, err := a.h.OneTimeLogin(context.Background(), "cli:dev")
		if err != nil {
			t.Fatal(err)
		}
		token := strings.TrimPrefix(link, "/login/once?token=")
		var stored string
		if err := db.QueryRow(context.Background(), `SELECT token_sha256 FROM web_login_links`).Scan(&stored); err != nil || stored == token || strings.Contains(stored, token) {
			t.Fatalf("the link's token is not stored as its hash: %q, %v", stored, err)
		}
		c := b.browser()
		if code, _, _ := b.get(c, link); code != http.StatusSeeOther {
			t.Fatalf("A's link on B: %d", code)
		}
		if _, page, _ := a.get(c, "/"); !strings.Contains(page, "Signed in as <b>dev</b>") {
			t.Errorf("signed in on B, not known on A:\n%s", page)
		}
		if code, _, _ := a.get(a.browser(), link); code != http.StatusUnauthorized {
			t.Errorf("the link spent on B still works on A: %d", code)
		}
	})
}

// visit walks redirects by hand across servers and returns every URL it requested.
func visit(t *testing.T, c *http.Client, u string) (int, string, []string) {
	t.Helper()
	var seen []string
	for i := 0; i < 6; i++ {
		seen = append(seen, u)
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 3 {
			return resp.StatusCode, string(body), seen
		}
		next, _ := resp.Location()
		u = next.String()
	}
	t.Fatal("too many redirects")
	return 0, "", nil
}

func TestOIDCSignInStartedOnOneReplicaFinishesOnAnother(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFakeIssuer(t)
		oidcOpts := func(o *Options) {
			o.OpenRead = false
			o.OIDC = &OIDC{Issuer: f.srv.URL, ClientID: f.clientID, ClientSecret: f.secret}
		}
		a, b := replicas(t, db, oidcOpts)
		// The load balancer sends the provider's redirect to B.
		a.h.opts.OIDC.RedirectURL = b.srv.URL + "/auth/oidc/callback"
		b.h.opts.OIDC.RedirectURL = b.srv.URL + "/auth/oidc/callback"

		c := a.browser()
		code, page, seen := visit(t, c, a.srv.URL+"/auth/oidc?next=/incidents/1a2b3c")
		callback := seen[len(seen)-1]
		if !strings.HasPrefix(callback, b.srv.URL+"/auth/oidc/callback?") {
			t.Fatalf("the sign-in did not come back to B: %q", seen)
		}
		if code != http.StatusOK || !strings.Contains(page, "Signed in as oidc:alice@example.com") || !strings.Contains(page, "url=/incidents/1a2b3c") {
			t.Fatalf("OIDC sign-in started on A, finished on B: %d\n%s", code, page)
		}
		if _, page, _ = a.get(c, "/"); !strings.Contains(page, "oidc:alice@example.com") {
			t.Errorf("A does not know the session B made:\n%s", page)
		}
		if n := countRows(t, db, "web_oidc_logins"); n != 0 {
			t.Errorf("%d OIDC sign-ins left in the store after the callback", n)
		}
		// The same callback again, with the state cookie (a replay by whoever saw both, on
		// either replica), finds nothing to finish: the store spent it.
		cb, _ := url.Parse(callback)
		for _, e := range []*env{a, b} {
			replay := e.browser()
			u, _ := url.Parse(e.srv.URL)
			replay.Jar.SetCookies(u, []*http.Cookie{{Name: oidcCookie, Value: cb.Query().Get("state"), Path: "/auth/oidc"}})
			if code, page, _ := e.get(replay, cb.RequestURI()); code != http.StatusBadRequest || !strings.Contains(page, "expired or was used already") {
				t.Errorf("replayed callback on %s: %d", e.srv.URL, code)
			}
		}
	})
}

func TestOIDCSignInExpires(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFakeIssuer(t)
		clk := &clock{t: time.Now()}
		a, b := replicas(t, db, func(o *Options) {
			o.Now = clk.now
			o.OIDC = &OIDC{Issuer: f.srv.URL, ClientID: f.clientID, ClientSecret: f.secret}
		})
		a.h.opts.OIDC.RedirectURL = b.srv.URL + "/auth/oidc/callback"
		c := a.browser()
		// Start on A and stop at the provider's answer, as a person who walks away.
		resp, err := c.Get(a.srv.URL + "/auth/oidc")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		authorize, _ := resp.Location()
		resp, err = c.Get(authorize.String())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		callback, _ := resp.Location()
		clk.add(oidcPendingTTL + time.Second)
		if code, page, _ := b.get(c, strings.TrimPrefix(callback.String(), b.srv.URL)); code != http.StatusBadRequest || !strings.Contains(page, "expired or was used already") {
			t.Fatalf("an OIDC sign-in finished after its ten minutes: %d", code)
		}
	})
}

func TestStoreDownAnswers503NamingTheStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFakeIssuer(t)
		e := newEnv(t, func(o *Options) {
			o.Store = db
			o.OIDC = &OIDC{Issuer: f.srv.URL, ClientID: f.clientID, ClientSecret: f.secret}
		})
		e.h.opts.OIDC.RedirectURL = e.srv.URL + "/auth/oidc/callback"
		e.fake.Add(waiting(incID))
		c := e.browser()
		e.signIn(c, aliceTk)
		lb := e.browser()
		_, loginPage, _ := e.get(lb, "/login")
		_ = db.Close() // the database goes away

		check := func(what string, code int, page string, hdr http.Header) {
			t.Helper()
			if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || !strings.Contains(page, "The store is unavailable") ||
				!strings.Contains(page, db.String()) {
				t.Errorf("%s with the store down: %d Retry-After %q, want 503 naming %s:\n%s", what, code, hdr.Get("Retry-After"), db, page)
			}
		}
		code, page, hdr := e.get(c, "/incidents/1a2b3c")
		check("a page with a session", code, page, hdr)
		code, page, hdr = e.post(lb, "/login", url.Values{"login_csrf": {loginCSRFOf(t, loginPage)}, "token": {aliceTk}})
		check("sign-in with a token", code, page, hdr)
		code, page, hdr = e.get(e.browser(), "/auth/oidc")
		check("OIDC sign-in", code, page, hdr)
		code, page, hdr = e.get(e.browser(), "/login/once?token="+randomToken())
		check("a one-time link", code, page, hdr)
		// Reading, open on loopback, needs no sign-in and so no store.
		if code, _, _ := e.get(e.browser(), "/incidents/1a2b3c"); code != http.StatusOK {
			t.Errorf("an open page without a session with the store down: %d", code)
		}
		if contains(e.fake.Methods(), "Decide") {
			t.Error("a decision went through")
		}
	})
}

// quench server starts while PostgreSQL is down: the page is built, and answers 503
// naming the database until it is back.
func TestUnreachablePostgresAnswers503(t *testing.T) {
	db, err := store.OpenPostgres("postgres://quench@127.0.0.1:1/quench?sslmode=disable&connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	e := newEnv(t, func(o *Options) { o.Store = db; o.OpenRead = false })
	code, page, hdr := e.get(withCookie(e, randomToken()), "/")
	if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || !strings.Contains(page, "PostgreSQL quench@127.0.0.1:1/quench") {
		t.Fatalf("got %d %q:\n%s", code, hdr.Get("Retry-After"), page)
	}
}

func TestTrimKeepsTheRowsThatLastLongest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ss := newSessions(db, time.Now)
		if err := ss.ready(ctx); err != nil {
			t.Fatal(err)
		}
		base := time.Now().Add(time.Hour)
		for i, state := range []string{"s1", "s2", "s3", "s4"} {
			if err := ss.rememberOIDC(ctx, state+strings.Repeat("x", 41), oidcPending{nonce: "n", verifier: "v", next: "/", expires: base.Add(time.Duration(i) * time.Minute)}); err != nil {
				t.Fatal(err)
			}
		}
		err := db.InTx(ctx, func(tx *store.Tx) error { return trim(ctx, tx, "web_oidc_logins", "state_sha256", 2) })
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			state string
			kept  bool
		}{{"s1", false}, {"s2", false}, {"s3", true}, {"s4", true}} {
			_, ok, err := ss.takeOIDC(ctx, c.state+strings.Repeat("x", 41))
			if err != nil || ok != c.kept {
				t.Errorf("%s: kept %v (%v), want %v", c.state, ok, err, c.kept)
			}
		}
	})
}
