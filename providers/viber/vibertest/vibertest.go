// Package vibertest is a fake Viber REST Bot API for end-to-end tests, in
// the manner of net/http/httptest: a Server answers get_account_info,
// set_webhook and send_message as Viber does (HTTP 200 with a JSON status),
// checks the bot's X-Viber-Auth-Token, records every request, can be
// scripted to refuse the next sends, and posts signed callbacks to the
// registered webhook the way Viber does.
//
// Like Viber, set_webhook posts a signed "webhook" event to the new URL
// before it answers and fails with status 1 (invalidUrl) unless that gets
// HTTP 200; send_message answers status 10 (webhookNotSet) until a webhook
// is set. Unlike Viber, plain http:// webhook URLs are accepted.
package vibertest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Account is what get_account_info reports about the bot.
type Account struct {
	ID          string
	Name        string
	URI         string
	Subscribers int
}

// Request is one API call the fake received.
type Request struct {
	Endpoint string      // "send_message", "set_webhook", "get_account_info", …
	Method   string      // Viber takes POST only
	Path     string      // e.g. /pa/send_message
	Header   http.Header // as received
	Body     []byte
	// Fields is the JSON body decoded with json.Number, so 64-bit numbers
	// and integer types compare exactly; nil when the body is not JSON.
	Fields map[string]any
	// The answer: HTTP status (0 while a delayed answer is pending), and
	// Viber status and message_token when it answered HTTP 200.
	HTTPStatus   int
	Status       int
	MessageToken string // send_message accepted: the token given to the message
	// Abandoned: the client gave up during a scripted Delay, and the fake
	// did not carry the request out (a real Viber might have).
	Abandoned bool
}

// Webhook is the registration the last set_webhook made.
type Webhook struct {
	URL        string
	EventTypes []string
	SendName   bool
	SendPhoto  bool
	// CheckStatus is the HTTP status the URL answered to the "webhook"
	// event set_webhook posted to it (0: no check, the webhook was removed).
	CheckStatus int
}

// Failure is how the fake answers a scripted send instead of accepting it.
// The zero Failure accepts the send; Delay alone delays the acceptance.
type Failure struct {
	HTTPStatus int    // non-zero: answer this HTTP status (a proxy, an outage)
	RetryAfter string // Retry-After header sent with HTTPStatus
	Status     int    // non-zero: HTTP 200 with this Viber status (StatusText gives its message)
	// Delay holds the answer back this long; a client that gives up first
	// gets nothing, and the request is marked Abandoned.
	Delay time.Duration
}

// Viber statuses (its API's error table).
const (
	StatusOK                     = 0
	StatusInvalidURL             = 1
	StatusInvalidAuthToken       = 2
	StatusBadData                = 3
	StatusMissingData            = 4
	StatusReceiverNotRegistered  = 5
	StatusReceiverNotSubscribed  = 6
	StatusPublicAccountBlocked   = 7
	StatusWebhookNotSet          = 10
	StatusNoSuitableDevice       = 11
	StatusTooManyRequests        = 12
	StatusAPIVersionNotSupported = 13
)

var statusText = map[int]string{
	StatusOK: "ok", StatusInvalidURL: "invalidUrl", StatusInvalidAuthToken: "invalidAuthToken",
	StatusBadData: "badData", StatusMissingData: "missingData", StatusReceiverNotRegistered: "receiverNotRegistered",
	StatusReceiverNotSubscribed: "receiverNotSubscribed", StatusPublicAccountBlocked: "publicAccountBlocked",
	StatusWebhookNotSet: "webhookNotSet", StatusNoSuitableDevice: "receiverNoSuitableDevice",
	// The docs' own example for 12 says "Too many requests", not the table's tooManyRequests.
	StatusTooManyRequests: "Too many requests", StatusAPIVersionNotSupported: "apiVersionNotSupported",
}

// StatusText is the status_message Viber gives with status.
func StatusText(status int) string {
	if s, ok := statusText[status]; ok {
		return s
	}
	return "generalError"
}

// Server is a fake Viber for one bot.
type Server struct {
	// URL is the API base URL, ending in /pa like Viber's: give it to
	// viber.Options.BaseURL or SWITCHBOARD_VIBER_API_URL.
	URL string
	// Client posts the callbacks; a 10 s timeout unless replaced.
	Client *http.Client

	token   string
	account Account
	srv     *httptest.Server
	done    chan struct{}

	mu       sync.Mutex
	requests []Request
	failures []Failure
	webhook  Webhook
	next     uint64 // the next message_token
}

