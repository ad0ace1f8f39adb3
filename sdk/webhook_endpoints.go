package sdk

import (
	"context"
	"errors"
	"iter"
	"net/url"
	"time"
)

// EventType names a webhook event.
type EventType string

// Webhook event types; EventAll subscribes an endpoint to every type.
const (
	EventMessageQueued      EventType = "message.queued"
	EventMessageSent        EventType = "message.sent"
	EventMessageDelivered   EventType = "message.delivered"
	EventMessageUndelivered EventType = "message.undelivered"
	EventMessageFailed      EventType = "message.failed"
	EventMessageRead        EventType = "message.read"
	EventMessageReceived    EventType = "message.received"

	// Customer-level events; see WebhookEvent for their data.
	EventCustomerCreated    EventType = "customer.created"
	EventCustomerMerged     EventType = "customer.merged"
	EventConversationOpened EventType = "conversation.opened"
	EventConversationClosed EventType = "conversation.closed"
	EventCustomerOptedOut   EventType = "customer.opted_out"
	EventCustomerOptedIn    EventType = "customer.opted_in"

	// Call status events; their data is the call (Call).
	EventCallQueued     EventType = "call.queued"
	EventCallRinging    EventType = "call.ringing"
	EventCallInProgress EventType = "call.in-progress"
	EventCallCompleted  EventType = "call.completed"
	EventCallBusy       EventType = "call.busy"
	EventCallNoAnswer   EventType = "call.no-answer"
	EventCallFailed     EventType = "call.failed"
	EventCallCanceled   EventType = "call.canceled"

	EventAll EventType = "*"
)

