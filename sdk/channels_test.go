package sdk

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// channelJSON is a connected channel as the server's channelJSON writes
// it on create: with provider_account.
const channelJSON = `{"id":"ch1","type":"telegram","name":"Support bot","status":"active",
	"senders":[{"channel":"telegram","address":"switchboard_bot","default":true}],"config":{"parse_mode":"HTML"},
	"credentials_hint":{"bot_id":"7123456789","bot_token":"****6l6m"},
	"webhook_url":"https://switchboard.example.com/hooks/ch1/3q2-7wAAb1fGmX9pL0sYcTz4VkRnUe8H","webhook_status":"registered",
	"provider_account":{"name":"switchboard_bot","details":{"bot_id":"7123456789"}},
	"created_at":"2026-11-23T06:00:00.123456789Z","updated_at":"2026-11-23T06:00:00.123456789Z"}`

// twilioChannelJSON is a channel as get and list write it: no
// provider_account.
const twilioChannelJSON = `{"id":"ch2","type":"twilio","name":"Acme","status":"disabled",
	"senders":[{"channel":"sms","address":"+15005550006","default":true},{"channel":"whatsapp","address":"+15005550006","default":false}],
	"config":{},"credentials_hint":{"account_sid":"AC0123456789abcdef0123456789abcdef","auth_token":"****cdef"},
	"webhook_url":"https://switchboard.example.com/hooks/ch2/s3cr3t","webhook_status":"manual",
	"created_at":"2026-11-20T09:30:00Z","updated_at":"2026-11-23T06:00:00Z"}`

