package switchboard

import (
	"encoding/json"
	"time"
)

// Customer is one person, however many channels reach them. Every message
// (and later every call and browser session) attaches to one.
type Customer struct {
	ID               string
	AccountID        string
	Name             string
	Email            string
	Locale           string
	Timezone         string // IANA name; quiet hours are computed in it
	Attributes       json.RawMessage
	PreferredChannel Channel
	Identities       []Identity
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Identity is one way to reach a customer: an address on a channel,
// normalised per channel (E.164 for phone channels, the chat id for
// Telegram, the user id for Viber, the customer token for WebRTC).
type Identity struct {
	ID            string
	CustomerID    string
	Channel       Channel
	Address       string
	LastInboundTo string // our address they last wrote to: the reply's sender
	LastInboundAt time.Time
	LastSeenAt    time.Time
	OptedOut      bool
	CreatedAt     time.Time
}

// Resolution is what routing knows about an interaction's identity.
type Resolution struct {
	CustomerID      string
	IdentityID      string
	CustomerCreated bool
	OptedOut        bool
	LastInboundTo   string    // our address they last wrote to on this identity
	LastInboundAt   time.Time // when they last wrote on it
	// Deliveries are webhook deliveries written while resolving
	// (customer.created), to be enqueued after commit.
	Deliveries []string
}

// CustomerUpdate holds the fields a PATCH may change; nil leaves a field be.
type CustomerUpdate struct {
	Name             *string
	Email            *string
	Locale           *string
	Timezone         *string
	Attributes       json.RawMessage // nil leaves it; replaces the whole object
	PreferredChannel *Channel
}

// CustomerFilter narrows a customer listing.
type CustomerFilter struct {
	Cursor string
	Limit  int
}

// Conversation statuses.
const (
	ConversationOpen   = "open"
	ConversationClosed = "closed"
)

// Conversation is one thread with a customer across every channel it used.
// A customer has at most one open conversation; it closes after a period of
// inactivity or by API, and the next interaction opens a new one.
type Conversation struct {
	ID                 string
	AccountID          string
	CustomerID         string
	Status             string
	Channels           []Channel
	CurrentChannel     Channel
	LastInboundChannel Channel
	MessageCount       int
	LastActivityAt     time.Time
	ClosedAt           time.Time
	ClosedReason       string // inactivity | api | merged
	// Agent is who took the conversation over from the bot ("" while the
	// bot, or nobody, answers it).
	Agent     string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ConversationFilter narrows a conversation listing.
type ConversationFilter struct {
	Status     string
	CustomerID string
	Channel    Channel
	Cursor     string
	Limit      int
}

// Join is the result of attaching an interaction to a conversation.
type Join struct {
	ConversationID string
	Opened         bool
	Deliveries     []string // conversation.opened / .closed webhooks
}

// CustomerEvent is a customer-level event on the timeline and, for the
// announced types, a webhook.
type CustomerEvent struct {
	ID             string
	AccountID      string
	CustomerID     string
	ConversationID string
	Type           string
	Data           json.RawMessage
	CreatedAt      time.Time
}

// Customer-level event types. The first four are webhook event types too.
const (
	EventCustomerCreated    = "customer.created"
	EventCustomerMerged     = "customer.merged"
	EventConversationOpened = "conversation.opened"
	EventConversationClosed = "conversation.closed"
	EventCustomerOptedOut   = "customer.opted_out"
	EventCustomerOptedIn    = "customer.opted_in"
)

// TimelineEntry is one item of a customer's cross-channel timeline: a
// message, a customer-level event, a call or a voice-bot transcript entry.
type TimelineEntry struct {
	Type       string // message | event | call | transcript
	ID         string
	At         time.Time
	Message    *Message
	Event      *CustomerEvent
	Call       *Call
	Transcript *TranscriptEntry
}

// OptOut records that an identity asked not to be messaged.
type OptOut struct {
	AccountID  string
	Channel    Channel
	Address    string
	CustomerID string
	Source     string // keyword | api | provider
	Keyword    string
	CreatedAt  time.Time
}

// OptOutFilter narrows an opt-out listing.
type OptOutFilter struct {
	Channel Channel
	Cursor  string
	Limit   int
}
