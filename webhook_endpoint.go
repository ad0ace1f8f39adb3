package switchboard

import "time"

// WebhookEndpoint is a URL an account wants events delivered to.
type WebhookEndpoint struct {
	ID                      string
	AccountID               string
	URL                     string
	Events                  []string
	Description             string
	Enabled                 bool
	DisabledReason          string
	Secret                  string // whsec_…; returned by the API only on create and rotate
	PreviousSecret          string // still signs until PreviousSecretExpiresAt
	PreviousSecretExpiresAt time.Time
	CreatedAt               time.Time
	UpdatedAt               time.Time
}

// Subscribed reports whether e receives events of type typ.
func (e *WebhookEndpoint) Subscribed(typ string) bool {
	for _, t := range e.Events {
		if t == "*" || t == typ {
			return true
		}
	}
	return false
}

// SigningSecrets returns the secrets a delivery at now is signed with: the
// current one and, during rotation, the previous one.
func (e *WebhookEndpoint) SigningSecrets(now time.Time) []string {
	s := []string{e.Secret}
	if e.PreviousSecret != "" && now.Before(e.PreviousSecretExpiresAt) {
		s = append(s, e.PreviousSecret)
	}
	return s
}

// WebhookDelivery is one event bound for one URL: an endpoint's or a
// message's status_callback_url. Its ID is the webhook-id header.
type WebhookDelivery struct {
	ID         string
	AccountID  string
	EndpointID string // "" for a status_callback_url delivery
	URL        string
	EventType  string
	Payload    []byte
	Status     string // pending | delivered | failed | discarded
	Attempts   int
	CreatedAt  time.Time
}

// WebhookAttempt records one HTTP attempt of a delivery.
type WebhookAttempt struct {
	ID         string
	DeliveryID string
	EndpointID string
	EventType  string
	Attempt    int
	StatusCode int // 0 when no response arrived
	Error      string
	Duration   time.Duration
	CreatedAt  time.Time
}
