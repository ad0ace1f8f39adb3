package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/providers/telegram/telegramtest"
)

// The Telegram end-to-end tests run the whole app (PostgreSQL, Redis, API,
// workers) against telegramtest's fake Bot API. Telegram has no delivery
// reports: a send the Bot API accepted is in the chat, so it goes straight
// to delivered, and the webhook only ever brings updates (messages, blocks).

const (
	tgToken  = "7000000001:AAH-e2e_switchboard_bot_0123456789abcdef"
	tgSecret = "AAH-e2e_switchboard_bot_0123456789abcdef" // the token's secret part
	tgBot    = "switchboard_bot"
)

// tgUser is a customer writing to the bot; their chat id is their user id.
func tgUser(id int64, name string) telegramtest.User {
	return telegramtest.User{ID: id, FirstName: name, Username: strings.ToLower(name) + "_tg", LanguageCode: "ru"}
}

// tgMsg is a message with the fields these tests read beyond rmsg's.
type tgMsg struct {
	rmsg
	ProviderMessageID *string         `json:"provider_message_id"`
	ChannelID         *string         `json:"channel_id"`
	ErrorMessage      *string         `json:"error_message"`
	MediaURLs         []string        `json:"media_urls"`
	Metadata          json.RawMessage `json:"metadata"`
	Attempts          int             `json:"attempts"`
}

type tgOptOut struct {
	Channel    string  `json:"channel"`
	Address    string  `json:"address"`
	CustomerID *string `json:"customer_id"`
	Source     string  `json:"source"`
	Keyword    *string `json:"keyword"`
}

type tgTimelineEntry struct {
	Type    string `json:"type"`
	Message *tgMsg `json:"message"`
}

// tgE2E is a running Switchboard whose Telegram API is the fake.
type tgE2E struct {
	t    *testing.T
	s    *stack
	c    *rawClient
	fake *telegramtest.Server
}

func newTelegramE2E(t *testing.T) *tgE2E {
	t.Helper()
	fake := telegramtest.NewServer(tgToken, tgBot)
	t.Cleanup(fake.Close) // registered first: runs after the app has stopped
	cfg := testConfig(t)
	cfg.ProviderBaseURLs[sb.ProviderTelegram] = fake.URL
	s := startStack(t, cfg, RoleAll)
	return &tgE2E{t: t, s: s, c: s.raw("telegram"), fake: fake}
}

// connect connects the fake's bot with tgBot as its sender and checks the
// answer never shows the token.
func (e *tgE2E) connect() rchannel {
	e.t.Helper()
	var ch rchannel
	code, body := e.c.do("POST", "/v1/channels", map[string]any{"type": "telegram", "credentials": map[string]string{"bot_token": tgToken},
		"senders": []map[string]any{{"channel": "telegram", "address": tgBot, "default": true}}}, &ch)
	if code != http.StatusCreated {
		e.t.Fatalf("connect telegram: %d %s", code, body)
	}
	if bytes.Contains(body, []byte(tgSecret)) {
		e.t.Fatalf("the bot token is in the response: %s", body)
	}
	return ch
}

func (e *tgE2E) message(id string) tgMsg {
	e.t.Helper()
	var m tgMsg
	e.c.must(http.StatusOK, "GET", "/v1/messages/"+id, nil, &m)
	return m
}

// deliver has the fake deliver u to our webhook and wants 200.
func (e *tgE2E) deliver(u telegramtest.Update) {
	e.t.Helper()
	if code, err := e.fake.Deliver(u); err != nil || code != http.StatusOK {
		e.t.Fatalf("deliver update %d: %d %v", u.UpdateID, code, err)
	}
}

