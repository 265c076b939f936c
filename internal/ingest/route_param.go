package ingest

import (
	"fmt"
	"net/url"
	"regexp"

	"github.com/quench-dev/quench/internal/alert"
)

// routeParamSources are the sources whose senders cannot name a gateway route in the
// payload: LiteLLM's alerts name a deployment, not a model group, and a Langfuse alert
// names a metric. Their hook URL may carry ?route=<name> (a LiteLLM alert_to_webhook_url
// or a Langfuse automation per route), which becomes each alert's route label when the
// payload did not give one.
var routeParamSources = map[string]bool{SourceLiteLLM: true, SourceLangfuseAlerts: true}

// routeName is what a route may be called in a hook URL.
var routeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// applyRouteParam sets the route label from the hook URL's route parameter.
func applyRouteParam(source string, q url.Values, alerts []alert.Alert) error {
	values, ok := q["route"]
	if !ok {
		return nil
	}
	if !routeParamSources[source] {
		return fmt.Errorf("the %s webhook takes no route parameter: the route comes from the alert's route label", source)
	}
	if len(values) != 1 || !routeName.MatchString(values[0]) {
		return fmt.Errorf("route parameter must be one route name (letters, digits, . _ : -, at most 128), got %q", shortForMsg(fmt.Sprint(values)))
	}
	for i := range alerts {
		a := &alerts[i]
		if a.Labels == nil {
			a.Labels = map[string]string{}
		}
		if a.Labels["route"] == "" {
			a.Labels["route"] = values[0]
		}
	}
	return nil
}
