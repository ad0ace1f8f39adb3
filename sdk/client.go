package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Version is the SDK version sent in the User-Agent header.
const Version = "0.1.0"

// DefaultBaseURL is the server New talks to unless WithBaseURL says otherwise.
const DefaultBaseURL = "http://localhost:8080"

const (
	defaultMaxRetries = 2
	defaultTimeout    = 30 * time.Second

	// Backoff before retry n (0-based) is about initialBackoff·2ⁿ, capped at
	// maxBackoff, with jitter so that many clients do not retry in lockstep.
	initialBackoff = 500 * time.Millisecond
	maxBackoff     = 10 * time.Second

	// maxRetryAfter bounds how long a call waits on the server's
	// Retry-After; a longer request ends the call with the 429/503 *Error so
	// that the caller decides, instead of blocking a goroutine for minutes.
	maxRetryAfter = time.Minute

	// maxErrorBody bounds how much of an error response is read.
	maxErrorBody = 1 << 20
)

// Client talks to one Switchboard server with one API key. It is safe for
// concurrent use; build one and share it.
type Client struct {
	// Messages sends, fetches and lists messages.
	Messages *MessagesService
	// WebhookEndpoints manages where status events are delivered.
	WebhookEndpoints *WebhookEndpointsService
	// Sandbox scripts the sandbox provider for tests.
	Sandbox *SandboxService
	// Customers manages customers, their identities, merges and timelines.
	Customers *CustomersService
	// Conversations lists, closes and replies in conversations.
	Conversations *ConversationsService
	// OptOuts manages the addresses that asked not to be messaged.
	OptOuts *OptOutsService
	// Settings reads and changes the account's routing settings.
	Settings *SettingsService
	// Channels connects provider accounts (Twilio, Telegram, WhatsApp
	// Cloud, Viber, MTS Exolve) that messages go out on.
	Channels *ChannelsService

	apiKey     string
	baseURL    string
	httpClient *http.Client
	maxRetries int
	userAgent  string

	// sleep waits between retries; tests replace it to avoid real waits.
	sleep func(ctx context.Context, d time.Duration) error
}

// Option configures a Client built by New.
type Option func(*Client)

// WithBaseURL points the client at a server other than DefaultBaseURL, for
// example "https://switchboard.example.com". A trailing slash is ignored;
// an empty u keeps the default.
func WithBaseURL(u string) Option {
	return func(c *Client) {
		if u != "" {
			c.baseURL = strings.TrimRight(u, "/")
		}
	}
}

// WithHTTPClient makes the client send requests through hc, for custom
// timeouts, proxies or transports. The default is an http.Client with a
// 30-second timeout. A nil hc keeps the default.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.httpClient = hc
		}
	}
}

// WithMaxRetries sets how many times a failed request is retried after the
// first attempt (default 2); 0 disables retries. Negative values count as 0.
func WithMaxRetries(n int) Option {
	return func(c *Client) { c.maxRetries = max(n, 0) }
}

// New returns a Client that authenticates with apiKey.
func New(apiKey string, opts ...Option) *Client {
	c := &Client{
		apiKey:     apiKey,
		baseURL:    DefaultBaseURL,
		httpClient: &http.Client{Timeout: defaultTimeout},
		maxRetries: defaultMaxRetries,
		userAgent:  "switchboard-go/" + Version,
		sleep:      sleepContext,
	}
	for _, opt := range opts {
		opt(c)
	}
	c.Messages = &MessagesService{c: c}
	c.WebhookEndpoints = &WebhookEndpointsService{c: c}
	c.Sandbox = &SandboxService{c: c}
	c.Customers = &CustomersService{c: c}
	c.Conversations = &ConversationsService{c: c}
	c.OptOuts = &OptOutsService{c: c}
	c.Settings = &SettingsService{c: c}
	c.Channels = &ChannelsService{c: c}
	return c
}

