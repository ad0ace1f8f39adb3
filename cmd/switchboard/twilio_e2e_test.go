package main

import (
	"encoding/json"
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
	"github.com/switchboardhq/switchboard/providers/twilio/twiliotest"
)

// The Twilio account the end-to-end tests connect, and its senders.
const (
	twilioE2ESID      = "AC0123456789abcdef0123456789abcdef"
	twilioE2EToken    = "f00dfeedf00dfeedf00dfeedf00d1234"
	twilioE2ENumber   = "+15017122661" // SMS
	twilioE2EWhatsApp = "+14155238886"
)

// twilioE2E is a whole Switchboard whose account has connected a Twilio
// account played by twiliotest, with a webhook endpoint subscribed to
// every event.
type twilioE2E struct {
	t       *testing.T
	s       *stack
	c       *rawClient
	fake    *twiliotest.Server
	hook    *receiver
	ch      rchannel
	created []byte // the raw answer to POST /v1/channels
}

// twilioMsg is a message with the fields these tests check besides rmsg's.
type twilioMsg struct {
	rmsg
	MediaURLs         []string `json:"media_urls"`
	ProviderMessageID *string  `json:"provider_message_id"`
	ErrorMessage      *string  `json:"error_message"`
	Attempts          int      `json:"attempts"`
	ChannelID         *string  `json:"channel_id"`
}

func newTwilioE2E(t *testing.T) *twilioE2E {
	t.Helper()
	fake := twiliotest.NewServer(twilioE2ESID, twilioE2EToken)
	t.Cleanup(fake.Close) // after the app's Close, registered below
	cfg := testConfig(t)
	cfg.ProviderBaseURLs[sb.ProviderTwilio] = fake.URL
	s := startStack(t, cfg, RoleAll)
	e := &twilioE2E{t: t, s: s, c: s.raw("twilio"), fake: fake, hook: newReceiver(t)}
	e.c.must(http.StatusCreated, "POST", "/v1/webhook-endpoints", map[string]any{"url": e.hook.srv.URL, "events": []string{"*"}}, nil)
	code, body := e.c.do("POST", "/v1/channels", map[string]any{
		"type":        "twilio",
		"credentials": map[string]string{"account_sid": twilioE2ESID, "auth_token": twilioE2EToken},
		"senders": []map[string]any{
			{"channel": "sms", "address": twilioE2ENumber, "default": true},
			{"channel": "whatsapp", "address": twilioE2EWhatsApp, "default": true},
		},
	}, &e.ch)
	if code != http.StatusCreated {
		t.Fatalf("connect twilio: %d %s", code, body)
	}
	e.created = body
	return e
}

// use makes t the test that helpers report to (a subtest, or back to the test).
func (e *twilioE2E) use(t *testing.T) { e.t, e.c.t = t, t }

func (e *twilioE2E) message(id string) twilioMsg {
	e.t.Helper()
	var m twilioMsg
	e.c.must(http.StatusOK, "GET", "/v1/messages/"+id, nil, &m)
	return m
}

// wait polls message id until it has status.
func (e *twilioE2E) wait(id, status string) twilioMsg {
	e.t.Helper()
	var m twilioMsg
	waitFor(e.t, "message "+id+" to be "+status, 20*time.Second, func() bool {
		m = e.message(id)
		return m.Status == status
	})
	return m
}

// sent waits until message id is recorded sent through the channel and
// returns the message Twilio accepted for it.
func (e *twilioE2E) sent(id string) (twilioMsg, twiliotest.Message) {
	e.t.Helper()
	return e.sentOn(id, e.ch.ID)
}

// sentOn is sent for the connected channel channelID.
func (e *twilioE2E) sentOn(id, channelID string) (twilioMsg, twiliotest.Message) {
	e.t.Helper()
	m := e.wait(id, "sent")
	if m.ProviderMessageID == nil || m.Provider != "twilio" || m.ChannelID == nil || *m.ChannelID != channelID {
		e.t.Fatalf("sent message %+v, provider id %v, channel %v (want %s)", m, twilioStr(m.ProviderMessageID), twilioStr(m.ChannelID), channelID)
	}
	tm, ok := e.fake.Message(*m.ProviderMessageID)
	if !ok {
		e.t.Fatalf("Twilio has no message %s; it accepted %+v", *m.ProviderMessageID, e.fake.Messages())
	}
	return m, tm
}

