// Package viber connects a Viber bot (the Viber REST Bot API) as a
// Switchboard channel: it sends messages to the bot's subscribers, verifies
// and parses the callbacks Viber posts to our webhook, and registers that
// webhook.
//
// Every API call is POST {BaseURL}/{method} with the bot's token in the
// X-Viber-Auth-Token header; Viber answers with a JSON status, 0 for success,
// and says why it refused in status_message (with HTTP 200, per its SDKs).
package viber

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultBaseURL is the Viber REST Bot API.
const DefaultBaseURL = "https://chatapi.viber.com/pa"

// Name is how messages, receipts and opt-outs name this provider.
const Name = "viber"

const (
	defaultTimeout = 15 * time.Second
	maxAnswer      = 1 << 20 // bytes of an API answer read at most
)

// Options are the non-secret settings of a Client.
type Options struct {
	BaseURL    string       // "" = DefaultBaseURL; tests point it at an httptest server
	HTTPClient *http.Client // nil = a client with a 15 s timeout
	BotURI     string       // our address on Viber (get_account_info's uri): the To of inbound messages
}

// Client speaks to Viber for one bot.
type Client struct {
	creds   Credentials
	baseURL string
	http    *http.Client
	botURI  string
}

// New returns a client for the bot that creds belong to. It does no I/O.
func New(creds Credentials, opts Options) *Client {
	c := &Client{creds: creds, baseURL: strings.TrimRight(opts.BaseURL, "/"), http: opts.HTTPClient, botURI: opts.BotURI}
	if c.baseURL == "" {
		c.baseURL = DefaultBaseURL
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: defaultTimeout}
	}
	return c
}

// envelope is what every Viber answer carries.
type envelope struct {
	Status        int    `json:"status"`
	StatusMessage string `json:"status_message"`
}

// statusError is Viber refusing a request: a non-zero status in its answer.
type statusError struct {
	method  string
	status  int
	message string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("viber %s: status %d: %s", e.method, e.status, e.message)
}

// httpError is an answer that is not HTTP 2xx (a proxy, an outage).
type httpError struct {
	method     string
	code       int
	retryAfter time.Duration
}

func (e *httpError) Error() string {
	return fmt.Sprintf("viber %s: HTTP %d", e.method, e.code)
}

// errBadAnswer marks a 2xx answer that is not the JSON Viber promises.
var errBadAnswer = errors.New("malformed answer")

// call posts in to method and decodes a successful answer into out (when
// not nil). It returns a *statusError, an *httpError, an error wrapping
// errBadAnswer, or a transport error; none of them carries the token.
func (c *Client) call(ctx context.Context, method string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("viber %s: encode request: %w", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+"/"+method, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("viber %s: %w", method, err)
	}
	req.Header.Set("X-Viber-Auth-Token", c.creds.AuthToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("viber %s: %w", method, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("viber %s: read answer: %w", method, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &httpError{method: method, code: resp.StatusCode, retryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("viber %s: %w: %v", method, errBadAnswer, err)
	}
	if env.Status != 0 {
		msg := env.StatusMessage
		if msg == "" {
			msg = "status " + strconv.Itoa(env.Status)
		}
		return &statusError{method: method, status: env.Status, message: msg}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("viber %s: %w: %v", method, errBadAnswer, err)
		}
	}
	return nil
}

// retryAfter reads a Retry-After header: seconds or an HTTP date; 0 if
// absent or unreadable. Viber documents none, but a proxy in front may send it.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// tokenString renders a message_token, a 64-bit integer beyond float64's
// precision, as a decimal string.
func tokenString(n json.Number) string {
	s := strings.TrimSpace(n.String())
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		return strconv.FormatUint(u, 10)
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return strconv.FormatInt(i, 10)
	}
	return s
}
