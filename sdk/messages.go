package sdk

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"time"
)

// Channel is a way of reaching a customer.
type Channel string

// Channels the API accepts.
const (
	ChannelSMS      Channel = "sms"
	ChannelWhatsApp Channel = "whatsapp"
	ChannelTelegram Channel = "telegram"
	ChannelViber    Channel = "viber"
	ChannelWebRTC   Channel = "webrtc"
	ChannelVoice    Channel = "voice"
	// ChannelAuto is accepted only by Messages.Send with ToCustomer set
	// and From empty: routing picks the customer's channel (see
	// Message.Routing). A Message never carries it.
	ChannelAuto Channel = "auto"
)

// Category says what a message is for. Marketing sends respect the
// account's quiet hours (Settings.QuietHours); transactional ones do not.
type Category string

// Message categories.
const (
	CategoryMarketing     Category = "marketing"
	CategoryTransactional Category = "transactional"
)

// Direction says who started a message.
type Direction string

// Directions of a message.
const (
	Outbound Direction = "outbound"
	Inbound  Direction = "inbound"
)

// Status is a point in a message's lifecycle:
// accepted → queued → sending → sent → delivered | undelivered | failed
// (then read). Inbound messages are born received.
type Status string

// Message statuses.
const (
	StatusAccepted    Status = "accepted"
	StatusQueued      Status = "queued"
	StatusSending     Status = "sending"
	StatusSent        Status = "sent"
	StatusDelivered   Status = "delivered"
	StatusUndelivered Status = "undelivered"
	StatusFailed      Status = "failed"
	StatusRead        Status = "read"
	StatusReceived    Status = "received"
)

// Message is one message on any channel, in either direction. Fields the
// API may return as null are pointers.
type Message struct {
	ID                string         `json:"id"`
	AccountID         string         `json:"account_id"`
	Channel           Channel        `json:"channel"`
	Direction         Direction      `json:"direction"`
	From              string         `json:"from"`
	To                string         `json:"to"`
	Text              string         `json:"text"`
	MediaURLs         []string       `json:"media_urls"`
	Metadata          map[string]any `json:"metadata"`
	Status            Status         `json:"status"`
	StatusCallbackURL *string        `json:"status_callback_url"`
	// Encoding is "GSM-7" or "UCS-2" for sms, nil for other channels.
	Encoding *string `json:"encoding"`
	// Segments is the sms segment count, nil for other channels.
	Segments          *int    `json:"segments"`
	Provider          string  `json:"provider"`
	ProviderMessageID *string `json:"provider_message_id"`
	// ErrorCode is the provider's code, e.g. "21211".
	ErrorCode    *string `json:"error_code"`
	ErrorMessage *string `json:"error_message"`
	// Attempts counts provider send attempts so far.
	Attempts int `json:"attempts"`
	// Sequence is the sequence number of the latest status event; in a
	// webhook event it is the sequence of the event being announced, so
	// receivers can drop stale, out-of-order deliveries.
	Sequence  int64     `json:"sequence"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`

	// CustomerID and ConversationID name the customer and conversation
	// the message belongs to.
	CustomerID     *string   `json:"customer_id"`
	ConversationID *string   `json:"conversation_id"`
	Category       *Category `json:"category"`
	// Routing records how the channel was chosen, or is nil.
	Routing *RoutingDecision `json:"routing"`
	// ParentID is set on a failover step's message: the failover parent.
	ParentID *string `json:"parent_id"`
	// DeferredUntil is set when quiet hours moved the send to that time.
	DeferredUntil *time.Time `json:"deferred_until"`
	// ChannelID is the connected channel (Channels) the message went out
	// on or came in through; nil when the sandbox carried it.
	ChannelID *string `json:"channel_id"`
	// Failover is the plan and progress of a failover parent (Provider
	// "failover"); nil on every other message.
	Failover *FailoverPlan `json:"failover,omitempty"`
}

// Routing modes of a RoutingDecision.
const (
	RoutingAuto         = "auto"         // routing picked the channel (ChannelAuto)
	RoutingExplicit     = "explicit"     // the send named the channel
	RoutingConversation = "conversation" // a reply in a conversation
	RoutingFailover     = "failover"     // a failover parent or step
	RoutingKeyword      = "keyword"      // an opt-out or opt-in confirmation
)

// RoutingDecision records why a message went out on its channel.
type RoutingDecision struct {
	// Mode is one of the Routing constants.
	Mode    string  `json:"mode"`
	Channel Channel `json:"channel"`
	// Reason is why this channel: preferred_channel or last_active (auto),
	// requested, last_inbound or current_channel (explicit, conversation),
	// step (failover), opt_out or opt_in (keyword).
	Reason string `json:"reason"`
	// Skipped lists the channels auto routing passed over.
	Skipped []RoutingSkip `json:"skipped,omitempty"`
}