// TestChannels checks each call's method, path, query and body against
// docs/API.md, and what it makes of the response.
func TestChannels(t *testing.T) {
	ctx := context.Background()
	collect := func(seq func(yield func(*ConnectedChannel, error) bool)) ([]*ConnectedChannel, error) {
		var out []*ConnectedChannel
		for ch, err := range seq {
			if err != nil {
				return nil, err
			}
			out = append(out, ch)
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
		checkResp func(t *testing.T, got any)
	}{
		{
			name: "Create a telegram bot",
			call: func(c *Client) (any, error) {
				return c.Channels.Create(ctx, &CreateChannelParams{Type: ChannelTypeTelegram, Name: "Support bot",
					Credentials: map[string]any{"bot_token": "7123456789:AAF1x2y3z4a5b6c7d8e9f0g1h2i3j4k5l6m"},
					Senders:     []Sender{{Channel: ChannelTelegram, Address: "switchboard_bot", Default: true}},
					Config:      map[string]any{"parse_mode": "HTML"}})
			},
			method: "POST", path: "/v1/channels",
			wantBody: `{"type":"telegram","name":"Support bot","credentials":{"bot_token":"7123456789:AAF1x2y3z4a5b6c7d8e9f0g1h2i3j4k5l6m"},
				"senders":[{"channel":"telegram","address":"switchboard_bot","default":true}],"config":{"parse_mode":"HTML"}}`,
			status: 201, response: channelJSON,
			checkResp: func(t *testing.T, got any) {
				ch := got.(*ConnectedChannel)
				if ch.ID != "ch1" || ch.Type != ChannelTypeTelegram || ch.Status != ChannelActive || ch.Name != "Support bot" ||
					ch.Config["parse_mode"] != "HTML" || ch.CredentialsHint["bot_token"] != "****6l6m" ||
					ch.WebhookStatus != WebhookRegistered || !strings.HasSuffix(ch.WebhookURL, "/hooks/ch1/3q2-7wAAb1fGmX9pL0sYcTz4VkRnUe8H") {
					t.Errorf("channel = %+v", ch)
				}
				if len(ch.Senders) != 1 || ch.Senders[0] != (Sender{ChannelTelegram, "switchboard_bot", true}) {
					t.Errorf("senders = %+v", ch.Senders)
				}
				if a := ch.ProviderAccount; a == nil || a.Name != "switchboard_bot" || a.Details["bot_id"] != "7123456789" {
					t.Errorf("provider account = %+v", a)
				}
				if want := time.Date(2026, 11, 23, 6, 0, 0, 123456789, time.UTC); !ch.CreatedAt.Equal(want) || !ch.UpdatedAt.Equal(want) {
					t.Errorf("times = %v, %v", ch.CreatedAt, ch.UpdatedAt)
				}
			},
		},
		{
			name: "Create a Twilio account, default left out",
			call: func(c *Client) (any, error) {
				return c.Channels.Create(ctx, &CreateChannelParams{Type: ChannelTypeTwilio,
					Credentials: map[string]any{"account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": "0123456789abcdef0123456789abcdef"},
					Senders: []Sender{{Channel: ChannelSMS, Address: "+15005550006", Default: true},
						{Channel: ChannelWhatsApp, Address: "+15005550006"}}})
			},
			method: "POST", path: "/v1/channels",
			wantBody: `{"type":"twilio","credentials":{"account_sid":"AC0123456789abcdef0123456789abcdef","auth_token":"0123456789abcdef0123456789abcdef"},
				"senders":[{"channel":"sms","address":"+15005550006","default":true},{"channel":"whatsapp","address":"+15005550006"}]}`,
			status: 201, response: twilioChannelJSON,
		},
		{
			name: "Create the sandbox sends only the type",
			call: func(c *Client) (any, error) {
				return c.Channels.Create(ctx, &CreateChannelParams{Type: ChannelTypeSandbox})
			},
			method: "POST", path: "/v1/channels",
			wantBody: `{"type":"sandbox"}`,
			status:   201, response: channelJSON,
		},
		{
			name:   "Get",
			call:   func(c *Client) (any, error) { return c.Channels.Get(ctx, "ch2") },
			method: "GET", path: "/v1/channels/ch2",
			status: 200, response: twilioChannelJSON,
			checkResp: func(t *testing.T, got any) {
				ch := got.(*ConnectedChannel)
				if ch.Status != ChannelDisabled || ch.WebhookStatus != WebhookManual || ch.ProviderAccount != nil ||
					len(ch.Senders) != 2 || ch.Senders[1].Default || ch.Config == nil {
					t.Errorf("channel = %+v", ch)
				}
			},
		},
		{
			name:   "Get escapes the id",
			call:   func(c *Client) (any, error) { return c.Channels.Get(ctx, "a/b") },
			method: "GET", path: "/v1/channels/a%2Fb",
			status: 200, response: twilioChannelJSON,
		},
		{
			name:   "List",
			call:   func(c *Client) (any, error) { return collect(c.Channels.List(ctx, &ListChannelsParams{Limit: 2})) },
			method: "GET", path: "/v1/channels", query: "limit=2",
			status: 200, response: page(channelJSON, twilioChannelJSON),
			checkResp: func(t *testing.T, got any) {
				if chs := got.([]*ConnectedChannel); len(chs) != 2 || chs[0].ID != "ch1" || chs[1].Type != ChannelTypeTwilio {
					t.Errorf("channels = %+v", chs)
				}
			},
		},
		{
			name:   "List without params",
			call:   func(c *Client) (any, error) { return collect(c.Channels.List(ctx, nil)) },
			method: "GET", path: "/v1/channels",
			status: 200, response: page(),
		},
		{
			name: "Update sends only the set fields",
			call: func(c *Client) (any, error) {
				return c.Channels.Update(ctx, "ch1", &UpdateChannelParams{Name: new("Support"), Status: new(ChannelDisabled),
					Credentials: map[string]any{"bot_token": "7123456789:AAG9z8y7x6w5v4u3t2s1r0q9p8o7n6m5l4k"}, Senders: []Sender{}})
			},
			method: "PATCH", path: "/v1/channels/ch1",
			wantBody: `{"name":"Support","status":"disabled","credentials":{"bot_token":"7123456789:AAG9z8y7x6w5v4u3t2s1r0q9p8o7n6m5l4k"},"senders":[]}`,
			status:   200, response: channelJSON,
		},
		{
			name: "Update config only",
			call: func(c *Client) (any, error) {
				return c.Channels.Update(ctx, "ch1", &UpdateChannelParams{Config: map[string]any{}})
			},
			method: "PATCH", path: "/v1/channels/ch1",
			wantBody: `{"config":{}}`,
			status:   200, response: channelJSON,
		},
		{
			name:   "Update with nil params sends an empty object",
			call:   func(c *Client) (any, error) { return c.Channels.Update(ctx, "ch1", nil) },
			method: "PATCH", path: "/v1/channels/ch1",
			wantBody: `{}`,
			status:   200, response: twilioChannelJSON,
		},
		{
			name:   "Delete",
			call:   func(c *Client) (any, error) { return nil, c.Channels.Delete(ctx, "ch1") },
			method: "DELETE", path: "/v1/channels/ch1",
			status: 204,
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
			if key := r.Header.Get("Idempotency-Key"); key != "" {
				t.Errorf("Idempotency-Key = %q, want none", key)
			}
			if tt.checkResp != nil {
				tt.checkResp(t, got)
			}
		})
	}
}

