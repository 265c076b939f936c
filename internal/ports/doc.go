// Package ports declares what quench needs from the outside world: the gateway that points
// routes at LLM providers, the prompts host, the freeze holder, the traffic source, the
// evidence store and chat, with their request and result types and the two error marks
// (Permanent, RetryAfter) adapters use to tell activities how to retry.
//
// It is a leaf: it imports only the standard library, so an adapter in internal/targets
// implements a port without linking the Temporal SDK, CEL or the runbook loader. The
// activities that drive the ports live in package activities.
package ports