// NewServer starts a fake Viber whose bot has authToken and account. Close
// it when done.
func NewServer(authToken string, account Account) *Server {
	s := &Server{token: authToken, account: account, done: make(chan struct{}),
		Client: &http.Client{Timeout: 10 * time.Second}, next: 5741311803571721087}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + "/pa"
	return s
}

// Close releases delayed answers and shuts the server down.
func (s *Server) Close() {
	close(s.done)
	s.srv.Close()
}

// FailNextSends scripts the next n send_message calls to be answered with f.
func (s *Server) FailNextSends(n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, f)
	}
}

// Requests returns the calls received so far, of endpoint only when it is
// not "".
func (s *Server) Requests(endpoint string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.requests {
		if endpoint == "" || r.Endpoint == endpoint {
			out = append(out, r)
		}
	}
	return out
}

// Sends returns the send_message calls received so far.
func (s *Server) Sends() []Request { return s.Requests("send_message") }

// Webhook returns the current webhook registration.
func (s *Server) Webhook() Webhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.webhook
	w.EventTypes = append([]string(nil), w.EventTypes...)
	return w
}

// maxBody is Viber's limit on a request's JSON.
const maxBody = 30 << 10

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	req := Request{Endpoint: strings.TrimPrefix(r.URL.Path, "/pa/"), Method: r.Method, Path: r.URL.Path,
		Header: r.Header.Clone(), Body: body}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if dec.Decode(&req.Fields) != nil {
		req.Fields = nil
	}
	// Recorded on arrival, so a request the client gave up on counts;
	// the answer is filled in once decided.
	s.mu.Lock()
	i := len(s.requests)
	s.requests = append(s.requests, req)
	s.mu.Unlock()
	rep := s.answer(r, &req)
	if rep.code == 0 {
		rep.code = http.StatusOK
	}
	req.HTTPStatus = rep.code
	if st, ok := rep.body["status"].(int); ok {
		req.Status = st
	}
	s.mu.Lock()
	s.requests[i] = req
	s.mu.Unlock()
	if rep.retryAfter != "" {
		w.Header().Set("Retry-After", rep.retryAfter)
	}
	if rep.code != http.StatusOK {
		http.Error(w, http.StatusText(rep.code), rep.code)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(rep.body)
}

// reply is the fake's answer: an HTTP status other than 200 (with a
// Retry-After), or 200 with a JSON body.
type reply struct {
	code       int // 0 = 200
	retryAfter string
	body       map[string]any
}

func (s *Server) answer(r *http.Request, req *Request) reply {
	if !strings.HasPrefix(r.URL.Path, "/pa/") {
		return reply{code: http.StatusNotFound}
	}
	if r.Method != http.MethodPost {
		return reply{code: http.StatusMethodNotAllowed}
	}
	// Legacy clients put the token in the body; the header wins.
	tok := r.Header.Get("X-Viber-Auth-Token")
	if tok == "" {
		tok, _ = req.Fields["auth_token"].(string)
	}
	switch {
	case tok == "":
		return reply{body: map[string]any{"status": StatusInvalidAuthToken, "status_message": "missing_auth_token"}}
	case tok != s.token:
		return failed(StatusInvalidAuthToken)
	case len(req.Body) > maxBody || req.Fields == nil:
		return failed(StatusBadData)
	}
	switch req.Endpoint {
	case "get_account_info":
		return reply{body: s.accountInfo()}
	case "set_webhook":
		return s.setWebhook(req.Fields)
	case "send_message":
		return s.send(r, req)
	}
	return reply{code: http.StatusNotFound}
}

func failed(status int) reply {
	return reply{body: map[string]any{"status": status, "status_message": StatusText(status)}}
}

func (s *Server) accountInfo() map[string]any {
	wh := s.Webhook()
	types := wh.EventTypes
	if types == nil {
		types = []string{}
	}
	return map[string]any{"status": StatusOK, "status_message": "ok", "id": s.account.ID, "name": s.account.Name,
		"uri": s.account.URI, "icon": "", "background": "", "category": "", "subcategory": "",
		"location": map[string]float64{"lon": 0, "lat": 0}, "country": "", "webhook": wh.URL,
		"event_types": types, "subscribers_count": s.account.Subscribers, "members": []any{}}
}

// optionalEvents are the callbacks event_types may select; message and
// webhook always come. No event_types means all of them.
var optionalEvents = []string{"delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"}

