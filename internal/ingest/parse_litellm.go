package ingest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/quench-dev/quench/internal/alert"
)

// LiteLLM alert names: what the built-in runbooks' triggers match.
const (
	// LiteLLMKeyBudgetAlert is a virtual key nearing or crossing its budget (cost-runaway).
	LiteLLMKeyBudgetAlert = "LiteLLMKeyBudgetAlert"
	// LiteLLMBudgetAlert is a team, user, customer or proxy budget: no single key to block.
	LiteLLMBudgetAlert = "LiteLLMBudgetAlert"
	// LiteLLMDeploymentOutage and LiteLLMRegionOutage are LiteLLM's own aggregate of 408
	// and 5xx answers of one deployment or one provider region (provider-outage).
	LiteLLMDeploymentOutage = "LiteLLMDeploymentOutage"
	LiteLLMRegionOutage     = "LiteLLMRegionOutage"
	// LiteLLMSlowResponses and LiteLLMRequestsHanging are single requests over
	// alerting_threshold; LiteLLMProviderError / LiteLLMRequestError a single failed call.
	LiteLLMSlowResponses   = "LiteLLMSlowResponses"
	LiteLLMRequestsHanging = "LiteLLMRequestsHanging"
	LiteLLMProviderError   = "LiteLLMProviderError"
	LiteLLMRequestError    = "LiteLLMRequestError"
	// LiteLLMAlert is any other Slack-format alert (db_exceptions, failed cost tracking).
	LiteLLMAlert = "LiteLLMAlert"
)

// ParseLiteLLM parses what a LiteLLM proxy posts. Two shapes arrive at one hook:
//
// The structured budget event of `alerting: ["webhook"]` (POSTed to WEBHOOK_URL), LiteLLM's
// WebhookEvent:
//
//	{"spend": 10.2, "max_budget": 10, "soft_budget": null, "token": "88dc…", "customer_id": null,
//	 "user_id": "u1", "team_id": null, "team_alias": null, "user_email": null, "key_alias": "agent-7",
//	 "projected_exceeded_date": null, "projected_spend": null,
//	 "event": "budget_crossed", "event_group": "key", "event_message": "Key Budget: Budget Crossed"}
//
// budget_crossed, soft_budget_crossed, threshold_crossed and projected_limit_exceeded are
// firing alerts; spend_tracked (one per customer request), key_created and
// internal_user_created are not incidents and give no alert. A key budget is
// LiteLLMKeyBudgetAlert with the hashed key token as the agent label (what LiteLLM's
// /key/block takes); other groups are LiteLLMBudgetAlert. One incident per budget holder.
//
// The Slack-format alerts of `alerting: ["slack"]` ({"text": "Level: `High`\n..."}), which
// LiteLLM posts to SLACK_WEBHOOK_URL, ALERTING_WEBHOOK_URL or a per-type
// alert_to_webhook_url: outage_alerts, region_outage_alerts, llm_too_slow,
// llm_requests_hanging, llm_exceptions are read from the text LiteLLM writes (see
// litellmTextAlert); reports (daily_reports, spend_reports, new_model_added) give no alert.
//
// LiteLLM never says an alert is over: every alert is firing, and an incident started from
// one is resolved by a human (or its wait.resolved timeout).
func ParseLiteLLM(body []byte) (Delivery, error) {
	root, err := decodeBody(body)
	if err != nil {
		return Delivery{}, err
	}
	_, hasEvent := root.fields["event"]
	_, hasText := root.fields["text"]
	switch {
	case hasEvent:
		return parseLiteLLMEvent(root, body)
	case hasText:
		return parseLiteLLMText(root)
	}
	return Delivery{}, &FieldError{Field: "event", Msg: `required: a LiteLLM webhook event ("event": "budget_crossed", …) or a Slack-format alert ("text": "…")`}
}

// litellmBudgetEvents are the WebhookEvent events that are alerts, with their severity.
var litellmBudgetEvents = map[string]string{
	"budget_crossed":           "critical",
	"soft_budget_crossed":      "warning",
	"threshold_crossed":        "warning",
	"projected_limit_exceeded": "warning",
}

