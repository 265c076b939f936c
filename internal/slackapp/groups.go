package slackapp

import (
	"context"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/slack-go/slack"
)

// GroupResolver maps a Slack user to quench approver groups through the Slack user groups
// they are in, as Slack itself reports (usergroups.users.list), never as a request claims.
type GroupResolver struct {
	API *slack.Client
	// Map is Slack user group ID (S...) -> quench groups.
	Map map[string][]string
	// TTL is how long a user group's members are cached (default 1 minute).
	TTL    time.Duration
	Logger *slog.Logger

	mu    sync.Mutex
	cache map[string]cachedMembers
}

type cachedMembers struct {
	members []string
	at      time.Time
}

// VerifiedGroups returns the Slack user groups of Map that userID is in, as Slack itself
// reports, named "slack:S…" for a signed decision; the incident's policy says which
// approver groups they stand for.
func (r *GroupResolver) VerifiedGroups(ctx context.Context, userID string) []string {
	var out []string
	ids := make([]string, 0, len(r.Map))
	for id := range r.Map {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		members, err := r.members(ctx, id)
		if err != nil {
			r.logger().Warn("could not list a Slack user group's members; its approvers are refused until it can", "usergroup", id, "err", Classify(err))
			continue
		}
		if slices.Contains(members, userID) {
			out = append(out, "slack:"+id)
		}
	}
	return out
}

func (r *GroupResolver) members(ctx context.Context, groupID string) ([]string, error) {
	ttl := r.TTL
	if ttl == 0 {
		ttl = time.Minute
	}
	r.mu.Lock()
	c, ok := r.cache[groupID]
	r.mu.Unlock()
	if ok && time.Since(c.at) < ttl {
		return c.members, nil
	}
	members, err := r.API.GetUserGroupMembersContext(ctx, groupID)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if r.cache == nil {
		r.cache = map[string]cachedMembers{}
	}
	r.cache[groupID] = cachedMembers{members: members, at: time.Now()}
	r.mu.Unlock()
	return members, nil
}

func (r *GroupResolver) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.Default()
	}
	return r.Logger
}
