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
)

// Sender is one of our addresses on a connected channel: a phone number, a
// bot, a WhatsApp phone-number id. Default marks the account's default
// sender for its message channel.
type Sender struct {
	Channel Channel `json:"channel"`
	Address string  `json:"address"`
	Default bool    `json:"default"`
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