// customer finds the customer with identity telegram:<chatID>.
func (e *tgE2E) customer(chatID string) rcustomer {
	e.t.Helper()
	var list rlist[rcustomer]
	e.c.must(http.StatusOK, "GET", "/v1/customers?identity="+url.QueryEscape("telegram:"+chatID), nil, &list)
	if len(list.Data) != 1 {
		e.t.Fatalf("customers with identity telegram:%s: %+v", chatID, list.Data)
	}
	return list.Data[0]
}

// timeline returns the messages on a customer's timeline, newest first.
func (e *tgE2E) timeline(customerID string) []tgMsg {
	e.t.Helper()
	var tl rlist[tgTimelineEntry]
	e.c.must(http.StatusOK, "GET", "/v1/customers/"+customerID+"/timeline?limit=100", nil, &tl)
	var out []tgMsg
	for _, en := range tl.Data {
		if en.Type == "message" && en.Message != nil {
			out = append(out, *en.Message)
		}
	}
	return out
}

func (e *tgE2E) optOuts() []tgOptOut {
	e.t.Helper()
	var list rlist[tgOptOut]
	e.c.must(http.StatusOK, "GET", "/v1/opt-outs?channel=telegram", nil, &list)
	return list.Data
}

func findOptOut(list []tgOptOut, address string) *tgOptOut {
	for i := range list {
		if list[i].Channel == "telegram" && list[i].Address == address {
			return &list[i]
		}
	}
	return nil
}

// statuses lists the HTTP statuses the fake answered to reqs.
func statuses(reqs []telegramtest.Request) []int {
	out := make([]int, len(reqs))
	for i, r := range reqs {
		out[i] = r.Status
	}
	return out
}

// sentMessageID is the message_id the fake gave the message it sent.
func sentMessageID(t *testing.T, r telegramtest.Request) int64 {
	t.Helper()
	var env struct {
		Result struct {
			MessageID int64 `json:"message_id"`
		} `json:"result"`
	}
	if err := json.Unmarshal(r.Response, &env); err != nil || env.Result.MessageID == 0 {
		t.Fatalf("fake answered %s", r.Response)
	}
	return env.Result.MessageID
}

