package main

import (
	"bytes"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/providers/exolve/exolvetest"
)

// MTS Exolve end to end: the whole app (PostgreSQL, Redis, API, workers)
// against exolvetest's fake api.exolve.ru, which also posts the SMS events
// Exolve would post to the channel's webhook URL.

const (
	exolveKey    = "exolve-e2e-key-0123456789abcdef" // the application's API key
	exolveNumber = "+79991112233"                    // the rented mobile number
	exolveAlpha  = "MyShop"                          // the registered alpha name
)

// exolveMsg is a message with the fields these tests look at beyond rmsg's.
type exolveMsg struct {
	rmsg
	ChannelID         *string `json:"channel_id"`
	Attempts          int     `json:"attempts"`
	ProviderMessageID *string `json:"provider_message_id"`
	ErrorMessage      *string `json:"error_message"`
}

// exolveEnv is a stack wired to a fake Exolve, and an account on it.
type exolveEnv struct {
	t    *testing.T
	s    *stack
	c    *rawClient
	fake *exolvetest.Server
}

// exolveStart starts the fake and a stack pointed at it; tune adjusts the
// stack's configuration first.
func exolveStart(t *testing.T, tune ...func(*Config)) *exolveEnv {
	t.Helper()
	fake := exolvetest.NewServer(exolveKey)
	t.Cleanup(fake.Close)
	cfg := testConfig(t)
	cfg.ProviderBaseURLs[sb.ProviderExolve] = fake.URL
	for _, f := range tune {
		f(&cfg)
	}
	s := startStack(t, cfg, RoleAll)
	return &exolveEnv{t: t, s: s, c: s.raw("exolve"), fake: fake}
}

// exolveChannel is what POST /v1/channels answers.
type exolveChannel struct {
	rchannel
	Account *sb.ProviderAccount `json:"provider_account"`
}

func exolveConnectBody(key string) map[string]any {
	return map[string]any{"type": "exolve", "credentials": map[string]string{"api_key": key},
		"senders": []map[string]any{{"channel": "sms", "address": "+7 999 111-22-33", "default": true}, {"channel": "sms", "address": exolveAlpha}}}
}

// connect connects the fake's application with the rented number and the
// alpha name as senders.
func (e *exolveEnv) connect() exolveChannel {
	e.t.Helper()
	var ch exolveChannel
	e.c.must(http.StatusCreated, "POST", "/v1/channels", exolveConnectBody(exolveKey), &ch)
	return ch
}

// subscribe points a webhook endpoint for every event at a new receiver.
func (e *exolveEnv) subscribe() *receiver {
	e.t.Helper()
	rcv := newReceiver(e.t)
	e.c.must(http.StatusCreated, "POST", "/v1/webhook-endpoints", map[string]any{"url": rcv.srv.URL, "events": []string{"*"}}, nil)
	return rcv
}

func (e *exolveEnv) message(id string) exolveMsg {
	e.t.Helper()
	var m exolveMsg
	e.c.must(http.StatusOK, "GET", "/v1/messages/"+id, nil, &m)
	return m
}

// wait polls message id until it has status want.
func (e *exolveEnv) wait(id, want string) exolveMsg {
	e.t.Helper()
	var m exolveMsg
	waitFor(e.t, "message "+id+" "+want, 20*time.Second, func() bool {
		m = e.message(id)
		return m.Status == want
	})
	return m
}

// sendsTo is every SendSMS call the fake got for destination (E.164).
func (e *exolveEnv) sendsTo(destination string) []exolvetest.SendSMS {
	var out []exolvetest.SendSMS
	for _, s := range e.fake.Sends() {
		if s.Destination == strings.TrimPrefix(destination, "+") {
			out = append(out, s)
		}
	}
	return out
}

// post has the fake deliver ev to url and fails unless we answer want.
func (e *exolveEnv) post(url string, ev exolvetest.Event, want int) {
	e.t.Helper()
	code, err := e.fake.Post(url, ev)
	if err != nil || code != want {
		e.t.Fatalf("event %s (%s %s) to %s: %d %v, want %d", ev.MessageID, ev.Direction, ev.DeliveryStatus+ev.Status, url, code, err, want)
	}
}

// customers finds the customers holding the sms identity address.
func (e *exolveEnv) customers(address string) []rcustomer {
	e.t.Helper()
	var l rlist[rcustomer]
	e.c.must(http.StatusOK, "GET", "/v1/customers?identity="+url.QueryEscape("sms:"+address), nil, &l)
	return l.Data
}

