package sdk

import (
	"context"
	"crypto/rand"
	"errors"
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
type SendMessageParams struct {
	Channel Channel `json:"channel"`
	From    string  `json:"from"`
	// To is an E.164 number for sms, whatsapp and voice.
	To        string         `json:"to"`
	Text      string         `json:"text"`
	MediaURLs []string       `json:"media_urls,omitempty"`
	Metadata  map[string]any `json:"metadata,omitempty"`
	// StatusCallbackURL, when set, receives this message's status events.
	StatusCallbackURL string `json:"status_callback_url,omitempty"`
	// IdempotencyKey makes the send safe to repeat: the server answers a
	// repeated key with the original message. When empty, Send generates
	// one; either way it is reused on every automatic retry. Set it yourself
	// to stay safe across your own retries, process restarts included.
	IdempotencyKey string `json:"-"`
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