// TestTelegramE2EConnect: connecting proves the token with getMe, stores
// it sealed, shows only a hint, and registers our hook URL with setWebhook
// carrying the channel's hook secret as secret_token.
func TestTelegramE2EConnect(t *testing.T) {
	e := newTelegramE2E(t)
	c := e.c

	// A well-formed token the Bot API does not know: refused, nothing stored.
	const revoked = "7000000001:AAH-revoked_token_000000000000000000000000"
	c.problem("POST", "/v1/channels", map[string]any{"type": "telegram", "credentials": map[string]string{"bot_token": revoked},
		"senders": []map[string]any{{"channel": "telegram", "address": tgBot}}}, 422, "provider-refused")
	if got := e.fake.Requests("getMe"); len(got) != 1 || got[0].Status != http.StatusUnauthorized || got[0].Path != "/bot"+revoked+"/getMe" {
		t.Fatalf("getMe calls %+v", got)
	}
	// A malformed one never reaches Telegram.
	c.problem("POST", "/v1/channels", map[string]any{"type": "telegram", "credentials": map[string]string{"bot_token": "12345"},
		"senders": []map[string]any{{"channel": "telegram", "address": tgBot}}}, 422, "validation")
	if n := len(e.fake.Requests("")); n != 1 {
		t.Fatalf("%d calls to the Bot API, want 1", n)
	}
	var list rlist[rchannel]
	c.must(http.StatusOK, "GET", "/v1/channels", nil, &list)
	if len(list.Data) != 0 {
		t.Fatalf("refused channels were stored: %+v", list.Data)
	}

	// Telegram refusing our URL (it wants HTTPS on 443, 80, 88 or 8443)
	// does not lose the channel: it is connected with webhook_status failed.
	e.fake.StrictWebhooks(true)
	failed := e.connect()
	if failed.WebhookStatus != "failed" || e.fake.Webhook().URL != "" {
		t.Fatalf("with the URL refused: channel %+v, webhook %+v", failed, e.fake.Webhook())
	}
	if sw := e.fake.Requests("setWebhook"); len(sw) != 1 || sw[0].Status != http.StatusBadRequest {
		t.Fatalf("setWebhook calls %+v", sw)
	}
	c.must(http.StatusNoContent, "DELETE", "/v1/channels/"+failed.ID, nil, nil)
	e.fake.StrictWebhooks(false)

	ch := e.connect()
	secret := ch.WebhookURL[strings.LastIndex(ch.WebhookURL, "/")+1:]
	if ch.Type != "telegram" || ch.Name != "@"+tgBot || ch.Status != "active" || ch.WebhookStatus != "registered" ||
		ch.WebhookURL != e.s.cfg.PublicURL+"/hooks/"+ch.ID+"/"+secret || len(secret) < 16 ||
		len(ch.Senders) != 1 || ch.Senders[0].Address != tgBot || !ch.Senders[0].Default {
		t.Fatalf("channel %+v", ch)
	}
	if want := map[string]string{"bot_token": "****" + tgSecret[len(tgSecret)-4:], "bot_id": "7000000001"}; !reflect.DeepEqual(ch.CredentialsHint, want) {
		t.Fatalf("credentials_hint %v, want %v", ch.CredentialsHint, want)
	}
	sw := e.fake.Requests("setWebhook")
	if len(sw) != 2 {
		t.Fatalf("setWebhook calls %+v", sw)
	}
	reg := sw[1]
	if reg.HTTPMethod != http.MethodPost || reg.Path != "/bot"+tgToken+"/setWebhook" || reg.Header.Get("Content-Type") != "application/json" ||
		reg.Status != http.StatusOK || reg.Param("url") != ch.WebhookURL || reg.Param("secret_token") != secret ||
		reg.Param("allowed_updates") != `["message","edited_message","my_chat_member"]` || reg.Param("drop_pending_updates") != "false" {
		t.Fatalf("setWebhook %+v", reg)
	}
	if wh := e.fake.Webhook(); wh.URL != ch.WebhookURL || wh.SecretToken != secret {
		t.Fatalf("registered webhook %+v", wh)
	}
	// Reading the channel back shows no more; the row holds it sealed.
	for _, path := range []string{"/v1/channels/" + ch.ID, "/v1/channels"} {
		if _, body := c.do("GET", path, nil, nil); bytes.Contains(body, []byte(tgSecret)) {
			t.Fatalf("GET %s shows the token: %s", path, body)
		}
	}
	var creds []byte
	if err := e.s.pg(t).QueryRow(context.Background(), `SELECT credentials FROM channels WHERE id = $1`, ch.ID).Scan(&creds); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(creds, []byte(tgSecret)) || !bytes.HasPrefix(creds, []byte("sb1:")) {
		t.Fatalf("credentials at rest: %q", creds)
	}
}

