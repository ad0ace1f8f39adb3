package sdk

import (
	"context"
	"errors"
	"iter"
	"net/url"
	"time"
)

// ConversationStatus is open or closed.
type ConversationStatus string

// Conversation statuses.
const (
	ConversationOpen   ConversationStatus = "open"
	ConversationClosed ConversationStatus = "closed"
)

// Conversation is one thread with a customer across every channel it used.
// A customer has at most one open conversation; it closes after the
// account's Settings.ConversationInactivity, or by Conversations.Close.
type Conversation struct {
	ID             string             `json:"id"`
	AccountID      string             `json:"account_id"`
	CustomerID     string             `json:"customer_id"`
	Status         ConversationStatus `json:"status"`
	Channels       []Channel          `json:"channels"`
	CurrentChannel Channel            `json:"current_channel"`
	// LastInboundChannel is where the customer last wrote, and where a
	// reply without a channel goes; nil if they never wrote.
	LastInboundChannel *Channel   `json:"last_inbound_channel"`
	MessageCount       int        `json:"message_count"`
	LastActivityAt     time.Time  `json:"last_activity_at"`
	ClosedAt           *time.Time `json:"closed_at"`
	// ClosedReason is "inactivity", "api" or "merged", or nil while open.
	ClosedReason *string   `json:"closed_reason"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// ListConversationsParams filters Conversations.List. Zero fields are not
// sent.
type ListConversationsParams struct {
	// Limit is the page size, not a cap on the total.
	Limit      int
	Status     ConversationStatus
	CustomerID string
	// Channel keeps conversations that used this channel.
	Channel Channel
}

// ConversationReplyParams is the body of Conversations.Reply.
type ConversationReplyParams struct {
	Text      string         `json:"text"`
	MediaURLs []string       `json:"media_urls,omitempty"`
	Metadata  map[string]any `json:"metadata,omitempty"`
	// Channel, when empty, is the channel the customer last wrote on (the
	// conversation's current channel if they never wrote).
	Channel Channel `json:"channel,omitempty"`
	// From, when empty, defaults as for Messages.Send.
	From              string   `json:"from,omitempty"`
	Category          Category `json:"category,omitempty"`
	StatusCallbackURL string   `json:"status_callback_url,omitempty"`
	// IdempotencyKey works as in SendMessageParams: generated when empty
	// and reused on every automatic retry.
	IdempotencyKey string `json:"-"`
}

// ConversationsService reads, closes and replies in conversations. Get it
// from Client.Conversations.
type ConversationsService struct{ c *Client }

// List iterates over conversations, newest first, following next_cursor.
// A nil params lists everything.
func (s *ConversationsService) List(ctx context.Context, params *ListConversationsParams) iter.Seq2[*Conversation, error] {
	q := url.Values{}
	if params != nil {
		setLimit(q, params.Limit)
		set := func(k, v string) {
			if v != "" {
				q.Set(k, v)
			}
		}
		set("status", string(params.Status))
		set("customer_id", params.CustomerID)
		set("channel", string(params.Channel))
	}
	return paginate[Conversation](ctx, s.c, "/v1/conversations", q)
}

// Get fetches one conversation.
func (s *ConversationsService) Get(ctx context.Context, id string) (*Conversation, error) {
	p, err := pathID("conversation", id)
	if err != nil {
		return nil, err
	}
	var out Conversation
	if err := s.c.do(ctx, request{method: "GET", path: "/v1/conversations/" + p}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Close closes a conversation (ClosedReason "api"); the customer's next
// interaction opens a new one. Closing a closed conversation returns it
// unchanged, so Close is retried like a read.
func (s *ConversationsService) Close(ctx context.Context, id string) (*Conversation, error) {
	p, err := pathID("conversation", id)
	if err != nil {
		return nil, err
	}
	var out Conversation
	req := request{method: "POST", path: "/v1/conversations/" + p + "/close", idempotent: true}
	if err := s.c.do(ctx, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Reply sends a message to the conversation's customer; the server
// accepts it (202) and delivers it asynchronously, like Messages.Send.
func (s *ConversationsService) Reply(ctx context.Context, id string, params *ConversationReplyParams) (*Message, error) {
	p, err := pathID("conversation", id)
	if err != nil {
		return nil, err
	}
	if params == nil {
		return nil, errors.New("switchboard: reply in conversation: params are required")
	}
	key := params.IdempotencyKey
	if key == "" {
		key = newIdempotencyKey()
	}
	var m Message
	req := request{method: "POST", path: "/v1/conversations/" + p + "/messages", body: params, idempotencyKey: key}
	if err := s.c.do(ctx, req, &m); err != nil {
		return nil, err
	}
	return &m, nil
}
