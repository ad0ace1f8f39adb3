package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/providers/whatsapp"
	"github.com/switchboardhq/switchboard/providers/whatsapp/whatsapptest"
)

// End-to-end tests of the WhatsApp Cloud API channel: the whole app on
// PostgreSQL and Redis, Meta played by whatsapptest.

// waVerifyToken is the verify token the account chose and typed into Meta's
// webhook settings.
const waVerifyToken = "c0ffee-verify-7f3a"

// waMsg is the part of a message these tests read.
type waMsg struct {
	ID                string         `json:"id"`
	Channel           string         `json:"channel"`
	Direction         string         `json:"direction"`
	From              string         `json:"from"`
	To                string         `json:"to"`
	Text              string         `json:"text"`
	Status            string         `json:"status"`
	Provider          string         `json:"provider"`
	ProviderMessageID *string        `json:"provider_message_id"`
	ErrorCode         *string        `json:"error_code"`
	ErrorMessage      *string        `json:"error_message"`
	Attempts          int            `json:"attempts"`
	CustomerID        string         `json:"customer_id"`
	ConversationID    string         `json:"conversation_id"`
	ChannelID         *string        `json:"channel_id"`
	Metadata          map[string]any `json:"metadata"`
}

// waStack starts Switchboard with the WhatsApp Cloud API at a fake.
func waStack(t *testing.T) (*stack, *whatsapptest.Server) {
	t.Helper()
	fake := whatsapptest.NewServer()
	t.Cleanup(fake.Close) // after the app has stopped (cleanups run last first)
	cfg := testConfig(t)
	cfg.ProviderBaseURLs[sb.ProviderWhatsAppCloud] = fake.URL
	return startStack(t, cfg, RoleAll), fake
}

// waConnect connects the fake's number and saves the channel's webhook_url
// in "Meta's dashboard", which verifies it with the GET handshake first.
func waConnect(t *testing.T, c *rawClient, fake *whatsapptest.Server) rchannel {
	t.Helper()
	var ch rchannel
	c.must(http.StatusCreated, "POST", "/v1/channels", map[string]any{"type": "whatsapp_cloud", "credentials": fake.Credentials(waVerifyToken),
		"senders": []map[string]any{{"channel": "whatsapp", "address": whatsapptest.Sender, "default": true}}}, &ch)
	if err := fake.Subscribe(ch.WebhookURL, waVerifyToken); err != nil {
		t.Fatal(err)
	}
	return ch
}

// waWrites has the customer from write text to the business number; Meta
// posts it to our webhook.
func waWrites(t *testing.T, fake *whatsapptest.Server, from, text string) *whatsapptest.Inbound {
	t.Helper()
	in := &whatsapptest.Inbound{From: from, Name: "Sheena Nelson", Text: text}
	if code, err := fake.Notify(fake.Messages(in)); err != nil || code != http.StatusOK {
		t.Fatalf("inbound webhook: %d %v", code, err)
	}
	return in
}

// waStatus posts status updates the way Meta does and wants a 200.
func waStatus(t *testing.T, fake *whatsapptest.Server, sts ...whatsapptest.Status) {
	t.Helper()
	if code, err := fake.Notify(fake.Statuses(sts...)); err != nil || code != http.StatusOK {
		t.Fatalf("status webhook %+v: %d %v", sts, code, err)
	}
}

func (c *rawClient) waMessage(id string) waMsg {
	c.t.Helper()
	var m waMsg
	c.must(http.StatusOK, "GET", "/v1/messages/"+id, nil, &m)
	return m
}

// waWait polls message id until it has status want.
func (c *rawClient) waWait(id, want string) waMsg {
	c.t.Helper()
	var m waMsg
	waitFor(c.t, "message "+id+" "+want, 20*time.Second, func() bool {
		m = c.waMessage(id)
		return m.Status == want
	})
	return m
}

// waCustomer finds the customer of a WhatsApp number ("" when none).
func (c *rawClient) waCustomer(phone string) string {
	c.t.Helper()
	var l rlist[rcustomer]
	c.must(http.StatusOK, "GET", "/v1/customers?identity="+url.QueryEscape("whatsapp:"+phone), nil, &l)
	if len(l.Data) == 0 {
		return ""
	}
	return l.Data[0].ID
}