// TestTelegramE2ESend: text, photo and document sends reach the Bot API as
// it documents them, come back delivered (Telegram has no receipts: an
// accepted send is in the chat), and fire message.delivered with the
// customer and conversation.
func TestTelegramE2ESend(t *testing.T) {
	e := newTelegramE2E(t)
	c := e.c
	hook := newReceiver(t)
	c.must(http.StatusCreated, "POST", "/v1/webhook-endpoints", map[string]any{"url": hook.srv.URL, "events": []string{"*"}}, nil)
	ch := e.connect()

	for _, tc := range []struct {
		name   string
		send   map[string]any
		chat   string
		method string
		params map[string]any // exactly what the Bot API receives
	}{
		{"text", map[string]any{"channel": "telegram", "from": tgBot, "to": "4242", "text": "Your order #1001 has shipped"},
			"4242", "sendMessage", map[string]any{"chat_id": json.Number("4242"), "text": "Your order #1001 has shipped"}},
		{"text from the default sender", map[string]any{"channel": "telegram", "to": "4243", "text": "Привет!"},
			"4243", "sendMessage", map[string]any{"chat_id": json.Number("4243"), "text": "Привет!"}},
		{"photo with caption", map[string]any{"channel": "telegram", "from": tgBot, "to": "4242", "text": "Your receipt",
			"media_urls": []string{"https://cdn.example.com/receipts/1001.jpg"}},
			"4242", "sendPhoto", map[string]any{"chat_id": json.Number("4242"), "photo": "https://cdn.example.com/receipts/1001.jpg", "caption": "Your receipt"}},
		{"document", map[string]any{"channel": "telegram", "from": tgBot, "to": "4244", "media_urls": []string{"https://cdn.example.com/invoices/1001.pdf"}},
			"4244", "sendDocument", map[string]any{"chat_id": json.Number("4244"), "document": "https://cdn.example.com/invoices/1001.pdf"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.fake.Sends(tc.chat))
			m := c.send(tc.send)
			if m.Provider != "telegram" || m.From != tgBot || m.To != tc.chat || m.CustomerID == "" || m.ConversationID == "" {
				t.Fatalf("accepted %+v", m)
			}
			c.waitDelivered(m.ID)
			sends := e.fake.Sends(tc.chat)
			if len(sends) != before+1 {
				t.Fatalf("%d sends to chat %s, want %d", len(sends), tc.chat, before+1)
			}
			r := sends[before]
			if r.Method != tc.method || r.HTTPMethod != http.MethodPost || r.Path != "/bot"+tgToken+"/"+tc.method ||
				r.Header.Get("Content-Type") != "application/json" || r.Status != http.StatusOK {
				t.Fatalf("call %s %s %s content type %q, answered %d", r.HTTPMethod, r.Path, r.Method, r.Header.Get("Content-Type"), r.Status)
			}
			if !reflect.DeepEqual(r.Params, tc.params) {
				t.Fatalf("%s params %#v, want %#v", r.Method, r.Params, tc.params)
			}
			got := e.message(m.ID)
			wantID := fmt.Sprintf("%s:%d", tc.chat, sentMessageID(t, r))
			if got.Provider != "telegram" || got.ProviderMessageID == nil || *got.ProviderMessageID != wantID ||
				got.ChannelID == nil || *got.ChannelID != ch.ID || got.ErrorCode != nil || got.Attempts != 1 {
				t.Fatalf("message %+v provider id %v channel %v, want provider id %s", got, got.ProviderMessageID, got.ChannelID, wantID)
			}
			var events struct {
				Data []struct {
					Status string `json:"status"`
				} `json:"data"`
			}
			c.must(http.StatusOK, "GET", "/v1/messages/"+m.ID+"/events", nil, &events)
			var seen []string
			for _, ev := range events.Data {
				seen = append(seen, ev.Status)
			}
			if !contains(seen, "sent") || seen[len(seen)-1] != "delivered" {
				t.Fatalf("events %v", seen)
			}
			waitFor(t, "message.delivered with the customer and conversation", 10*time.Second, func() bool {
				for _, g := range hook.all() {
					if g.event.Type == "message.delivered" && g.msg.ID == m.ID {
						var d rmsg
						json.Unmarshal(g.event.Data, &d)
						return d.CustomerID == m.CustomerID && d.ConversationID == m.ConversationID && d.Status == "delivered"
					}
				}
				return false
			})
		})
	}
}

