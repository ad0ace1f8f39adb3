package sdk

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Fixtures in the shapes the server's MarshalJSON methods write
// (customer_json.go, settings.go, message_json.go).
const customerJSON = `{"id":"c1","account_id":"a1","name":"Anna","email":"anna@example.com","locale":"ru-RU",
	"timezone":"Europe/Moscow","attributes":{"tier":"gold"},"preferred_channel":"whatsapp",
	"identities":[{"channel":"sms","address":"+79991234567","opted_out":true,"last_inbound_at":"2026-11-23T06:00:00Z",
	"last_seen_at":null,"created_at":"2026-11-20T09:30:00Z"}],
	"created_at":"2026-11-20T09:30:00Z","updated_at":"2026-11-23T06:00:00Z"}`

const conversationJSON = `{"id":"cv1","account_id":"a1","customer_id":"c1","status":"closed","channels":["sms","whatsapp"],
	"current_channel":"whatsapp","last_inbound_channel":null,"message_count":4,"last_activity_at":"2026-11-23T06:00:00Z",
	"closed_at":"2026-11-24T06:00:00Z","closed_reason":"api","created_at":"2026-11-23T05:40:00Z","updated_at":"2026-11-24T06:00:00Z"}`

const optOutJSON = `{"channel":"sms","address":"+79991234567","customer_id":"c1","source":"keyword","keyword":"STOP",
	"created_at":"2026-11-23T06:00:00Z"}`

const settingsFixture = `{"conversation_inactivity":"24h0m0s","opt_out_keywords":["STOP","СТОП"],"opt_in_keywords":["START"],
	"opt_out_reply":"bye","opt_in_reply":"hi","quiet_hours":{"start":"21:00","end":"09:00","timezone":"Europe/Moscow"},
	"senders":{"sms":"+15005550000"}}`

// failoverParentJSON is a failover parent whose second step won.
const failoverParentJSON = `{"id":"p1","account_id":"a1","channel":"whatsapp","direction":"outbound","from":"+15005550000",
	"to":"+79991234567","text":"code","media_urls":[],"metadata":{},"status":"delivered","status_callback_url":null,
	"encoding":null,"segments":null,"provider":"failover","provider_message_id":null,"error_code":null,"error_message":null,
	"attempts":0,"sequence":3,"created_at":"2026-11-23T06:00:00Z","updated_at":"2026-11-23T06:00:31Z",
	"customer_id":"c1","conversation_id":"cv1","category":"transactional",
	"routing":{"mode":"failover","channel":"whatsapp","reason":"step"},"parent_id":null,
	"failover":{"steps":[
		{"channel":"whatsapp","from":"+15005550000","to":"+79991234567","after":"0s","unless":null,"message_id":"m1",
		 "state":"timed_out","reason":"not delivered within 30s","started_at":"2026-11-23T06:00:00Z"},
		{"channel":"sms","from":null,"to":"+79991234567","after":"30s","unless":"delivered","message_id":"m2",
		 "state":"won","reason":null,"started_at":"2026-11-23T06:00:30Z"}],"winner":1},
	"deferred_until":null}`

// autoMessageJSON is a marketing message that routing sent on whatsapp and
// quiet hours deferred.
const autoMessageJSON = `{"id":"m3","account_id":"a1","channel":"whatsapp","direction":"outbound","from":"+15005550000",
	"to":"+79991234567","text":"sale","media_urls":[],"metadata":{},"status":"accepted","status_callback_url":null,
	"encoding":null,"segments":null,"provider":"sandbox","provider_message_id":null,"error_code":null,"error_message":null,
	"attempts":0,"sequence":1,"created_at":"2026-11-23T22:00:00Z","updated_at":"2026-11-23T22:00:00Z",
	"customer_id":"c1","conversation_id":"cv1","category":"marketing",
	"routing":{"mode":"auto","channel":"whatsapp","reason":"last_active","skipped":[{"channel":"telegram","reason":"no_sender"}]},
	"parent_id":null,"deferred_until":"2026-11-24T06:00:00Z"}`

func page(items ...string) string {
	return `{"data":[` + strings.Join(items, ",") + `],"has_more":false,"next_cursor":null}`
}

