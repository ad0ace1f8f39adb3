package sdk

import (
	"context"
	"errors"
	"iter"
	"net/url"
	"time"
)

// Customer is one person, however many channels reach them. Every message
// belongs to one; inbound traffic from an unknown address creates one.
type Customer struct {
	ID        string `json:"id"`
	AccountID string `json:"account_id"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	Locale    string `json:"locale"`
	// Timezone is an IANA name ("Europe/Moscow"); quiet hours are computed
	// in it.
	Timezone   string         `json:"timezone"`
	Attributes map[string]any `json:"attributes"`
	// PreferredChannel is the channel ChannelAuto tries first, or nil.
	PreferredChannel *Channel   `json:"preferred_channel"`
	Identities       []Identity `json:"identities"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
}

// Identity is one way to reach a customer: an address on a channel,
// normalised per channel (E.164 for sms, whatsapp and voice).
type Identity struct {
	Channel  Channel `json:"channel"`
	Address  string  `json:"address"`
	OptedOut bool    `json:"opted_out"`
	// LastInboundAt is when the customer last wrote from this identity.
	LastInboundAt *time.Time `json:"last_inbound_at"`
	// LastSeenAt is when the identity was last used in either direction.
	LastSeenAt *time.Time `json:"last_seen_at"`
	CreatedAt  time.Time  `json:"created_at"`
}

// IdentityRef names an identity: an address on a channel. The API writes
// it "channel:address" in query strings (see String).
type IdentityRef struct {
	Channel Channel `json:"channel"`
	Address string  `json:"address"`
}

// String renders r as the API's identity query value, e.g.
// "sms:+79991234567".
func (r IdentityRef) String() string { return string(r.Channel) + ":" + r.Address }

func (r IdentityRef) isZero() bool { return r.Channel == "" && r.Address == "" }

// CreateCustomerParams is the body of Customers.Create. Empty fields are
// not sent.
type CreateCustomerParams struct {
	Name   string `json:"name,omitempty"`
	Email  string `json:"email,omitempty"`
	Locale string `json:"locale,omitempty"`
	// Timezone is an IANA name, e.g. "Europe/Moscow".
	Timezone         string         `json:"timezone,omitempty"`
	Attributes       map[string]any `json:"attributes,omitempty"`
	PreferredChannel Channel        `json:"preferred_channel,omitempty"`
	// Identities are added with the customer; one that belongs to another
	// customer fails the call with a 409 (Error.Code() ProblemConflict).
	Identities []IdentityRef `json:"identities,omitempty"`
}

// UpdateCustomerParams is the body of Customers.Update. Nil fields are
// left unchanged; write new("…") to set one.
type UpdateCustomerParams struct {
	Name     *string `json:"name,omitempty"`
	Email    *string `json:"email,omitempty"`
	Locale   *string `json:"locale,omitempty"`
	Timezone *string `json:"timezone,omitempty"`
	// Attributes, when non-nil, replaces the whole attributes object.
	Attributes map[string]any `json:"attributes,omitzero"`
	// PreferredChannel, when non-nil, replaces the preferred channel;
	// new(Channel("")) clears it.
	PreferredChannel *Channel `json:"preferred_channel,omitempty"`
}

// ListCustomersParams filters Customers.List. Zero fields are not sent.
type ListCustomersParams struct {
	// Limit is the page size, not a cap on the total.
	Limit int
	// Identity, when set, looks up the one customer with this identity
	// (the list is empty when nobody has it).
	Identity IdentityRef
}

// ListTimelineParams pages Customers.Timeline.
type ListTimelineParams struct {
	// Limit is the page size, not a cap on the total.
	Limit int
}

// Timeline entry types.
const (
	TimelineMessage = "message"
	TimelineEvent   = "event"
)

// TimelineEntry is one item of a customer's cross-channel timeline: a
// message (Type TimelineMessage, Message set) or a customer-level event
// (Type TimelineEvent, Event set).
type TimelineEntry struct {
	Type string `json:"type"`
	// ID is the message's or the event's id.
	ID      string         `json:"id"`
	At      time.Time      `json:"at"`
	Message *Message       `json:"message,omitempty"`
	Event   *CustomerEvent `json:"event,omitempty"`
}

// CustomerEvent is a customer-level event on the timeline, such as
// EventCustomerCreated or EventConversationOpened.
type CustomerEvent struct {
	ID             string         `json:"id"`
	Type           EventType      `json:"type"`
	CustomerID     string         `json:"customer_id"`
	ConversationID *string        `json:"conversation_id"`
	Data           map[string]any `json:"data"`
	CreatedAt      time.Time      `json:"created_at"`
}