// timeline is the messages on customer id's timeline.
func (e *exolveEnv) timeline(id string) []exolveMsg {
	e.t.Helper()
	var l rlist[struct {
		Type    string     `json:"type"`
		Message *exolveMsg `json:"message"`
	}]
	e.c.must(http.StatusOK, "GET", "/v1/customers/"+id+"/timeline?limit=100", nil, &l)
	var out []exolveMsg
	for _, x := range l.Data {
		if x.Type == "message" && x.Message != nil {
			out = append(out, *x.Message)
		}
	}
	return out
}

// TestExolveE2EConnect: connecting proves the key with GetCount; a key
// Exolve answers 401 for is 422 provider-refused; the key is never shown
// back; Exolve has no API for its SMS-event URL, so nothing is registered
// and the channel's webhook is "manual" (the URL is pasted by hand).
func TestExolveE2EConnect(t *testing.T) {
	e := exolveStart(t)

	e.c.problem("POST", "/v1/channels", exolveConnectBody("wrong-key-0123456789abcdef"), http.StatusUnprocessableEntity, "provider-refused")
	reqs := e.fake.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/messaging/v1/GetCount" || reqs[0].Authorized || reqs[0].Status != http.StatusUnauthorized ||
		reqs[0].Header.Get("Authorization") != "Bearer wrong-key-0123456789abcdef" {
		t.Fatalf("Exolve got %+v, want one refused GetCount", reqs)
	}
	// A pasted "Bearer …" never reaches Exolve.
	e.c.problem("POST", "/v1/channels", exolveConnectBody("Bearer "+exolveKey), http.StatusUnprocessableEntity, "validation")
	if n := len(e.fake.Requests()); n != 1 {
		t.Fatalf("Exolve got %d requests, want still 1", n)
	}
	// Exolve failing the check is not a refusal of the key: nothing is
	// stored, and the answer is a 5xx (the outage is not the caller's fault).
	e.fake.FailNext(exolvetest.GetCountMethod, 1, exolvetest.ServerError())
	if code, b := e.c.do("POST", "/v1/channels", exolveConnectBody(exolveKey), nil); code < 500 {
		t.Fatalf("connect while Exolve answers 500: %d %s, want a 5xx", code, b)
	}
	var none rlist[rchannel]
	if e.c.must(http.StatusOK, "GET", "/v1/channels", nil, &none); len(none.Data) != 0 {
		t.Fatalf("channels were stored: %+v", none.Data)
	}

	var ch exolveChannel
	code, body := e.c.do("POST", "/v1/channels", exolveConnectBody(exolveKey), &ch)
	if code != http.StatusCreated {
		t.Fatalf("connect: %d %s", code, body)
	}
	if bytes.Contains(body, []byte(exolveKey)) || !maps.Equal(ch.CredentialsHint, map[string]string{"api_key": "****cdef"}) {
		t.Fatalf("connect answered %s", body)
	}
	if ch.Type != "exolve" || ch.Name != "MTS Exolve application" || ch.WebhookStatus != "manual" ||
		!strings.HasPrefix(ch.WebhookURL, e.s.cfg.PublicURL+"/hooks/"+ch.ID+"/") || len(ch.WebhookURL) < len(e.s.cfg.PublicURL+"/hooks/"+ch.ID+"/")+16 {
		t.Fatalf("channel %+v", ch)
	}
	if len(ch.Senders) != 2 || ch.Senders[0].Address != exolveNumber || !ch.Senders[0].Default || ch.Senders[1].Address != exolveAlpha {
		t.Fatalf("senders %+v", ch.Senders)
	}
	if ch.Account == nil || ch.Account.Details["api_key"] != "****cdef" || ch.Account.Details["sms_count"] != "0" {
		t.Fatalf("provider_account %+v", ch.Account)
	}
	// Verify is GetCount with an empty filter and the Bearer key, and it is
	// the only call: there is nothing to register.
	reqs = e.fake.Requests()[2:]
	if len(reqs) != 1 || reqs[0].Method != "POST" || reqs[0].Path != "/messaging/v1/GetCount" || !reqs[0].Authorized ||
		reqs[0].Header.Get("Content-Type") != "application/json" || len(reqs[0].Fields) != 0 || reqs[0].Fields == nil {
		t.Fatalf("Exolve got %+v, want one GetCount {}", reqs)
	}
	if _, b := e.c.do("GET", "/v1/channels/"+ch.ID, nil, nil); bytes.Contains(b, []byte(exolveKey)) {
		t.Fatalf("GET channel shows the key: %s", b)
	}
}