func TestChannelsListFollowsCursor(t *testing.T) {
	c, f := newFake(t, func(n int, _ recorded, w http.ResponseWriter) {
		if n == 0 {
			reply(w, 200, `{"data":[`+channelJSON+`],"has_more":true,"next_cursor":"b3BhcXVl"}`)
			return
		}
		reply(w, 200, page(twilioChannelJSON))
	})
	var ids []string
	for ch, err := range c.Channels.List(context.Background(), &ListChannelsParams{Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ch.ID)
	}
	reqs := f.requests()
	if len(ids) != 2 || ids[0] != "ch1" || ids[1] != "ch2" || len(reqs) != 2 {
		t.Fatalf("ids = %v after %d requests", ids, len(reqs))
	}
	if q := reqs[1].Query.Encode(); q != "cursor=b3BhcXVl&limit=1" {
		t.Errorf("second page query = %s", q)
	}
}

func TestChannelsRefuseMissingArguments(t *testing.T) {
	ctx := context.Background()
	c, f := newFake(t, func(_ int, _ recorded, w http.ResponseWriter) { reply(w, 200, channelJSON) })
	calls := map[string]func() error{
		"Create nil": func() error { _, err := c.Channels.Create(ctx, nil); return err },
		"Get empty":  func() error { _, err := c.Channels.Get(ctx, ""); return err },
		"Update empty": func() error {
			_, err := c.Channels.Update(ctx, "", &UpdateChannelParams{Name: new("x")})
			return err
		},
		"Delete empty": func() error { return c.Channels.Delete(ctx, "") },
	}
	for name, call := range calls {
		if err := call(); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}

// TestChannelsErrors checks the problems connecting a channel can meet, and
// that Create is not repeated after an outcome-unknown 503 while Update is.
func TestChannelsErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		call      func(*Client) error
		status    int
		code      string
		wantTries int
	}{
		{"Create refused by the provider", func(c *Client) error {
			_, err := c.Channels.Create(ctx, &CreateChannelParams{Type: ChannelTypeTelegram, Credentials: map[string]any{"bot_token": "x"}})
			return err
		}, http.StatusUnprocessableEntity, ProblemProviderRefused, 1},
		{"Create invalid", func(c *Client) error {
			_, err := c.Channels.Create(ctx, &CreateChannelParams{Type: ChannelTypeTelegram})
			return err
		}, http.StatusUnprocessableEntity, ProblemValidation, 1},
		{"Create without a master key is not retried", func(c *Client) error {
			_, err := c.Channels.Create(ctx, &CreateChannelParams{Type: ChannelTypeSandbox})
			return err
		}, http.StatusServiceUnavailable, ProblemUnavailable, 1},
		{"Update is retried", func(c *Client) error {
			_, err := c.Channels.Update(ctx, "ch1", &UpdateChannelParams{Status: new(ChannelActive)})
			return err
		}, http.StatusServiceUnavailable, ProblemUnavailable, 3},
		{"Get not found", func(c *Client) error {
			_, err := c.Channels.Get(ctx, "ch9")
			return err
		}, http.StatusNotFound, ProblemNotFound, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := newFake(t, func(_ int, _ recorded, w http.ResponseWriter) { problem(w, tt.status, tt.code, "x") })
			err := tt.call(c)
			var e *Error
			if !errors.As(err, &e) || e.Code() != tt.code || e.HTTPStatusCode != tt.status {
				t.Errorf("err = %v, want %d %s", err, tt.status, tt.code)
			}
			if n := len(f.requests()); n != tt.wantTries {
				t.Errorf("tries = %d, want %d", n, tt.wantTries)
			}
		})
	}
}

func TestMessageChannelID(t *testing.T) {
	c, _ := newFake(t, func(n int, _ recorded, w http.ResponseWriter) {
		if n == 0 {
			reply(w, 200, strings.Replace(messageJSON, `"sequence": 1,`, `"sequence": 1, "channel_id": "ch1",`, 1))
			return
		}
		reply(w, 200, strings.Replace(messageJSON, `"sequence": 1,`, `"sequence": 1, "channel_id": null,`, 1))
	})
	m, err := c.Messages.Get(context.Background(), "m1")
	if err != nil {
		t.Fatal(err)
	}
	if m.ChannelID == nil || *m.ChannelID != "ch1" {
		t.Errorf("ChannelID = %v, want ch1", m.ChannelID)
	}
	if m, err = c.Messages.Get(context.Background(), "m1"); err != nil || m.ChannelID != nil {
		t.Errorf("null channel_id: ChannelID = %v, err %v; want nil", m.ChannelID, err)
	}
}
