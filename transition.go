package switchboard

import "time"

// Change describes a status transition and what comes with it.
type Change struct {
	Status Status
	// After, when set, applies the change only to a message that has
	// reached After: a provider's receipt must not land before "sent" is
	// recorded.
	After             Status
	Provider          string
	ProviderMessageID string
	ErrorCode         string
	ErrorMessage      string
}

// TransitionStep is a batch of messages moving to one status; several
// steps can commit together (sent and an immediate receipt).
type TransitionStep struct {
	Status Status
	Items  []ChangeItem
}

// ChangeItem is one message's part of a batch transition to a common
// status.
type ChangeItem struct {
	ID                string
	Provider          string
	ProviderMessageID string
	ErrorCode         string
	ErrorMessage      string
}

// TransitionResult is what a transition did: the message as it now stands,
// whether the transition applied (late or out-of-order ones do not), and the
// webhook deliveries it wrote to the outbox, to be enqueued after commit.
type TransitionResult struct {
	Message    *Message
	Applied    bool
	Deliveries []string
}

// DeliveryTarget is a webhook delivery with the secrets that sign it.
type DeliveryTarget struct {
	WebhookDelivery
	Secrets []string
	Enabled bool // false once its endpoint was disabled or deleted
}

// MessageRef is what a delivery task carries: enough to apply the sender's
// rate limit before touching the database.
type MessageRef struct {
	ID        string  `json:"message_id"`
	AccountID string  `json:"account_id,omitempty"`
	Channel   Channel `json:"channel,omitempty"`
	From      string  `json:"from,omitempty"`
}

// StaleMessage is an unfinished message the sweeper hands back to the queue.
type StaleMessage struct {
	MessageRef
	Status    Status
	CreatedAt time.Time
}

// AttemptRecord is one webhook attempt with the state it leaves its
// delivery in: pending (due again at Next), delivered, failed or discarded.
type AttemptRecord struct {
	Delivery *DeliveryTarget
	Attempt  WebhookAttempt
	Status   string
	Next     time.Time
}