// waTimeline returns the messages on a customer's timeline, newest first.
func (c *rawClient) waTimeline(customerID string) []waMsg {
	c.t.Helper()
	var tl rlist[struct {
		Type    string `json:"type"`
		Message *waMsg `json:"message"`
	}]
	c.must(http.StatusOK, "GET", "/v1/customers/"+customerID+"/timeline?limit=100", nil, &tl)
	var out []waMsg
	for _, e := range tl.Data {
		if e.Type == "message" && e.Message != nil {
			out = append(out, *e.Message)
		}
	}
	return out
}

// waBody is a send as the fake received it, as generic JSON, for exact
// comparison.
func waBody(t *testing.T, r whatsapptest.Request) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("send body %s: %v", r.Body, err)
	}
	return v
}

// waCheckSend asserts how a send reached Meta: the endpoint of our phone
// number under the API version, the bearer token, JSON.
func waCheckSend(t *testing.T, fake *whatsapptest.Server, r whatsapptest.Request) {
	t.Helper()
	if r.Method != "POST" || r.Path != "/"+whatsapp.DefaultAPIVersion+"/"+fake.PhoneNumberID+"/messages" ||
		r.Auth() != fake.AccessToken || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("send request %s %s auth %q type %q", r.Method, r.Path, r.Auth(), r.Header.Get("Content-Type"))
	}
}

// TestWhatsAppE2EConnect: connecting checks the credentials with Meta,
// keeps them out of every answer, and the webhook_url passes Meta's
// verification handshake with the channel's verify token only.
func TestWhatsAppE2EConnect(t *testing.T) {
	s, fake := waStack(t)
	c := s.raw("wa-connect")
	senders := []map[string]any{{"channel": "whatsapp", "address": whatsapptest.Sender}}
	connect := func(edit func(map[string]string)) (int, []byte) {
		cr := fake.Credentials(waVerifyToken)
		edit(cr)
		return c.do("POST", "/v1/channels", map[string]any{"type": "whatsapp_cloud", "credentials": cr, "senders": senders}, nil)
	}

	// Malformed credentials never reach Meta.
	if code, b := connect(func(cr map[string]string) { cr["phone_number_id"] = whatsapptest.DisplayPhoneNumber }); code != 422 ||
		!strings.Contains(string(b), "problems/validation") || !strings.Contains(string(b), "credentials.phone_number_id") {
		t.Fatalf("phone number instead of its id: %d %s", code, b)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Fatalf("Meta got %d requests for malformed credentials", n)
	}
	// Credentials Meta refuses: 422 provider-refused.
	for _, tc := range []struct {
		name string
		edit func(map[string]string)
	}{
		{"wrong access token", func(cr map[string]string) { cr["access_token"] = "EAAGnotTheRightTokenAtAll0000" }},
		{"someone else's phone number id", func(cr map[string]string) { cr["phone_number_id"] = "106540352242999" }},
	} {
		code, b := connect(tc.edit)
		var p struct{ Type, Detail string }
		json.Unmarshal(b, &p)
		if code != 422 || p.Type != "https://switchboard.dev/problems/provider-refused" || strings.Contains(string(b), "EAAGnotTheRightToken") {
			t.Fatalf("%s: %d %s", tc.name, code, b)
		}
	}

	// Good credentials: 201, the number's name and E.164 from Meta, a
	// masked hint, no secret anywhere.
	code, b := c.do("POST", "/v1/channels", map[string]any{"type": "whatsapp_cloud", "credentials": fake.Credentials(waVerifyToken),
		"senders": senders}, nil)
	if code != http.StatusCreated {
		t.Fatalf("connect: %d %s", code, b)
	}
	var ch struct {
		rchannel
		Account struct {
			Name    string            `json:"name"`
			Details map[string]string `json:"details"`
		} `json:"provider_account"`
	}
	json.Unmarshal(b, &ch)
	_, got := c.do("GET", "/v1/channels/"+ch.ID, nil, nil)
	for _, secret := range []string{fake.AccessToken, fake.AppSecret, waVerifyToken} {
		if strings.Contains(string(b), secret) || strings.Contains(string(got), secret) {
			t.Fatalf("a secret is in the answer: %s / %s", b, got)
		}
	}
	last4 := func(s string) string { return "****" + s[len(s)-4:] }
	wantHint := map[string]string{"access_token": last4(fake.AccessToken), "app_secret": "****", // too short to show any of it
		"verify_token": last4(waVerifyToken), "phone_number_id": fake.PhoneNumberID, "waba_id": fake.WABAID}
	if ch.Type != "whatsapp_cloud" || ch.Name != whatsapptest.VerifiedName || !reflect.DeepEqual(ch.CredentialsHint, wantHint) ||
		ch.Account.Details["display_phone_number"] != whatsapptest.Sender || len(ch.Senders) != 1 || ch.Senders[0].Address != whatsapptest.Sender {
		t.Fatalf("channel %s", b)
	}
	var sealed []byte
	if err := s.pg(t).QueryRow(context.Background(), `SELECT credentials FROM channels WHERE id = $1`, ch.ID).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sealed), fake.AccessToken) || strings.Contains(string(sealed), fake.AppSecret) {
		t.Fatal("credentials stored in the clear")
	}
	// Meta has no API we call to register the URL: the account pastes it
	// (webhook_status manual). All Meta saw is one read of the number per
	// connect attempt, with the token, asking for the display number.
	if ch.WebhookStatus != "manual" || !strings.HasPrefix(ch.WebhookURL, s.cfg.PublicURL+"/hooks/"+ch.ID+"/") {
		t.Fatalf("webhook %s %s", ch.WebhookStatus, ch.WebhookURL)
	}
	reqs := fake.Requests()
	if len(reqs) != 3 {
		t.Fatalf("Meta got %d requests, want 3 verifications", len(reqs))
	}
	last := reqs[2]
	if last.Method != "GET" || last.Path != "/"+whatsapp.DefaultAPIVersion+"/"+fake.PhoneNumberID || last.Auth() != fake.AccessToken ||
		!strings.Contains(last.Query.Get("fields"), "display_phone_number") || last.Status != 200 {
		t.Fatalf("verification request %+v", last)
	}

	// Meta's handshake (hub.challenge) when the URL is saved in its dashboard.
	for _, tc := range []struct {
		name, url, token string
		status           int
		body             string
	}{
		{"the channel's verify token", ch.WebhookURL, waVerifyToken, 200, "123"},
		{"a wrong verify token", ch.WebhookURL, "guess", 403, ""},
		{"no verify token", ch.WebhookURL, "", 403, ""},
		{"a wrong hook secret", ch.WebhookURL + "x", waVerifyToken, 404, ""},
	} {
		status, body, err := fake.Handshake(tc.url, tc.token, "123")
		if err != nil || status != tc.status || (tc.status == 200 && body != tc.body) {
			t.Fatalf("handshake with %s: %d %q %v, want %d", tc.name, status, body, err, tc.status)
		}
	}
	q := url.Values{"hub.mode": {"unsubscribe"}, "hub.verify_token": {waVerifyToken}, "hub.challenge": {"123"}}
	resp, err := http.Get(ch.WebhookURL + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("handshake with hub.mode unsubscribe: %d, want 403", resp.StatusCode)
	}
	if err := fake.Subscribe(ch.WebhookURL, waVerifyToken); err != nil {
		t.Fatal(err)
	}
}

