package slackapp

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkAck measures how long Slack waits for quench's answer to a signed slash command
// and to a button click, over loopback HTTP: verification, parsing and the immediate answer
// (the slow work runs after the ack). Slack's limit is 3 s. Reports p50 and p99.
func BenchmarkAck(b *testing.B) {
	for _, bc := range []struct {
		name, path string
		body       func(app *testApp) string
	}{
		{"command", "/slack/commands", func(app *testApp) string {
			return commandBody("UALICE", "status abcdef", app.fake.ResponseURL("b"))
		}},
		{"interaction", "/slack/interactions", func(*testApp) string {
			return clickBody("UALICE", ActionApprove, failbackButton())
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			app := newTestApp(b)
			body := bc.body(app)
			latencies := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			n := 0
			for b.Loop() {
				b.StopTimer()
				// Each its own trigger_id: an identical signed request is a replay, answered
				// without the work this measures.
				n++
				req := signed(b, app.server.URL+bc.path, testSecret, time.Now(), strings.Replace(body, "trig-", fmt.Sprint("trig-", n, "-"), 1))
				b.StartTimer()
				start := time.Now()
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				latencies = append(latencies, time.Since(start))
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					b.Fatalf("status %d", res.StatusCode)
				}
			}
			b.StopTimer()
			app.handler.Wait()
			slices.Sort(latencies)
			b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds()), "p99-µs")
		})
	}
}
