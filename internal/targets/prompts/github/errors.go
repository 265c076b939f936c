package github

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"

	"github.com/quench-dev/quench/internal/ports"
)

// The repository permissions each kind of call needs, named as GitHub names them for
// fine-grained tokens and GitHub Apps.
const (
	permContentsRead = "contents: read"
	permContents     = "contents: write"
	permPullsRead    = "pull_requests: read"
	permPulls        = "pull_requests: write"
	permStatuses     = "statuses: write"
	permVariables    = "variables: write (Actions variables)"
)

// Bounds of a retry delay GitHub asks for: at least a second (0 would mean "use the
// backoff"), at most an hour (the primary limit's window).
const (
	minRetryDelay     = time.Second
	maxRetryDelay     = time.Hour
	unknownRetryDelay = time.Minute // a secondary limit without Retry-After
)

// fail turns a go-github error into what the activities expect: rate limits retry after
// GitHub's delay, refused permissions and bad requests are permanent with a message naming
// what to fix, and the rest (5xx, network) are retried with the step's backoff.
func (a *Adapter) fail(op, perm string, err error) error {
	if err == nil {
		return nil
	}
	var (
		rate  *gh.RateLimitError
		abuse *gh.AbuseRateLimitError
		resp  *gh.ErrorResponse
	)
	switch {
	case errors.As(err, &rate):
		reset := rate.Rate.Reset.Time
		return ports.RetryAfter(
			fmt.Errorf("GitHub API rate limit of %d requests reached while trying to %s on %s; it resets at %s, quench retries then",
				rate.Rate.Limit, op, a.Repo(), reset.UTC().Format(time.RFC3339)),
			clampDelay(time.Until(reset)+time.Second))
	case errors.As(err, &abuse):
		delay := unknownRetryDelay
		if abuse.RetryAfter != nil {
			delay = *abuse.RetryAfter
		}
		return ports.RetryAfter(
			fmt.Errorf("GitHub secondary rate limit hit while trying to %s on %s (%s); quench retries in %s",
				op, a.Repo(), abuse.Message, clampDelay(delay)),
			clampDelay(delay))
	case errors.As(err, &resp) && resp.Response != nil:
		return a.failResponse(op, perm, resp, err)
	}
	return fmt.Errorf("GitHub: %s on %s: %w", op, a.Repo(), err)
}

func (a *Adapter) failResponse(op, perm string, resp *gh.ErrorResponse, err error) error {
	status := resp.Response.StatusCode
	msg := resp.Message
	if msg == "" {
		msg = http.StatusText(status)
	}
	if delay, ok := retryAfter(resp.Response); ok && (status == http.StatusTooManyRequests || status == http.StatusForbidden) {
		return ports.RetryAfter(
			fmt.Errorf("GitHub rate limited quench (%d %s) while trying to %s on %s; quench retries in %s", status, msg, op, a.Repo(), delay),
			delay)
	}
	switch {
	case status == http.StatusTooManyRequests:
		return ports.RetryAfter(fmt.Errorf("GitHub rate limited quench (429 %s) while trying to %s on %s", msg, op, a.Repo()), unknownRetryDelay)
	case status == http.StatusUnauthorized:
		return ports.Permanentf("GitHub rejected quench's credentials (401 %s) while trying to %s on %s: check github.token, or github.app's app_id, installation_id and private_key",
			msg, op, a.Repo())
	case status == http.StatusForbidden || status == http.StatusNotFound:
		return ports.Permanentf("GitHub refused to %s on %s (%d %s): the token or GitHub App needs the %q permission on the repository (a 404 also means the repository is not visible to it)",
			op, a.Repo(), status, msg, perm)
	case status >= 500:
		return fmt.Errorf("GitHub is failing (%d %s) while trying to %s on %s; quench retries: %w", status, msg, op, a.Repo(), err)
	case status >= 400:
		return ports.Permanentf("GitHub refused to %s on %s (%d %s%s)", op, a.Repo(), status, msg, errorDetails(resp))
	}
	return fmt.Errorf("GitHub: %s on %s: %w", op, a.Repo(), err)
}

// retryAfter reads Retry-After (seconds), or X-RateLimit-Reset when the remaining count is
// zero.
func retryAfter(r *http.Response) (time.Duration, bool) {
	if v := r.Header.Get("Retry-After"); v != "" {
		if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			return clampDelay(time.Duration(secs) * time.Second), true
		}
	}
	if r.Header.Get("X-RateLimit-Remaining") == "0" {
		if secs, err := strconv.ParseInt(r.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			return clampDelay(time.Until(time.Unix(secs, 0)) + time.Second), true
		}
	}
	return 0, false
}

func clampDelay(d time.Duration) time.Duration {
	return min(max(d, minRetryDelay), maxRetryDelay).Round(time.Second)
}

func errorDetails(resp *gh.ErrorResponse) string {
	var parts []string
	for _, e := range resp.Errors {
		switch {
		case e.Message != "":
			parts = append(parts, e.Message)
		case e.Code != "":
			parts = append(parts, strings.TrimSpace(e.Field+" "+e.Code))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return ": " + strings.Join(parts, "; ")
}

// isStatus reports whether err is a GitHub answer with this HTTP status.
func isStatus(err error, status int) bool {
	var resp *gh.ErrorResponse
	return errors.As(err, &resp) && resp.Response != nil && resp.Response.StatusCode == status
}

// isUnprocessable reports whether err is a 422 whose message or details contain text.
func isUnprocessable(err error, text string) bool {
	var resp *gh.ErrorResponse
	if !errors.As(err, &resp) || resp.Response == nil || resp.Response.StatusCode != http.StatusUnprocessableEntity {
		return false
	}
	text = strings.ToLower(text)
	if strings.Contains(strings.ToLower(resp.Message), text) {
		return true
	}
	for _, e := range resp.Errors {
		if strings.Contains(strings.ToLower(e.Message), text) {
			return true
		}
	}
	return false
}
