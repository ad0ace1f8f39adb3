// Package whatsapptest is a fake WhatsApp Cloud API (Meta's Graph API) for
// end-to-end tests, in the manner of net/http/httptest: a running server that
// plays one WhatsApp business phone number.
//
// It answers what package whatsapp calls — GET /{version}/{phone-number-id}
// (credential check) and POST /{version}/{phone-number-id}/messages (sends) —
// with Meta's wire format, checks the bearer token and the message body the
// way the Graph API does, and records every request. Sends can be scripted to
// fail (FailNext). Like Meta, it enforces the 24-hour customer service window
// for the customers it has delivered messages from.
//
// It also plays Meta's webhook side: Subscribe performs the GET verification
// handshake against a callback URL (as Meta does when the URL is saved in the
// app dashboard), and Notify posts notifications built by Messages and
// Statuses to it, signed with X-Hub-Signature-256 under the app secret.
package whatsapptest

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Meta's documentation example values (the ones package whatsapp's fixtures
// use); NewServer starts with them.
const (
	AccessToken        = "EAAGm0PX4ZCpsBAKfakeTOKENforTESTS0000abcd"
	PhoneNumberID      = "106540352242922"
	DisplayPhoneNumber = "+1 555-078-3881" // as the phone number node shows it
	Sender             = "+15550783881"    // DisplayPhoneNumber in E.164: a channel's sender address
	VerifiedName       = "Lucky Shrub"
	WABAID             = "102290129340398"
	AppSecret          = "TEST_APP_SECRET"
)

// Server is a running fake Graph API. Change its exported fields before the
// first request.
type Server struct {
	URL string // base URL (no version): whatsapp.Options.BaseURL, SWITCHBOARD_WHATSAPP_CLOUD_API_URL

	AccessToken        string // the only bearer token accepted
	PhoneNumberID      string // the only phone number node served
	DisplayPhoneNumber string
	VerifiedName       string
	WABAID             string
	AppSecret          string // signs webhooks
	// EnforceWindow refuses free-form (non-template) sends with error 131047
	// to a customer the fake has not delivered a message from (Notify) in
	// the last 24 hours, as Meta does. NewServer turns it on.
	EnforceWindow bool

	srv     *httptest.Server
	closing chan struct{}

	mu       sync.Mutex
	requests []Request
	script   []Failure
	callback string               // the URL Subscribe verified
	wrote    map[string]time.Time // wa_id → when the customer last wrote
}

// Request is one request the fake received.
type Request struct {
	At      time.Time
	Method  string
	Path    string // as sent, version included
	Version string // "v25.0"
	Query   url.Values
	Header  http.Header
	Body    []byte
	// Message is the decoded body of a send (POST …/messages), nil for
	// other requests or a body that is not a message.
	Message *Message
	// Status is the HTTP status answered; WAMID the message id given to an
	// accepted send.
	Status int
	WAMID  string
}

// Auth is the request's bearer token ("" without one).
func (r Request) Auth() string {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return tok
}

// NewServer starts a fake serving the example phone number with the
// example credentials. Close it when done.
func NewServer() *Server {
	s := &Server{
		AccessToken: AccessToken, PhoneNumberID: PhoneNumberID, DisplayPhoneNumber: DisplayPhoneNumber,
		VerifiedName: VerifiedName, WABAID: WABAID, AppSecret: AppSecret, EnforceWindow: true,
		closing: make(chan struct{}), wrote: map[string]time.Time{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close stops the server, releasing requests held by a Hang failure.
func (s *Server) Close() {
	s.mu.Lock()
	select {
	case <-s.closing:
	default:
		close(s.closing)
	}
	s.mu.Unlock()
	s.srv.Close()
}

// Credentials are the credentials of the fake's number as an account pastes
// them into POST /v1/channels (package whatsapp's Credentials), with
// verifyToken, the token of the webhook handshake.
func (s *Server) Credentials(verifyToken string) map[string]string {
	c := map[string]string{"access_token": s.AccessToken, "phone_number_id": s.PhoneNumberID, "app_secret": s.AppSecret, "waba_id": s.WABAID}
	if verifyToken != "" {
		c["verify_token"] = verifyToken
	}
	return c
}

// FailNext makes the next n sends answer f instead of being accepted;
// scripted failures queue up in order.
func (s *Server) FailNext(n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.script = append(s.script, f)
	}
}

// Requests returns every request received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Sends returns the send attempts (POST …/messages) received so far,
// accepted or not, optionally only those to the customer to (E.164 or
// wa_id).
func (s *Server) Sends(to ...string) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.Path, "/messages") {
			continue
		}
		if len(to) > 0 && (r.Message == nil || waID(r.Message.To) != waID(to[0])) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// record appends r and returns its index.
func (s *Server) record(r Request) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r)
	return len(s.requests) - 1
}

// settle fills in the answer of request i.
func (s *Server) settle(i, status int, wamid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[i].Status, s.requests[i].WAMID = status, wamid
}

// nextFailure pops the next scripted failure, if any.
func (s *Server) nextFailure() (Failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.script) == 0 {
		return Failure{}, false
	}
	f := s.script[0]
	s.script = s.script[1:]
	return f, true
}

// inWindow reports whether the customer wa wrote in the last 24 hours.
func (s *Server) inWindow(wa string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.wrote[wa]
	return ok && time.Since(at) < 24*time.Hour
}

// waID is a phone number as WhatsApp writes it: digits only.
func waID(phone string) string {
	var b strings.Builder
	for _, r := range phone {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// newWAMID returns a fresh WhatsApp message id in Meta's shape.
func newWAMID() string {
	b := make([]byte, 24)
	rand.Read(b)
	return "wamid.HBgL" + base64.StdEncoding.EncodeToString(b)
}

// traceID is a Graph API fbtrace_id.
func traceID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
