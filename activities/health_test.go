package activities_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/probe"
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

// A provider with a configured probe is measured by probing it, even with a traffic source
// whose window holds only the outage's errors; a provider without one still gets the
// traffic figure.
func TestHealthProbesAProviderWithAProbe(t *testing.T) {
	var lines []string
	for i := 0; i < 30; i++ {
		lines = append(lines, `{"time":"`+now.Add(-time.Duration(i+1)*10*time.Second).Format(time.RFC3339)+
			`","gen_ai.provider.name":"openai","route":"chat","error.type":"503","duration_ms":40}`)
	}
	logPath := filepath.Join(t.TempDir(), "requests.jsonl")
	if err := os.WriteFile(logPath, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	p, err := probe.New(config.Probe{URL: srv.URL, Requests: 3}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, activities.Deps{Traffic: jsonl.New(logPath), Probes: probe.Set{"openai": p}})
	val, err := env.ExecuteActivity(activities.HealthActivity, ports.HealthInput{Provider: "openai", Window: 15 * time.Minute, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	var fig ports.HealthFigure
	if err := val.Get(&fig); err != nil || !fig.Probe || fig.Requests != 3 || fig.Errors != 0 || !strings.HasPrefix(fig.Source, "probe 127.0.0.1:") || hits.Load() != 3 {
		t.Fatalf("health = %+v, %v (%d probe requests); want the probe's 3 clean requests", fig, err, hits.Load())
	}

	val, err = env.ExecuteActivity(activities.HealthActivity, ports.HealthInput{Provider: "anthropic", Window: 15 * time.Minute, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	var other ports.HealthFigure
	if err := val.Get(&other); err != nil || other.Probe || other.Source != "the JSONL traffic log" || hits.Load() != 3 {
		t.Fatalf("health of a provider without a probe = %+v, %v; want the traffic figure", other, err)
	}
}
