package switchboard

import "time"

// Sandbox outcomes a rule may force.
const (
	OutcomeDelivered   = "delivered"
	OutcomeUndelivered = "undelivered"
	OutcomeFailed      = "failed"
	OutcomeTransient   = "transient"
	OutcomeSilent      = "silent"
)

// SandboxRule makes the sandbox carrier answer a destination with a fixed
// outcome, or throttles a sender to RatePerSecond.
type SandboxRule struct {
	ID            string
	AccountID     string
	Channel       Channel // "" matches any channel
	To            string
	From          string
	Outcome       string
	DelayMS       *int
	RatePerSecond float64
	CreatedAt     time.Time
}

// SandboxSubmission is one send attempt the sandbox carrier received.
type SandboxSubmission struct {
	ID                string
	AccountID         string
	MessageID         string
	Channel           Channel
	From              string
	To                string
	Text              string
	Attempt           int
	Result            string // accepted | failed | transient
	ProviderMessageID string
	CreatedAt         time.Time
}