// deliver has the fake post w signed as Twilio signs it and returns the answer.
func (e *twilioE2E) deliver(w twiliotest.Webhook) *twiliotest.WebhookResponse {
	e.t.Helper()
	resp, err := e.fake.Deliver(w)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// status has Twilio post message sid's status callback; it must be taken (200).
func (e *twilioE2E) status(sid, status, errorCode string) {
	e.t.Helper()
	w, err := e.fake.StatusCallback(sid, status, errorCode)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp := e.deliver(w); resp.Status != http.StatusOK || len(resp.Body) != 0 {
		e.t.Fatalf("status callback %s: %d %q", status, resp.Status, resp.Body)
	}
}

// sendsTo returns the create requests Twilio received for address to.
func (e *twilioE2E) sendsTo(to string) []twiliotest.Request {
	var out []twiliotest.Request
	for _, r := range e.fake.Sends() {
		if r.Form.Get("To") == to {
			out = append(out, r)
		}
	}
	return out
}

// event waits for the webhook event typ about message id and returns it.
func (e *twilioE2E) event(id, typ string) received {
	e.t.Helper()
	var got received
	waitFor(e.t, typ+" for "+id, 20*time.Second, func() bool {
		for _, r := range e.hook.all() {
			if r.msg.ID == id && r.event.Type == typ {
				got = r
				return true
			}
		}
		return false
	})
	return got
}

// customer finds the customer of identity channel:address.
func (e *twilioE2E) customer(channel, address string) (rcustomer, bool) {
	e.t.Helper()
	var l rlist[rcustomer]
	e.c.must(http.StatusOK, "GET", "/v1/customers?identity="+url.QueryEscape(channel+":"+address), nil, &l)
	if len(l.Data) == 0 {
		return rcustomer{}, false
	}
	return l.Data[0], true
}

// timeline returns the messages on customer id's timeline, newest first.
func (e *twilioE2E) timeline(id string) []twilioMsg {
	e.t.Helper()
	var l rlist[struct {
		Type    string     `json:"type"`
		Message *twilioMsg `json:"message"`
	}]
	e.c.must(http.StatusOK, "GET", "/v1/customers/"+id+"/timeline?limit=100", nil, &l)
	var out []twilioMsg
	for _, entry := range l.Data {
		if entry.Type == "message" && entry.Message != nil {
			out = append(out, *entry.Message)
		}
	}
	return out
}

// unknownReceipts reads switchboard_receipts_unknown_total for Twilio
// (a process-wide counter: compare before and after).
func (e *twilioE2E) unknownReceipts() float64 {
	e.t.Helper()
	resp, err := http.Get(e.s.url + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, `switchboard_receipts_unknown_total{provider="twilio"} `); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return n
		}
	}
	return 0
}

