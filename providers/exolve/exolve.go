// Package exolve connects the SMS channel to MTS Exolve (api.exolve.ru): it
// sends through the SMS API (messaging/v1), proves an application's API key
// with a cheap authenticated call, and turns Exolve's SMS events (incoming
// SMS and delivery statuses, which share one webhook URL) into inbound
// messages and receipts. README.md lists what Exolve's documentation leaves
// unsaid and what this package assumes in its place.
package exolve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"

	sb "github.com/switchboardhq/switchboard"
)

// Name is how messages and receipts name this provider.
const Name = sb.ProviderExolve

// DefaultBaseURL is Exolve's API.
const DefaultBaseURL = "https://api.exolve.ru"

// defaultTimeout bounds one call when the caller supplies no client.
const defaultTimeout = 15 * time.Second

// maxResponse caps how much of an answer is read: Exolve's answers are a
// few hundred bytes, and an error page must not fill memory.
const maxResponse = 1 << 20

// Credentials are what an account pastes in to connect Exolve: the API key
// of an application created in Exolve's personal cabinet.
type Credentials struct {
	APIKey string `json:"api_key"`
}

// Validate reports a missing or malformed API key.
func (c Credentials) Validate() error {
	var fields []sb.FieldError
	switch {
	case c.APIKey == "":
		fields = append(fields, sb.FieldError{Field: "credentials.api_key", Message: "is required"})
	case strings.ContainsFunc(c.APIKey, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		// A pasted "Bearer …" or a trailing newline would corrupt the
		// Authorization header.
		fields = append(fields, sb.FieldError{Field: "credentials.api_key", Message: "must be the key alone, without spaces or line breaks"})
	}
	if len(fields) > 0 {
		return sb.Invalid(fields...)
	}
	return nil
}

// Hint is a masked view of the credentials for display: at most the last
// four characters of the key, and none of a key too short to spare them.
func (c Credentials) Hint() map[string]string {
	return map[string]string{"api_key": mask(c.APIKey)}
}

// mask hides a secret but its last four characters, when it is long enough
// (16 characters or more) that four say little about the rest.
func mask(secret string) string {
	if secret == "" {
		return ""
	}
	r := []rune(secret)
	if len(r) < 16 {
		return "****"
	}
	return "****" + string(r[len(r)-4:])
}

// Options tune the client; the zero value talks to the real Exolve.
type Options struct {
	BaseURL    string       // "" = DefaultBaseURL; tests point it at an httptest server
	HTTPClient *http.Client // nil = a client with a 15 s timeout
}

// Client talks to Exolve with one application's API key.
type Client struct {
	creds   Credentials
	baseURL string
	http    *http.Client
}

// New returns a client for creds. It does not call Exolve: Verify does.
func New(creds Credentials, opts Options) *Client {
	base := strings.TrimRight(opts.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: defaultTimeout}
	}
	return &Client{creds: creds, baseURL: base, http: hc}
}

// call POSTs in as JSON to messaging/v1/<method> and decodes a 2xx answer
// into out. It returns an *apiError for a non-2xx answer, a *badResponse
// for a 2xx answer it cannot decode, and a wrapped transport error
// otherwise. No error carries the API key: it travels only in the header.
func (c *Client) call(ctx context.Context, method string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("exolve %s: encode request: %w", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+"/messaging/v1/"+method, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("exolve %s: %w", method, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.creds.APIKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("exolve %s: %w", method, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("exolve %s: read answer: %w", method, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newAPIError(method, resp, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &badResponse{method: method, err: err}
	}
	return nil
}
