// Package exolvetest is a fake MTS Exolve SMS API for end-to-end tests, in
// the spirit of net/http/httptest: a Server speaks the wire format package
// exolve relies on (POST /messaging/v1/SendSMS and GetCount with a Bearer
// API key), records every request, can be scripted to fail the next calls,
// and posts SMS events (delivery statuses and incoming SMS) to a webhook
// URL the way Exolve does.
//
// Exolve documents little of this (see providers/exolve/README.md); the
// shapes follow the fixtures in providers/exolve/testdata, and what is
// reconstructed is said where it is used.
package exolvetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ApplicationUUID is the application every event of the fake names.
const ApplicationUUID = "00000000-0000-4000-8000-000000000001"

// Error texts Exolve answers with (testdata/errors); Exolve has no error
// codes, so these texts are what our messages carry as their error_code.
const (
	TextBadToken                = "incorrect authorization token"
	TextDestinationNotPermitted = "destination is not permitted for delivery"
	TextAlphaNameNotActive      = "alpha name is not active"
	TextEnterAnotherNumber      = "enter another number"
)

// nextID numbers SMS across every Server of the process, so that two fakes
// never hand out the same message_id. It starts at the fixtures' id.
var nextID atomic.Uint64

func init() { nextID.Store(439166538239448535) }

// Server is a fake api.exolve.ru. Point package exolve at URL (its
// Options.BaseURL, or SWITCHBOARD_EXOLVE_API_URL).
type Server struct {
	URL    string // base URL of the fake, without a trailing slash
	APIKey string // the only application key the fake accepts

	srv *httptest.Server

	mu       sync.Mutex
	requests []Request
	script   map[string][]Reply // scripted answers by method
	sent     map[string]SendSMS // accepted SMS by message_id
}

// The API methods the fake serves, under /messaging/v1/.
const (
	SendSMSMethod  = "SendSMS"  // sends an SMS
	GetCountMethod = "GetCount" // counts the application's SMS (package exolve's Verify)
)

// Request is one call the fake received.
type Request struct {
	Method     string         // HTTP method
	Path       string         // e.g. /messaging/v1/SendSMS
	Header     http.Header    // as received
	Body       []byte         // as received
	Fields     map[string]any // Body decoded as a JSON object; nil when it is not one
	Authorized bool           // whether it carried "Bearer <APIKey>"
	Status     int            // the status the fake answered
	SMS        *SendSMS       // the decoded SendSMS body, for authorized SendSMS calls
	At         time.Time      // when it arrived
}

// SendSMS is a SendSMS body as Exolve reads it, plus the message_id the
// fake answered ("" when it refused the call).
type SendSMS struct {
	Number             string `json:"number"`      // sender: 11 digits, or an alpha name
	Destination        string `json:"destination"` // recipient: 11 digits
	Text               string `json:"text"`
	TemplateResourceID uint64 `json:"template_resource_id,omitempty"`
	MessageID          string `json:"-"`
}

// Reply is a scripted answer to one call.
type Reply struct {
	Status int
	Header http.Header
	Body   string
	// Hang makes the fake wait this long (or until the client gives up)
	// before answering; use it with a client timeout shorter than Hang.
	Hang time.Duration
}

// ServerError is a 500. Exolve documents no 5xx body; this one has the
// grpc-gateway shape package exolve also reads (code 13 is INTERNAL).
func ServerError() Reply {
	return Reply{Status: http.StatusInternalServerError, Body: `{"code": 13, "message": "internal error", "details": []}`}
}

// RateLimited is a 429 with a Retry-After hint in whole seconds. Exolve
// documents no rate limit, no 429 and no Retry-After: this is grpc-gateway's
// answer to RESOURCE_EXHAUSTED (code 8), with the standard header.
func RateLimited(retryAfter time.Duration) Reply {
	secs := int((retryAfter + time.Second - 1) / time.Second)
	return Reply{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {strconv.Itoa(secs)}},
		Body: `{"code": 8, "message": "too many requests", "details": []}`}
}

// Refused is a permanent 400 with text in the nested shape the live API
// answers (testdata/errors/error.400.nested.*.json), e.g.
// TextDestinationNotPermitted.
func Refused(text string) Reply {
	return Reply{Status: http.StatusBadRequest, Body: nestedError(text)}
}

// Hang is a call that answers nothing for d (or until the client hangs up),
// then a 500.
func Hang(d time.Duration) Reply {
	r := ServerError()
	r.Hang = d
	return r
}

