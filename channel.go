package switchboard

import (
	"encoding/json"
	"time"
)

// Provider types a channel can connect: each is one package under
// providers/ (the sandbox is built in).
const (
	ProviderSandbox       = "sandbox"
	ProviderTwilio        = "twilio"
	ProviderTelegram      = "telegram"
	ProviderWhatsAppCloud = "whatsapp_cloud"
	ProviderViber         = "viber"
	ProviderExolve        = "exolve"
	// ProviderWebRTC is the built-in browser channel: its senders are the
	// addresses the web widget calls and writes to.
	ProviderWebRTC = "webrtc"
)

// Sender is one of our addresses on a connected channel: a phone number, a
// bot, a WhatsApp phone-number id. Default marks the account's default
// sender for its message channel.
type Sender struct {
	Channel Channel `json:"channel"`
	Address string  `json:"address"`
	Default bool    `json:"default"`
	// InboundFlowID names the voice-bot flow that answers calls to this
	// address, and messages to it when no flow or agent holds the
	// customer's conversation already.
	InboundFlowID string `json:"inbound_flow_id,omitempty"`
}

// ConnectedChannel is a provider account an account connected: its
// credentials (plaintext only in memory: encrypted at rest, never shown by
// the API), its senders and the secret part of its inbound URL.
type ConnectedChannel struct {
	ID              string
	AccountID       string
	Type            string // a Provider* constant
	Name            string
	Status          string // active | disabled
	Senders         []Sender
	Config          json.RawMessage // non-secret provider settings
	Credentials     json.RawMessage
	CredentialsHint map[string]string // masked, for display
	HookSecret      string            // the unguessable part of /hooks/{id}/{secret}
	WebhookStatus   string            // registered | manual | failed: how the provider learned our inbound URL
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// ProviderAccount is what a provider says about credentials it accepted:
// a display name (bot username, account friendly name) and details.
type ProviderAccount struct {
	Name    string            `json:"name"`
	Details map[string]string `json:"details,omitempty"`
}

// InboundBatch is what one provider webhook delivered, once its signature
// checked out: messages from customers, receipts for our messages, and
// opt-outs or opt-ins the provider reports (a blocked bot, a Viber
// unsubscribe). Response, when set, is the body to answer the provider with.
type InboundBatch struct {
	Messages    []*Message
	Receipts    []Receipt
	OptOuts     []OptOut
	OptIns      []OptOut
	Response    []byte
	ContentType string
}

// ErrForged is returned by a provider's webhook parser for a request whose
// signature (or secret token) does not verify: answered 403, nothing stored.
var ErrForged = &Error{Code: EFORBIDDEN, Message: "webhook signature does not verify"}

// ChannelUpdate holds the fields a PATCH may change; nil leaves a field be.
type ChannelUpdate struct {
	Name            *string
	Status          *string
	Senders         []Sender // nil leaves them; an empty slice clears them
	Config          json.RawMessage
	Credentials     json.RawMessage // replaced whole, with its hint
	CredentialsHint map[string]string
	WebhookStatus   *string
}

// SenderFor returns the channel's sender on ch with address from, or its
// default sender on ch when from is empty; ok is false when it has none.
func (c *ConnectedChannel) SenderFor(ch Channel, from string) (Sender, bool) {
	var first *Sender
	for i, s := range c.Senders {
		if s.Channel != ch {
			continue
		}
		if from != "" && s.Address == from {
			return s, true
		}
		if from == "" && s.Default {
			return s, true
		}
		if first == nil {
			first = &c.Senders[i]
		}
	}
	if from == "" && first != nil {
		return *first, true
	}
	return Sender{}, false
}

// DefaultSenderRate is a provider's usual per-sender limit in messages per
// second, applied through the shared limiter unless the channel's config
// sets rate_per_second: Telegram allows about 30 messages/s per bot,
// WhatsApp Cloud 80/s per number, Viber and Exolve publish none (we stay
// modest), and Twilio depends on the number (1/s for a long code, 3/s
// toll-free, 100/s short code: set it).
func DefaultSenderRate(providerType string) float64 {
	switch providerType {
	case ProviderTelegram:
		return 30
	case ProviderWhatsAppCloud:
		return 80
	case ProviderViber:
		return 50
	case ProviderExolve:
		return 20
	case ProviderTwilio:
		return 10
	}
	return 0
}