// TestTelegramE2EInbound: updates Telegram delivers become inbound
// messages on the customer's timeline, once each however often Telegram
// redelivers them, and a reply goes back through the bot.
func TestTelegramE2EInbound(t *testing.T) {
	e := newTelegramE2E(t)
	c := e.c
	hook := newReceiver(t)
	c.must(http.StatusCreated, "POST", "/v1/webhook-endpoints", map[string]any{"url": hook.srv.URL, "events": []string{"*"}}, nil)
	ch := e.connect()
	ivan := tgUser(4242, "Ivan")

	hello := e.fake.Text(ivan, "Hello, I need help with my order")
	e.deliver(hello)
	cu := e.customer("4242")
	tl := e.timeline(cu.ID)
	if len(tl) != 1 {
		t.Fatalf("timeline %+v, want one message", tl)
	}
	in := tl[0]
	wantID := fmt.Sprintf("4242:%d", hello.Message.MessageID)
	if in.Direction != "inbound" || in.Channel != "telegram" || in.From != "4242" || in.To != tgBot || in.Text != "Hello, I need help with my order" ||
		in.Status != "received" || in.Provider != "telegram" || in.ProviderMessageID == nil || *in.ProviderMessageID != wantID ||
		in.ChannelID == nil || *in.ChannelID != ch.ID || in.CustomerID != cu.ID || in.ConversationID == "" {
		t.Fatalf("inbound %+v provider id %v channel %v", in, in.ProviderMessageID, in.ChannelID)
	}
	var meta struct {
		Telegram struct {
			UpdateID int64 `json:"update_id"`
			From     struct {
				Username string `json:"username"`
			} `json:"from"`
		} `json:"telegram"`
	}
	if json.Unmarshal(in.Metadata, &meta); meta.Telegram.UpdateID != hello.UpdateID || meta.Telegram.From.Username != "ivan_tg" {
		t.Fatalf("metadata %s", in.Metadata)
	}

	// Telegram redelivers an update it thinks we missed: stored once.
	e.deliver(hello)
	if tl := e.timeline(cu.ID); len(tl) != 1 {
		t.Fatalf("after a redelivery the timeline has %d messages", len(tl))
	}

	// /start and a photo land on the same timeline and conversation.
	start := e.fake.Text(ivan, "/start")
	e.deliver(start)
	photo := e.fake.Photo(ivan, "The parcel arrived damaged")
	e.deliver(photo)
	e.deliver(photo)
	tl = e.timeline(cu.ID)
	if len(tl) != 3 || tl[1].Text != "/start" || tl[0].Text != "The parcel arrived damaged" ||
		tl[0].ConversationID != in.ConversationID || tl[1].ConversationID != in.ConversationID {
		t.Fatalf("timeline %+v", tl)
	}
	var photoMeta struct {
		Kind   string `json:"kind"`
		FileID string `json:"telegram_file_id"`
	}
	if json.Unmarshal(tl[0].Metadata, &photoMeta); photoMeta.Kind != "photo" || photoMeta.FileID != photo.Message.Photo[2].FileID {
		t.Fatalf("photo metadata %s, want the largest size %s", tl[0].Metadata, photo.Message.Photo[2].FileID)
	}
	var inbound rlist[rmsg]
	c.must(http.StatusOK, "GET", "/v1/messages?direction=inbound", nil, &inbound)
	if len(inbound.Data) != 3 {
		t.Fatalf("%d inbound messages stored, want 3", len(inbound.Data))
	}
	// A /start from a user who never opted out opts nothing in or out.
	if oo := e.optOuts(); len(oo) != 0 {
		t.Fatalf("opt-outs %+v", oo)
	}

	// A reply in the conversation goes back through the bot to the chat.
	var reply rmsg
	c.must(http.StatusAccepted, "POST", "/v1/conversations/"+in.ConversationID+"/messages", map[string]string{"text": "Sorry! We will send a new one."}, &reply)
	if reply.Channel != "telegram" || reply.To != "4242" || reply.From != tgBot || reply.Provider != "telegram" {
		t.Fatalf("reply %+v", reply)
	}
	c.waitDelivered(reply.ID)
	if sends := e.fake.Sends("4242"); len(sends) != 1 || sends[0].Param("text") != "Sorry! We will send a new one." {
		t.Fatalf("sends %+v", sends)
	}
	waitFor(t, "message.received for each inbound message", 10*time.Second, func() bool {
		n := 0
		for _, g := range hook.all() {
			var d rmsg
			json.Unmarshal(g.event.Data, &d)
			if g.event.Type == "message.received" && d.CustomerID == cu.ID {
				n++
			}
		}
		return n == 3
	})
}