// TestSendRouting checks the bodies of the routing forms of a send and the
// decoding of the routing fields of a message.
func TestSendRouting(t *testing.T) {
	tests := []struct {
		name     string
		params   *SendMessageParams
		wantBody string
		response string
		check    func(t *testing.T, m *Message)
	}{
		{
			name:     "to a customer on the channel routing picks",
			params:   &SendMessageParams{Channel: ChannelAuto, ToCustomer: "c1", Text: "sale", Category: CategoryMarketing},
			wantBody: `{"channel":"auto","to":{"customer_id":"c1"},"text":"sale","category":"marketing"}`,
			response: autoMessageJSON,
			check: func(t *testing.T, m *Message) {
				r := m.Routing
				if r == nil || r.Mode != RoutingAuto || r.Channel != ChannelWhatsApp || r.Reason != "last_active" ||
					len(r.Skipped) != 1 || r.Skipped[0] != (RoutingSkip{ChannelTelegram, "no_sender"}) {
					t.Errorf("routing = %+v", r)
				}
				if m.Category == nil || *m.Category != CategoryMarketing || m.CustomerID == nil || *m.CustomerID != "c1" ||
					m.ConversationID == nil || *m.ConversationID != "cv1" || m.ParentID != nil || m.Failover != nil {
					t.Errorf("message = %+v", m)
				}
				if m.DeferredUntil == nil || !m.DeferredUntil.Equal(time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)) {
					t.Errorf("DeferredUntil = %v", m.DeferredUntil)
				}
			},
		},
		{
			name:     "to a customer on a named channel from the default sender",
			params:   &SendMessageParams{Channel: ChannelSMS, ToCustomer: "c1", Text: "hi"},
			wantBody: `{"channel":"sms","to":{"customer_id":"c1"},"text":"hi"}`,
			response: messageJSON,
			check: func(t *testing.T, m *Message) {
				if m.Routing != nil || m.CustomerID != nil || m.Category != nil || m.DeferredUntil != nil {
					t.Errorf("absent routing fields decoded as set: %+v", m)
				}
			},
		},
		{
			name: "failover",
			params: &SendMessageParams{To: "+79991234567", Text: "code", Category: CategoryTransactional, Failover: []FailoverStep{
				{Channel: ChannelWhatsApp, From: "+15005550000"},
				{Channel: ChannelSMS, After: 30 * time.Second, Unless: StatusDelivered},
				{Channel: ChannelVoice, After: 90 * time.Minute},
			}},
			wantBody: `{"to":"+79991234567","text":"code","category":"transactional","failover":[
				{"channel":"whatsapp","from":"+15005550000"},
				{"channel":"sms","after":"30s","unless":"delivered"},
				{"channel":"voice","after":"1h30m0s"}]}`,
			response: failoverParentJSON,
			check: func(t *testing.T, m *Message) {
				f := m.Failover
				if m.Provider != "failover" || f == nil || len(f.Steps) != 2 || f.Winner == nil || *f.Winner != 1 {
					t.Fatalf("failover = %+v", f)
				}
				s0, s1 := f.Steps[0], f.Steps[1]
				if s0.After != 0 || s0.Unless != nil || s0.State != StepTimedOut || s0.Reason == nil || s0.MessageID == nil ||
					*s0.MessageID != "m1" || s0.StartedAt == nil || s0.From == nil || *s0.From != "+15005550000" {
					t.Errorf("step 0 = %+v", s0)
				}
				if s1.After != 30*time.Second || s1.Unless == nil || *s1.Unless != StatusDelivered || s1.State != StepWon ||
					s1.From != nil || s1.To == nil || *s1.To != "+79991234567" {
					t.Errorf("step 1 = %+v", s1)
				}
				if m.Routing == nil || m.Routing.Mode != RoutingFailover || m.Routing.Skipped != nil {
					t.Errorf("routing = %+v", m.Routing)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := newFake(t, func(_ int, r recorded, w http.ResponseWriter) {
				if r.Method != "POST" || r.Path != "/v1/messages" {
					t.Errorf("request = %s %s, want POST /v1/messages", r.Method, r.Path)
				}
				reply(w, http.StatusAccepted, tt.response)
			})
			m, err := c.Messages.Send(context.Background(), tt.params)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			r := f.requests()[0]
			assertJSON(t, r.Body, tt.wantBody)
			if r.Header.Get("Idempotency-Key") == "" {
				t.Error("Idempotency-Key missing")
			}
			tt.check(t, m)
		})
	}
}