// TestExolveE2ESendDelivered: a message from the rented number goes out
// through SendSMS (bearer key; number and destination as bare digits),
// Exolve's "delivered" SMS event makes it delivered, and our webhook says
// so with its customer and conversation.
func TestExolveE2ESendDelivered(t *testing.T) {
	e := exolveStart(t)
	rcv := e.subscribe()
	ch := e.connect()

	sent := e.c.send(map[string]any{"channel": "sms", "from": exolveNumber, "to": "+7 999 222-33-44", "text": "Код подтверждения: 1234"})
	m := e.wait(sent.ID, "sent")
	sends := e.sendsTo("+79992223344")
	if len(sends) != 1 {
		t.Fatalf("Exolve got %+v, want one SMS", sends)
	}
	want := exolvetest.SendSMS{Number: "79991112233", Destination: "79992223344", Text: "Код подтверждения: 1234", MessageID: sends[0].MessageID}
	if sends[0] != want || want.MessageID == "" {
		t.Fatalf("Exolve got %+v, want %+v", sends[0], want)
	}
	for _, r := range e.fake.Requests() {
		if r.SMS == nil {
			continue
		}
		if r.Header.Get("Authorization") != "Bearer "+exolveKey || r.Header.Get("Content-Type") != "application/json" ||
			!slices.Equal(slices.Sorted(maps.Keys(r.Fields)), []string{"destination", "number", "text"}) {
			t.Fatalf("SendSMS request %+v", r)
		}
	}
	if m.Provider != "exolve" || m.ChannelID == nil || *m.ChannelID != ch.ID || m.ProviderMessageID == nil || *m.ProviderMessageID != want.MessageID ||
		m.Attempts != 1 || m.CustomerID == "" || m.ConversationID == "" {
		t.Fatalf("sent message %+v", m)
	}

	// "Transmitted" is not final: no receipt (the events below show no
	// status between sent and delivered).
	e.post(ch.WebhookURL, e.fake.StatusEvent(want.MessageID, exolvetest.Transmitted), http.StatusOK)
	e.post(ch.WebhookURL, e.fake.StatusEvent(want.MessageID, exolvetest.Delivered), http.StatusOK)
	e.wait(sent.ID, "delivered")
	// Exolve retrying the event, or a late failure, changes nothing
	// (checked at the end).
	e.post(ch.WebhookURL, e.fake.StatusEvent(want.MessageID, exolvetest.Delivered), http.StatusOK)
	e.post(ch.WebhookURL, e.fake.StatusEvent(want.MessageID, exolvetest.Failed), http.StatusOK)

	waitFor(t, "message.delivered webhook", 10*time.Second, func() bool {
		for _, g := range rcv.all() {
			if g.event.Type == "message.delivered" && g.msg.ID == sent.ID {
				if g.msg.CustomerID == nil || *g.msg.CustomerID != m.CustomerID || g.msg.ConversationID == nil || *g.msg.ConversationID != m.ConversationID {
					t.Fatalf("message.delivered carries customer %v conversation %v, want %s %s", g.msg.CustomerID, g.msg.ConversationID, m.CustomerID, m.ConversationID)
				}
				return true
			}
		}
		return false
	})
	var events rlist[struct {
		Status string `json:"status"`
	}]
	e.c.must(http.StatusOK, "GET", "/v1/messages/"+sent.ID+"/events", nil, &events)
	var statuses []string
	for _, ev := range events.Data {
		statuses = append(statuses, ev.Status)
	}
	if !slices.Equal(statuses, []string{"accepted", "queued", "sending", "sent", "delivered"}) {
		t.Fatalf("events %v", statuses)
	}
	if got := e.message(sent.ID); got.Status != "delivered" || got.ErrorCode != nil {
		t.Fatalf("after the late events: %+v", got)
	}

	// Without "from", the channel's default sender, the rented number, sends.
	byDefault := e.c.send(map[string]any{"channel": "sms", "to": "+79992223355", "text": "hi"})
	e.wait(byDefault.ID, "sent")
	if sends := e.sendsTo("+79992223355"); len(sends) != 1 || sends[0].Number != "79991112233" {
		t.Fatalf("Exolve got %+v, want one SMS from the rented number", sends)
	}
}