// TestTelegramE2EForged: an update without our secret token, or with a
// wrong one, is refused 403 and leaves nothing behind.
func TestTelegramE2EForged(t *testing.T) {
	e := newTelegramE2E(t)
	c := e.c
	ch := e.connect()
	mallory := tgUser(6666, "Mallory")
	secret := e.fake.Webhook().SecretToken
	hookSecret := ch.WebhookURL[strings.LastIndex(ch.WebhookURL, "/")+1:]
	wrongURL := strings.TrimSuffix(ch.WebhookURL, hookSecret) + "0" + hookSecret[1:]
	if hookSecret[0] == '0' {
		wrongURL = strings.TrimSuffix(ch.WebhookURL, hookSecret) + "1" + hookSecret[1:]
	}

	for _, tc := range []struct {
		name, url, secret string
		want              int
	}{
		{"no secret header", ch.WebhookURL, "", http.StatusForbidden},
		{"wrong secret", ch.WebhookURL, "not-the-secret", http.StatusForbidden},
		{"secret of another length", ch.WebhookURL, secret + "x", http.StatusForbidden},
		{"right header, wrong URL", wrongURL, secret, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, u := range []telegramtest.Update{e.fake.Text(mallory, "forged hello"), e.fake.Text(mallory, "STOP"), e.fake.Blocked(mallory)} {
				if code, err := telegramtest.Post(tc.url, tc.secret, u); err != nil || code != tc.want {
					t.Fatalf("update %d: %d %v, want %d", u.UpdateID, code, err, tc.want)
				}
			}
		})
	}
	var msgs rlist[rmsg]
	c.must(http.StatusOK, "GET", "/v1/messages", nil, &msgs)
	var customers rlist[rcustomer]
	c.must(http.StatusOK, "GET", "/v1/customers", nil, &customers)
	if len(msgs.Data) != 0 || len(customers.Data) != 0 || len(e.optOuts()) != 0 || len(e.fake.Sends("")) != 0 {
		t.Fatalf("forged updates left messages %+v customers %+v opt-outs %+v", msgs.Data, customers.Data, e.optOuts())
	}
	// The same update with the secret goes in.
	e.deliver(e.fake.Text(mallory, "genuine hello"))
	e.customer("6666")
}

