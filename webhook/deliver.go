package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// UserAgent identifies our deliveries in receivers' logs and firewalls.
const UserAgent = "Switchboard-Webhooks/1"

// maxResponseBody is how much of a receiver's response we read: enough to
// let small responses finish cleanly, little enough that a receiver cannot
// make us download a large body.
const maxResponseBody = 64 << 10

// Attempt is the result of one delivery attempt, which the caller records and
// turns into an Outcome.
type Attempt struct {
	// StatusCode is the receiver's HTTP status; 0 when no response arrived.
	StatusCode int
	// RetryAfter is the receiver's Retry-After, in seconds or as an HTTP
	// date, converted to a delay (capped at MaxDelay); 0 when absent.
	RetryAfter time.Duration
	// Duration is how long the attempt took, for delivery logs.
	Duration time.Duration
	// Err is set when no response arrived: a network error, a timeout or a
	// destination refused by the guard (errors.Is ErrBlockedDestination).
	// A non-2xx response is not an error here; see Outcome.
	Err error
}

// Outcome is what the caller should do after an Attempt.
type Outcome int

const (
	// Retry schedules another attempt (see NextDelay). It is the zero value,
	// so an outcome nobody set errs towards delivering again.
	Retry Outcome = iota
	// Delivered means a 2xx: the message is done.
	Delivered
	// Disable means 410 Gone: the receiver asked to stop, so the endpoint
	// is disabled rather than retried.
	Disable
)

// String returns the outcome's name for logs.
func (o Outcome) String() string {
	switch o {
	case Retry:
		return "retry"
	case Delivered:
		return "delivered"
	case Disable:
		return "disable"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Outcome classifies the attempt per Standard Webhooks: 2xx is delivered,
// 410 disables the endpoint, and everything else (3xx, 429, 5xx, network
// errors, refused destinations) is retried.
func (a Attempt) Outcome() Outcome {
	switch {
	case a.Err != nil:
		return Retry
	case a.StatusCode >= 200 && a.StatusCode < 300:
		return Delivered
	case a.StatusCode == http.StatusGone:
		return Disable
	}
	return Retry
}

var (
	defaultClientOnce sync.Once
	defaultClient     *http.Client
)

// Deliver makes one signed POST of body to url and reports what happened.
// id must stay the same across retries (receivers deduplicate on it) while ts
// is the time of this attempt. client should come from NewHTTPClient so the
// SSRF guard and the no-redirect rule apply; nil means a guarded client with
// DefaultTimeout. Deliver never retries and never logs: the queue owns that.
func Deliver(ctx context.Context, client *http.Client, url, id string, ts time.Time, secrets []string, body []byte) Attempt {
	start := time.Now()
	if client == nil {
		defaultClientOnce.Do(func() { defaultClient = NewHTTPClient(Guard{}, DefaultTimeout) })
		client = defaultClient
	}
	sig, err := Sign(secrets, id, ts, body)
	if err != nil {
		return Attempt{Err: err, Duration: time.Since(start)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Attempt{Err: fmt.Errorf("webhook: build request: %w", err), Duration: time.Since(start)}
	}
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(HeaderSignature, sig)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)

	resp, err := client.Do(req)
	if err != nil {
		return Attempt{Err: err, Duration: time.Since(start)}
	}
	// The status is what counts; a body that fails to read does not undo a
	// 2xx, so its error is ignored.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBody))
	_ = resp.Body.Close()
	now := time.Now()
	return Attempt{
		StatusCode: resp.StatusCode,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), now),
		Duration:   now.Sub(start),
	}
}

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP date
// (RFC 9110 §10.2.3). Invalid, negative and past values mean no delay; large
// ones are capped at MaxDelay so they cannot overflow or park a message for
// longer than the schedule would.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	secs, err := strconv.ParseUint(v, 10, 64)
	switch {
	case err == nil && secs < uint64(MaxDelay/time.Second):
		return time.Duration(secs) * time.Second
	case err == nil, errors.Is(err, strconv.ErrRange):
		return MaxDelay
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	return min(max(t.Sub(now), 0), MaxDelay)
}