// request describes one API call; do turns it into one or more HTTP
// attempts.
type request struct {
	method string
	path   string // escaped, starting with /v1
	query  url.Values
	body   any // JSON-encoded when non-nil
	// idempotencyKey, when set, is sent on every attempt, which makes
	// retrying a POST safe.
	idempotencyKey string
	// idempotent marks a POST that the API documents as safe to repeat
	// (repeating it answers the same result), so it is retried like a GET.
	idempotent bool
}

// retrySafe reports whether the request may be repeated after an attempt
// whose outcome is unknown (network error or 5xx). A 429 is always
// retryable: the server refused the request without acting on it.
func (r request) retrySafe() bool {
	switch r.method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return r.idempotent || r.idempotencyKey != ""
}

// do performs req, retrying transient failures, and decodes a 2xx JSON body
// into out when out is non-nil. Non-2xx responses become *Error.
func (c *Client) do(ctx context.Context, req request, out any) error {
	var body []byte
	if req.body != nil {
		var err error
		if body, err = json.Marshal(req.body); err != nil {
			return fmt.Errorf("switchboard: encode %s %s body: %w", req.method, req.path, err)
		}
	}
	target := c.baseURL + req.path
	if len(req.query) > 0 {
		target += "?" + req.query.Encode()
	}

	for attempt := 0; ; attempt++ {
		resp, err := c.send(ctx, req, target, body)
		if err != nil {
			if ctx.Err() != nil || attempt >= c.maxRetries || !req.retrySafe() {
				return fmt.Errorf("switchboard: %w", err)
			}
			if err := c.sleep(ctx, backoff(attempt)); err != nil {
				return fmt.Errorf("switchboard: %s %s: %w", req.method, req.path, err)
			}
			continue
		}

		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return decodeSuccess(req, resp, out)
		}

		apiErr := readError(resp)
		wait, retry := c.retryDelay(req, resp, attempt)
		if !retry {
			return apiErr
		}
		if err := c.sleep(ctx, wait); err != nil {
			return fmt.Errorf("switchboard: %s %s: %w (after %w)", req.method, req.path, err, apiErr)
		}
	}
}

// send makes one HTTP attempt.
func (c *Client) send(ctx context.Context, req request, target string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hreq, err := http.NewRequestWithContext(ctx, req.method, target, rd)
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Authorization", "Bearer "+c.apiKey)
	hreq.Header.Set("Accept", "application/json")
	hreq.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	if req.idempotencyKey != "" {
		hreq.Header.Set("Idempotency-Key", req.idempotencyKey)
	}
	return c.httpClient.Do(hreq)
}

// retryDelay decides whether a non-2xx response is retried and after how
// long.
func (c *Client) retryDelay(req request, resp *http.Response, attempt int) (time.Duration, bool) {
	if attempt >= c.maxRetries {
		return 0, false
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
	case resp.StatusCode >= 500 && req.retrySafe():
	default:
		return 0, false
	}
	if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		if d > maxRetryAfter {
			return 0, false
		}
		return d, true
	}
	return backoff(attempt), true
}

// decodeSuccess decodes a 2xx response into out and closes the body.
func decodeSuccess(req request, resp *http.Response, out any) error {
	defer resp.Body.Close()
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("switchboard: decode %s %s response: %w", req.method, req.path, err)
	}
	return nil
}

// readError turns a non-2xx response into an *Error and closes the body.
func readError(resp *http.Response) *Error {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return newError(resp.StatusCode, resp.Header, body)
}

// backoff is the jittered exponential delay before retry attempt+1.
func backoff(attempt int) time.Duration {
	d := maxBackoff
	if attempt < 10 {
		d = min(initialBackoff<<attempt, maxBackoff)
	}
	return d/2 + rand.N(d/2+1)
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// sleepContext waits for d or until ctx is done.
func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// pathID escapes an id for use as one path segment, refusing empty ids so
// that Get(ctx, "") cannot silently hit a list route.
func pathID(kind, id string) (string, error) {
	if id == "" {
		return "", fmt.Errorf("switchboard: %s id is required", kind)
	}
	return url.PathEscape(id), nil
}

// formatTime renders a filter time the way the API expects (RFC 3339, UTC).
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