// TestWhatsAppE2ESendDelivered: a reply to a customer goes to Meta exactly
// as the Cloud API wants it (text, image, document), Meta's status
// notifications move it through sent, delivered and read, and our webhook
// announces each with the customer and the conversation. A failed status
// fails the message with Meta's code; 131050 also opts the customer out.
func TestWhatsAppE2ESendDelivered(t *testing.T) {
	s, fake := waStack(t)
	c := s.raw("wa-send")
	hook := newReceiver(t)
	c.must(http.StatusCreated, "POST", "/v1/webhook-endpoints", map[string]any{"url": hook.srv.URL, "events": []string{"*"}}, nil)
	ch := waConnect(t, c, fake)
	const customer = "+16505551234"
	waWrites(t, fake, customer, "Does it come in another color?")

	tests := []struct {
		name string
		send map[string]any
		want map[string]any // the exact body Meta receives
	}{
		{"text", map[string]any{"text": "Yes: green and blue. https://example.com/colors"},
			map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234", "type": "text",
				"text": map[string]any{"body": "Yes: green and blue. https://example.com/colors", "preview_url": false}}},
		{"image", map[string]any{"text": "The green one", "media_urls": []string{"https://cdn.example.com/aloe-green.jpg"}},
			map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234", "type": "image",
				"image": map[string]any{"link": "https://cdn.example.com/aloe-green.jpg", "caption": "The green one"}}},
		{"document", map[string]any{"text": "The catalogue", "media_urls": []string{"https://cdn.example.com/files/catalogue.pdf"}},
			map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234", "type": "document",
				"document": map[string]any{"link": "https://cdn.example.com/files/catalogue.pdf", "caption": "The catalogue", "filename": "catalogue.pdf"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(fake.Sends())
			tc.send["channel"], tc.send["to"] = "whatsapp", customer
			var accepted waMsg
			c.must(http.StatusAccepted, "POST", "/v1/messages", tc.send, &accepted)
			// No from: the reply goes from the number the customer wrote to.
			if accepted.From != whatsapptest.Sender || accepted.Provider != "whatsapp_cloud" || accepted.ChannelID == nil || *accepted.ChannelID != ch.ID {
				t.Fatalf("accepted %+v", accepted)
			}
			sent := c.waWait(accepted.ID, "sent")
			sends := fake.Sends()
			if len(sends) != before+1 {
				t.Fatalf("Meta got %d sends, want 1", len(sends)-before)
			}
			r := sends[before]
			waCheckSend(t, fake, r)
			if got := waBody(t, r); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Meta received %s, want %v", r.Body, tc.want)
			}
			if sent.ProviderMessageID == nil || *sent.ProviderMessageID != r.WAMID {
				t.Fatalf("provider_message_id %v, want %s", sent.ProviderMessageID, r.WAMID)
			}

			// Meta: sent, delivered, then read; a repeat changes nothing.
			waStatus(t, fake, whatsapptest.Status{ID: r.WAMID, Status: "sent", RecipientID: customer})
			waStatus(t, fake, whatsapptest.Status{ID: r.WAMID, Status: "delivered", RecipientID: customer})
			delivered := c.waWait(accepted.ID, "delivered")
			waStatus(t, fake, whatsapptest.Status{ID: r.WAMID, Status: "read", RecipientID: customer})
			c.waWait(accepted.ID, "read")
			waStatus(t, fake, whatsapptest.Status{ID: r.WAMID, Status: "delivered", RecipientID: customer})
			waitFor(t, "message.delivered and message.read webhooks", 10*time.Second, func() bool {
				var gotDelivered, gotRead bool
				for _, g := range hook.all() {
					if g.msg.ID != accepted.ID {
						continue
					}
					var d waMsg
					json.Unmarshal(g.event.Data, &d)
					ok := d.CustomerID == delivered.CustomerID && d.ConversationID == delivered.ConversationID && d.CustomerID != ""
					gotDelivered = gotDelivered || (g.event.Type == "message.delivered" && ok)
					gotRead = gotRead || (g.event.Type == "message.read" && ok)
				}
				return gotDelivered && gotRead
			})
			if m := c.waMessage(accepted.ID); m.Status != "read" {
				t.Fatalf("after a repeated delivered: %s", m.Status)
			}
		})
	}

	t.Run("failed", func(t *testing.T) {
		m := c.send(map[string]any{"channel": "whatsapp", "to": customer, "text": "Still there?"})
		sent := c.waWait(m.ID, "sent")
		waStatus(t, fake, whatsapptest.Status{ID: *sent.ProviderMessageID, Status: "failed", RecipientID: customer,
			Errors: []whatsapptest.Error{{Code: 131026, Title: "Message undeliverable", Details: "Message Undeliverable."}}})
		failed := c.waWait(m.ID, "failed")
		if failed.ErrorCode == nil || *failed.ErrorCode != "131026" || failed.ErrorMessage == nil || *failed.ErrorMessage != "Message undeliverable" {
			t.Fatalf("failed message %+v", failed)
		}
		waitFor(t, "message.failed webhook", 10*time.Second, func() bool { return contains(hook.types(m.ID), "message.failed") })
	})

	t.Run("a status for a message we do not know is acknowledged", func(t *testing.T) {
		waStatus(t, fake, whatsapptest.Status{ID: "wamid.HBgLnotOursAAAA", Status: "delivered", RecipientID: customer})
	})

	t.Run("marketing opt-out (131050) opts the customer out", func(t *testing.T) {
		m := c.send(map[string]any{"channel": "whatsapp", "to": customer, "text": "20% off today"})
		sent := c.waWait(m.ID, "sent")
		waStatus(t, fake, whatsapptest.Status{ID: *sent.ProviderMessageID, Status: "failed", RecipientID: customer,
			Errors: []whatsapptest.Error{{Code: 131050, Title: "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business."}}})
		c.waWait(m.ID, "failed")
		waitFor(t, "the opt-out", 10*time.Second, func() bool {
			var cu rcustomer
			c.must(http.StatusOK, "GET", "/v1/customers/"+sent.CustomerID, nil, &cu)
			for _, id := range cu.Identities {
				if id.Channel == "whatsapp" && id.Address == customer {
					return id.OptedOut
				}
			}
			return false
		})
		before := len(fake.Sends())
		c.problem("POST", "/v1/messages", map[string]any{"channel": "whatsapp", "to": customer, "text": "and more"}, 422, "opted-out")
		if len(fake.Sends()) != before {
			t.Fatal("a message to an opted-out customer reached Meta")
		}
	})
}

