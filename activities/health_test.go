package activities_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/traffic/jsonl"
)

func TestHealthMeasuresOneProvider(t *testing.T) {
	var lines []string
	for i := 0; i < 10; i++ {
		provider, errType := "openai", ""
		if i%2 == 1 {
			provider = "anthropic" // the fallback's requests are not the primary's figure
			errType = "5xx"
		}
		lines = append(lines, `{"time":"`+now.Add(-time.Duration(i+1)*time.Minute).Format(time.RFC3339)+
			`","gen_ai.provider.name":"`+provider+`","route":"batch","error.type":"`+errType+`","duration_ms":250}`)
	}
	logPath := filepath.Join(t.TempDir(), "requests.jsonl")
	if err := os.WriteFile(logPath, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, activities.Deps{Traffic: jsonl.New(logPath)})
	val, err := env.ExecuteActivity(activities.HealthActivity, ports.HealthInput{Provider: "openai", Window: 15 * time.Minute, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	var fig ports.HealthFigure
	if err := val.Get(&fig); err != nil || fig.Requests != 5 || fig.Errors != 0 || fig.LatencyP95Ms != 250 {
		t.Fatalf("health = %+v, %v; want openai's 5 clean requests at 250 ms", fig, err)
	}

	_, err = env.ExecuteActivity(activities.HealthActivity, ports.HealthInput{Window: time.Minute, Now: now})
	assertNonRetryable(t, err, activities.ErrTypeInvalidParams, "no provider to measure")

	_, err = newEnv(t, activities.Deps{}).ExecuteActivity(activities.HealthActivity, ports.HealthInput{Provider: "openai", Window: time.Minute, Now: now})
	assertNonRetryable(t, err, activities.ErrTypeNotConfigured, "no traffic source configured")

	// A source that cannot tell providers apart says so, once, without retries.
	_, err = newEnv(t, activities.Deps{Traffic: &countingTraffic{Traffic: jsonl.New(logPath)}}).
		ExecuteActivity(activities.HealthActivity, ports.HealthInput{Provider: "openai", Window: time.Minute, Now: now})
	assertNonRetryable(t, err, activities.ErrTypeNotConfigured, "cannot measure one provider's health")
}