// setWebhook registers fields["url"] after checking it answers 200 to a
// signed "webhook" event; "" removes the webhook.
func (s *Server) setWebhook(fields map[string]any) reply {
	url, ok := fields["url"].(string)
	if !ok {
		return failed(StatusMissingData)
	}
	wh := Webhook{URL: url, EventTypes: optionalEvents}
	if raw, ok := fields["event_types"].([]any); ok {
		wh.EventTypes = []string{}
		for _, e := range raw {
			name, _ := e.(string)
			if !contains(optionalEvents, name) {
				return failed(StatusBadData)
			}
			wh.EventTypes = append(wh.EventTypes, name)
		}
	}
	wh.SendName, _ = fields["send_name"].(bool)
	wh.SendPhoto, _ = fields["send_photo"].(bool)
	if url != "" {
		code, err := s.PostTo(url, WebhookCheck(s.newToken()).JSON())
		if err != nil || code != http.StatusOK {
			return failed(StatusInvalidURL)
		}
		wh.CheckStatus = code
	} else {
		wh = Webhook{}
	}
	s.mu.Lock()
	s.webhook = wh
	s.mu.Unlock()
	return reply{body: map[string]any{"status": StatusOK, "status_message": "ok", "event_types": wh.EventTypes}}
}

func (s *Server) newToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	return strconv.FormatUint(s.next-1, 10)
}

// messageTypes are send_message's types and the fields each requires
// beyond receiver, type and sender.
var messageTypes = map[string][]string{
	"text": {"text"}, "picture": {"media", "text"}, "video": {"media", "size"}, "file": {"media", "size", "file_name"},
	"url": {"media"}, "location": {"location"}, "contact": {"contact"}, "sticker": {"sticker_id"}, "rich_media": {"rich_media"},
}

func (s *Server) send(r *http.Request, req *Request) reply {
	s.mu.Lock()
	var f Failure
	if len(s.failures) > 0 {
		f, s.failures = s.failures[0], s.failures[1:]
	}
	webhookSet := s.webhook.URL != ""
	s.mu.Unlock()
	if f.Delay > 0 {
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
			req.Abandoned = true
			return reply{code: http.StatusGatewayTimeout} // to no one
		case <-s.done:
			req.Abandoned = true
			return reply{code: http.StatusServiceUnavailable}
		}
	}
	switch {
	case f.HTTPStatus != 0:
		return reply{code: f.HTTPStatus, retryAfter: f.RetryAfter}
	case f.Status != 0:
		return reply{body: map[string]any{"status": f.Status, "status_message": StatusText(f.Status), "chat_hostname": "SN-CHAT-05_"}}
	case !webhookSet:
		return failed(StatusWebhookNotSet)
	}
	if st := checkMessage(req.Fields); st != StatusOK {
		return failed(st)
	}
	req.MessageToken = s.newToken()
	return reply{body: map[string]any{"status": StatusOK, "status_message": "ok",
		"message_token": json.Number(req.MessageToken), "chat_hostname": "SN-CHAT-05_", "billing_status": 1}}
}

// checkMessage applies send_message's documented rules: missing fields are
// missingData, wrong types and over-long values badData.
func checkMessage(f map[string]any) int {
	typ, _ := f["type"].(string)
	receiver, _ := f["receiver"].(string)
	snd, _ := f["sender"].(map[string]any)
	name, _ := snd["name"].(string)
	if receiver == "" || typ == "" || name == "" {
		return StatusMissingData
	}
	required, ok := messageTypes[typ]
	if !ok || utf8.RuneCountInString(name) > 28 {
		return StatusBadData
	}
	for _, k := range required {
		if _, ok := f[k]; !ok {
			return StatusMissingData
		}
	}
	text, isString := f["text"].(string)
	if _, present := f["text"]; present && !isString {
		return StatusBadData
	}
	switch {
	case typ == "text" && (text == "" || utf8.RuneCountInString(text) > 7000),
		typ == "picture" && utf8.RuneCountInString(text) > 120,
		typ == "url" && utf8.RuneCountInString(str(f["media"])) > 2000,
		utf8.RuneCountInString(str(f["tracking_data"])) > 4096:
		return StatusBadData
	}
	if v, ok := f["min_api_version"]; ok {
		n, ok := v.(json.Number)
		if !ok {
			return StatusBadData
		}
		if _, err := n.Int64(); err != nil {
			return StatusBadData
		}
	}
	return StatusOK
}

func str(v any) string { s, _ := v.(string); return s }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