// TestTwilioE2EConnect: connecting verifies the credentials with Twilio (an
// account fetch), never returns them, and hands back the URL to paste into
// Twilio's console; credentials Twilio refuses are a 422.
func TestTwilioE2EConnect(t *testing.T) {
	e := newTwilioE2E(t)
	ch := e.ch
	if ch.Type != "twilio" || ch.Status != "active" || ch.Name != "Switchboard Test" || len(ch.Senders) != 2 ||
		!strings.HasPrefix(ch.WebhookURL, e.s.cfg.PublicURL+"/hooks/"+ch.ID+"/") || ch.WebhookStatus != "manual" {
		t.Fatalf("channel %+v", ch)
	}
	if want := map[string]string{"account_sid": twilioE2ESID, "auth_token": "****1234"}; !maps.Equal(ch.CredentialsHint, want) {
		t.Fatalf("credentials_hint %v, want %v", ch.CredentialsHint, want)
	}
	_, got := e.c.do("GET", "/v1/channels/"+ch.ID, nil, nil)
	for _, body := range [][]byte{e.created, got} {
		// Twilio's account answer carries the auth token too: it must not leak either.
		if strings.Contains(string(body), twilioE2EToken) || strings.Contains(string(body), `"credentials"`) {
			t.Fatalf("credentials in the answer: %s", body)
		}
	}
	var acct struct {
		ProviderAccount struct {
			Name    string            `json:"name"`
			Details map[string]string `json:"details"`
		} `json:"provider_account"`
	}
	json.Unmarshal(e.created, &acct)
	if acct.ProviderAccount.Name != "Switchboard Test" || acct.ProviderAccount.Details["status"] != "active" {
		t.Fatalf("provider_account %+v", acct.ProviderAccount)
	}
	// One authenticated account fetch; Twilio has no API we call to set the
	// inbound URL, so nothing else.
	reqs := e.fake.Requests()
	if len(reqs) != 1 || reqs[0].Method != "GET" || reqs[0].Path != "/2010-04-01/Accounts/"+twilioE2ESID+".json" ||
		reqs[0].User != twilioE2ESID || reqs[0].Status != http.StatusOK {
		t.Fatalf("Twilio got %+v", reqs)
	}

	// A well-formed token Twilio refuses (401, code 20003).
	refused := map[string]any{"type": "twilio",
		"credentials": map[string]string{"account_sid": twilioE2ESID, "auth_token": strings.Repeat("0", 32)},
		"senders":     []map[string]any{{"channel": "sms", "address": "+15017122662"}}}
	e.c.problem("POST", "/v1/channels", refused, http.StatusUnprocessableEntity, "provider-refused")
	if reqs = e.fake.Requests(); len(reqs) != 2 || reqs[1].Status != http.StatusUnauthorized {
		t.Fatalf("Twilio got %+v", reqs)
	}
	// A malformed one is refused before Twilio is asked.
	malformed := map[string]any{"type": "twilio", "credentials": map[string]string{"account_sid": twilioE2ESID, "auth_token": "nope"}}
	e.c.problem("POST", "/v1/channels", malformed, http.StatusUnprocessableEntity, "validation")
	if n := len(e.fake.Requests()); n != 2 {
		t.Fatalf("Twilio got %d requests, want 2", n)
	}
	var l rlist[rchannel]
	e.c.must(http.StatusOK, "GET", "/v1/channels", nil, &l)
	if len(l.Data) != 1 || l.Data[0].ID != ch.ID {
		t.Fatalf("channels %+v", l.Data)
	}

	// An API key authenticates the REST calls instead of the auth token
	// (which still signs the webhooks); its secret is masked too.
	const keySID, keySecret = "SK0123456789abcdef0123456789abcdef", "keysecretKEYSECRET0123456789wxyz"
	e.fake.AddAPIKey(keySID, keySecret)
	var withKey rchannel
	e.c.must(http.StatusCreated, "POST", "/v1/channels", map[string]any{"type": "twilio",
		"credentials": map[string]string{"account_sid": twilioE2ESID, "auth_token": twilioE2EToken, "api_key_sid": keySID, "api_key_secret": keySecret},
		"senders":     []map[string]any{{"channel": "sms", "address": "+15017122663"}}}, &withKey)
	if withKey.CredentialsHint["api_key_sid"] != keySID || withKey.CredentialsHint["api_key_secret"] != "****wxyz" {
		t.Fatalf("credentials_hint %v", withKey.CredentialsHint)
	}
	if reqs = e.fake.Requests(); len(reqs) != 3 || reqs[2].User != keySID || reqs[2].Status != http.StatusOK {
		t.Fatalf("Twilio got %+v", reqs)
	}
	m := e.c.send(map[string]any{"channel": "sms", "from": "+15017122663", "to": "+15558675301", "text": "Sent with a key"})
	e.sentOn(m.ID, withKey.ID)
	if r := e.sendsTo("+15558675301"); len(r) != 1 || r[0].User != keySID || r[0].Form.Get("StatusCallback") != withKey.WebhookURL {
		t.Fatalf("Twilio got %+v", r)
	}
}

