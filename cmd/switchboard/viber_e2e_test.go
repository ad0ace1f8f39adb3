package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/providers/viber/vibertest"
)

// The Viber end-to-end tests run the whole app against vibertest, a fake
// Viber that checks the bot's token, records what we send, registers our
// webhook as Viber does (calling it before set_webhook answers) and posts
// signed callbacks to it.

const (
	viberToken  = "4a2b6c8d0e1f2a3b-5c6d7e8f9a0b1c2d-e3f4a5b6c7d8e9f0"
	viberAvatar = "https://cdn.example.com/avatar.png"
	viberBot    = "switchboard" // our sender address: the bot's uri
)

var (
	viberAccount = vibertest.Account{ID: "pa:5893126547812345678", Name: "Switchboard Shop", URI: viberBot, Subscribers: 2}
	viberJohn    = vibertest.User{ID: "01234567890A=", Name: "John McClane", Country: "UK", Language: "en", APIVersion: 10}
)

// vmsg is a message with the provider fields these tests check.
type vmsg struct {
	rmsg
	MediaURLs         []string `json:"media_urls"`
	ProviderMessageID *string  `json:"provider_message_id"`
	ErrorMessage      *string  `json:"error_message"`
	Attempts          int      `json:"attempts"`
}

type viberE2E struct {
	t    *testing.T
	s    *stack
	c    *rawClient
	fake *vibertest.Server
	ch   rchannel
}

// startViber runs the app (its config changed by tune) with its Viber API
// pointed at a fresh fake, and connects the fake's bot as a channel with
// sender "switchboard".
func startViber(t *testing.T, tune ...func(*Config)) *viberE2E {
	t.Helper()
	fake := vibertest.NewServer(viberToken, viberAccount)
	t.Cleanup(fake.Close) // after the app's Close: its workers may be mid-send
	cfg := testConfig(t)
	cfg.ProviderBaseURLs[sb.ProviderViber] = fake.URL
	for _, f := range tune {
		f(&cfg)
	}
	s := startStack(t, cfg, RoleAll)
	v := &viberE2E{t: t, s: s, c: s.raw("viber"), fake: fake}
	v.c.must(http.StatusCreated, "POST", "/v1/channels", viberChannel(viberToken), &v.ch)
	return v
}

func viberChannel(token string) map[string]any {
	return map[string]any{"type": "viber",
		"credentials": map[string]string{"auth_token": token, "sender_name": "Switchboard Shop", "sender_avatar": viberAvatar},
		"senders":     []map[string]any{{"channel": "viber", "address": viberBot, "default": true}}}
}

// post delivers a callback to the channel's webhook as Viber does, and
// fails unless our server answers 200.
func (v *viberE2E) post(cb vibertest.Callback) {
	v.t.Helper()
	if code, err := v.fake.Post(cb); err != nil || code != http.StatusOK {
		v.t.Fatalf("viber %s callback: %d %v, want 200", cb.Event, code, err)
	}
}

func (v *viberE2E) message(id string) vmsg {
	v.t.Helper()
	var m vmsg
	v.c.must(http.StatusOK, "GET", "/v1/messages/"+id, nil, &m)
	return m
}

// wait polls message id until it has status.
func (v *viberE2E) wait(id, status string) vmsg {
	v.t.Helper()
	v.c.waitMessage(id, status, 20*time.Second, func(m rmsg) bool { return m.Status == status })
	return v.message(id)
}

// send sends text to a Viber user from the bot.
func (v *viberE2E) send(to, text string) rmsg {
	v.t.Helper()
	return v.c.send(map[string]any{"channel": "viber", "from": viberBot, "to": to, "text": text})
}

// customer finds the customer who has the Viber identity user.
func (v *viberE2E) customer(user string) (rcustomer, bool) {
	v.t.Helper()
	var list rlist[rcustomer]
	v.c.must(http.StatusOK, "GET", "/v1/customers?identity="+url.QueryEscape("viber:"+user), nil, &list)
	if len(list.Data) == 0 {
		return rcustomer{}, false
	}
	return list.Data[0], true
}

