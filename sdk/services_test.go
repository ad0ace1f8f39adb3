package sdk

import (
	"context"
	"fmt"
	"net/http"
	"testing"
)

const endpointJSON = `{"id":"ep1","url":"https://example.com/hook","events":["message.delivered","message.failed"],
	"description":"prod","enabled":false,"disabled_reason":"endpoint answered 410","created_at":"2026-11-23T06:00:00Z",
	"updated_at":"2026-11-23T06:00:01Z"%s}`

const ruleJSON = `{"id":"r1","channel":null,"to":"+79991234567","from":null,"outcome":"failed","delay_ms":250,
	"rate_per_second":null,"created_at":"2026-11-23T06:00:00Z"}`

const submissionJSON = `{"id":"s1","message_id":"m1","channel":"sms","from":"+15005550000","to":"+79991234567",
	"text":"Hello","attempt":2,"result":"transient","provider_message_id":null,"created_at":"2026-11-23T06:00:00Z"}`

// TestServices checks each call's method, path, query and body against
// docs/API.md, and what it makes of the response.
func TestServices(t *testing.T) {
	ctx := context.Background()
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
			name:   "Messages.Get escapes the id",
			call:   func(c *Client) (any, error) { return c.Messages.Get(ctx, "a/b c") },
			method: "GET", path: "/v1/messages/a%2Fb%20c",
			status: 200, response: messageJSON,
			checkResp: func(t *testing.T, got any) {
				if m := got.(*Message); m.Provider != "sandbox" || m.Sequence != 1 {
					t.Errorf("message = %+v", m)
				}
			},
		},
		{
			name:   "Messages.Events",
			call:   func(c *Client) (any, error) { return c.Messages.Events(ctx, "m1") },
			method: "GET", path: "/v1/messages/m1/events",
			status: 200,
			response: `{"data":[{"sequence":1,"status":"accepted","timestamp":"2026-11-23T06:00:00Z","error_code":null,"error_message":null},
				{"sequence":2,"status":"failed","timestamp":"2026-11-23T06:00:01Z","error_code":"21211","error_message":"bad number"}]}`,
			checkResp: func(t *testing.T, got any) {
				ev := got.([]MessageEvent)
				if len(ev) != 2 || ev[0].Sequence != 1 || ev[0].ErrorCode != nil || ev[1].Status != StatusFailed ||
					ev[1].ErrorCode == nil || *ev[1].ErrorCode != "21211" {
					t.Errorf("events = %+v", ev)
				}
			},
		},
		{
			name: "WebhookEndpoints.Create",
			call: func(c *Client) (any, error) {
				return c.WebhookEndpoints.Create(ctx, &CreateWebhookEndpointParams{
					URL: "https://example.com/hook", Events: []EventType{EventMessageDelivered, EventMessageFailed}, Description: "prod",
				})
			},
			method: "POST", path: "/v1/webhook-endpoints",
			wantBody: `{"url":"https://example.com/hook","events":["message.delivered","message.failed"],"description":"prod"}`,
			status:   201, response: fmt.Sprintf(endpointJSON, `,"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"`),
			checkResp: func(t *testing.T, got any) {
				e := got.(*WebhookEndpoint)
				if e.Secret != "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" || e.ID != "ep1" || len(e.Events) != 2 {
					t.Errorf("endpoint = %+v", e)
				}
			},
		},
		{
			name: "WebhookEndpoints.Create omits an empty description",
			call: func(c *Client) (any, error) {
				return c.WebhookEndpoints.Create(ctx, &CreateWebhookEndpointParams{URL: "https://example.com/hook", Events: []EventType{EventAll}})
			},
			method: "POST", path: "/v1/webhook-endpoints",
			wantBody: `{"url":"https://example.com/hook","events":["*"]}`,
			status:   201, response: fmt.Sprintf(endpointJSON, ""),
		},
		{
			name:   "WebhookEndpoints.Get",
			call:   func(c *Client) (any, error) { return c.WebhookEndpoints.Get(ctx, "ep1") },
			method: "GET", path: "/v1/webhook-endpoints/ep1",
			status: 200, response: fmt.Sprintf(endpointJSON, ""),
			checkResp: func(t *testing.T, got any) {
				e := got.(*WebhookEndpoint)
				if e.Secret != "" || e.Enabled || e.DisabledReason == nil || *e.DisabledReason != "endpoint answered 410" {
					t.Errorf("endpoint = %+v", e)
				}
			},
		},
		{
			name: "WebhookEndpoints.Update sends only the set fields",
			call: func(c *Client) (any, error) {
				return c.WebhookEndpoints.Update(ctx, "ep1", &UpdateWebhookEndpointParams{URL: new("https://example.com/v2"), Enabled: new(false)})
			},
			method: "PATCH", path: "/v1/webhook-endpoints/ep1",
			wantBody: `{"url":"https://example.com/v2","enabled":false}`,
			status:   200, response: fmt.Sprintf(endpointJSON, ""),
		},
		{
			name: "WebhookEndpoints.Update events and an empty description",
			call: func(c *Client) (any, error) {
				return c.WebhookEndpoints.Update(ctx, "ep1", &UpdateWebhookEndpointParams{
					Events: []EventType{EventMessageRead}, Description: new(""), Enabled: new(true),
				})
			},
			method: "PATCH", path: "/v1/webhook-endpoints/ep1",
			wantBody: `{"events":["message.read"],"description":"","enabled":true}`,
			status:   200, response: fmt.Sprintf(endpointJSON, ""),
		},
		{
			name:   "WebhookEndpoints.Delete",
			call:   func(c *Client) (any, error) { return nil, c.WebhookEndpoints.Delete(ctx, "ep1") },
			method: "DELETE", path: "/v1/webhook-endpoints/ep1",
			status: 204,
		},
		{
			name:   "WebhookEndpoints.RotateSecret",
			call:   func(c *Client) (any, error) { return c.WebhookEndpoints.RotateSecret(ctx, "ep1") },
			method: "POST", path: "/v1/webhook-endpoints/ep1/rotate-secret",
			wantBody: `{}`,
			status:   200, response: fmt.Sprintf(endpointJSON, `,"secret":"whsec_bmV3LXNlY3JldA=="`),
			checkResp: func(t *testing.T, got any) {
				if e := got.(*WebhookEndpoint); e.Secret != "whsec_bmV3LXNlY3JldA==" {
					t.Errorf("secret = %q", e.Secret)
				}
			},
		},
		{
			name: "Sandbox.SetRule outcome rule",
			call: func(c *Client) (any, error) {
				return c.Sandbox.SetRule(ctx, &SandboxRuleParams{To: "+79991234567", Outcome: OutcomeFailed, DelayMS: 250})
			},
			method: "PUT", path: "/v1/sandbox/rules",
			wantBody: `{"to":"+79991234567","outcome":"failed","delay_ms":250}`,
			status:   200, response: ruleJSON,
			checkResp: func(t *testing.T, got any) {
				r := got.(*SandboxRule)
				if r.Channel != nil || r.From != nil || r.RatePerSecond != nil || r.To == nil || *r.To != "+79991234567" ||
					r.Outcome == nil || *r.Outcome != OutcomeFailed || r.DelayMS == nil || *r.DelayMS != 250 {
					t.Errorf("rule = %+v", r)
				}
			},
		},
		{
			name: "Sandbox.SetRule rate rule",
			call: func(c *Client) (any, error) {
				return c.Sandbox.SetRule(ctx, &SandboxRuleParams{Channel: ChannelSMS, From: "+15005550000", RatePerSecond: 2.5})
			},
			method: "PUT", path: "/v1/sandbox/rules",
			wantBody: `{"channel":"sms","from":"+15005550000","rate_per_second":2.5}`,
			status:   200, response: ruleJSON,
		},
		{
			name:   "Sandbox.Rules",
			call:   func(c *Client) (any, error) { return c.Sandbox.Rules(ctx) },
			method: "GET", path: "/v1/sandbox/rules",
			status: 200, response: `{"data":[` + ruleJSON + `]}`,
			checkResp: func(t *testing.T, got any) {
				if r := got.([]SandboxRule); len(r) != 1 || r[0].ID != "r1" {
					t.Errorf("rules = %+v", r)
				}
			},
		},
		{
			name:   "Sandbox.DeleteRule",
			call:   func(c *Client) (any, error) { return nil, c.Sandbox.DeleteRule(ctx, "r1") },
			method: "DELETE", path: "/v1/sandbox/rules/r1",
			status: 204,
		},
		{
			name: "Sandbox.Inbound",
			call: func(c *Client) (any, error) {
				return c.Sandbox.Inbound(ctx, &SandboxInboundParams{Channel: ChannelTelegram, From: "tg:42", To: "bot", Text: "hi"})
			},
			method: "POST", path: "/v1/sandbox/inbound",
			wantBody: `{"channel":"telegram","from":"tg:42","to":"bot","text":"hi"}`,
			status:   202, response: messageJSON,
		},
		{
			name:   "Sandbox.Submissions",
			call:   func(c *Client) (any, error) { return c.Sandbox.Submissions(ctx, "m1") },
			method: "GET", path: "/v1/sandbox/submissions", query: "message_id=m1",
			status: 200, response: `{"data":[` + submissionJSON + `]}`,
			checkResp: func(t *testing.T, got any) {
				s := got.([]SandboxSubmission)
				if len(s) != 1 || s[0].Attempt != 2 || s[0].Result != "transient" || s[0].ProviderMessageID != nil {
					t.Errorf("submissions = %+v", s)
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
			if key := r.Header.Get("Idempotency-Key"); key != "" {
				t.Errorf("Idempotency-Key %q sent on a route that does not take one", key)
			}
			if tt.checkResp != nil {
				tt.checkResp(t, got)
			}
		})
	}
}