// TestTwilioE2ESends: SMS, MMS and WhatsApp sends reach Twilio with every
// field set as Twilio expects, StatusCallback pointing at the channel's
// webhook URL; Twilio's status callbacks move each message through our
// lifecycle and fire our webhooks.
func TestTwilioE2ESends(t *testing.T) {
	e := newTwilioE2E(t)
	// WhatsApp allows free-form messages only within 24 hours of the
	// customer's last message: Jane writes first.
	in := e.fake.InboundWhatsApp(e.ch.WebhookURL, "+15558675312", twilioE2EWhatsApp, "Hi, any news?", "Jane")
	if resp := e.deliver(in); resp.Status != http.StatusOK {
		t.Fatalf("inbound whatsapp: %d %s", resp.Status, resp.Body)
	}

	tests := []struct {
		name      string
		send      map[string]any
		form      url.Values // what Twilio must receive, StatusCallback aside
		callbacks [][2]string
		final     string
		errorCode string
		errorMsg  string
	}{
		{
			name:      "sms delivered",
			send:      map[string]any{"channel": "sms", "from": twilioE2ENumber, "to": "+15558675310", "text": "Your order has shipped"},
			form:      url.Values{"To": {"+15558675310"}, "From": {twilioE2ENumber}, "Body": {"Your order has shipped"}},
			callbacks: [][2]string{{"sent", ""}, {"delivered", ""}},
			final:     "delivered",
		},
		{
			name: "mms from the default sender, undelivered",
			send: map[string]any{"channel": "sms", "to": "+15558675311", "text": "Your receipt",
				"media_urls": []string{"https://example.com/receipt.png", "https://example.com/receipt.pdf"}},
			form: url.Values{"To": {"+15558675311"}, "From": {twilioE2ENumber}, "Body": {"Your receipt"},
				"MediaUrl": {"https://example.com/receipt.png", "https://example.com/receipt.pdf"}},
			callbacks: [][2]string{{"sent", ""}, {"undelivered", "30003"}},
			final:     "undelivered", errorCode: "30003", errorMsg: "Unreachable destination handset",
		},
		{
			name:      "whatsapp read",
			send:      map[string]any{"channel": "whatsapp", "from": twilioE2EWhatsApp, "to": "+15558675312", "text": "It arrives tomorrow"},
			form:      url.Values{"To": {"whatsapp:+15558675312"}, "From": {"whatsapp:" + twilioE2EWhatsApp}, "Body": {"It arrives tomorrow"}},
			callbacks: [][2]string{{"sent", ""}, {"delivered", ""}, {"read", ""}},
			final:     "read",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.use(t)
			m := e.c.send(tt.send)
			_, tm := e.sent(m.ID)
			reqs := e.sendsTo(tt.form.Get("To"))
			if len(reqs) != 1 {
				t.Fatalf("%d create requests, want 1", len(reqs))
			}
			r := reqs[0]
			want := url.Values{"StatusCallback": {e.ch.WebhookURL}}
			for k, v := range tt.form {
				want[k] = v
			}
			if r.Path != "/2010-04-01/Accounts/"+twilioE2ESID+"/Messages.json" || r.User != twilioE2ESID ||
				r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || !maps.EqualFunc(r.Form, want, slices.Equal[[]string]) {
				t.Fatalf("Twilio got %s as %s, form %v\nwant form %v", r.Path, r.User, r.Form, want)
			}
			if _, media := tt.send["media_urls"]; media != strings.HasPrefix(tm.Sid, "MM") {
				t.Fatalf("sid %s", tm.Sid)
			}
			// Each callback is taken before Twilio posts the next: receipts
			// posted together may be applied in any order.
			var got twilioMsg
			for _, cb := range tt.callbacks {
				e.status(tm.Sid, cb[0], cb[1])
				got = e.wait(m.ID, cb[0])
			}
			if got.Attempts != 1 || (tt.errorCode != "" && (got.ErrorCode == nil || *got.ErrorCode != tt.errorCode ||
				got.ErrorMessage == nil || *got.ErrorMessage != tt.errorMsg)) {
				t.Fatalf("message %+v error %q %q", got, twilioStr(got.ErrorCode), twilioStr(got.ErrorMessage))
			}
			ev := e.event(m.ID, "message."+tt.final)
			if ev.msg.CustomerID == nil || *ev.msg.CustomerID != m.CustomerID || m.CustomerID == "" ||
				ev.msg.ConversationID == nil || *ev.msg.ConversationID != m.ConversationID || m.ConversationID == "" {
				t.Fatalf("%s event %+v, want customer %s conversation %s", ev.event.Type, ev.msg, m.CustomerID, m.ConversationID)
			}
			if tt.final == "read" {
				e.event(m.ID, "message.delivered")
			}
		})
	}

	// A status callback for a message we do not know (sent before the
	// channel was connected, say) is acknowledged, so Twilio stops
	// retrying, and counted.
	e.use(t)
	unknown, err := e.fake.StatusCallback(e.fake.Messages()[0].Sid, "delivered", "")
	if err != nil {
		t.Fatal(err)
	}
	unknown.Params.Set("MessageSid", "SM00000000000000000000000000000000")
	unknown.Params.Set("SmsSid", "SM00000000000000000000000000000000")
	before := e.unknownReceipts()
	if resp := e.deliver(unknown); resp.Status != http.StatusOK {
		t.Fatalf("unknown status callback: %d %s", resp.Status, resp.Body)
	}
	waitFor(t, "the unknown receipt to be counted", 20*time.Second, func() bool { return e.unknownReceipts() > before })

	// A free-form WhatsApp message to someone who has not written within
	// 24 hours would be refused by Twilio (63016): we refuse it first.
	e.c.problem("POST", "/v1/messages", map[string]any{"channel": "whatsapp", "from": twilioE2EWhatsApp, "to": "+15558675313", "text": "Hi"},
		http.StatusUnprocessableEntity, "validation")
	if n := len(e.sendsTo("whatsapp:+15558675313")); n != 0 {
		t.Fatalf("Twilio got %d sends outside the window", n)
	}
}