type ventry struct {
	Type    string `json:"type"`
	Message *vmsg  `json:"message"`
}

// timeline returns the messages on a customer's timeline, oldest first.
func (v *viberE2E) timeline(customerID string) []vmsg {
	v.t.Helper()
	var tl rlist[ventry]
	v.c.must(http.StatusOK, "GET", "/v1/customers/"+customerID+"/timeline?limit=100", nil, &tl)
	var out []vmsg
	for _, e := range tl.Data {
		if e.Type == "message" {
			out = append(out, *e.Message)
		}
	}
	if len(out) > 1 && out[0].ID > out[len(out)-1].ID {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}

type voptout struct {
	Channel    string  `json:"channel"`
	Address    string  `json:"address"`
	CustomerID *string `json:"customer_id"`
	Source     string  `json:"source"`
	Keyword    *string `json:"keyword"`
}

func (v *viberE2E) optOuts() []voptout {
	v.t.Helper()
	var list rlist[voptout]
	v.c.must(http.StatusOK, "GET", "/v1/opt-outs?channel=viber", nil, &list)
	return list.Data
}

// TestViberE2EConnect: connecting checks the token with get_account_info,
// stores it out of sight and registers our hook URL with set_webhook,
// which Viber proves by calling it; a refused token connects nothing.
func TestViberE2EConnect(t *testing.T) {
	v := startViber(t)
	ch := v.ch
	if ch.Type != "viber" || ch.Name != viberAccount.Name || ch.Status != "active" || ch.WebhookStatus != "registered" ||
		!strings.HasPrefix(ch.WebhookURL, v.s.cfg.PublicURL+"/hooks/"+ch.ID+"/") ||
		len(ch.Senders) != 1 || ch.Senders[0].Channel != "viber" || ch.Senders[0].Address != viberBot || !ch.Senders[0].Default {
		t.Fatalf("channel %+v", ch)
	}
	want := map[string]string{"auth_token": "****" + viberToken[len(viberToken)-4:], "sender_name": "Switchboard Shop", "sender_avatar": viberAvatar}
	if !reflect.DeepEqual(ch.CredentialsHint, want) {
		t.Fatalf("credentials_hint %v, want %v", ch.CredentialsHint, want)
	}
	// The token is in no answer, whole or in part.
	for _, path := range []string{"/v1/channels", "/v1/channels/" + ch.ID} {
		code, body := v.c.do("GET", path, nil, nil)
		if code != http.StatusOK || bytes.Contains(body, []byte(viberToken[:16])) || bytes.Contains(body, []byte(`"credentials"`)) {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
	}

	// Viber saw one get_account_info and one set_webhook, with the token.
	if reqs := v.fake.Requests(""); len(reqs) != 2 || reqs[0].Endpoint != "get_account_info" || reqs[1].Endpoint != "set_webhook" {
		t.Fatalf("viber got %+v", reqs)
	}
	reg := v.fake.Requests("set_webhook")[0]
	if reg.Header.Get("X-Viber-Auth-Token") != viberToken || reg.Header.Get("Content-Type") != "application/json" || reg.Path != "/pa/set_webhook" {
		t.Fatalf("set_webhook request %s %v", reg.Path, reg.Header)
	}
	wantReg := map[string]any{"url": ch.WebhookURL, "send_name": true, "send_photo": false,
		"event_types": []any{"delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"}}
	if !reflect.DeepEqual(reg.Fields, wantReg) {
		t.Fatalf("set_webhook body %s", reg.Body)
	}
	// Viber called the URL with a signed "webhook" event before it
	// answered, and our server said 200.
	if wh := v.fake.Webhook(); wh.URL != ch.WebhookURL || wh.CheckStatus != http.StatusOK || reg.Status != vibertest.StatusOK {
		t.Fatalf("registration %+v, set_webhook status %d", wh, reg.Status)
	}
	// The check stored nothing.
	var msgs rlist[rmsg]
	v.c.must(http.StatusOK, "GET", "/v1/messages", nil, &msgs)
	if len(msgs.Data) != 0 {
		t.Fatalf("messages after connecting: %+v", msgs.Data)
	}

	// A token Viber refuses: 422 provider-refused, and no channel, and no
	// set_webhook with it.
	v.c.problem("POST", "/v1/channels", viberChannel("0000000000000000-0000000000000000-0000000000000000"), http.StatusUnprocessableEntity, "provider-refused")
	if reqs := v.fake.Requests("get_account_info"); len(reqs) != 2 || reqs[1].Status != vibertest.StatusInvalidAuthToken {
		t.Fatalf("get_account_info calls %+v", reqs)
	}
	if n := len(v.fake.Requests("set_webhook")); n != 1 {
		t.Fatalf("%d set_webhook calls, want 1", n)
	}
	var chs rlist[rchannel]
	v.c.must(http.StatusOK, "GET", "/v1/channels", nil, &chs)
	if len(chs.Data) != 1 || chs.Data[0].ID != ch.ID {
		t.Fatalf("channels %+v", chs.Data)
	}
}

// TestViberE2ESendDelivered: a text and a picture go out through Viber
// with every field checked; delivered, seen and failed callbacks move
// them to delivered, read and failed, and our webhooks say so with the
// customer and conversation.
func TestViberE2ESendDelivered(t *testing.T) {
	v := startViber(t)
	hook := newReceiver(t)
	v.c.must(http.StatusCreated, "POST", "/v1/webhook-endpoints", map[string]any{"url": hook.srv.URL, "events": []string{"*"}}, nil)

	text := v.send(viberJohn.ID, "Your order has shipped")
	if text.Provider != "viber" || text.CustomerID == "" || text.ConversationID == "" {
		t.Fatalf("accepted %+v", text)
	}
	sent := v.wait(text.ID, "sent")
	sends := v.fake.Sends()
	if len(sends) != 1 {
		t.Fatalf("%d sends, want 1", len(sends))
	}
	got := sends[0]
	if got.Path != "/pa/send_message" || got.Method != "POST" || got.Header.Get("X-Viber-Auth-Token") != viberToken ||
		got.Header.Get("Content-Type") != "application/json" || got.Status != vibertest.StatusOK {
		t.Fatalf("send_message %s %s %v status %d", got.Method, got.Path, got.Header, got.Status)
	}
	wantText := map[string]any{"receiver": viberJohn.ID, "min_api_version": json.Number("1"),
		"sender": map[string]any{"name": "Switchboard Shop", "avatar": viberAvatar}, "tracking_data": text.ID,
		"type": "text", "text": "Your order has shipped"}
	if !reflect.DeepEqual(got.Fields, wantText) {
		t.Fatalf("send_message body %s", got.Body)
	}
	if sent.ProviderMessageID == nil || *sent.ProviderMessageID != got.MessageToken || sent.Attempts != 1 {
		t.Fatalf("sent message %+v, want provider_message_id %s", sent, got.MessageToken)
	}

	v.post(vibertest.Delivered(got.MessageToken, viberJohn.ID))
	v.wait(text.ID, "delivered")
	v.post(vibertest.Seen(got.MessageToken, viberJohn.ID))
	v.wait(text.ID, "read")
	// Viber retries callbacks: a repeated one changes nothing, and one for
	// a message we do not know is acknowledged.
	v.post(vibertest.Delivered(got.MessageToken, viberJohn.ID))
	v.post(vibertest.Delivered("1234567890123456789", viberJohn.ID))

	// A picture with a caption; Viber then reports it failed.
	var pic rmsg
	v.c.must(http.StatusAccepted, "POST", "/v1/messages", map[string]any{"channel": "viber", "from": viberBot, "to": viberJohn.ID,
		"text": "Your parcel", "media_urls": []string{"https://cdn.example.com/parcel.jpg"}}, &pic)
	v.wait(pic.ID, "sent")
	got = v.fake.Sends()[1]
	wantPic := map[string]any{"receiver": viberJohn.ID, "min_api_version": json.Number("1"),
		"sender": map[string]any{"name": "Switchboard Shop", "avatar": viberAvatar}, "tracking_data": pic.ID,
		"type": "picture", "text": "Your parcel", "media": "https://cdn.example.com/parcel.jpg"}
	if !reflect.DeepEqual(got.Fields, wantPic) {
		t.Fatalf("picture send_message body %s", got.Body)
	}
	if got.MessageToken == sends[0].MessageToken {
		t.Fatalf("two messages share token %s", got.MessageToken)
	}
	v.post(vibertest.Failed(got.MessageToken, viberJohn.ID, "failure description"))
	failed := v.wait(pic.ID, "failed")
	if failed.ErrorMessage == nil || *failed.ErrorMessage != "failure description" {
		t.Fatalf("failed message %+v", failed)
	}

	// Viber sends one "seen" for all unread messages, with no "delivered"
	// before it: read implies delivered.
	late := v.send(viberJohn.ID, "One more thing")
	v.wait(late.ID, "sent")
	v.post(vibertest.Seen(v.fake.Sends()[2].MessageToken, viberJohn.ID))
	v.wait(late.ID, "read")

	// Our webhooks, each carrying the customer and the conversation.
	want := [][2]string{{"message.delivered", text.ID}, {"message.read", text.ID}, {"message.failed", pic.ID},
		{"message.delivered", late.ID}, {"message.read", late.ID}}
	waitFor(t, "message.delivered, message.read and message.failed webhooks", 10*time.Second, func() bool {
		seen := 0
		for _, w := range want {
			for _, g := range hook.all() {
				var d rmsg
				json.Unmarshal(g.event.Data, &d)
				if g.event.Type == w[0] && d.ID == w[1] && d.CustomerID == text.CustomerID && d.ConversationID == text.ConversationID && d.Provider == "viber" {
					seen++
					break
				}
			}
		}
		return seen == len(want)
	})
	if n := len(v.fake.Sends()); n != 3 {
		t.Fatalf("%d sends, want 3", n)
	}
}

// TestViberE2EInbound: a user's messages reach their customer's timeline,
// once each however often Viber posts them; a reply goes back by Viber.
func TestViberE2EInbound(t *testing.T) {
	v := startViber(t)
	hook := newReceiver(t)
	v.c.must(http.StatusCreated, "POST", "/v1/webhook-endpoints", map[string]any{"url": hook.srv.URL, "events": []string{"*"}}, nil)
	if _, ok := v.customer(viberJohn.ID); ok {
		t.Fatal("a customer before any message")
	}

	first := vibertest.Text("4912661846655238145", viberJohn, "Where is my parcel?")
	v.post(first)
	cust, ok := v.customer(viberJohn.ID)
	if !ok || len(cust.Identities) != 1 || cust.Identities[0].Channel != "viber" || cust.Identities[0].Address != viberJohn.ID {
		t.Fatalf("customer %+v (found %v)", cust, ok)
	}
	tl := v.timeline(cust.ID)
	if len(tl) != 1 {
		t.Fatalf("timeline %+v, want one message", tl)
	}
	in := tl[0]
	if in.Direction != "inbound" || in.Channel != "viber" || in.From != viberJohn.ID || in.To != viberBot || in.Text != "Where is my parcel?" ||
		in.Status != "received" || in.Provider != "viber" || in.ProviderMessageID == nil || *in.ProviderMessageID != "4912661846655238145" ||
		in.CustomerID != cust.ID || in.ConversationID == "" {
		t.Fatalf("inbound %+v", in)
	}

	// Viber posts it again (it retries until it gets 200): nothing new.
	body := first.JSON()
	for range 2 {
		if code, err := v.fake.PostTo(v.ch.WebhookURL, body); err != nil || code != http.StatusOK {
			t.Fatalf("repeated callback: %d %v", code, err)
		}
	}
	if tl := v.timeline(cust.ID); len(tl) != 1 {
		t.Fatalf("after repeats the timeline has %d messages", len(tl))
	}

	// A picture joins the same customer and conversation.
	v.post(vibertest.Received("4912661846655238146", viberJohn, vibertest.Message{Type: "picture", Text: "this one",
		Media: "https://dl-media.viber.com/1/share/2/long/photo.jpg", Thumbnail: "https://dl-media.viber.com/1/share/2/long/thumb.jpg", Size: 123456}))
	tl = v.timeline(cust.ID)
	if len(tl) != 2 || tl[1].Text != "this one" || !reflect.DeepEqual(tl[1].MediaURLs, []string{"https://dl-media.viber.com/1/share/2/long/photo.jpg"}) ||
		tl[1].ConversationID != in.ConversationID {
		t.Fatalf("timeline %+v", tl)
	}

	// A reply in the conversation goes back by Viber, to the user, from the bot.
	var reply rmsg
	v.c.must(http.StatusAccepted, "POST", "/v1/conversations/"+in.ConversationID+"/messages", map[string]string{"text": "It arrives tomorrow"}, &reply)
	if reply.Channel != "viber" || reply.To != viberJohn.ID || reply.From != viberBot {
		t.Fatalf("reply %+v", reply)
	}
	v.wait(reply.ID, "sent")
	if sends := v.fake.Sends(); len(sends) != 1 || sends[0].Fields["receiver"] != viberJohn.ID || sends[0].Fields["text"] != "It arrives tomorrow" {
		t.Fatalf("sends %+v", sends)
	}
	waitFor(t, "two message.received webhooks", 10*time.Second, func() bool {
		n := 0
		for _, g := range hook.all() {
			var d rmsg
			json.Unmarshal(g.event.Data, &d)
			if g.event.Type == "message.received" && d.CustomerID == cust.ID {
				n++
			}
		}
		return n == 2
	})
}

// TestViberE2EForged: callbacks whose X-Viber-Content-Signature does not
// verify are refused with 403 and change nothing.
func TestViberE2EForged(t *testing.T) {
	v := startViber(t)
	m := v.send(viberJohn.ID, "hello")
	v.wait(m.ID, "sent")
	token := v.fake.Sends()[0].MessageToken

	for _, cb := range []vibertest.Callback{
		vibertest.Text("4912661846655238145", vibertest.User{ID: "forger0000000A=", Name: "Mallory"}, "click here"),
		vibertest.Delivered(token, viberJohn.ID),
		vibertest.Unsubscribed("4912661846655238147", viberJohn.ID),
	} {
		body := cb.JSON()
		for name, sig := range map[string]string{
			"another bot's token":   vibertest.Sign("0000000000000000-0000000000000000-0000000000000000", body),
			"no signature":          "",
			"another body's":        vibertest.Sign(viberToken, append(bytes.TrimSuffix(body, []byte("}")), []byte(`,"x":1}`)...)),
			"not hex":               "sha256=" + vibertest.Sign(viberToken, body),
			"the token as a secret": viberToken,
		} {
			if code, err := v.fake.PostSigned(v.ch.WebhookURL, body, sig); err != nil || code != http.StatusForbidden {
				t.Fatalf("%s callback with %s signature: %d %v, want 403", cb.Event, name, code, err)
			}
		}
	}
	// A good signature on a URL with the wrong secret is not ours either.
	wrong := v.ch.WebhookURL[:strings.LastIndex(v.ch.WebhookURL, "/")+1] + "not-the-secret"
	if code, err := v.fake.PostTo(wrong, vibertest.Unsubscribed("1", viberJohn.ID).JSON()); err != nil || code != http.StatusNotFound {
		t.Fatalf("wrong hook secret: %d %v, want 404", code, err)
	}

	if _, ok := v.customer("forger0000000A="); ok {
		t.Fatal("a forged message created a customer")
	}
	if got := v.message(m.ID); got.Status != "sent" {
		t.Fatalf("a forged receipt moved the message to %s", got.Status)
	}
	if o := v.optOuts(); len(o) != 0 {
		t.Fatalf("a forged unsubscribe opted out %+v", o)
	}
	var msgs rlist[rmsg]
	v.c.must(http.StatusOK, "GET", "/v1/messages", nil, &msgs)
	if len(msgs.Data) != 1 {
		t.Fatalf("messages %+v, want only the one we sent", msgs.Data)
	}
}

// TestViberE2ERetries: 5xx, HTTP 429, Viber's tooManyRequests and no
// answer in time are retried until Viber takes the message; a permanent
// refusal fails it after one attempt with Viber's status as the error code.
func TestViberE2ERetries(t *testing.T) {
	v := startViber(t, func(cfg *Config) { cfg.ProviderTimeout = 300 * time.Millisecond })
	tests := []struct {
		name     string
		failures int
		f        vibertest.Failure
	}{
		{"HTTP 500", 2, vibertest.Failure{HTTPStatus: http.StatusInternalServerError}},
		{"HTTP 429 with Retry-After", 1, vibertest.Failure{HTTPStatus: http.StatusTooManyRequests, RetryAfter: "1"}},
		{"tooManyRequests (status 12)", 2, vibertest.Failure{Status: vibertest.StatusTooManyRequests}},
		{"no answer within the provider timeout", 1, vibertest.Failure{Delay: time.Minute}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(v.fake.Sends())
			v.fake.FailNextSends(tt.failures, tt.f)
			user := "retry" + string(rune('0'+i)) + "0000000A="
			m := v.send(user, "retry me")
			got := v.wait(m.ID, "sent")
			sends := v.fake.Sends()[before:]
			if len(sends) != tt.failures+1 || got.Attempts != tt.failures+1 {
				t.Fatalf("%d sends, attempts %d; want %d", len(sends), got.Attempts, tt.failures+1)
			}
			for j, s := range sends {
				failed := j < tt.failures
				if s.Fields["receiver"] != user || s.Fields["tracking_data"] != m.ID || (s.MessageToken == "") != failed || s.Abandoned != (failed && tt.f.Delay > 0) {
					t.Fatalf("send %d: %+v", j, s)
				}
			}
			if got.ProviderMessageID == nil || *got.ProviderMessageID != sends[tt.failures].MessageToken {
				t.Fatalf("message %+v, want provider_message_id %s", got, sends[tt.failures].MessageToken)
			}
		})
	}
	t.Run("permanent: receiverNotRegistered", func(t *testing.T) {
		before := len(v.fake.Sends())
		v.fake.FailNextSends(1, vibertest.Failure{Status: vibertest.StatusReceiverNotRegistered})
		m := v.send("notonviber000000A=", "hello?")
		got := v.wait(m.ID, "failed")
		if got.ErrorCode == nil || *got.ErrorCode != "5" || got.ErrorMessage == nil || *got.ErrorMessage != "receiverNotRegistered" || got.Attempts != 1 {
			t.Fatalf("failed message %+v", got)
		}
		if n := len(v.fake.Sends()) - before; n != 1 {
			t.Fatalf("%d sends, want exactly 1", n)
		}
		// Not an opt-out: the user is not on Viber, they did not refuse us.
		if o := v.optOuts(); len(o) != 0 {
			t.Fatalf("opt-outs %+v", o)
		}
	})
}

// TestViberE2EOptOut: unsubscribing opts the user out (sends to them are
// refused), subscribing again opts them back in; a send Viber refuses as
// receiverNotSubscribed fails and opts the user out too, until they write
// to the bot.
func TestViberE2EOptOut(t *testing.T) {
	v := startViber(t)
	hook := newReceiver(t)
	v.c.must(http.StatusCreated, "POST", "/v1/webhook-endpoints", map[string]any{"url": hook.srv.URL, "events": []string{"*"}}, nil)

	// John has written to the bot, so he is a customer; then he leaves.
	v.post(vibertest.Text("4912661846655238140", viberJohn, "hi"))
	john, _ := v.customer(viberJohn.ID)
	v.post(vibertest.Unsubscribed("4912661846655238145", viberJohn.ID))
	o := v.optOuts()
	if len(o) != 1 || o[0].Channel != "viber" || o[0].Address != viberJohn.ID || o[0].Source != "provider" || o[0].CustomerID == nil ||
		*o[0].CustomerID != john.ID || o[0].Keyword == nil || *o[0].Keyword != "unsubscribed" {
		t.Fatalf("opt-outs %+v", o)
	}
	v.post(vibertest.Unsubscribed("4912661846655238145", viberJohn.ID)) // Viber's retry
	if o := v.optOuts(); len(o) != 1 {
		t.Fatalf("opt-outs after a repeated callback %+v", o)
	}
	v.c.problem("POST", "/v1/messages", map[string]any{"channel": "viber", "from": viberBot, "to": viberJohn.ID, "text": "come back"},
		http.StatusUnprocessableEntity, "opted-out")
	if n := len(v.fake.Sends()); n != 0 {
		t.Fatalf("%d sends to an unsubscribed user", n)
	}

	v.post(vibertest.Subscribed("4912661846655238146", viberJohn))
	if o := v.optOuts(); len(o) != 0 {
		t.Fatalf("opt-outs after subscribing %+v", o)
	}
	m := v.send(viberJohn.ID, "welcome back")
	v.wait(m.ID, "sent")

	// Viber refuses a send: the user is not subscribed (status 6).
	const jane = "jc9HsWTZ2Yf2NkRZ8KcNug=="
	before := len(v.fake.Sends())
	v.fake.FailNextSends(1, vibertest.Failure{Status: vibertest.StatusReceiverNotSubscribed})
	refused := v.send(jane, "hello")
	got := v.wait(refused.ID, "failed")
	if got.ErrorCode == nil || *got.ErrorCode != "6" || got.Attempts != 1 || len(v.fake.Sends())-before != 1 {
		t.Fatalf("refused message %+v after %d sends", got, len(v.fake.Sends())-before)
	}
	o = v.optOuts()
	if len(o) != 1 || o[0].Address != jane || o[0].Source != "provider" || o[0].CustomerID == nil || *o[0].CustomerID != refused.CustomerID {
		t.Fatalf("opt-outs %+v", o)
	}
	v.c.problem("POST", "/v1/messages", map[string]any{"channel": "viber", "from": viberBot, "to": jane, "text": "again"},
		http.StatusUnprocessableEntity, "opted-out")
	// Writing to the bot subscribes her again.
	v.post(vibertest.Text("4912661846655238150", vibertest.User{ID: jane, Name: "Jane", APIVersion: 10}, "I'm back"))
	if o := v.optOuts(); len(o) != 0 {
		t.Fatalf("opt-outs after she wrote %+v", o)
	}
	v.wait(v.send(jane, "hello again").ID, "sent")

	waitFor(t, "customer.opted_out and customer.opted_in webhooks, twice each", 10*time.Second, func() bool {
		var out, in int
		for _, g := range hook.all() {
			switch g.event.Type {
			case sb.EventCustomerOptedOut:
				out++
			case sb.EventCustomerOptedIn:
				in++
			}
		}
		return out == 2 && in == 2
	})
}