// NewServer starts a fake that accepts apiKey. Close it when done.
func NewServer(apiKey string) *Server {
	s := &Server{APIKey: apiKey, script: map[string][]Reply{}, sent: map[string]SendSMS{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close shuts the fake down.
func (s *Server) Close() { s.srv.Close() }

// FailNext answers the next n calls of method (SendSMSMethod or
// GetCountMethod) with r, after the key is checked: a wrong key is still a
// 401. Replies queue up behind earlier ones.
func (s *Server) FailNext(method string, n int, r Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.script[method] = append(s.script[method], r)
	}
}

// Requests returns every request received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Sends returns the SendSMS calls made with the right key so far, in
// order, including the ones the fake failed (their MessageID is "").
func (s *Server) Sends() []SendSMS {
	var out []SendSMS
	for _, r := range s.Requests() {
		if r.SMS != nil {
			out = append(out, *r.SMS)
		}
	}
	return out
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	buf.ReadFrom(r.Body)
	req := Request{At: time.Now(), Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: buf.Bytes(),
		Authorized: r.Header.Get("Authorization") == "Bearer "+s.APIKey}
	json.Unmarshal(req.Body, &req.Fields)
	status, header, body, hang := s.answer(&req)
	req.Status = status

	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()

	if hang > 0 {
		select {
		case <-time.After(hang):
		case <-r.Context().Done():
			return
		}
	}
	for k, v := range header {
		w.Header()[k] = v
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	w.Write([]byte(body))
}

// answer decides the answer to req, recording the SMS of a SendSMS call.
func (s *Server) answer(req *Request) (status int, header http.Header, body string, hang time.Duration) {
	method, known := strings.CutPrefix(req.Path, "/messaging/v1/")
	if !known || req.Method != http.MethodPost || (method != SendSMSMethod && method != GetCountMethod) {
		// What a wrong path gets (testdata/errors/error.404.txt).
		return http.StatusNotFound, http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, "404 page not found\n", 0
	}
	if !req.Authorized {
		// testdata/errors/error.401.incorrect_token.json, the flat shape.
		return http.StatusUnauthorized, nil, `{"error": "` + TextBadToken + `"}`, 0
	}
	if req.Fields == nil {
		return http.StatusBadRequest, nil, `{"code": 3, "message": "invalid request body", "details": []}`, 0
	}
	if method == SendSMSMethod {
		var sms SendSMS
		if err := json.Unmarshal(req.Body, &sms); err != nil {
			return http.StatusBadRequest, nil, `{"code": 3, "message": ` + strconv.Quote(err.Error()) + `, "details": []}`, 0
		}
		req.SMS = &sms // recorded even when the call is scripted to fail
	}
	s.mu.Lock()
	var scripted *Reply
	if q := s.script[method]; len(q) > 0 {
		scripted, s.script[method] = &q[0], q[1:]
	}
	s.mu.Unlock()
	switch {
	case scripted != nil:
		return scripted.Status, scripted.Header, scripted.Body, scripted.Hang
	case method == GetCountMethod:
		s.mu.Lock()
		n := len(s.sent)
		s.mu.Unlock()
		// testdata/sms/get_count.response.json: the count as a string.
		return http.StatusOK, nil, `{"count": "` + strconv.Itoa(n) + `"}`, 0
	case !digits(req.SMS.Destination) || !(digits(req.SMS.Number) || alphaName(req.SMS.Number)):
		// Exolve takes bare digits (no "+") and alpha names; which text it
		// answers for a malformed number is not documented: the fixtures'
		// flat "enter another number" is the closest.
		return http.StatusBadRequest, nil, `{"error": "` + TextEnterAnotherNumber + `"}`, 0
	}
	sms := req.SMS
	sms.MessageID = strconv.FormatUint(nextID.Add(1), 10)
	s.mu.Lock()
	s.sent[sms.MessageID] = *sms
	s.mu.Unlock()
	// testdata/sms/send_sms.response.json: the id as a string.
	return http.StatusOK, nil, `{"message_id": "` + sms.MessageID + `"}`, 0
}

func nestedError(text string) string {
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"message": text}})
	return string(b)
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// alphaName is a plausible sender name: up to 11 Latin letters, digits and
// a few signs, with at least one letter.
func alphaName(s string) bool {
	letter := false
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
			letter = true
		case r >= '0' && r <= '9', r == '-', r == '.', r == '_', r == ' ':
		default:
			return false
		}
	}
	return letter && len(s) <= 11
}