// TestWhatsAppE2EInbound: a customer's messages land on their timeline,
// attached to the channel, and Meta's retries of a notification store
// nothing twice.
func TestWhatsAppE2EInbound(t *testing.T) {
	s, fake := waStack(t)
	c := s.raw("wa-inbound")
	hook := newReceiver(t)
	c.must(http.StatusCreated, "POST", "/v1/webhook-endpoints", map[string]any{"url": hook.srv.URL, "events": []string{"*"}}, nil)
	ch := waConnect(t, c, fake)
	const customer = "+16505551234"

	text := &whatsapptest.Inbound{From: customer, Name: "Sheena Nelson", Text: "Привет! Does it come in another color?"}
	image := &whatsapptest.Inbound{From: customer, Name: "Sheena Nelson", Text: "Like this one",
		Image: &whatsapptest.InboundMedia{ID: "1003383421387256", MimeType: "image/jpeg", SHA256: "ux6LSpTaNBCWAdeyk9DP4Zbjl7TQtn3crBuFT4fUvBs="}}
	textBody, imageBody := fake.Messages(text), fake.Messages(image)
	for _, body := range [][]byte{textBody, imageBody} {
		if code, err := fake.Notify(body); err != nil || code != 200 {
			t.Fatalf("inbound: %d %v", code, err)
		}
	}
	cust := c.waCustomer(customer)
	if cust == "" {
		t.Fatal("no customer for the WhatsApp number")
	}
	tl := c.waTimeline(cust)
	if len(tl) != 2 {
		t.Fatalf("timeline has %d messages, want 2: %+v", len(tl), tl)
	}
	got := map[string]waMsg{}
	for _, m := range tl {
		if m.Direction != "inbound" || m.Status != "received" || m.Channel != "whatsapp" || m.From != customer || m.To != whatsapptest.Sender ||
			m.Provider != "whatsapp_cloud" || m.ChannelID == nil || *m.ChannelID != ch.ID || m.ProviderMessageID == nil || m.CustomerID != cust {
			t.Fatalf("inbound message %+v", m)
		}
		got[*m.ProviderMessageID] = m
	}
	if m := got[text.ID]; m.Text != text.Text {
		t.Fatalf("text message %+v", m)
	}
	if m := got[image.ID]; m.Text != "Like this one" || m.Metadata["whatsapp_media_id"] != "1003383421387256" || m.Metadata["mime_type"] != "image/jpeg" {
		t.Fatalf("image message %+v", m)
	}
	waitFor(t, "message.received webhooks", 10*time.Second, func() bool {
		n := 0
		for _, g := range hook.all() {
			if g.event.Type == "message.received" && g.msg.CustomerID != nil && *g.msg.CustomerID == cust {
				n++
			}
		}
		return n == 2
	})

	// Meta retries: the same notifications again store nothing new.
	for _, body := range [][]byte{textBody, imageBody, textBody} {
		if code, err := fake.Notify(body); err != nil || code != 200 {
			t.Fatalf("repeated inbound: %d %v", code, err)
		}
	}
	if tl := c.waTimeline(cust); len(tl) != 2 {
		t.Fatalf("after Meta's retries the timeline has %d messages, want 2", len(tl))
	}
}