// TestTelegramE2ERetries: 500s, 429s and a proxy's error page are retried
// (a 429 no sooner than its retry_after); a permanent error fails the
// message with Telegram's code after one attempt.
func TestTelegramE2ERetries(t *testing.T) {
	e := newTelegramE2E(t)
	c := e.c
	e.connect()
	send := func(chat string) rmsg {
		return c.send(map[string]any{"channel": "telegram", "from": tgBot, "to": chat, "text": "Your code is 1234"})
	}

	t.Run("500s then delivered", func(t *testing.T) {
		e.fake.FailNext(2, telegramtest.ServerError())
		m := send("5001")
		c.waitDelivered(m.ID)
		if got := statuses(e.fake.Sends("5001")); !reflect.DeepEqual(got, []int{500, 500, 200}) {
			t.Fatalf("attempts answered %v", got)
		}
		if got := e.message(m.ID); got.Attempts != 3 || got.ErrorCode != nil {
			t.Fatalf("message %+v", got)
		}
	})
	t.Run("429 retried after retry_after", func(t *testing.T) {
		e.fake.FailNext(1, telegramtest.TooManyRequests(1))
		m := send("5002")
		c.waitDelivered(m.ID)
		sends := e.fake.Sends("5002")
		if got := statuses(sends); !reflect.DeepEqual(got, []int{429, 200}) {
			t.Fatalf("attempts answered %v", got)
		}
		// A lower bound only: the retry must not come before Telegram's
		// hint (the backoff alone would retry after ~50ms).
		if gap := sends[1].At.Sub(sends[0].At); gap < time.Second {
			t.Fatalf("retried %s after a 429 asking for 1s", gap)
		}
	})
	t.Run("proxy error page then delivered", func(t *testing.T) {
		e.fake.FailNext(1, telegramtest.Reply{Code: http.StatusBadGateway, Body: "<html><body><h1>502 Bad Gateway</h1></body></html>"})
		m := send("5003")
		c.waitDelivered(m.ID)
		if got := statuses(e.fake.Sends("5003")); !reflect.DeepEqual(got, []int{502, 200}) {
			t.Fatalf("attempts answered %v", got)
		}
	})
	t.Run("permanent error fails at once", func(t *testing.T) {
		e.fake.FailNext(1, telegramtest.ChatNotFound())
		m := send("5004")
		c.waitMessage(m.ID, "failed", 20*time.Second, func(m rmsg) bool { return m.Status == "failed" })
		got := e.message(m.ID)
		if got.ErrorCode == nil || *got.ErrorCode != "400" || got.ErrorMessage == nil || *got.ErrorMessage != "Bad Request: chat not found" || got.Attempts != 1 {
			t.Fatalf("failed message %+v error %v", got, got.ErrorMessage)
		}
		// Another message goes through after it, and the failed one was
		// never tried again; a chat that is not found is no opt-out.
		c.waitDelivered(send("5005").ID)
		if n := len(e.fake.Sends("5004")); n != 1 {
			t.Fatalf("%d attempts at a permanent failure, want 1", n)
		}
		if oo := e.optOuts(); len(oo) != 0 {
			t.Fatalf("opt-outs %+v", oo)
		}
	})
}

