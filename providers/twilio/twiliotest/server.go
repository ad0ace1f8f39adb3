// Package twiliotest is a fake Twilio for end-to-end tests, in the manner
// of net/http/httptest: a Server that plays the parts of Twilio's REST API
// that providers/twilio calls (create a message, fetch the account), checks
// Basic auth as Twilio does, records every request, can be scripted to
// fail the next sends, and posts webhooks (status callbacks, inbound SMS,
// MMS and WhatsApp messages) signed with X-Twilio-Signature as Twilio signs
// them.
//
// Point a client at it with twilio.Options.BaseURL (or the server's
// SWITCHBOARD_TWILIO_API_URL) set to Server.URL. It uses the standard
// library only, so that it is written from Twilio's documentation and not
// from twilio-go's idea of it.
package twiliotest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// apiPrefix starts every path of the 2010-04-01 REST API.
const apiPrefix = "/2010-04-01/Accounts/"

// Server is a fake Twilio account reachable at URL. Its methods are safe
// for concurrent use.
type Server struct {
	// URL is the base URL to use instead of https://api.twilio.com.
	URL string
	// AccountSID and AuthToken are the account's credentials: REST calls
	// must authenticate with them (or with an API key added by AddAPIKey),
	// and webhooks are signed with AuthToken.
	AccountSID, AuthToken string

	srv       *httptest.Server
	closed    chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	apiKeys  map[string]string
	requests []Request
	messages []Message
	failures []Failure
	voice    voiceState // calls: voice.go
}

// Request is one REST request the fake received.
type Request struct {
	Method string
	Path   string
	// User is the Basic-auth user name (an account or API key SID).
	User   string
	Header http.Header
	// Form is the decoded form body of a POST, the query of a GET.
	Form url.Values
	// Status is what the fake answered (0: it hung until the client gave up).
	Status int
	At     time.Time
}

// Message is a message the fake accepted, as the create request named it.
type Message struct {
	Sid                 string
	To                  string // as sent, "whatsapp:" prefix included
	From                string
	MessagingServiceSid string
	Body                string
	MediaURLs           []string
	StatusCallback      string
}

// Failure is a scripted answer to a message create request.
type Failure struct {
	// Status is the HTTP status answered.
	Status int
	// Code is the Twilio error code of the JSON error body; 0 answers a
	// plain-text body instead, as a proxy in front of Twilio would.
	Code    int
	Message string
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
	// Hang answers nothing: the request is held until the client gives up
	// or the server closes. Pair it with a short client timeout.
	Hang bool
}

// Failures Twilio answers to message creation, as documented in its error
// catalogue.
var (
	ServerError     = Failure{Status: http.StatusInternalServerError, Code: 20500, Message: "Internal Server Error"}
	BadGateway      = Failure{Status: http.StatusBadGateway} // no Twilio JSON: a proxy's answer
	TooManyRequests = Failure{Status: http.StatusTooManyRequests, Code: 20429, Message: "Too Many Requests"}
	InvalidTo       = Failure{Status: http.StatusBadRequest, Code: 21211, Message: "The 'To' number is not a valid phone number."}
	Unsubscribed    = Failure{Status: http.StatusBadRequest, Code: 21610, Message: "Attempt to send to unsubscribed recipient"}
	Hang            = Failure{Hang: true}
)

// NewServer starts a fake Twilio account with these credentials. The
// caller must Close it.
func NewServer(accountSID, authToken string) *Server {
	s := &Server{AccountSID: accountSID, AuthToken: authToken, closed: make(chan struct{}), apiKeys: map[string]string{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close releases requests held by Hang and shuts the server down.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
	s.srv.Close()
}

// AddAPIKey lets the API key sid/secret authenticate REST calls for the
// account, as a Standard API key does.
func (s *Server) AddAPIKey(sid, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiKeys[sid] = secret
}

// FailNext answers the next n message create requests with f; failures
// scripted earlier are answered first.
func (s *Server) FailNext(n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, f)
	}
}

// Requests returns every request received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Sends returns the message create requests received, accepted or not:
// one per attempt.
func (s *Server) Sends() []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/Messages.json") {
			out = append(out, r)
		}
	}
	return out
}

// Messages returns the messages accepted, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Message returns the accepted message sid.
func (s *Server) Message(sid string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.messages {
		if m.Sid == sid {
			return m, true
		}
	}
	return Message{}, false
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form := r.URL.Query()
	if r.Method == http.MethodPost {
		form, _ = url.ParseQuery(string(body))
	}
	user, pass, _ := r.BasicAuth()
	rec := Request{Method: r.Method, Path: r.URL.Path, User: user, Header: r.Header.Clone(), Form: form, At: time.Now()}
	// Recorded before it is answered, so that a hanging request counts.
	s.mu.Lock()
	i := len(s.requests)
	s.requests = append(s.requests, rec)
	s.mu.Unlock()
	status := s.answer(w, r, rec, pass)
	s.mu.Lock()
	s.requests[i].Status = status
	s.mu.Unlock()
}