// TestTwilioE2EInbound: SMS, MMS and WhatsApp messages Twilio posts reach
// the customer's timeline, are answered with empty TwiML, and Twilio's
// retries of a webhook store nothing twice. A reply goes back through
// Twilio from the number the customer wrote to.
func TestTwilioE2EInbound(t *testing.T) {
	e := newTwilioE2E(t)
	tests := []struct {
		name     string
		w        twiliotest.Webhook
		channel  string
		from, to string
		text     string
		media    []string
	}{
		{name: "sms", w: e.fake.InboundSMS(e.ch.WebhookURL, "+15558675320", twilioE2ENumber, "Where is my parcel?"),
			channel: "sms", from: "+15558675320", to: twilioE2ENumber, text: "Where is my parcel?"},
		{name: "mms", w: e.fake.InboundSMS(e.ch.WebhookURL, "+15558675321", twilioE2ENumber, "Look at this", "https://api.twilio.com/2010-04-01/Accounts/"+twilioE2ESID+"/Messages/MM1/Media/ME1"),
			channel: "sms", from: "+15558675321", to: twilioE2ENumber, text: "Look at this",
			media: []string{"https://api.twilio.com/2010-04-01/Accounts/" + twilioE2ESID + "/Messages/MM1/Media/ME1"}},
		{name: "whatsapp", w: e.fake.InboundWhatsApp(e.ch.WebhookURL, "+15558675322", twilioE2EWhatsApp, "Hello from WhatsApp", "Jane Doe"),
			channel: "whatsapp", from: "+15558675322", to: twilioE2EWhatsApp, text: "Hello from WhatsApp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.use(t)
			for try := range 2 { // Twilio retries a webhook it thinks failed
				resp := e.deliver(tt.w)
				if resp.Status != http.StatusOK || !strings.HasPrefix(resp.ContentType, "text/xml") ||
					!strings.HasSuffix(string(resp.Body), "<Response></Response>") {
					t.Fatalf("delivery %d: %d %s %q", try, resp.Status, resp.ContentType, resp.Body)
				}
				cust, ok := e.customer(tt.channel, tt.from)
				if !ok {
					t.Fatalf("no customer %s:%s", tt.channel, tt.from)
				}
				msgs := e.timeline(cust.ID)
				if len(msgs) != 1 {
					t.Fatalf("delivery %d: timeline has %d messages, want 1: %+v", try, len(msgs), msgs)
				}
				m := msgs[0]
				if m.Direction != "inbound" || m.Status != "received" || m.Channel != tt.channel || m.From != tt.from || m.To != tt.to ||
					m.Text != tt.text || !slices.Equal(m.MediaURLs, tt.media) || m.Provider != "twilio" ||
					m.ProviderMessageID == nil || *m.ProviderMessageID != tt.w.Params.Get("MessageSid") || m.ChannelID == nil || *m.ChannelID != e.ch.ID {
					t.Fatalf("timeline message %+v", m)
				}
				e.event(m.ID, "message.received")
			}
		})
	}

	// STOP on a number with Twilio's Advanced Opt-Out (OptOutType) opts
	// the sender out.
	e.use(t)
	stop := e.fake.InboundSMS(e.ch.WebhookURL, "+15558675323", twilioE2ENumber, "Stop")
	stop.Params.Set("OptOutType", "STOP")
	if resp := e.deliver(stop); resp.Status != http.StatusOK {
		t.Fatalf("STOP: %d %s", resp.Status, resp.Body)
	}
	if cust, ok := e.customer("sms", "+15558675323"); !ok || len(cust.Identities) != 1 || !cust.Identities[0].OptedOut {
		t.Fatalf("after STOP: %+v", cust)
	}
	e.c.problem("POST", "/v1/messages", map[string]any{"channel": "sms", "to": "+15558675323", "text": "Hi"}, http.StatusUnprocessableEntity, "opted-out")

	// The reply to the WhatsApp message goes out through Twilio.
	cust, _ := e.customer("whatsapp", "+15558675322")
	var conv rlist[rconv]
	e.c.must(http.StatusOK, "GET", "/v1/conversations?customer_id="+cust.ID, nil, &conv)
	if len(conv.Data) != 1 {
		t.Fatalf("conversations %+v", conv.Data)
	}
	var reply rmsg
	e.c.must(http.StatusAccepted, "POST", "/v1/conversations/"+conv.Data[0].ID+"/messages", map[string]string{"text": "Hi Jane"}, &reply)
	_, tm := e.sent(reply.ID)
	if tm.To != "whatsapp:+15558675322" || tm.From != "whatsapp:"+twilioE2EWhatsApp || tm.Body != "Hi Jane" || tm.StatusCallback != e.ch.WebhookURL {
		t.Fatalf("Twilio got %+v", tm)
	}
}