// RoutingSkip is a channel routing passed over, with why: "opted_out",
// "no_sender" or "no_identity".
type RoutingSkip struct {
	Channel Channel `json:"channel"`
	Reason  string  `json:"reason"`
}

// FailoverStep is one channel to try in SendMessageParams.Failover.
type FailoverStep struct {
	Channel Channel
	// From is the sender on Channel; empty uses the default sender.
	From string
	// After and Unless apply to the steps after the first: the step starts
	// when the step before it has not reached Unless (default
	// StatusDelivered) After its start (default 0, at most 24 h), or failed.
	// Zero values are not sent.
	After  time.Duration
	Unless Status
}

// MarshalJSON renders After as a Go duration string ("30s").
func (s FailoverStep) MarshalJSON() ([]byte, error) {
	v := struct {
		Channel Channel `json:"channel"`
		From    string  `json:"from,omitempty"`
		After   string  `json:"after,omitempty"`
		Unless  Status  `json:"unless,omitempty"`
	}{Channel: s.Channel, From: s.From, Unless: s.Unless}
	if s.After != 0 {
		v.After = s.After.String()
	}
	return json.Marshal(v)
}

// StepState is where a failover step stands.
type StepState string

// Failover step states.
const (
	StepPending   StepState = "pending"
	StepSending   StepState = "sending"
	StepWon       StepState = "won"
	StepFailed    StepState = "failed"
	StepTimedOut  StepState = "timed_out"
	StepCancelled StepState = "cancelled"
	StepSkipped   StepState = "skipped"
)

// FailoverPlan is a failover parent's steps and how far it has got.
type FailoverPlan struct {
	Steps []FailoverPlanStep `json:"steps"`
	// Winner is the index in Steps of the winning step, once known.
	Winner *int `json:"winner"`
}

// FailoverPlanStep is one step of a FailoverPlan.
type FailoverPlanStep struct {
	Channel Channel
	From    *string
	// To is the address the step goes to, once resolved.
	To    *string
	After time.Duration
	// Unless is nil on the first step.
	Unless *Status
	// MessageID is the step's own message, once sent; its ParentID is the
	// failover parent.
	MessageID *string
	State     StepState
	// Reason says why the step failed, timed out or was skipped.
	Reason    *string
	StartedAt *time.Time
}

type failoverPlanStepJSON struct {
	Channel   Channel    `json:"channel"`
	From      *string    `json:"from"`
	To        *string    `json:"to"`
	After     string     `json:"after"`
	Unless    *Status    `json:"unless"`
	MessageID *string    `json:"message_id"`
	State     StepState  `json:"state"`
	Reason    *string    `json:"reason"`
	StartedAt *time.Time `json:"started_at"`
}

// UnmarshalJSON reads After from its Go duration string ("30s").
func (s *FailoverPlanStep) UnmarshalJSON(b []byte) error {
	var v failoverPlanStepJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	after, err := parseDuration("after", v.After)
	if err != nil {
		return err
	}
	*s = FailoverPlanStep{Channel: v.Channel, From: v.From, To: v.To, After: after, Unless: v.Unless,
		MessageID: v.MessageID, State: v.State, Reason: v.Reason, StartedAt: v.StartedAt}
	return nil
}

// MarshalJSON writes the API's shape, After as a Go duration string.
func (s FailoverPlanStep) MarshalJSON() ([]byte, error) {
	return json.Marshal(failoverPlanStepJSON{Channel: s.Channel, From: s.From, To: s.To, After: s.After.String(),
		Unless: s.Unless, MessageID: s.MessageID, State: s.State, Reason: s.Reason, StartedAt: s.StartedAt})
}

// parseDuration reads a Go duration string; "" is 0.
func parseDuration(field, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", field, err)
	}
	return d, nil
}

// MessageEvent is one status transition of a message.
type MessageEvent struct {
	Sequence     int64     `json:"sequence"`
	Status       Status    `json:"status"`
	Timestamp    time.Time `json:"timestamp"`
	ErrorCode    *string   `json:"error_code"`
	ErrorMessage *string   `json:"error_message"`
}