// answer serves one request and returns the status it answered.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, rec Request, pass string) int {
	if !s.authenticated(rec.User, pass) {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		return writeError(w, http.StatusUnauthorized, 20003, "Authenticate")
	}
	rest, ok := strings.CutPrefix(r.URL.Path, apiPrefix)
	switch {
	case ok && r.Method == http.MethodGet && rest == s.AccountSID+".json":
		return s.fetchAccount(w)
	case ok && r.Method == http.MethodPost && rest == s.AccountSID+"/Messages.json":
		return s.createMessage(w, r, rec.Form)
	case ok && r.Method == http.MethodPost && rest == s.AccountSID+"/Calls.json":
		return s.createCall(w, r, rec.Form)
	case ok && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		if status, found := s.callPath(w, r, rest, rec.Form); found {
			return status
		}
	}
	return writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
}

func (s *Server) authenticated(user, pass string) bool {
	if user == s.AccountSID {
		return pass == s.AuthToken
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	secret, ok := s.apiKeys[user]
	return ok && pass == secret
}

// fetchAccount answers GET /2010-04-01/Accounts/{Sid}.json. As the real
// one, the answer carries the account's auth token.
func (s *Server) fetchAccount(w http.ResponseWriter) int {
	return writeJSON(w, http.StatusOK, map[string]any{
		"auth_token":        s.AuthToken,
		"date_created":      "Thu, 30 Jul 2015 20:00:00 +0000",
		"date_updated":      "Thu, 30 Jul 2015 20:00:00 +0000",
		"friendly_name":     "Switchboard Test",
		"owner_account_sid": s.AccountSID,
		"sid":               s.AccountSID,
		"status":            "active",
		"type":              "Full",
		"uri":               apiPrefix + s.AccountSID + ".json",
	})
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// createMessage answers POST /2010-04-01/Accounts/{Sid}/Messages.json: a
// scripted failure if one is due, Twilio's validation errors, or 201 with
// the new message resource.
func (s *Server) createMessage(w http.ResponseWriter, r *http.Request, form url.Values) int {
	s.mu.Lock()
	var f *Failure
	if len(s.failures) > 0 {
		f = &s.failures[0]
		s.failures = s.failures[1:]
	}
	s.mu.Unlock()
	if f != nil {
		return s.fail(w, r, *f)
	}
	to, from, svc := form.Get("To"), form.Get("From"), form.Get("MessagingServiceSid")
	switch {
	case to == "":
		return writeError(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.")
	case !e164.MatchString(strings.TrimPrefix(to, "whatsapp:")):
		return writeError(w, http.StatusBadRequest, 21211, "Invalid 'To' Phone Number: "+to)
	case from == "" && svc == "":
		return writeError(w, http.StatusBadRequest, 21603, "A 'From' phone number is required.")
	case form.Get("Body") == "" && len(form["MediaUrl"]) == 0:
		return writeError(w, http.StatusBadRequest, 21602, "Message body is required.")
	}
	prefix := "SM"
	if len(form["MediaUrl"]) > 0 {
		prefix = "MM"
	}
	m := Message{Sid: newSid(prefix), To: to, From: from, MessagingServiceSid: svc, Body: form.Get("Body"),
		MediaURLs: form["MediaUrl"], StatusCallback: form.Get("StatusCallback")}
	s.mu.Lock()
	s.messages = append(s.messages, m)
	s.mu.Unlock()
	now := time.Now().UTC().Format(time.RFC1123Z)
	uri := apiPrefix + s.AccountSID + "/Messages/" + m.Sid
	status := "queued"
	if from == "" {
		status = "accepted" // a Messaging Service picks the sender later
	}
	return writeJSON(w, http.StatusCreated, map[string]any{
		"account_sid": s.AccountSID, "api_version": "2010-04-01", "body": m.Body,
		"date_created": now, "date_sent": nil, "date_updated": now, "direction": "outbound-api",
		"error_code": nil, "error_message": nil, "from": nullable(from), "messaging_service_sid": nullable(svc),
		"num_media": strconv.Itoa(len(m.MediaURLs)), "num_segments": "1", "price": nil, "price_unit": "USD",
		"sid": m.Sid, "status": status, "to": to, "uri": uri + ".json",
		"subresource_uris": map[string]string{"media": uri + "/Media.json"},
	})
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, f Failure) int {
	if f.Hang {
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		return 0
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.Code == 0 {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(f.Status)
		io.WriteString(w, http.StatusText(f.Status))
		return f.Status
	}
	return writeError(w, f.Status, f.Code, f.Message)
}

// writeError writes Twilio's error body.
func writeError(w http.ResponseWriter, status, code int, msg string) int {
	return writeJSON(w, status, map[string]any{"code": code, "message": msg,
		"more_info": "https://www.twilio.com/docs/errors/" + strconv.Itoa(code), "status": status})
}

func writeJSON(w http.ResponseWriter, status int, v any) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
	return status
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// newSid returns a fresh SID: a two-letter prefix and 32 hex digits.
func newSid(prefix string) string {
	b := make([]byte, 16)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}