// TestTwilioE2EForged: a webhook whose X-Twilio-Signature does not verify
// is refused with 403 and changes nothing.
func TestTwilioE2EForged(t *testing.T) {
	e := newTwilioE2E(t)
	in := e.fake.InboundSMS(e.ch.WebhookURL, "+15558675330", twilioE2ENumber, "Forged")
	tampered := twiliotest.Webhook{URL: in.URL, Params: url.Values{}}
	for k, v := range in.Params {
		tampered.Params[k] = v
	}
	tampered.Params.Set("Body", "Tampered")
	otherURL := twiliotest.Webhook{URL: e.s.cfg.PublicURL + "/hooks/elsewhere", Params: in.Params}
	forgeries := map[string]struct {
		w   twiliotest.Webhook
		sig string
	}{
		"another account's token":    {in, in.Signature(strings.Repeat("0", 32))},
		"no signature":               {in, ""},
		"signed for another URL":     {in, otherURL.Signature(twilioE2EToken)},
		"body changed after signing": {tampered, in.Signature(twilioE2EToken)},
	}
	for name, f := range forgeries {
		resp, err := f.w.Post(f.sig)
		if err != nil {
			t.Fatal(err)
		}
		var p struct {
			Type string `json:"type"`
		}
		json.Unmarshal(resp.Body, &p)
		if resp.Status != http.StatusForbidden || p.Type != "https://switchboard.dev/problems/forbidden" {
			t.Fatalf("%s: %d %s", name, resp.Status, resp.Body)
		}
	}
	if c, ok := e.customer("sms", "+15558675330"); ok {
		t.Fatalf("a forged inbound message created customer %+v", c)
	}

	// A forged "delivered" for a message Twilio has only sent: refused, and
	// the genuine "undelivered" that follows is what the message ends as.
	m := e.c.send(map[string]any{"channel": "sms", "to": "+15558675331", "text": "Hi"})
	_, tm := e.sent(m.ID)
	w, err := e.fake.StatusCallback(tm.Sid, "delivered", "")
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := w.Post(w.Signature(strings.Repeat("0", 32))); err != nil || resp.Status != http.StatusForbidden {
		t.Fatalf("forged status callback: %+v %v", resp, err)
	}
	if got := e.message(m.ID); got.Status != "sent" {
		t.Fatalf("after a forged callback the message is %s", got.Status)
	}
	e.status(tm.Sid, "undelivered", "30003")
	if got := e.wait(m.ID, "undelivered"); got.ErrorCode == nil || *got.ErrorCode != "30003" {
		t.Fatalf("message %+v", got)
	}
	if slices.Contains(e.hook.types(m.ID), "message.delivered") {
		t.Fatalf("events %v", e.hook.types(m.ID))
	}
}

