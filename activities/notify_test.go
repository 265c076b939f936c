package activities_test

import (
	"bytes"
	"errors"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/activities/activitiestest"
	"github.com/quench-dev/quench/runbooks"
)

func TestNotifyLogsAndPosts(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	chat := &activitiestest.Notifier{}
	env := newEnv(t, activities.Deps{Notifier: chat, Logger: logger})

	res := mustRun(t, env, step(activities.ActionNotify, "tell", map[string]string{"text": "failing over chat", "level": "critical"}))
	if res.Summary != "failing over chat" {
		t.Fatalf("summary = %q", res.Summary)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), `msg="failing over chat"`) || !strings.Contains(logs.String(), "incident="+incidentID) {
		t.Fatalf("log = %s", logs.String())
	}
	posts := chat.Posts()
	if len(posts) != 1 || posts[0].Level != "critical" || posts[0].Text != "failing over chat" || posts[0].IncidentID != incidentID ||
		posts[0].Key != incidentID+"/tell" || posts[0].Thread != nil {
		t.Fatalf("posts = %+v", posts)
	}
	if res.Posted == nil || res.Posted.TS == "" {
		t.Fatalf("where the message landed is not reported: %+v", res)
	}

	logs.Reset()
	mustRun(t, newEnv(t, activities.Deps{Logger: logger}), step(activities.ActionNotify, "tell2", map[string]string{"text": "log only"}))
	if !strings.Contains(logs.String(), "level=INFO") {
		t.Fatalf("default level: %s", logs.String())
	}

	_, err := run(t, env, step(activities.ActionNotify, "bad", map[string]string{"text": "x", "level": "loud"}))
	assertNonRetryable(t, err, activities.ErrTypeInvalidParams, "use info, warning or critical")
	_, err = run(t, env, step(activities.ActionNotify, "empty", nil))
	assertNonRetryable(t, err, activities.ErrTypeInvalidParams, `param "text" is required`)

	chat.Err = errors.New("slack 503")
	if _, err := run(t, env, step(activities.ActionNotify, "down", map[string]string{"text": "x"})); err == nil {
		t.Fatal("a chat failure was swallowed")
	}
}

// policyWorkflow reads the policy the way the incident workflow does: a local activity
// called by its registered name.
func policyWorkflow(ctx workflow.Context) (activities.Policy, error) {
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 5 * time.Second})
	var p activities.Policy
	err := workflow.ExecuteLocalActivity(ctx, activities.PolicyActivity).Get(ctx, &p)
	return p, err
}

func TestPolicyLocalActivity(t *testing.T) {
	policy := activities.Policy{Groups: map[string][]string{"sre": {"alice", "slack:U1"}}, EscalationGroup: "sre", UIURL: "http://127.0.0.1:8233"}
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(quietLogger)
	env := ts.NewTestWorkflowEnvironment()
	activities.Register(env, activities.Deps{Policy: policy})
	env.RegisterWorkflow(policyWorkflow)
	env.ExecuteWorkflow(policyWorkflow)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var got activities.Policy
	if err := env.GetWorkflowResult(&got); err != nil {
		t.Fatal(err)
	}
	if got.EscalationGroup != "sre" || !slices.Equal(got.Groups["sre"], []string{"alice", "slack:U1"}) || got.UIURL != policy.UIURL {
		t.Fatalf("policy = %+v", got)
	}
}

// recordingRegistry keeps the names activities are registered under.
type recordingRegistry struct{ names []string }

func (r *recordingRegistry) RegisterActivity(any) { r.names = append(r.names, "<unnamed>") }
func (r *recordingRegistry) RegisterActivityWithOptions(_ any, o activity.RegisterOptions) {
	r.names = append(r.names, o.Name)
}
func (r *recordingRegistry) RegisterDynamicActivity(any, activity.DynamicRegisterOptions) {
	r.names = append(r.names, "<dynamic>")
}

var _ worker.ActivityRegistry = (*recordingRegistry)(nil)

func TestRegisterCoversTheCatalog(t *testing.T) {
	var reg recordingRegistry
	activities.Register(&reg, activities.Deps{})
	want := []string{activities.PolicyActivity, activities.VerifyActivity, activities.HealthActivity, activities.EnforceFreezeActivity, activities.GatewayReadActivity, activities.GatewayReadPinActivity}
	for name, a := range runbooks.Catalog {
		if a.Kind == runbooks.KindActivity {
			want = append(want, name)
		}
	}
	sort.Strings(want)
	sort.Strings(reg.names)
	if !slices.Equal(reg.names, want) {
		t.Fatalf("registered %v\nwant       %v", reg.names, want)
	}
}