// TestWhatsAppE2EForged: a notification whose X-Hub-Signature-256 does not
// verify under the app secret is refused with 403 and stores nothing.
func TestWhatsAppE2EForged(t *testing.T) {
	s, fake := waStack(t)
	c := s.raw("wa-forged")
	ch := waConnect(t, c, fake)
	const stranger = "+16505550002"
	body := fake.Messages(&whatsapptest.Inbound{From: stranger, Text: "Send me the refund"})
	tampered := []byte(strings.Replace(string(body), "refund", "REFUND", 1))
	for _, tc := range []struct {
		name      string
		body      []byte
		signature string
	}{
		{"no signature", body, ""},
		{"another app's secret", body, whatsapptest.Sign("someone else's secret", body)},
		{"the signature of another body", tampered, fake.Sign(body)},
		{"not hex", body, "sha256=zz"},
		{"sha1 only", body, "sha1=" + strings.TrimPrefix(fake.Sign(body), "sha256=")[:40]},
	} {
		if code, err := fake.Post(ch.WebhookURL, tc.body, tc.signature); err != nil || code != http.StatusForbidden {
			t.Fatalf("%s: %d %v, want 403", tc.name, code, err)
		}
	}
	if cust := c.waCustomer(stranger); cust != "" {
		t.Fatalf("a forged message created customer %s", cust)
	}

	// A forged status for a real message changes nothing: had the forged
	// "failed" been applied, the real "delivered" could not follow it.
	const customer = "+16505551234"
	waWrites(t, fake, customer, "Hi")
	m := c.send(map[string]any{"channel": "whatsapp", "to": customer, "text": "Hello!"})
	sent := c.waWait(m.ID, "sent")
	forged := fake.Statuses(whatsapptest.Status{ID: *sent.ProviderMessageID, Status: "failed", RecipientID: customer,
		Errors: []whatsapptest.Error{{Code: 131026, Title: "Message undeliverable"}}})
	if code, _ := fake.Post(ch.WebhookURL, forged, whatsapptest.Sign("guess", forged)); code != http.StatusForbidden {
		t.Fatalf("forged status: %d", code)
	}
	waStatus(t, fake, whatsapptest.Status{ID: *sent.ProviderMessageID, Status: "delivered", RecipientID: customer})
	if got := c.waWait(m.ID, "delivered"); got.ErrorCode != nil {
		t.Fatalf("message %+v", got)
	}
}

