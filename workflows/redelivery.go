package workflows

import (
	"strconv"
	"strings"

	"github.com/quench-dev/quench/internal/alert"
)

// redelivered reports an alert the ingest inbox delivered again (a crash between Temporal's
// acknowledgement and the row's delete), or an older row of the same fingerprint from the
// same process: it neither counts nor changes the incident. Otherwise the delivery is
// remembered, bounded like SeenAlerts (Limits.MaxTrackedAlerts). Alerts without a delivery
// (every alert before the inbox existed) are never taken for re-deliveries, so recorded
// histories replay as they ran.
func (w *incident) redelivered(a alert.Alert) bool {
	origin, n, ok := parseDelivery(a.Delivery)
	if !ok {
		return false
	}
	id := alertIdentity(a)
	last, seen := w.st.Deliveries[id]
	if seen {
		if lastOrigin, lastN, ok := parseDelivery(last); ok && lastOrigin == origin && n <= lastN {
			return true
		}
	}
	if w.st.Deliveries == nil {
		w.st.Deliveries = map[string]string{}
	}
	if seen || len(w.st.Deliveries) < w.limits.MaxTrackedAlerts {
		w.st.Deliveries[id] = a.Delivery
	}
	return false
}

// parseDelivery splits "origin/counter".
func parseDelivery(d string) (origin string, n int64, ok bool) {
	i := strings.LastIndexByte(d, '/')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.ParseInt(d[i+1:], 10, 64)
	if err != nil || n <= 0 {
		return "", 0, false
	}
	return d[:i], n, true
}