// litellmQuietEvents are WebhookEvent events that are not incidents.
var litellmQuietEvents = map[string]bool{"spend_tracked": true, "key_created": true, "internal_user_created": true}

// litellmGroupID names, per event_group, the field that identifies the budget holder.
var litellmGroupID = map[string]string{
	"key": "token", "team": "team_id", "internal_user": "user_id", "user": "user_id", "customer": "customer_id", "proxy": "",
}

func parseLiteLLMEvent(root jsonObject, body []byte) (Delivery, error) {
	d := Delivery{Source: SourceLiteLLM}
	event, err := root.requiredStr("event", "e.g. budget_crossed")
	if err != nil {
		return d, err
	}
	if litellmQuietEvents[event] {
		return d, nil
	}
	severity, ok := litellmBudgetEvents[event]
	if !ok {
		return d, &FieldError{Field: "event", Msg: fmt.Sprintf("unknown event %q: expected budget_crossed, soft_budget_crossed, threshold_crossed, projected_limit_exceeded, spend_tracked, key_created or internal_user_created", shortForMsg(event))}
	}
	group, err := root.requiredStr("event_group", "key, team, internal_user, customer or proxy")
	if err != nil {
		return d, err
	}
	idField, ok := litellmGroupID[group]
	if !ok {
		return d, &FieldError{Field: "event_group", Msg: fmt.Sprintf("unknown event_group %q: expected key, team, internal_user, customer or proxy", shortForMsg(group))}
	}
	if group == "user" { // LiteLLM's first spelling of internal_user
		group = "internal_user"
	}
	var s struct{ token, keyAlias, userID, teamID, teamAlias, customerID, message, projectedDate string }
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"token", &s.token}, {"key_alias", &s.keyAlias}, {"user_id", &s.userID}, {"team_id", &s.teamID},
		{"team_alias", &s.teamAlias}, {"customer_id", &s.customerID}, {"event_message", &s.message},
		{"projected_exceeded_date", &s.projectedDate},
	} {
		if *f.dst, err = root.str(f.name); err != nil {
			return d, err
		}
		*f.dst = strings.TrimSpace(*f.dst)
	}
	holder := "proxy"
	if idField != "" {
		holder, _ = root.str(idField)
		holder = strings.TrimSpace(holder)
		if holder == "" && group == "key" {
			holder = s.keyAlias // a key event without its token still names the key by alias
		}
		if holder == "" {
			return d, &FieldError{Field: idField, Msg: fmt.Sprintf("required for an event_group %q budget event: it says whose budget it is", group)}
		}
	}
	key := "litellm/budget/" + group + "/" + holder
	if err := checkKey(idField, key); err != nil {
		return d, err
	}
	annotations := map[string]string{"event": event}
	for _, n := range []string{"spend", "max_budget", "soft_budget", "projected_spend"} {
		raw, ok := root.raw(n)
		if !ok {
			continue
		}
		f, err := parseFloatField(root.at(n), raw)
		if err != nil {
			return d, err
		}
		annotations[n] = strconv.FormatFloat(f, 'g', -1, 64)
	}
	if _, ok := annotations["spend"]; !ok {
		return d, &FieldError{Field: "spend", Msg: "required: the spend of the event_group (a number)"}
	}
	if s.projectedDate != "" {
		annotations["projected_exceeded_date"] = capText(s.projectedDate, MaxAnnotationValueBytes)
	}
	alertname := LiteLLMBudgetAlert
	labels := map[string]string{"litellm_event": event, "litellm_event_group": group}
	if group == "key" {
		alertname = LiteLLMKeyBudgetAlert
		setLabel(labels, "agent", holder)
	}
	labels["alertname"] = alertname
	setLabel(labels, "key_alias", s.keyAlias)
	setLabel(labels, "team", s.teamID)
	setLabel(labels, "team_alias", s.teamAlias)
	setLabel(labels, "user", s.userID)
	setLabel(labels, "customer", s.customerID)
	title := s.message
	if title == "" {
		title = fmt.Sprintf("LiteLLM %s budget: %s", group, event)
	}
	annotations["summary"] = capText(title, MaxAnnotationValueBytes)
	a := alert.Alert{
		Source: SourceLiteLLM, Key: key, Fingerprint: key + "/" + event, Status: alert.StatusFiring,
		Severity: severity, Title: capText(title, maxTitleBytes), Labels: labels, Annotations: annotations,
		Raw: rawCapped(litellmRawEvent(root, body)),
	}
	d.Alerts = []alert.Alert{a}
	return d, nil
}