// CustomersService manages customers. Get it from Client.Customers.
type CustomersService struct{ c *Client }

// Create adds a customer.
//
// Create is not retried after a network error or 5xx, whose outcome is
// unknown, because a repeat could create the customer twice.
func (s *CustomersService) Create(ctx context.Context, params *CreateCustomerParams) (*Customer, error) {
	if params == nil {
		params = &CreateCustomerParams{}
	}
	var out Customer
	if err := s.c.do(ctx, request{method: "POST", path: "/v1/customers", body: params}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Get fetches one customer with its identities. The id of a customer
// merged into another fetches the survivor.
func (s *CustomersService) Get(ctx context.Context, id string) (*Customer, error) {
	p, err := pathID("customer", id)
	if err != nil {
		return nil, err
	}
	var out Customer
	if err := s.c.do(ctx, request{method: "GET", path: "/v1/customers/" + p}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// List iterates over customers, newest first, following next_cursor. With
// params.Identity set it yields at most the one customer with that
// identity. A nil params lists everything.
func (s *CustomersService) List(ctx context.Context, params *ListCustomersParams) iter.Seq2[*Customer, error] {
	q := url.Values{}
	if params != nil {
		setLimit(q, params.Limit)
		if !params.Identity.isZero() {
			q.Set("identity", params.Identity.String())
		}
	}
	return paginate[Customer](ctx, s.c, "/v1/customers", q)
}

// Update changes the non-nil fields of params.
func (s *CustomersService) Update(ctx context.Context, id string, params *UpdateCustomerParams) (*Customer, error) {
	p, err := pathID("customer", id)
	if err != nil {
		return nil, err
	}
	if params == nil {
		params = &UpdateCustomerParams{}
	}
	var out Customer
	if err := s.c.do(ctx, request{method: "PATCH", path: "/v1/customers/" + p, body: params}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Delete removes a customer.
func (s *CustomersService) Delete(ctx context.Context, id string) error {
	p, err := pathID("customer", id)
	if err != nil {
		return err
	}
	return s.c.do(ctx, request{method: "DELETE", path: "/v1/customers/" + p}, nil)
}

// AddIdentity adds an identity to a customer and returns the customer.
// Adding one the customer already has is not an error. One that belongs
// to another customer fails with a 409 *Error (Code() ProblemConflict):
// merge the customers instead.
func (s *CustomersService) AddIdentity(ctx context.Context, id string, identity IdentityRef) (*Customer, error) {
	p, err := pathID("customer", id)
	if err != nil {
		return nil, err
	}
	var out Customer
	req := request{method: "POST", path: "/v1/customers/" + p + "/identities", body: identity, idempotent: true}
	if err := s.c.do(ctx, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RemoveIdentity removes an identity from a customer.
func (s *CustomersService) RemoveIdentity(ctx context.Context, id string, identity IdentityRef) error {
	p, err := pathID("customer", id)
	if err != nil {
		return err
	}
	q := url.Values{"identity": {identity.String()}}
	return s.c.do(ctx, request{method: "DELETE", path: "/v1/customers/" + p + "/identities", query: q}, nil)
}

// Merge folds the customer fromID into the customer id, which survives,
// and returns the survivor: identities, history and opt-outs move, and
// fromID resolves to the survivor from then on. Repeating a merge that
// already happened returns the survivor again, so Merge is retried like a
// read. A fromID already merged into a third customer fails with a 409
// *Error (Code() ProblemConflict).
func (s *CustomersService) Merge(ctx context.Context, id, fromID string) (*Customer, error) {
	p, err := pathID("customer", id)
	if err != nil {
		return nil, err
	}
	if fromID == "" {
		return nil, errors.New("switchboard: merge customers: the id of the customer to merge in is required")
	}
	body := struct {
		FromCustomerID string `json:"from_customer_id"`
	}{fromID}
	var out Customer
	req := request{method: "POST", path: "/v1/customers/" + p + "/merge", body: body, idempotent: true}
	if err := s.c.do(ctx, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Timeline iterates over a customer's messages and events across every
// channel, newest first, following next_cursor. A nil params uses the
// server's page size.
func (s *CustomersService) Timeline(ctx context.Context, id string, params *ListTimelineParams) iter.Seq2[*TimelineEntry, error] {
	p, err := pathID("customer", id)
	if err != nil {
		return func(yield func(*TimelineEntry, error) bool) { yield(nil, err) }
	}
	q := url.Values{}
	if params != nil {
		setLimit(q, params.Limit)
	}
	return paginate[TimelineEntry](ctx, s.c, "/v1/customers/"+p+"/timeline", q)
}
