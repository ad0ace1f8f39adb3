// Package whatsapp connects Switchboard to Meta's WhatsApp Cloud API: it
// sends text, media and template messages through the Graph API, checks the
// credentials an account pastes in, and turns the signed webhooks Meta posts
// into inbound messages, delivery receipts and opt-outs.
//
// The package speaks only in domain terms and imports only the standard
// library; the lead's code stores the credentials, answers the GET
// subscription handshake with VerifyChallenge and enforces Meta's 24-hour
// customer-service window with IsTemplate before calling Send.
package whatsapp

import (
	"net/http"
	"strings"
	"time"

	sb "github.com/switchboardhq/switchboard"
)

// Name is how messages and receipts name this provider.
const Name = sb.ProviderWhatsAppCloud

// DefaultBaseURL is the Graph API host.
const DefaultBaseURL = "https://graph.facebook.com"

// DefaultAPIVersion is the Graph API version used when Options leave it
// empty: the version Meta's WhatsApp reference shows in its examples,
// available until July 2028.
const DefaultAPIVersion = "v25.0"

// CustomerServiceWindow is how long after a customer's last message a
// business may send free-form (non-template) messages; outside it Meta
// refuses them with error 131047 and only templates may go.
const CustomerServiceWindow = 24 * time.Hour

// defaultTimeout bounds one Graph API call when Options give no client.
const defaultTimeout = 15 * time.Second

// maxResponse caps how much of a Graph API answer is read.
const maxResponse = 1 << 20

// Options tune how a Client reaches the Graph API.
type Options struct {
	BaseURL    string       // "" = DefaultBaseURL; tests point it at an httptest server
	HTTPClient *http.Client // nil = a client with a 15 s timeout
	APIVersion string       // "" = DefaultAPIVersion
}

// Client talks to the Graph API for one WhatsApp business phone number.
type Client struct {
	creds   Credentials
	baseURL string
	version string
	http    *http.Client
}

// New returns a client for creds. It does no I/O; Verify proves the
// credentials work.
func New(creds Credentials, opts Options) *Client {
	c := &Client{
		creds:   creds,
		baseURL: strings.TrimRight(opts.BaseURL, "/"),
		version: strings.Trim(opts.APIVersion, "/"),
		http:    opts.HTTPClient,
	}
	if c.baseURL == "" {
		c.baseURL = DefaultBaseURL
	}
	if c.version == "" {
		c.version = DefaultAPIVersion
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: defaultTimeout}
	}
	return c
}

// endpoint is the URL of a Graph API node or edge under the client's
// version: endpoint(id, "messages") → {base}/{version}/{id}/messages.
func (c *Client) endpoint(parts ...string) string {
	return c.baseURL + "/" + c.version + "/" + strings.Join(parts, "/")
}

// redact removes the access token from text that came back from the
// network (error strings can echo request details), so no secret reaches
// an error or a log.
func (c *Client) redact(s string) string {
	if c.creds.AccessToken == "" {
		return s
	}
	return strings.ReplaceAll(s, c.creds.AccessToken, "[redacted]")
}
