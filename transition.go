package switchboard

// Change describes a status transition and what comes with it.
type Change struct {
	Status            Status
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

// StaleMessage is an unfinished message the sweeper hands back to the queue.
type StaleMessage struct {
	ID     string
	Status Status
}