// TestTwilioE2ERetries: Twilio's transient refusals (500, a proxy's 502,
// 429 code 20429 with Retry-After) are retried until the send goes
// through; permanent ones (21211 invalid To, 21610 unsubscribed) fail the
// message after one attempt with Twilio's code, and 21610 opts the
// recipient out.
func TestTwilioE2ERetries(t *testing.T) {
	e := newTwilioE2E(t)
	retryAfter := twiliotest.TooManyRequests
	retryAfter.RetryAfter = "1"
	transient := []struct {
		name     string
		failure  twiliotest.Failure
		n        int
		to       string
		statuses []int
	}{
		{"500 twice", twiliotest.ServerError, 2, "+15558675340", []int{500, 500, 201}},
		{"502 without Twilio's JSON", twiliotest.BadGateway, 1, "+15558675341", []int{502, 201}},
		{"429 with Retry-After", retryAfter, 1, "+15558675342", []int{429, 201}},
	}
	for _, tt := range transient {
		t.Run(tt.name, func(t *testing.T) {
			e.use(t)
			e.fake.FailNext(tt.n, tt.failure)
			m := e.c.send(map[string]any{"channel": "sms", "to": tt.to, "text": "Retried"})
			got, tm := e.sent(m.ID)
			reqs := e.sendsTo(tt.to)
			var statuses []int
			for _, r := range reqs {
				statuses = append(statuses, r.Status)
			}
			if !slices.Equal(statuses, tt.statuses) || got.Attempts != len(tt.statuses) {
				t.Fatalf("Twilio answered %v, want %v; message attempts %d", statuses, tt.statuses, got.Attempts)
			}
			if tt.failure.RetryAfter != "" {
				// A lower bound only: the retry waited at least what Twilio asked.
				if gap := reqs[1].At.Sub(reqs[0].At); gap < time.Second {
					t.Fatalf("retried after %s despite Retry-After: 1", gap)
				}
			}
			e.status(tm.Sid, "delivered", "")
			e.wait(m.ID, "delivered")
		})
	}

	permanent := []struct {
		name    string
		failure twiliotest.Failure
		to      string
		code    string
		optOut  bool
	}{
		{"21211 invalid To", twiliotest.InvalidTo, "+15558675350", "21211", false},
		{"21610 unsubscribed", twiliotest.Unsubscribed, "+15558675351", "21610", true},
	}
	for _, tt := range permanent {
		t.Run(tt.name, func(t *testing.T) {
			e.use(t)
			e.fake.FailNext(1, tt.failure)
			m := e.c.send(map[string]any{"channel": "sms", "to": tt.to, "text": "Refused"})
			got := e.wait(m.ID, "failed")
			if got.ErrorCode == nil || *got.ErrorCode != tt.code || got.Attempts != 1 || len(e.sendsTo(tt.to)) != 1 {
				t.Fatalf("message %+v error %q; Twilio got %d sends", got, twilioStr(got.ErrorCode), len(e.sendsTo(tt.to)))
			}
			e.event(m.ID, "message.failed")
			cust, ok := e.customer("sms", tt.to)
			if !ok || len(cust.Identities) != 1 || cust.Identities[0].OptedOut != tt.optOut {
				t.Fatalf("customer %+v, want opted out %v", cust, tt.optOut)
			}
			if tt.optOut {
				waitFor(t, "customer.opted_out", 20*time.Second, func() bool {
					for _, r := range e.hook.all() {
						if r.event.Type == sb.EventCustomerOptedOut && strings.Contains(string(r.event.Data), cust.ID) {
							return true
						}
					}
					return false
				})
				// Nothing more is sent to them.
				e.c.problem("POST", "/v1/messages", map[string]any{"channel": "sms", "to": tt.to, "text": "Again"},
					http.StatusUnprocessableEntity, "opted-out")
				if n := len(e.sendsTo(tt.to)); n != 1 {
					t.Fatalf("Twilio got %d sends to an opted-out number", n)
				}
			}
		})
	}
}

// twilioStr shows an optional string in a failure message.
func twilioStr(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
