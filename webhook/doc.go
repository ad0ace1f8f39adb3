// Package webhook sends Switchboard's outbound webhook deliveries.
//
// It covers three concerns and nothing else, so the queue that drives retries
// and the api that validates endpoint URLs can share one implementation:
//
//   - signing per Standard Webhooks 1.0 (symmetric "v1"), including several
//     signatures at once while a secret is being rotated (sign.go, verify.go);
//   - an SSRF guard that refuses loopback, private, link-local and cloud
//     metadata destinations both when an endpoint is created and again at dial
//     time, after DNS, so rebinding cannot get around it (guard.go, client.go);
//   - a single delivery attempt, its outcome and the retry schedule
//     (deliver.go, schedule.go).
//
// The package imports only the standard library and keeps no state: the
// caller owns persistence, retries and logging.
package webhook