// SendMessageParams is the body of Messages.Send.
//
// The recipient is To, an address on Channel, or ToCustomer, a customer id;
// set exactly one. Channel names the channel, or is ChannelAuto (with
// ToCustomer) to let routing pick it; Failover takes the place of Channel
// (leave Channel empty). From is optional: the server defaults it to the
// address the customer last wrote to on the channel (ToCustomer), else to
// the account's Settings.Senders for the channel.
type SendMessageParams struct {
	Channel Channel `json:"channel,omitempty"`
	From    string  `json:"from,omitempty"`
	// To is an address on Channel: an E.164 number for sms, whatsapp and
	// voice. With Failover it is used on every step.
	To string `json:"-"`
	// ToCustomer is the id of a customer to send to instead of To, sent as
	// "to": {"customer_id": …}. With Failover each step goes to the
	// customer's identity on the step's channel.
	ToCustomer string         `json:"-"`
	Text       string         `json:"text"`
	MediaURLs  []string       `json:"media_urls,omitempty"`
	Metadata   map[string]any `json:"metadata,omitempty"`
	// StatusCallbackURL, when set, receives this message's status events.
	StatusCallbackURL string `json:"status_callback_url,omitempty"`
	// Category marketing defers a send that would arrive inside quiet
	// hours (the message's DeferredUntil says until when).
	Category Category `json:"category,omitempty"`
	// Failover lists 2 to 5 channels to try in order, in place of Channel.
	// The result is the failover parent (Provider "failover"); each step
	// sends its own message with ParentID set.
	Failover []FailoverStep `json:"failover,omitempty"`
	// IdempotencyKey makes the send safe to repeat: the server answers a
	// repeated key with the original message. When empty, Send generates
	// one; either way it is reused on every automatic retry. Set it yourself
	// to stay safe across your own retries, process restarts included.
	IdempotencyKey string `json:"-"`
}

// MarshalJSON writes "to" as an address string or, with ToCustomer, as
// {"customer_id": …}.
func (p SendMessageParams) MarshalJSON() ([]byte, error) {
	type fields SendMessageParams // drops this method
	var to any = p.To
	if p.ToCustomer != "" {
		to = customerRef{p.ToCustomer}
	}
	return json.Marshal(struct {
		To any `json:"to"`
		fields
	}{to, fields(p)})
}

type customerRef struct {
	CustomerID string `json:"customer_id"`
}

// ListMessagesParams filters Messages.List. Zero fields are not sent.
type ListMessagesParams struct {
	// Limit is the page size (1–100, server default 20), not a cap on the
	// total: the iterator fetches pages until the list ends or the loop
	// breaks.
	Limit         int
	Channel       Channel
	Status        Status
	Direction     Direction
	To            string
	CreatedAfter  time.Time
	CreatedBefore time.Time
}

// MessagesService sends and reads messages. Get it from Client.Messages.
type MessagesService struct{ c *Client }

// Send submits an outbound message; the server accepts it (202) and
// delivers it asynchronously, reporting progress as status events.
func (s *MessagesService) Send(ctx context.Context, params *SendMessageParams) (*Message, error) {
	if params == nil {
		return nil, errors.New("switchboard: send message: params are required")
	}
	if params.To != "" && params.ToCustomer != "" {
		return nil, errors.New("switchboard: send message: set To or ToCustomer, not both")
	}
	key := params.IdempotencyKey
	if key == "" {
		key = newIdempotencyKey()
	}
	var m Message
	req := request{method: "POST", path: "/v1/messages", body: params, idempotencyKey: key}
	if err := s.c.do(ctx, req, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// Get fetches one message by id.
func (s *MessagesService) Get(ctx context.Context, id string) (*Message, error) {
	p, err := pathID("message", id)
	if err != nil {
		return nil, err
	}
	var m Message
	if err := s.c.do(ctx, request{method: "GET", path: "/v1/messages/" + p}, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// List iterates over messages, newest first, following next_cursor across
// pages. A nil params lists everything.
func (s *MessagesService) List(ctx context.Context, params *ListMessagesParams) iter.Seq2[*Message, error] {
	if params == nil {
		params = &ListMessagesParams{}
	}
	q := url.Values{}
	setLimit(q, params.Limit)
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("channel", string(params.Channel))
	set("status", string(params.Status))
	set("direction", string(params.Direction))
	set("to", params.To)
	if !params.CreatedAfter.IsZero() {
		q.Set("created_after", formatTime(params.CreatedAfter))
	}
	if !params.CreatedBefore.IsZero() {
		q.Set("created_before", formatTime(params.CreatedBefore))
	}
	return paginate[Message](ctx, s.c, "/v1/messages", q)
}

// Events returns a message's status events, oldest first.
func (s *MessagesService) Events(ctx context.Context, id string) ([]MessageEvent, error) {
	p, err := pathID("message", id)
	if err != nil {
		return nil, err
	}
	var out dataEnvelope[MessageEvent]
	if err := s.c.do(ctx, request{method: "GET", path: "/v1/messages/" + p + "/events"}, &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}

// newIdempotencyKey returns a random key with 130 bits of entropy.
func newIdempotencyKey() string { return "sdk_" + rand.Text() }