// TestWhatsAppE2EServiceWindow: free-form messages to a customer who has
// not written in the last 24 hours (or never) are refused with a 422 naming
// metadata.template before anything reaches Meta; templates go; once the
// customer writes, free-form messages go.
func TestWhatsAppE2EServiceWindow(t *testing.T) {
	s, fake := waStack(t)
	c := s.raw("wa-window")
	waConnect(t, c, fake)
	const customer = "+16505550101"
	refused := func(what string, body map[string]any) {
		t.Helper()
		before := len(fake.Sends())
		code, b := c.do("POST", "/v1/messages", body, nil)
		var p struct {
			Type   string `json:"type"`
			Errors []struct {
				Field string `json:"field"`
			} `json:"errors"`
		}
		json.Unmarshal(b, &p)
		if code != 422 || p.Type != "https://switchboard.dev/problems/validation" || len(p.Errors) != 1 || p.Errors[0].Field != "metadata.template" {
			t.Fatalf("%s: %d %s, want 422 validation on metadata.template", what, code, b)
		}
		if len(fake.Sends()) != before {
			t.Fatalf("%s reached Meta", what)
		}
	}
	text := map[string]any{"channel": "whatsapp", "from": whatsapptest.Sender, "to": customer, "text": "Your order shipped"}
	refused("text to a customer who never wrote", text)
	refused("media to a customer who never wrote", map[string]any{"channel": "whatsapp", "from": whatsapptest.Sender, "to": customer,
		"media_urls": []string{"https://cdn.example.com/label.png"}})

	// A template goes, exactly as Meta documents it.
	tpl := c.send(map[string]any{"channel": "whatsapp", "from": whatsapptest.Sender, "to": customer, "text": "Hello World",
		"metadata": map[string]any{"template": map[string]any{"name": "hello_world", "language": map[string]any{"code": "en_US"}}}})
	c.waWait(tpl.ID, "sent")
	sends := fake.Sends(customer)
	if len(sends) != 1 {
		t.Fatalf("Meta got %d sends, want the template", len(sends))
	}
	waCheckSend(t, fake, sends[0])
	want := map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505550101", "type": "template",
		"template": map[string]any{"name": "hello_world", "language": map[string]any{"code": "en_US"}}}
	if got := waBody(t, sends[0]); !reflect.DeepEqual(got, want) {
		t.Fatalf("Meta received %s, want %v", sends[0].Body, want)
	}
	// A template does not open the window; the customer writing does.
	refused("text after a template", text)
	waWrites(t, fake, customer, "Thanks! When does it arrive?")
	ok := c.send(text)
	c.waWait(ok.ID, "sent")
	if sends := fake.Sends(customer); len(sends) != 2 || sends[1].Message.Type != "text" || sends[1].Message.Text.Body != "Your order shipped" {
		t.Fatalf("Meta got %+v", sends)
	}

	// 25 hours later the window has closed again.
	if _, err := s.pg(t).Exec(context.Background(), `UPDATE identities SET last_inbound_at = now() - interval '25 hours'
		WHERE channel = 'whatsapp' AND address = $1`, customer); err != nil {
		t.Fatal(err)
	}
	refused("text a day after the customer wrote", text)
}