// litellmRawEvent is the event as kept with the alert, without the user's email address
// (personal data the incident does not need, which would stay in its history).
func litellmRawEvent(root jsonObject, body []byte) []byte {
	if _, ok := root.fields["user_email"]; !ok {
		return body
	}
	kept := make(map[string]json.RawMessage, len(root.fields))
	for k, v := range root.fields {
		if k != "user_email" {
			kept[k] = v
		}
	}
	out, err := json.Marshal(kept)
	if err != nil {
		return body
	}
	return out
}

// Markers of LiteLLM's Slack-format alert text (litellm/integrations/SlackAlerting and the
// proxy's failure hook). The values LiteLLM interpolates are between backticks.
var (
	litellmNumAlerts = regexp.MustCompile("^\\[Num Alerts: ([0-9]+)\\]\\s*")
	litellmLevel     = regexp.MustCompile("Level: `?([A-Za-z]+)`?")
	litellmGroup     = regexp.MustCompile(`Received Model Group=([^\s,]+)`)
	litellmOutage    = regexp.MustCompile(`\*⚠️ (Major|Minor) Service Outage\*`)
	litellmException = regexp.MustCompile(`\blitellm\.([A-Za-z]+(?:Error|Exception|Timeout))\b`)
	// litellmMessages is the start of the user's prompt LiteLLM quotes in slow and hanging
	// alerts: not kept (it is the caller's data, not the incident's).
	litellmMessages = regexp.MustCompile("Messages: `[^`]*`?")
	litellmReport   = []string{"Here are today's key metrics", "Spend Report for", "New Model Added"}
)

// litellmField reads "<name>: `value`" (or "*<name>:* `value`") from LiteLLM's text.
func litellmField(text, name string) string {
	for _, prefix := range []string{"*" + name + ":* `", name + ": `"} {
		i := strings.Index(text, prefix)
		if i < 0 {
			continue
		}
		rest := text[i+len(prefix):]
		if j := strings.IndexByte(rest, '`'); j >= 0 {
			return strings.TrimSpace(rest[:j])
		}
	}
	return ""
}

// litellmProviderSide are LiteLLM exception classes that mean the provider failed, not the
// request: an outage signal rather than a caller's mistake.
var litellmProviderSide = map[string]bool{
	"ServiceUnavailableError": true, "InternalServerError": true, "APIConnectionError": true,
	"Timeout": true, "RateLimitError": true, "APIError": true,
}

// litellmLevelSeverity maps LiteLLM's Level to a severity.
var litellmLevelSeverity = map[string]string{"high": "critical", "medium": "warning", "low": "info"}

