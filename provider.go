package switchboard

import (
	"fmt"
	"time"
)

// SendResult is what a provider says when it accepts a message.
type SendResult struct {
	ProviderMessageID string
	// Receipt, when set, is a final status the provider already knows at
	// send time (the sandbox always does). It is applied ReceiptDelay after
	// "sent" has been recorded — at once when zero — so it can never
	// overtake "sent".
	Receipt      *Receipt
	ReceiptDelay time.Duration
}

// ProviderError is a provider's refusal, classified so the queue knows
// whether to retry: permanent errors end delivery at once with Code on the
// message; transient ones are retried with backoff, no sooner than RetryAfter.
type ProviderError struct {
	Code       string
	Message    string
	Permanent  bool
	RetryAfter time.Duration
	// OptOut marks a refusal that means the recipient does not want our
	// messages (they blocked the bot, replied STOP to the carrier): the
	// identity is opted out.
	OptOut bool
}

func (e *ProviderError) Error() string {
	kind := "transient"
	if e.Permanent {
		kind = "permanent"
	}
	return fmt.Sprintf("provider %s error %s: %s", kind, e.Code, e.Message)
}

// Receipt is a provider's report of what became of a message it accepted.
type Receipt struct {
	AccountID         string
	MessageID         string
	Provider          string
	ProviderMessageID string
	Status            Status // delivered | undelivered | failed | read
	ErrorCode         string
	ErrorMessage      string
}

// SendOutcome is a provider's answer for one message of a batch: a result,
// or an error (a *ProviderError when the provider refused it).
type SendOutcome struct {
	Result SendResult
	Err    error
}
