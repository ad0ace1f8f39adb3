// Package twilio connects Switchboard to Twilio Programmable Messaging: SMS,
// MMS and WhatsApp sends through twilio-go, account verification, and the
// signed webhooks Twilio posts for inbound messages and status callbacks.
// twilio-go is imported here and nowhere else.
package twilio

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	twclient "github.com/twilio/twilio-go/client"
	twapi "github.com/twilio/twilio-go/rest/api/v2010"

	sb "github.com/switchboardhq/switchboard"
)

// Name is how messages, receipts and connected channels name this provider.
const Name = sb.ProviderTwilio

// defaultTimeout bounds one API call when Options.HTTPClient is nil.
const defaultTimeout = 15 * time.Second

// Options configures a Client.
type Options struct {
	// BaseURL replaces scheme, host and any path prefix of Twilio's API
	// (https://api.twilio.com) on every request; "" keeps the real one.
	// Tests point it at an httptest server.
	BaseURL string
	// HTTPClient makes the calls; nil means a client with a 15 s timeout.
	// Its Timeout bounds each call together with the caller's context.
	HTTPClient *http.Client
	// StatusCallbackURL is where Twilio posts status callbacks for the
	// messages we send (our hooks URL for this connected channel); omitted
	// from sends when empty.
	StatusCallbackURL string
}

// Client talks to one Twilio account. It is safe for concurrent use.
type Client struct {
	creds     Credentials
	opts      Options
	base      *url.URL // nil: the real API
	baseErr   error    // a BaseURL that does not parse, reported on each call
	validator twclient.RequestValidator
	clock     func() time.Time // nil: time.Now; tests set it
}

// New returns a client for creds. It does not validate creds (call
// Credentials.Validate first) and makes no request.
func New(creds Credentials, opts Options) *Client {
	c := &Client{creds: creds, opts: opts, validator: twclient.NewRequestValidator(creds.AuthToken)}
	if opts.BaseURL != "" {
		u, err := url.Parse(opts.BaseURL)
		switch {
		case err != nil:
			c.baseErr = fmt.Errorf("twilio: base URL: %w", err)
		case u.Scheme == "" || u.Host == "":
			c.baseErr = fmt.Errorf("twilio: base URL %q is not absolute", opts.BaseURL)
		default:
			c.base = u
		}
	}
	return c
}

// call is one SDK call's plumbing: the API service bound to the caller's
// context, and what the transport saw of the HTTP exchange, which twilio-go
// does not expose on errors (status code, Retry-After).
type call struct {
	api      *twapi.ApiService
	exchange *exchange
	cancel   context.CancelFunc
}

// exchange records the last HTTP response of a call.
type exchange struct {
	status     int
	retryAfter string
}

// newCall builds a twilio-go client for one call. twilio-go takes no
// context, so the transport attaches ctx (with the HTTP client's timeout)
// to every request it sends; building the client per call is cheap and keeps
// the exchange record private to the call.
func (c *Client) newCall(ctx context.Context) *call {
	hc := c.opts.HTTPClient
	timeout := defaultTimeout
	var rt http.RoundTripper
	var jar http.CookieJar
	if hc != nil {
		timeout, rt, jar = hc.Timeout, hc.Transport, hc.Jar
	}
	if rt == nil {
		rt = http.DefaultTransport
	}
	cancel := context.CancelFunc(func() {})
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
	}
	ex := &exchange{}
	httpClient := &http.Client{
		Transport: &transport{ctx: ctx, next: rt, base: c.base, exchange: ex},
		Jar:       jar,
		// As twilio-go's own default: an API redirect is answered, not followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	user, pass := c.creds.AccountSID, c.creds.AuthToken
	if c.creds.APIKeySID != "" {
		user, pass = c.creds.APIKeySID, c.creds.APIKeySecret
	}
	tc := &twclient.Client{Credentials: twclient.NewCredentials(user, pass), HTTPClient: httpClient}
	tc.SetAccountSid(c.creds.AccountSID)
	// A RequestHandler built by hand rather than by NewRequestHandler, which
	// reads TWILIO_EDGE and TWILIO_REGION from the environment.
	api := twapi.NewApiService(&twclient.RequestHandler{Client: tc})
	return &call{api: api, exchange: ex, cancel: cancel}
}

// transport attaches the call's context to each request, points it at
// BaseURL when one is set, and records the response's status and
// Retry-After.
type transport struct {
	ctx      context.Context
	next     http.RoundTripper
	base     *url.URL
	exchange *exchange
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(t.ctx)
	if t.base != nil {
		r.URL.Scheme = t.base.Scheme
		r.URL.Host = t.base.Host
		r.URL.Path = strings.TrimSuffix(t.base.Path, "/") + r.URL.Path
		r.URL.RawPath = ""
		r.Host = ""
	}
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	t.exchange.status = resp.StatusCode
	t.exchange.retryAfter = resp.Header.Get("Retry-After")
	return resp, nil
}