// Event is an SMS event as Exolve POSTs it to a number's "URL for SMS
// events" (testdata/webhooks; Exolve publishes no example, so the shape is
// reconstructed). There is no event type: direction and the three status
// fields tell events apart. Change fields freely before posting.
type Event struct {
	MessageID       string `json:"message_id"`
	ApplicationUUID string `json:"application_uuid"`
	Date            string `json:"date"`
	Number          string `json:"number"`   // our number or alpha name
	Sender          string `json:"sender"`   // digits, or an alpha name
	Receiver        string `json:"receiver"` // digits
	Text            string `json:"text"`
	Direction       string `json:"direction"`
	SegmentsCount   int    `json:"segments_count"`
	BillingStatus   string `json:"billing_status,omitempty"`
	DeliveryStatus  string `json:"delivery_status,omitempty"`
	Status          string `json:"status,omitempty"`
}

// Outcome is where an SMS we sent has got to, as a status event reports it.
type Outcome string

const (
	Transmitted     Outcome = "transmitted"      // handed to the operator: not final
	Delivered       Outcome = "delivered"        // operator reported delivery
	Failed          Outcome = "failed"           // operator reported non-delivery
	RetriesExceeded Outcome = "retries_exceeded" // delivery attempts exhausted
	Prohibited      Outcome = "prohibited"       // sending refused
	Underfunded     Outcome = "underfunded"      // not sent: insufficient balance
)

// statuses are the billing, delivery and combined statuses of an event per
// outcome. Transmitted, Delivered, Failed and Underfunded are the fixtures';
// RetriesExceeded and Prohibited are reconstructed from the enums.
var statuses = map[Outcome][3]string{
	Transmitted:     {"BILLING_STATUS_BILLED", "DELIVERY_STATUS_TRANSMITTED", "STATUS_TRANSMITTED"},
	Delivered:       {"BILLING_STATUS_BILLED", "DELIVERY_STATUS_DELIVERED", "STATUS_DELIVERED"},
	Failed:          {"BILLING_STATUS_BILLED", "DELIVERY_STATUS_FAILED", "STATUS_FAILED"},
	RetriesExceeded: {"BILLING_STATUS_BILLED", "DELIVERY_STATUS_RETRIES_EXCEEDED", "STATUS_FAILED"},
	Prohibited:      {"", "DELIVERY_STATUS_PROHIBITED", "STATUS_PROHIBITED"},
	Underfunded:     {"BILLING_STATUS_UNDERFUNDED", "", "STATUS_UNDERFUNDED"},
}

// StatusEvent is the event Exolve posts when the SMS it answered messageID
// for reaches o. Its number, receiver and text are the SMS's; for an id the
// fake never answered they stay empty.
func (s *Server) StatusEvent(messageID string, o Outcome) Event {
	st, ok := statuses[o]
	if !ok {
		panic(fmt.Sprintf("exolvetest: unknown outcome %q", o))
	}
	s.mu.Lock()
	sms := s.sent[messageID]
	s.mu.Unlock()
	return Event{MessageID: messageID, ApplicationUUID: ApplicationUUID, Date: now(), Number: sms.Number, Sender: sms.Number,
		Receiver: sms.Destination, Text: sms.Text, Direction: "DIRECTION_OUTGOING", SegmentsCount: 1,
		BillingStatus: st[0], DeliveryStatus: st[1], Status: st[2]}
}

// IncomingEvent is the event Exolve posts when a customer's SMS from
// reaches our rented number to, under a fresh message_id. Numbers may be
// given in E.164; the event writes them as Exolve does, digits only.
func (s *Server) IncomingEvent(to, from, text string) Event {
	to, from = strings.TrimPrefix(to, "+"), strings.TrimPrefix(from, "+")
	return Event{MessageID: strconv.FormatUint(nextID.Add(1), 10), ApplicationUUID: ApplicationUUID, Date: now(),
		Number: to, Sender: from, Receiver: to, Text: text, Direction: "DIRECTION_INCOMING", SegmentsCount: 1,
		BillingStatus: "BILLING_STATUS_BILLED"}
}

func now() string { return time.Now().UTC().Format(time.RFC3339) }

// poster delivers events; Exolve's own timeout is not documented.
var poster = &http.Client{Timeout: 10 * time.Second}

// Post delivers ev to hookURL as Exolve does: a JSON POST with no
// signature (Exolve signs nothing; the secret URL is the only credential).
// It returns the status code we answered.
func (s *Server) Post(hookURL string, ev Event) (int, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return 0, err
	}
	resp, err := poster.Post(hookURL, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