// TestExolveE2EStatuses: messages from the alpha name go out with it as
// SendSMS's number, and each final Exolve status maps onto ours
// (providers/exolve/README.md): delivered → delivered; the operator's
// failures → undelivered; an SMS that never went out → failed, with the
// Exolve status as the error code. An event for an SMS we do not know is
// acknowledged.
func TestExolveE2EStatuses(t *testing.T) {
	e := exolveStart(t)
	rcv := e.subscribe()
	ch := e.connect()
	tests := []struct {
		outcome exolvetest.Outcome
		to      string
		status  string
		code    string // "" = none
	}{
		{exolvetest.Delivered, "+79992220001", "delivered", ""},
		{exolvetest.Failed, "+79992220002", "undelivered", "DELIVERY_STATUS_FAILED"},
		{exolvetest.RetriesExceeded, "+79992220003", "undelivered", "DELIVERY_STATUS_RETRIES_EXCEEDED"},
		{exolvetest.Prohibited, "+79992220004", "failed", "DELIVERY_STATUS_PROHIBITED"},
		{exolvetest.Underfunded, "+79992220005", "failed", "STATUS_UNDERFUNDED"},
	}
	for _, tt := range tests {
		t.Run(string(tt.outcome), func(t *testing.T) {
			sent := e.c.send(map[string]any{"channel": "sms", "from": exolveAlpha, "to": tt.to, "text": "Ваш заказ готов к выдаче"})
			e.wait(sent.ID, "sent")
			sends := e.sendsTo(tt.to)
			if len(sends) != 1 || sends[0].Number != exolveAlpha || sends[0].Text != "Ваш заказ готов к выдаче" {
				t.Fatalf("Exolve got %+v, want one SMS from %s", sends, exolveAlpha)
			}
			e.post(ch.WebhookURL, e.fake.StatusEvent(sends[0].MessageID, tt.outcome), http.StatusOK)
			m := e.wait(sent.ID, tt.status)
			if got := exolveStr(m.ErrorCode); got != tt.code || (tt.code != "") != (exolveStr(m.ErrorMessage) != "") {
				t.Fatalf("message %+v error %q %q, want code %q", m, got, exolveStr(m.ErrorMessage), tt.code)
			}
			waitFor(t, "message."+tt.status+" webhook", 10*time.Second, func() bool { return contains(rcv.types(sent.ID), "message."+tt.status) })
		})
	}
	// A status of an SMS we never sent is acknowledged (Exolve would retry
	// it otherwise) and counted.
	before := e.unknownReceipts()
	e.post(ch.WebhookURL, e.fake.StatusEvent("999999999999999999", exolvetest.Delivered), http.StatusOK)
	waitFor(t, "the unknown receipt counted", 10*time.Second, func() bool { return e.unknownReceipts() > before })
}

// unknownReceipts reads the process's count of Exolve receipts for
// messages we do not know.
func (e *exolveEnv) unknownReceipts() float64 {
	e.t.Helper()
	resp, err := http.Get(e.s.url + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, `switchboard_receipts_unknown_total{provider="exolve"} `); ok {
			n, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return n
		}
	}
	return 0
}

// TestExolveE2EInbound: an SMS to the rented number reaches the sender's
// customer timeline; Exolve posting it again (before and after billing, or
// retrying) stores nothing new.
func TestExolveE2EInbound(t *testing.T) {
	e := exolveStart(t)
	rcv := e.subscribe()
	ch := e.connect()
	const from = "+79995556677"

	ev := e.fake.IncomingEvent(exolveNumber, from, "Да, подтверждаю")
	prebilled := ev
	prebilled.BillingStatus = "BILLING_STATUS_PREBILLED"
	e.post(ch.WebhookURL, prebilled, http.StatusOK)
	if cs := e.customers(from); len(cs) != 0 {
		t.Fatalf("a pre-billing event made customers %+v", cs)
	}
	e.post(ch.WebhookURL, ev, http.StatusOK)
	cs := e.customers(from)
	if len(cs) != 1 {
		t.Fatalf("customers for %s: %+v", from, cs)
	}
	tl := e.timeline(cs[0].ID)
	if len(tl) != 1 {
		t.Fatalf("timeline %+v, want one message", tl)
	}
	m := tl[0]
	if m.Direction != "inbound" || m.Channel != "sms" || m.From != from || m.To != exolveNumber || m.Text != "Да, подтверждаю" ||
		m.Provider != "exolve" || m.Status != "received" || exolveStr(m.ProviderMessageID) != ev.MessageID || exolveStr(m.ChannelID) != ch.ID {
		t.Fatalf("inbound message %+v", m)
	}
	e.post(ch.WebhookURL, ev, http.StatusOK)
	if tl := e.timeline(cs[0].ID); len(tl) != 1 {
		t.Fatalf("after the repeated event the timeline has %d messages", len(tl))
	}
	waitFor(t, "message.received webhook", 10*time.Second, func() bool { return contains(rcv.types(m.ID), "message.received") })
	if n := len(rcv.types(m.ID)); n != 1 {
		t.Fatalf("%d webhooks for the inbound message, want 1", n)
	}
}