// TestWhatsAppE2ERetries: Meta's transient refusals (500, its throughput
// limit, a 429 with Retry-After) are retried until the send goes; a
// permanent one fails the message with Meta's code after one attempt.
func TestWhatsAppE2ERetries(t *testing.T) {
	s, fake := waStack(t)
	c := s.raw("wa-retries")
	waConnect(t, c, fake)
	throttled := whatsapptest.Throughput()
	throttled.Status, throttled.RetryAfter = http.StatusTooManyRequests, "1"
	tests := []struct {
		name     string
		to       string
		fail     whatsapptest.Failure
		times    int
		attempts int
	}{
		{"500 twice", "+16505550201", whatsapptest.ServerError(), 2, 3},
		{"throughput limit (130429, HTTP 400)", "+16505550202", whatsapptest.Throughput(), 1, 2},
		{"429 with Retry-After", "+16505550203", throttled, 1, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			waWrites(t, fake, tc.to, "Hi")
			fake.FailNext(tc.times, tc.fail)
			m := c.send(map[string]any{"channel": "whatsapp", "to": tc.to, "text": "Hello"})
			sent := c.waWait(m.ID, "sent")
			sends := fake.Sends(tc.to)
			if len(sends) != tc.attempts || sent.Attempts != tc.attempts {
				t.Fatalf("Meta got %d attempts, message says %d; want %d", len(sends), sent.Attempts, tc.attempts)
			}
			for i, r := range sends {
				want := tc.fail.Status
				if i == len(sends)-1 {
					want = http.StatusOK
				}
				if r.Status != want || !reflect.DeepEqual(r.Body, sends[0].Body) {
					t.Fatalf("attempt %d: %d %s, want %d and the same body", i+1, r.Status, r.Body, want)
				}
			}
			if *sent.ProviderMessageID != sends[len(sends)-1].WAMID {
				t.Fatalf("provider_message_id %s, want %s", *sent.ProviderMessageID, sends[len(sends)-1].WAMID)
			}
			if tc.fail.RetryAfter != "" {
				// A lower bound only: the retry came no sooner than Meta asked.
				if gap := sends[1].At.Sub(sends[0].At); gap < time.Second {
					t.Fatalf("retried after %s despite Retry-After: 1", gap)
				}
			}
			waStatus(t, fake, whatsapptest.Status{ID: *sent.ProviderMessageID, Status: "delivered", RecipientID: tc.to})
			c.waWait(m.ID, "delivered")
		})
	}

	t.Run("permanent", func(t *testing.T) {
		const to = "+16505550204"
		fake.FailNext(1, whatsapptest.TemplateMissing("order_shiped", "en_US"))
		m := c.send(map[string]any{"channel": "whatsapp", "to": to, "text": "Your order shipped",
			"metadata": map[string]any{"template": map[string]any{"name": "order_shiped", "language": "en_US"}}})
		failed := c.waWait(m.ID, "failed")
		if failed.ErrorCode == nil || *failed.ErrorCode != "132001" || failed.ErrorMessage == nil ||
			!strings.Contains(*failed.ErrorMessage, "does not exist") || failed.Attempts != 1 {
			t.Fatalf("failed message %+v", failed)
		}
		if sends := fake.Sends(to); len(sends) != 1 || sends[0].Status != http.StatusBadRequest {
			t.Fatalf("Meta got %d attempts, want 1", len(sends))
		}
	})
}