// WebhookEndpoint is a URL that receives signed status events.
type WebhookEndpoint struct {
	ID          string      `json:"id"`
	URL         string      `json:"url"`
	Events      []EventType `json:"events"`
	Description string      `json:"description"`
	Enabled     bool        `json:"enabled"`
	// DisabledReason says why the server disabled the endpoint (e.g. it
	// answered 410), or is nil.
	DisabledReason *string   `json:"disabled_reason"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	// Secret ("whsec_…") verifies deliveries with VerifyWebhook. The API
	// returns it only from Create and RotateSecret; store it then.
	Secret string `json:"secret,omitempty"`
}

// WebhookAttempt is one delivery attempt of one event to one endpoint.
type WebhookAttempt struct {
	ID         string `json:"id"`
	EndpointID string `json:"endpoint_id"`
	// WebhookID is the webhook-id header, stable across retries of the
	// same event.
	WebhookID string    `json:"webhook_id"`
	EventType EventType `json:"event_type"`
	// Attempt is 1-based.
	Attempt int `json:"attempt"`
	// StatusCode is the receiver's HTTP status, nil when no response came.
	StatusCode *int `json:"status_code"`
	// Error describes a failed attempt, or is nil.
	Error      *string   `json:"error"`
	DurationMS int64     `json:"duration_ms"`
	CreatedAt  time.Time `json:"created_at"`
}

// CreateWebhookEndpointParams is the body of WebhookEndpoints.Create.
type CreateWebhookEndpointParams struct {
	URL         string      `json:"url"`
	Events      []EventType `json:"events"`
	Description string      `json:"description,omitempty"`
}

// UpdateWebhookEndpointParams is the body of WebhookEndpoints.Update. Nil
// fields are left unchanged; write new("…") or new(false) to set one.
type UpdateWebhookEndpointParams struct {
	URL *string `json:"url,omitempty"`
	// Events replaces the subscription when non-nil.
	Events      []EventType `json:"events,omitzero"`
	Description *string     `json:"description,omitempty"`
	Enabled     *bool       `json:"enabled,omitempty"`
}

// ListWebhookEndpointsParams pages WebhookEndpoints.List.
type ListWebhookEndpointsParams struct {
	// Limit is the page size, not a cap on the total.
	Limit int
}

// ListWebhookAttemptsParams pages WebhookEndpoints.Attempts.
type ListWebhookAttemptsParams struct {
	// Limit is the page size, not a cap on the total.
	Limit int
}

// WebhookEndpointsService manages webhook endpoints. Get it from
// Client.WebhookEndpoints.
type WebhookEndpointsService struct{ c *Client }

// Create registers an endpoint. The result carries its Secret, which the
// API shows only this once.
//
// Create is not retried after a network error or 5xx, whose outcome is
// unknown, because a repeat could register the endpoint twice.
func (s *WebhookEndpointsService) Create(ctx context.Context, params *CreateWebhookEndpointParams) (*WebhookEndpoint, error) {
	if params == nil {
		return nil, errors.New("switchboard: create webhook endpoint: params are required")
	}
	var e WebhookEndpoint
	if err := s.c.do(ctx, request{method: "POST", path: "/v1/webhook-endpoints", body: params}, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// Get fetches one endpoint (without its secret).
func (s *WebhookEndpointsService) Get(ctx context.Context, id string) (*WebhookEndpoint, error) {
	p, err := pathID("webhook endpoint", id)
	if err != nil {
		return nil, err
	}
	var e WebhookEndpoint
	if err := s.c.do(ctx, request{method: "GET", path: "/v1/webhook-endpoints/" + p}, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// List iterates over the account's endpoints, following next_cursor. A nil
// params uses the server's page size.
func (s *WebhookEndpointsService) List(ctx context.Context, params *ListWebhookEndpointsParams) iter.Seq2[*WebhookEndpoint, error] {
	q := url.Values{}
	if params != nil {
		setLimit(q, params.Limit)
	}
	return paginate[WebhookEndpoint](ctx, s.c, "/v1/webhook-endpoints", q)
}

// Update changes the non-nil fields of params.
func (s *WebhookEndpointsService) Update(ctx context.Context, id string, params *UpdateWebhookEndpointParams) (*WebhookEndpoint, error) {
	p, err := pathID("webhook endpoint", id)
	if err != nil {
		return nil, err
	}
	if params == nil {
		params = &UpdateWebhookEndpointParams{}
	}
	var e WebhookEndpoint
	if err := s.c.do(ctx, request{method: "PATCH", path: "/v1/webhook-endpoints/" + p, body: params}, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// Delete removes an endpoint; pending deliveries to it stop.
func (s *WebhookEndpointsService) Delete(ctx context.Context, id string) error {
	p, err := pathID("webhook endpoint", id)
	if err != nil {
		return err
	}
	return s.c.do(ctx, request{method: "DELETE", path: "/v1/webhook-endpoints/" + p}, nil)
}

// RotateSecret issues a new signing secret, returned in the result's
// Secret. For 24 hours deliveries carry signatures under both the old and
// the new secret, so receivers can switch without dropping events.
//
// Like Create, it is not retried after an outcome-unknown failure: a
// repeat would rotate twice and lose the first new secret.
func (s *WebhookEndpointsService) RotateSecret(ctx context.Context, id string) (*WebhookEndpoint, error) {
	p, err := pathID("webhook endpoint", id)
	if err != nil {
		return nil, err
	}
	var e WebhookEndpoint
	req := request{method: "POST", path: "/v1/webhook-endpoints/" + p + "/rotate-secret", body: struct{}{}}
	if err := s.c.do(ctx, req, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// Attempts iterates over an endpoint's delivery attempts, newest first,
// following next_cursor. A nil params uses the server's page size.
func (s *WebhookEndpointsService) Attempts(ctx context.Context, id string, params *ListWebhookAttemptsParams) iter.Seq2[*WebhookAttempt, error] {
	p, err := pathID("webhook endpoint", id)
	if err != nil {
		return func(yield func(*WebhookAttempt, error) bool) { yield(nil, err) }
	}
	q := url.Values{}
	if params != nil {
		setLimit(q, params.Limit)
	}
	return paginate[WebhookAttempt](ctx, s.c, "/v1/webhook-endpoints/"+p+"/attempts", q)
}