// TestTelegramE2EOptOut: a user who blocked the bot is opted out, whether
// we learn it from a send ("Forbidden: bot was blocked by the user") or
// from the my_chat_member update; unblocking or /start opts them back in.
func TestTelegramE2EOptOut(t *testing.T) {
	e := newTelegramE2E(t)
	c := e.c
	hook := newReceiver(t)
	c.must(http.StatusCreated, "POST", "/v1/webhook-endpoints", map[string]any{"url": hook.srv.URL, "events": []string{"*"}}, nil)
	e.connect()
	sendBody := func(chat string) map[string]any {
		return map[string]any{"channel": "telegram", "from": tgBot, "to": chat, "text": "Black Friday: 30% off"}
	}
	optedOutEvent := func(customerID string) bool {
		for _, g := range hook.all() {
			if g.event.Type == "customer.opted_out" && bytes.Contains(g.event.Data, []byte(customerID)) {
				return true
			}
		}
		return false
	}

	t.Run("blocked at send", func(t *testing.T) {
		e.fake.FailNext(1, telegramtest.BotBlocked())
		m := c.send(sendBody("4243"))
		failed := c.waitMessage(m.ID, "failed", 20*time.Second, func(m rmsg) bool { return m.Status == "failed" })
		if failed.ErrorCode == nil || *failed.ErrorCode != "403" {
			t.Fatalf("message %+v", failed)
		}
		if n := len(e.fake.Sends("4243")); n != 1 {
			t.Fatalf("%d attempts, want 1", n)
		}
		o := findOptOut(e.optOuts(), "4243")
		if o == nil || o.Source != "provider" || o.CustomerID == nil || *o.CustomerID != m.CustomerID {
			t.Fatalf("opt-out %+v in %+v", o, e.optOuts())
		}
		if cu := e.customer("4243"); len(cu.Identities) != 1 || !cu.Identities[0].OptedOut {
			t.Fatalf("customer %+v", cu)
		}
		c.problem("POST", "/v1/messages", sendBody("4243"), 422, "opted-out")
		if n := len(e.fake.Sends("4243")); n != 1 {
			t.Fatalf("an opted-out chat was sent to again: %d sends", n)
		}
		waitFor(t, "customer.opted_out", 10*time.Second, func() bool { return optedOutEvent(m.CustomerID) })

		// Unblocking (Telegram reports kicked → member) opts back in.
		e.deliver(e.fake.Unblocked(tgUser(4243, "Olga")))
		if o := findOptOut(e.optOuts(), "4243"); o != nil {
			t.Fatalf("still opted out after unblocking: %+v", o)
		}
		c.waitDelivered(c.send(sendBody("4243")).ID)
	})

	t.Run("blocked update", func(t *testing.T) {
		petr := tgUser(4244, "Petr")
		e.deliver(e.fake.Text(petr, "hi"))
		cu := e.customer("4244")
		blocked := e.fake.Blocked(petr)
		e.deliver(blocked)
		e.deliver(blocked) // redelivered: still one opt-out
		var n int
		for _, o := range e.optOuts() {
			if o.Address == "4244" {
				n++
				if o.Source != "provider" || o.CustomerID == nil || *o.CustomerID != cu.ID {
					t.Fatalf("opt-out %+v", o)
				}
			}
		}
		if n != 1 {
			t.Fatalf("%d opt-outs of 4244, want 1", n)
		}
		c.problem("POST", "/v1/messages", sendBody("4244"), 422, "opted-out")
		if sends := e.fake.Sends("4244"); len(sends) != 0 {
			t.Fatalf("sends to a chat that blocked the bot: %+v", sends)
		}
		waitFor(t, "customer.opted_out", 10*time.Second, func() bool { return optedOutEvent(cu.ID) })

		// /start is the user coming back: opted in, and the message is kept.
		e.deliver(e.fake.Text(petr, "/start"))
		if o := findOptOut(e.optOuts(), "4244"); o != nil {
			t.Fatalf("still opted out after /start: %+v", o)
		}
		if tl := e.timeline(cu.ID); len(tl) != 2 || tl[0].Text != "/start" {
			t.Fatalf("timeline %+v", tl)
		}
		c.waitDelivered(c.send(sendBody("4244")).ID)
		if n := len(e.fake.Sends("4244")); n != 1 {
			t.Fatalf("%d sends after /start, want 1", n)
		}
	})
}

// TestTelegramE2EStopKeyword: STOP written to the bot opts the chat out,
// and the confirmation goes back to the chat through the bot.
func TestTelegramE2EStopKeyword(t *testing.T) {
	e := newTelegramE2E(t)
	c := e.c
	ch := e.connect()
	e.deliver(e.fake.Text(tgUser(4245, "Anna"), "STOP"))
	o := findOptOut(e.optOuts(), "4245")
	if o == nil || o.Source != "keyword" {
		t.Fatalf("opt-outs %+v", e.optOuts())
	}
	var out rlist[tgMsg]
	waitFor(t, "the opt-out confirmation", 10*time.Second, func() bool {
		c.must(http.StatusOK, "GET", "/v1/messages?direction=outbound", nil, &out)
		return len(out.Data) == 1 && out.Data[0].Status == "delivered"
	})
	conf := out.Data[0]
	if conf.To != "4245" || conf.From != tgBot || conf.Provider != "telegram" || conf.ChannelID == nil || *conf.ChannelID != ch.ID {
		t.Fatalf("confirmation %+v channel %v, want it sent by the bot on channel %s", conf, conf.ChannelID, ch.ID)
	}
	if sends := e.fake.Sends("4245"); len(sends) != 1 || sends[0].Param("text") != conf.Text {
		t.Fatalf("the bot sent %+v, want the confirmation %q", sends, conf.Text)
	}
}