func TestSendRefusesToAndToCustomer(t *testing.T) {
	c, f := newFake(t, func(_ int, _ recorded, w http.ResponseWriter) { reply(w, http.StatusAccepted, messageJSON) })
	_, err := c.Messages.Send(context.Background(), &SendMessageParams{Channel: ChannelSMS, To: "+79991234567", ToCustomer: "c1", Text: "x"})
	if err == nil || len(f.requests()) != 0 {
		t.Errorf("Send with To and ToCustomer: err = %v, %d requests; want an error and none", err, len(f.requests()))
	}
}

// TestRoutingServices checks each call's method, path, query and body
// against docs/API.md, and what it makes of the response.
func TestRoutingServices(t *testing.T) {
	ctx := context.Background()
	collect := func(seq func(yield func(*Customer, error) bool)) ([]*Customer, error) {
		var out []*Customer
		for c, err := range seq {
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, nil
	}
	tests := []struct {
		name      string
		call      func(*Client) (any, error)
		method    string
		path      string
		query     string // encoded; "" for none
		wantBody  string // "" for no body
		status    int
		response  string
		wantKey   bool // an Idempotency-Key must be sent
		checkResp func(t *testing.T, got any)
	}{
		{
			name: "Customers.Create",
			call: func(c *Client) (any, error) {
				return c.Customers.Create(ctx, &CreateCustomerParams{Name: "Anna", Timezone: "Europe/Moscow",
					Attributes: map[string]any{"tier": "gold"}, PreferredChannel: ChannelWhatsApp,
					Identities: []IdentityRef{{ChannelSMS, "+79991234567"}, {ChannelTelegram, "42"}}})
			},
			method: "POST", path: "/v1/customers",
			wantBody: `{"name":"Anna","timezone":"Europe/Moscow","attributes":{"tier":"gold"},"preferred_channel":"whatsapp",
				"identities":[{"channel":"sms","address":"+79991234567"},{"channel":"telegram","address":"42"}]}`,
			status: 201, response: customerJSON,
			checkResp: func(t *testing.T, got any) {
				c := got.(*Customer)
				if c.ID != "c1" || c.PreferredChannel == nil || *c.PreferredChannel != ChannelWhatsApp || c.Attributes["tier"] != "gold" ||
					len(c.Identities) != 1 {
					t.Fatalf("customer = %+v", c)
				}
				id := c.Identities[0]
				if !id.OptedOut || id.LastInboundAt == nil || id.LastSeenAt != nil || id.CreatedAt.IsZero() {
					t.Errorf("identity = %+v", id)
				}
			},
		},
		{
			name:   "Customers.Create with nil params sends an empty object",
			call:   func(c *Client) (any, error) { return c.Customers.Create(ctx, nil) },
			method: "POST", path: "/v1/customers",
			wantBody: `{}`,
			status:   201, response: customerJSON,
		},
		{
			name:   "Customers.Get",
			call:   func(c *Client) (any, error) { return c.Customers.Get(ctx, "c1") },
			method: "GET", path: "/v1/customers/c1",
			status: 200, response: strings.Replace(customerJSON, `"preferred_channel":"whatsapp"`, `"preferred_channel":null`, 1),
			checkResp: func(t *testing.T, got any) {
				if c := got.(*Customer); c.PreferredChannel != nil {
					t.Errorf("PreferredChannel = %v, want nil", *c.PreferredChannel)
				}
			},
		},
		{
			name: "Customers.List looks up an identity",
			call: func(c *Client) (any, error) {
				return collect(c.Customers.List(ctx, &ListCustomersParams{Limit: 5, Identity: IdentityRef{ChannelSMS, "+79991234567"}}))
			},
			method: "GET", path: "/v1/customers", query: "identity=sms%3A%2B79991234567&limit=5",
			status: 200, response: page(customerJSON),
			checkResp: func(t *testing.T, got any) {
				if cs := got.([]*Customer); len(cs) != 1 || cs[0].ID != "c1" {
					t.Errorf("customers = %+v", cs)
				}
			},
		},
		{
			name:   "Customers.List without params",
			call:   func(c *Client) (any, error) { return collect(c.Customers.List(ctx, nil)) },
			method: "GET", path: "/v1/customers",
			status: 200, response: page(),
		},
		{
			name: "Customers.Update sends only the set fields",
			call: func(c *Client) (any, error) {
				return c.Customers.Update(ctx, "c1", &UpdateCustomerParams{Timezone: new("Asia/Yekaterinburg"),
					PreferredChannel: new(ChannelTelegram), Attributes: map[string]any{}})
			},
			method: "PATCH", path: "/v1/customers/c1",
			wantBody: `{"timezone":"Asia/Yekaterinburg","attributes":{},"preferred_channel":"telegram"}`,
			status:   200, response: customerJSON,
		},
		{
			name:   "Customers.Delete",
			call:   func(c *Client) (any, error) { return nil, c.Customers.Delete(ctx, "c1") },
			method: "DELETE", path: "/v1/customers/c1",
			status: 204,
		},
		{
			name: "Customers.AddIdentity",
			call: func(c *Client) (any, error) {
				return c.Customers.AddIdentity(ctx, "c1", IdentityRef{ChannelWhatsApp, "+79991234567"})
			},
			method: "POST", path: "/v1/customers/c1/identities",
			wantBody: `{"channel":"whatsapp","address":"+79991234567"}`,
			status:   201, response: customerJSON,
		},
		{
			name: "Customers.RemoveIdentity",
			call: func(c *Client) (any, error) {
				return nil, c.Customers.RemoveIdentity(ctx, "c1", IdentityRef{ChannelSMS, "+79991234567"})
			},
			method: "DELETE", path: "/v1/customers/c1/identities", query: "identity=sms%3A%2B79991234567",
			status: 204,
		},
		{
			name:   "Customers.Merge",
			call:   func(c *Client) (any, error) { return c.Customers.Merge(ctx, "c1", "c2") },
			method: "POST", path: "/v1/customers/c1/merge",
			wantBody: `{"from_customer_id":"c2"}`,
			status:   200, response: customerJSON,
		},
		{
			name: "Customers.Timeline",
			call: func(c *Client) (any, error) {
				var out []*TimelineEntry
				for e, err := range c.Customers.Timeline(ctx, "c1", &ListTimelineParams{Limit: 2}) {
					if err != nil {
						return nil, err
					}
					out = append(out, e)
				}
				return out, nil
			},
			method: "GET", path: "/v1/customers/c1/timeline", query: "limit=2",
			status: 200,
			response: page(`{"type":"message","id":"m3","at":"2026-11-23T22:00:00Z","message":`+autoMessageJSON+`}`,
				`{"type":"event","id":"e1","at":"2026-11-23T05:40:00Z","event":{"id":"e1","type":"conversation.opened",
				"customer_id":"c1","conversation_id":"cv1","data":{"channel":"sms","direction":"inbound"},"created_at":"2026-11-23T05:40:00Z"}}`),
			checkResp: func(t *testing.T, got any) {
				es := got.([]*TimelineEntry)
				if len(es) != 2 || es[0].Type != TimelineMessage || es[0].Message == nil || es[0].Message.ID != "m3" || es[0].Event != nil {
					t.Fatalf("entries = %+v", es)
				}
				ev := es[1].Event
				if es[1].Type != TimelineEvent || es[1].Message != nil || ev == nil || ev.Type != EventConversationOpened ||
					ev.ConversationID == nil || *ev.ConversationID != "cv1" || ev.Data["direction"] != "inbound" {
					t.Errorf("event entry = %+v, event = %+v", es[1], ev)
				}
			},
		},
		{
			name: "Conversations.List",
			call: func(c *Client) (any, error) {
				var out []*Conversation
				p := &ListConversationsParams{Limit: 10, Status: ConversationOpen, CustomerID: "c1", Channel: ChannelSMS}
				for cv, err := range c.Conversations.List(ctx, p) {
					if err != nil {
						return nil, err
					}
					out = append(out, cv)
				}
				return out, nil
			},
			method: "GET", path: "/v1/conversations", query: "channel=sms&customer_id=c1&limit=10&status=open",
			status: 200, response: page(conversationJSON),
			checkResp: func(t *testing.T, got any) {
				cvs := got.([]*Conversation)
				if len(cvs) != 1 {
					t.Fatalf("conversations = %+v", cvs)
				}
				cv := cvs[0]
				if cv.Status != ConversationClosed || len(cv.Channels) != 2 || cv.CurrentChannel != ChannelWhatsApp ||
					cv.LastInboundChannel != nil || cv.MessageCount != 4 || cv.ClosedAt == nil || cv.ClosedReason == nil ||
					*cv.ClosedReason != "api" {
					t.Errorf("conversation = %+v", cv)
				}
			},
		},
		{
			name:   "Conversations.Get",
			call:   func(c *Client) (any, error) { return c.Conversations.Get(ctx, "cv1") },
			method: "GET", path: "/v1/conversations/cv1",
			status: 200, response: conversationJSON,
		},
		{
			name:   "Conversations.Close sends no body",
			call:   func(c *Client) (any, error) { return c.Conversations.Close(ctx, "cv1") },
			method: "POST", path: "/v1/conversations/cv1/close",
			status: 200, response: conversationJSON,
		},
		{
			name: "Conversations.Reply",
			call: func(c *Client) (any, error) {
				return c.Conversations.Reply(ctx, "cv1", &ConversationReplyParams{Text: "on it", Channel: ChannelSMS,
					Category: CategoryTransactional})
			},
			method: "POST", path: "/v1/conversations/cv1/messages",
			wantBody: `{"text":"on it","channel":"sms","category":"transactional"}`,
			status:   202, response: messageJSON, wantKey: true,
		},
		{
			name: "OptOuts.List",
			call: func(c *Client) (any, error) {
				var out []*OptOut
				for o, err := range c.OptOuts.List(ctx, &ListOptOutsParams{Channel: ChannelSMS}) {
					if err != nil {
						return nil, err
					}
					out = append(out, o)
				}
				return out, nil
			},
			method: "GET", path: "/v1/opt-outs", query: "channel=sms",
			status: 200, response: page(optOutJSON),
			checkResp: func(t *testing.T, got any) {
				os := got.([]*OptOut)
				if len(os) != 1 || os[0].Source != OptOutKeyword || os[0].Keyword == nil || *os[0].Keyword != "STOP" ||
					os[0].CustomerID == nil {
					t.Errorf("opt-outs = %+v", os)
				}
			},
		},
		{
			name:   "OptOuts.Create",
			call:   func(c *Client) (any, error) { return c.OptOuts.Create(ctx, IdentityRef{ChannelSMS, "+79991234567"}) },
			method: "POST", path: "/v1/opt-outs",
			wantBody: `{"channel":"sms","address":"+79991234567"}`,
			status:   201, response: optOutJSON,
		},
		{
			name:   "OptOuts.Delete",
			call:   func(c *Client) (any, error) { return nil, c.OptOuts.Delete(ctx, IdentityRef{ChannelTelegram, "42"}) },
			method: "DELETE", path: "/v1/opt-outs", query: "identity=telegram%3A42",
			status: 204,
		},
		{
			name:   "Settings.Get",
			call:   func(c *Client) (any, error) { return c.Settings.Get(ctx) },
			method: "GET", path: "/v1/account/settings",
			status: 200, response: settingsFixture,
			checkResp: func(t *testing.T, got any) {
				s := got.(*Settings)
				if s.ConversationInactivity != 24*time.Hour || len(s.OptOutKeywords) != 2 || s.OptOutKeywords[1] != "СТОП" ||
					s.QuietHours == nil || *s.QuietHours != (QuietHours{"21:00", "09:00", "Europe/Moscow"}) ||
					s.Senders[ChannelSMS] != "+15005550000" {
					t.Errorf("settings = %+v", s)
				}
			},
		},
		{
			name: "Settings.Update sends only the set fields",
			call: func(c *Client) (any, error) {
				return c.Settings.Update(ctx, &UpdateSettingsParams{ConversationInactivity: 90 * time.Minute,
					OptInKeywords: []string{}, OptOutReply: new(""), QuietHours: &QuietHours{Start: "22:00", End: "08:00"},
					Senders: map[Channel]string{ChannelTelegram: "bot", ChannelSMS: ""}})
			},
			method: "PATCH", path: "/v1/account/settings",
			wantBody: `{"conversation_inactivity":"1h30m0s","opt_in_keywords":[],"opt_out_reply":"",
				"quiet_hours":{"start":"22:00","end":"08:00"},"senders":{"telegram":"bot","sms":""}}`,
			status: 200, response: settingsFixture,
		},
		{
			name: "Settings.Update clears quiet hours",
			call: func(c *Client) (any, error) {
				return c.Settings.Update(ctx, &UpdateSettingsParams{ClearQuietHours: true})
			},
			method: "PATCH", path: "/v1/account/settings",
			wantBody: `{"quiet_hours":null}`,
			status:   200, response: strings.Replace(settingsFixture, `{"start":"21:00","end":"09:00","timezone":"Europe/Moscow"}`, "null", 1),
			checkResp: func(t *testing.T, got any) {
				if s := got.(*Settings); s.QuietHours != nil {
					t.Errorf("QuietHours = %+v, want nil", s.QuietHours)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := newFake(t, func(_ int, _ recorded, w http.ResponseWriter) { reply(w, tt.status, tt.response) })
			got, err := tt.call(c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("requests = %d, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != tt.method || r.Path != tt.path || r.Query.Encode() != tt.query {
				t.Errorf("request = %s %s?%s, want %s %s?%s", r.Method, r.Path, r.Query.Encode(), tt.method, tt.path, tt.query)
			}
			if tt.wantBody == "" {
				if len(r.Body) != 0 {
					t.Errorf("body = %s, want none", r.Body)
				}
			} else {
				assertJSON(t, r.Body, tt.wantBody)
			}
			if key := r.Header.Get("Idempotency-Key"); (key != "") != tt.wantKey {
				t.Errorf("Idempotency-Key = %q, want one: %v", key, tt.wantKey)
			}
			if tt.checkResp != nil {
				tt.checkResp(t, got)
			}
		})
	}
}

// TestRoutingRetries checks which of the new POSTs are retried after a
// 503, whose outcome is unknown: those the API documents as repeatable.
func TestRoutingRetries(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		call      func(*Client) error
		response  string
		wantTries int
	}{
		{"OptOuts.Create is repeatable", func(c *Client) error {
			_, err := c.OptOuts.Create(ctx, IdentityRef{ChannelSMS, "+79991234567"})
			return err
		}, optOutJSON, 2},
		{"Customers.AddIdentity is repeatable", func(c *Client) error {
			_, err := c.Customers.AddIdentity(ctx, "c1", IdentityRef{ChannelSMS, "+79991234567"})
			return err
		}, customerJSON, 2},
		{"Customers.Merge is repeatable", func(c *Client) error {
			_, err := c.Customers.Merge(ctx, "c1", "c2")
			return err
		}, customerJSON, 2},
		{"Conversations.Reply keeps its key", func(c *Client) error {
			_, err := c.Conversations.Reply(ctx, "cv1", &ConversationReplyParams{Text: "x"})
			return err
		}, messageJSON, 2},
		{"Customers.Create is not retried", func(c *Client) error {
			_, err := c.Customers.Create(ctx, &CreateCustomerParams{Name: "x"})
			return err
		}, customerJSON, 1},
		{"Conversations.Close is repeatable", func(c *Client) error {
			_, err := c.Conversations.Close(ctx, "cv1")
			return err
		}, conversationJSON, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := newFake(t, func(n int, _ recorded, w http.ResponseWriter) {
				if n == 0 {
					problem(w, http.StatusServiceUnavailable, "unavailable", "Unavailable")
					return
				}
				reply(w, http.StatusOK, tt.response)
			})
			err := tt.call(c)
			reqs := f.requests()
			if len(reqs) != tt.wantTries {
				t.Fatalf("tries = %d, want %d (err %v)", len(reqs), tt.wantTries, err)
			}
			if tt.wantTries == 1 {
				var e *Error
				if !errors.As(err, &e) || e.HTTPStatusCode != http.StatusServiceUnavailable {
					t.Errorf("err = %v, want the 503", err)
				}
				return
			}
			if err != nil {
				t.Errorf("err = %v", err)
			}
			if a, b := reqs[0].Header.Get("Idempotency-Key"), reqs[1].Header.Get("Idempotency-Key"); a != b {
				t.Errorf("Idempotency-Key changed across the retry: %q, %q", a, b)
			}
		})
	}
}

// TestRoutingProblems checks that the new problem types come through as
// codes.
func TestRoutingProblems(t *testing.T) {
	for _, code := range []string{ProblemOptedOut, ProblemNoRoute, ProblemConflict} {
		c, _ := newFake(t, func(_ int, _ recorded, w http.ResponseWriter) {
			problem(w, http.StatusUnprocessableEntity, code, "x")
		})
		_, err := c.Messages.Send(context.Background(), &SendMessageParams{Channel: ChannelAuto, ToCustomer: "c1", Text: "x"})
		var e *Error
		if !errors.As(err, &e) || e.Code() != code {
			t.Errorf("err = %v, want code %s", err, code)
		}
	}
}

func TestSettingsUpdateRefusesSetAndClear(t *testing.T) {
	c, f := newFake(t, func(_ int, _ recorded, w http.ResponseWriter) { reply(w, 200, settingsFixture) })
	_, err := c.Settings.Update(context.Background(), &UpdateSettingsParams{QuietHours: &QuietHours{Start: "21:00", End: "09:00"}, ClearQuietHours: true})
	if err == nil || len(f.requests()) != 0 {
		t.Errorf("err = %v, %d requests; want an error and none", err, len(f.requests()))
	}
}

// TestParseCustomerWebhookEvents checks that each customer-level event
// type decodes its data into the matching field.
func TestParseCustomerWebhookEvents(t *testing.T) {
	body := func(typ, data string) []byte {
		return []byte(`{"type":"` + typ + `","timestamp":"2026-11-23T06:00:00Z","data":` + data + `}`)
	}
	tests := []struct {
		typ   EventType
		data  string
		check func(t *testing.T, ev *WebhookEvent)
	}{
		{EventCustomerCreated, customerJSON, func(t *testing.T, ev *WebhookEvent) {
			if ev.Customer == nil || ev.Customer.ID != "c1" {
				t.Errorf("Customer = %+v", ev.Customer)
			}
		}},
		{EventCustomerMerged, customerJSON, func(t *testing.T, ev *WebhookEvent) {
			if ev.Customer == nil || len(ev.Customer.Identities) != 1 {
				t.Errorf("Customer = %+v", ev.Customer)
			}
		}},
		{EventConversationOpened, conversationJSON, func(t *testing.T, ev *WebhookEvent) {
			if ev.Conversation == nil || ev.Conversation.ID != "cv1" {
				t.Errorf("Conversation = %+v", ev.Conversation)
			}
		}},
		{EventConversationClosed, conversationJSON, func(t *testing.T, ev *WebhookEvent) {
			if ev.Conversation == nil || ev.Conversation.ClosedReason == nil {
				t.Errorf("Conversation = %+v", ev.Conversation)
			}
		}},
		{EventCustomerOptedOut, optOutJSON, func(t *testing.T, ev *WebhookEvent) {
			if ev.OptOut == nil || ev.OptOut.Source != OptOutKeyword {
				t.Errorf("OptOut = %+v", ev.OptOut)
			}
		}},
		{EventCustomerOptedIn, `{"channel":"sms","address":"+79991234567","customer_id":"c1","source":"","keyword":null,
			"created_at":"2026-11-23T06:00:00Z"}`, func(t *testing.T, ev *WebhookEvent) {
			if ev.OptOut == nil || ev.OptOut.Address != "+79991234567" || ev.OptOut.Source != "" {
				t.Errorf("OptOut = %+v", ev.OptOut)
			}
		}},
		{EventMessageDelivered, failoverParentJSON, func(t *testing.T, ev *WebhookEvent) {
			if ev.Data == nil || ev.Data.Failover == nil || ev.Customer != nil {
				t.Errorf("event = %+v", ev)
			}
		}},
		{"customer.renamed", `{"id":"c1"}`, func(t *testing.T, ev *WebhookEvent) {
			if ev.Data != nil || ev.Customer != nil || string(ev.RawData) != `{"id":"c1"}` {
				t.Errorf("unknown type: event = %+v", ev)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ), func(t *testing.T) {
			ev, err := ParseWebhookEvent(body(string(tt.typ), tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if ev.Type != tt.typ || !ev.Timestamp.Equal(time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)) {
				t.Errorf("type, timestamp = %s, %v", ev.Type, ev.Timestamp)
			}
			tt.check(t, ev)
		})
	}
	if _, err := ParseWebhookEvent(body("customer.created", "null")); err == nil {
		t.Error("null data: want an error")
	}
	if _, err := ParseWebhookEvent(body("customer.created", `{"identities":5}`)); err == nil {
		t.Error("malformed customer: want an error")
	}
}