// TestExolveE2EWrongSecret: Exolve signs nothing (no signature header, no
// source addresses), so the channel's unguessable URL is the only
// credential. A wrong secret or channel id answers 404, exactly like an
// unknown URL, and stores nothing. There is no 403 case for Exolve: with
// no signature to check, nothing that reaches the right URL is "forged".
func TestExolveE2EWrongSecret(t *testing.T) {
	e := exolveStart(t)
	ch := e.connect()
	sent := e.c.send(map[string]any{"channel": "sms", "from": exolveNumber, "to": "+79992223344", "text": "hi"})
	e.wait(sent.ID, "sent")
	delivered := e.fake.StatusEvent(e.sendsTo("+79992223344")[0].MessageID, exolvetest.Delivered)
	incoming := e.fake.IncomingEvent(exolveNumber, "+79995550001", "hello")

	base := strings.TrimSuffix(ch.WebhookURL, ch.WebhookURL[strings.LastIndex(ch.WebhookURL, "/")+1:])
	secret := strings.TrimPrefix(ch.WebhookURL, base)
	for _, u := range []string{base + "wrong-secret", ch.WebhookURL + "x", base + secret[1:],
		e.s.cfg.PublicURL + "/hooks/00000000-0000-7000-8000-000000000000/" + secret} {
		e.post(u, delivered, http.StatusNotFound)
		e.post(u, incoming, http.StatusNotFound)
	}
	if cs := e.customers("+79995550001"); len(cs) != 0 {
		t.Fatalf("an event to a wrong URL made customers %+v", cs)
	}
	if m := e.message(sent.ID); m.Status != "sent" {
		t.Fatalf("an event to a wrong URL moved the message: %+v", m)
	}
	// The same events at the right URL are taken: they were refused for the URL alone.
	e.post(ch.WebhookURL, delivered, http.StatusOK)
	e.post(ch.WebhookURL, incoming, http.StatusOK)
	e.wait(sent.ID, "delivered")
	if cs := e.customers("+79995550001"); len(cs) != 1 {
		t.Fatalf("customers %+v, want the sender", cs)
	}
}

// TestExolveE2ERetries: 500s, a 429 (with Retry-After) and a SendSMS that
// outlasts the provider timeout are retried until Exolve takes the SMS; a
// permanent refusal fails the message with Exolve's error text after one
// attempt.
func TestExolveE2ERetries(t *testing.T) {
	// A provider timeout short enough to wait out, long enough for a
	// loaded machine's ordinary sends.
	e := exolveStart(t, func(c *Config) { c.ProviderTimeout = time.Second })
	ch := e.connect()
	tests := []struct {
		name     string
		reply    exolvetest.Reply
		failures int
		to       string
	}{
		{"500", exolvetest.ServerError(), 2, "+79992230001"},
		{"429", exolvetest.RateLimited(time.Second), 1, "+79992230002"},
		{"timeout", exolvetest.Hang(time.Minute), 1, "+79992230004"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.fake.FailNext(exolvetest.SendSMSMethod, tt.failures, tt.reply)
			sent := e.c.send(map[string]any{"channel": "sms", "from": exolveNumber, "to": tt.to, "text": "retry me"})
			m := e.wait(sent.ID, "sent")
			sends := e.sendsTo(tt.to)
			if len(sends) != tt.failures+1 || m.Attempts != tt.failures+1 || sends[tt.failures].MessageID == "" || exolveStr(m.ProviderMessageID) != sends[tt.failures].MessageID {
				t.Fatalf("message %+v after Exolve got %+v, want %d attempts", m, sends, tt.failures+1)
			}
			e.post(ch.WebhookURL, e.fake.StatusEvent(sends[tt.failures].MessageID, exolvetest.Delivered), http.StatusOK)
			e.wait(sent.ID, "delivered")
		})
	}
	t.Run("permanent", func(t *testing.T) {
		const to = "+79992230003"
		e.fake.FailNext(exolvetest.SendSMSMethod, 1, exolvetest.Refused(exolvetest.TextDestinationNotPermitted))
		sent := e.c.send(map[string]any{"channel": "sms", "from": exolveNumber, "to": to, "text": "trial period"})
		m := e.wait(sent.ID, "failed")
		if exolveStr(m.ErrorCode) != exolvetest.TextDestinationNotPermitted || m.Attempts != 1 || len(e.sendsTo(to)) != 1 {
			t.Fatalf("message %+v after Exolve got %+v, want one attempt failed with %q", m, e.sendsTo(to), exolvetest.TextDestinationNotPermitted)
		}
	})
}

// exolveStr is *s, or "" for nil.
func exolveStr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