func parseLiteLLMText(root jsonObject) (Delivery, error) {
	d := Delivery{Source: SourceLiteLLM}
	text, err := root.requiredStr("text", "the alert text LiteLLM writes")
	if err != nil {
		return d, err
	}
	annotations := map[string]string{}
	if m := litellmNumAlerts.FindStringSubmatch(text); m != nil {
		// LiteLLM squashes a batch of one type into its first alert and prefixes the count.
		annotations["num_alerts"] = m[1]
		text = text[len(m[0]):]
	}
	for _, marker := range litellmReport {
		if strings.Contains(text, marker) {
			return d, nil // a report, not an incident
		}
	}
	labels := map[string]string{}
	var kind, subject string
	severity := ""
	if m := litellmLevel.FindStringSubmatch(text); m != nil {
		severity = litellmLevelSeverity[strings.ToLower(m[1])]
	}
	switch {
	case litellmOutage.MatchString(text):
		scale := strings.ToLower(litellmOutage.FindStringSubmatch(text)[1])
		annotations["outage"] = scale
		setLabel(labels, "provider", litellmField(text, "Provider"))
		setLabel(labels, "api_base", litellmField(text, "API Base"))
		if region := litellmField(text, "Region Name"); region != "" {
			labels["alertname"] = LiteLLMRegionOutage
			setLabel(labels, "region", region)
			kind, subject = "region-outage", region
		} else {
			labels["alertname"] = LiteLLMDeploymentOutage
			setLabel(labels, "model", litellmField(text, "Model Name"))
			kind, subject = "outage", labels["model"]
		}
		subject = labels["provider"] + "/" + subject
		if severity == "" || scale == "major" {
			severity = map[string]string{"major": "critical", "minor": "warning"}[scale]
		}
	case strings.Contains(text, "Responses are slow"):
		labels["alertname"] = LiteLLMSlowResponses
		kind = "slow"
	case strings.Contains(text, "Requests are hanging"):
		labels["alertname"] = LiteLLMRequestsHanging
		kind = "hanging"
	case strings.Contains(text, "LLM API call failed"):
		class := "unknown"
		if m := litellmException.FindStringSubmatch(text); m != nil {
			class = m[1]
		}
		labels["alertname"] = LiteLLMRequestError
		if litellmProviderSide[class] {
			labels["alertname"] = LiteLLMProviderError
		}
		labels["litellm_exception"] = class
		kind = "exception"
	default:
		labels["alertname"] = LiteLLMAlert
		kind = "other"
		// No structure to group by: the first line names the alert.
		first, _, _ := strings.Cut(strings.TrimSpace(strings.TrimPrefix(text, litellmLevelLine(text))), "\n")
		subject = labelsFingerprint(map[string]string{"line": first})
	}
	if m := litellmGroup.FindStringSubmatch(text); m != nil {
		setLabel(labels, "model_group", m[1])
	}
	if kind == "slow" || kind == "hanging" || kind == "exception" {
		// One incident per model: the request's model, else its model group, else (for a
		// failure that names neither) the exception class.
		setLabel(labels, "model", litellmField(text, "Request Model"))
		setLabel(labels, "api_base", litellmField(text, "API Base"))
		subject = labels["model"]
		if subject == "" {
			subject = labels["model_group"]
		}
		if kind == "exception" && subject == "" {
			subject = labels["litellm_exception"]
		}
	}
	if subject == "" || subject == "/" {
		subject = "unknown"
	}
	// The proxy adds the caller's key alias and team to request alerts ("None" when unset).
	for label, field := range map[string]string{"key_alias": "Key Name", "team_alias": "Team"} {
		if v := litellmField(text, field); v != "None" {
			setLabel(labels, label, v)
		}
	}
	key := "litellm/" + kind + "/" + subject
	if err := checkKey("text", key); err != nil {
		return d, err
	}
	fingerprint := key
	if scale := annotations["outage"]; scale != "" {
		// Minor then major is the outage growing: a new alert of the same incident.
		fingerprint += "/" + scale
	}
	summary := litellmSummary(text)
	text = litellmMessages.ReplaceAllString(text, "Messages: `(left out by quench)`")
	annotations["summary"] = capText(summary, MaxAnnotationValueBytes)
	annotations["text"] = capText(text, MaxAnnotationValueBytes)
	raw, _ := json.Marshal(map[string]string{"text": text})
	d.Alerts = []alert.Alert{{
		Source: SourceLiteLLM, Key: key, Fingerprint: fingerprint, Status: alert.StatusFiring,
		Severity: severity, Title: capText(summary, maxTitleBytes), Labels: labels, Annotations: annotations,
		Raw: rawCapped(raw),
	}}
	return d, nil
}

// litellmLevelLine is the "Level: `High`\nTimestamp: `…`" header LiteLLM puts before the
// message, or "".
func litellmLevelLine(text string) string {
	_, msg, ok := strings.Cut(text, "Message: ")
	if !ok {
		return ""
	}
	return text[:len(text)-len(msg)]
}

// litellmSummary is a one-line summary: the first non-empty line of the message, without
// Slack's markup.
func litellmSummary(text string) string {
	msg := strings.TrimPrefix(text, litellmLevelLine(text))
	for _, line := range strings.Split(msg, "\n") {
		line = strings.Trim(strings.TrimSpace(line), "*`")
		line = strings.TrimSpace(strings.TrimPrefix(line, "⚠️"))
		if line != "" {
			return line
		}
	}
	return "LiteLLM alert"
}
