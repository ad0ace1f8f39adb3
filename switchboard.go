// Package switchboard is the domain of the Switchboard platform: the one
// message model shared by every channel, its status lifecycle, and the error
// codes every layer speaks. It imports only the standard library so that the
// API, the store, the queue and the providers all depend inward on it.
package switchboard

import (
	"encoding/json"
	"time"
)

// Channel is a way of reaching a customer. The model carries every channel
// from day one; providers are added per channel.
type Channel string

const (
	ChannelSMS      Channel = "sms"
	ChannelWhatsApp Channel = "whatsapp"
	ChannelTelegram Channel = "telegram"
	ChannelViber    Channel = "viber"
	ChannelWebRTC   Channel = "webrtc"
	ChannelVoice    Channel = "voice"
)

// Channels lists every known channel, in documentation order.
var Channels = []Channel{ChannelSMS, ChannelWhatsApp, ChannelTelegram, ChannelViber, ChannelWebRTC, ChannelVoice}

// Valid reports whether c is a known channel.
func (c Channel) Valid() bool {
	for _, k := range Channels {
		if c == k {
			return true
		}
	}
	return false
}

// UsesPhoneNumbers reports whether addresses on c are E.164 phone numbers.
func (c Channel) UsesPhoneNumbers() bool {
	return c == ChannelSMS || c == ChannelWhatsApp || c == ChannelVoice
}

// Direction says who started a message.
type Direction string

const (
	Outbound Direction = "outbound"
	Inbound  Direction = "inbound"
)

// Message is one message on any channel, in either direction.
type Message struct {
	ID                string
	AccountID         string
	Channel           Channel
	Direction         Direction
	From              string
	To                string
	Text              string
	MediaURLs         []string
	Metadata          json.RawMessage
	Status            Status
	StatusCallbackURL string
	Encoding          string // sms only
	Segments          int    // sms only
	Provider          string
	ProviderMessageID string
	ErrorCode         string
	ErrorMessage      string
	Attempts          int
	Sequence          int // sequence number of the latest event
	CreatedAt         time.Time
	UpdatedAt         time.Time

	// Routing: the customer and conversation the message belongs to, its
	// category (marketing sends respect quiet hours), how its channel was
	// chosen, and for failover the parent and plan.
	CustomerID     string
	ConversationID string
	Category       string // "" | marketing | transactional
	Routing        *RoutingDecision
	ParentID       string        // a failover step points at its parent
	Failover       *FailoverPlan // set on a failover parent only
	DeferredUntil  time.Time     // quiet hours moved the send to then

	// ChannelID is the connected channel carrying the message ("" for the
	// sandbox carrier).
	ChannelID string
}

// Message categories.
const (
	CategoryMarketing     = "marketing"
	CategoryTransactional = "transactional"
)

// ProviderFailover names the pseudo-provider of a failover parent: the
// parent is never sent itself; its steps are.
const ProviderFailover = "failover"

// RoutingDecision records why a message went out on its channel.
type RoutingDecision struct {
	// Mode: explicit (the caller named the channel), auto, conversation
	// (a reply in a conversation), failover (a step), keyword (an opt-out
	// or opt-in confirmation).
	Mode    string  `json:"mode"`
	Channel Channel `json:"channel"` // the channel chosen
	// Reason: requested, preferred_channel, last_active, last_inbound,
	// current_channel, step, opt_out, opt_in.
	Reason string `json:"reason"`
	// Skipped lists channels passed over, with why.
	Skipped []RoutingSkip `json:"skipped,omitempty"`
}

// RoutingSkip is a channel routing passed over.
type RoutingSkip struct {
	Channel Channel `json:"channel"`
	Reason  string  `json:"reason"` // opted_out | no_sender | no_identity
}

// FailoverPlan is a failover parent's steps and how far it has got. A step
// after the first is sent when the step before it has not reached the
// step's Unless status After its start, or failed outright; a step that
// reaches the next step's Unless status wins and the rest are cancelled.
// The last step wins when it is sent.
type FailoverPlan struct {
	Steps   []FailoverStep `json:"steps"`
	Current int            `json:"current"` // index of the step in flight
	Winner  *int           `json:"winner"`  // index of the winning step, once known
	Done    bool           `json:"done"`    // a step won or every step failed
	Version int            `json:"version"` // bumped on every change; saves compare it
}

// FailoverStep is one channel to try.
type FailoverStep struct {
	Channel   Channel       `json:"channel"`
	From      string        `json:"from,omitempty"`
	After     time.Duration `json:"after"`  // nanoseconds in storage; the API renders "30s"
	Unless    Status        `json:"unless"` // sent | delivered | read
	To        string        `json:"to,omitempty"`
	MessageID string        `json:"message_id,omitempty"`
	State     string        `json:"state"` // pending | sending | won | failed | timed_out | cancelled | skipped
	Reason    string        `json:"reason,omitempty"`
	StartedAt *time.Time    `json:"started_at,omitempty"`
}

// Failover step states.
const (
	StepPending   = "pending"
	StepSending   = "sending"
	StepWon       = "won"
	StepFailed    = "failed"
	StepTimedOut  = "timed_out"
	StepCancelled = "cancelled"
	StepSkipped   = "skipped"
)

// Event is one status transition of a message. Sequence numbers start at 1
// and grow by one per transition, so webhook receivers can order them.
type Event struct {
	MessageID    string
	Sequence     int
	Status       Status
	ErrorCode    string
	ErrorMessage string
	Timestamp    time.Time
}
