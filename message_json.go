package switchboard

import (
	"encoding/json"
	"time"
)

// messageJSON is the public representation of a Message, shared by the REST
// API and webhook payloads so both always agree.
type messageJSON struct {
	ID                string          `json:"id"`
	AccountID         string          `json:"account_id"`
	Channel           Channel         `json:"channel"`
	Direction         Direction       `json:"direction"`
	From              string          `json:"from"`
	To                string          `json:"to"`
	Text              string          `json:"text"`
	MediaURLs         []string        `json:"media_urls"`
	Metadata          json.RawMessage `json:"metadata"`
	Status            Status          `json:"status"`
	StatusCallbackURL *string         `json:"status_callback_url"`
	Encoding          *string         `json:"encoding"`
	Segments          *int            `json:"segments"`
	Provider          string          `json:"provider"`
	ProviderMessageID *string         `json:"provider_message_id"`
	ErrorCode         *string         `json:"error_code"`
	ErrorMessage      *string         `json:"error_message"`
	Attempts          int             `json:"attempts"`
	Sequence          int             `json:"sequence"`
	CreatedAt         time.Time       `json:"created_at"`
	UpdatedAt         time.Time       `json:"updated_at"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// MarshalJSON renders m in its public API shape.
func (m *Message) MarshalJSON() ([]byte, error) {
	v := messageJSON{
		ID: m.ID, AccountID: m.AccountID, Channel: m.Channel, Direction: m.Direction,
		From: m.From, To: m.To, Text: m.Text, MediaURLs: m.MediaURLs, Metadata: m.Metadata,
		Status: m.Status, StatusCallbackURL: nullable(m.StatusCallbackURL),
		Encoding: nullable(m.Encoding), Provider: m.Provider,
		ProviderMessageID: nullable(m.ProviderMessageID), ErrorCode: nullable(m.ErrorCode),
		ErrorMessage: nullable(m.ErrorMessage), Attempts: m.Attempts, Sequence: m.Sequence,
		CreatedAt: m.CreatedAt.UTC(), UpdatedAt: m.UpdatedAt.UTC(),
	}
	if v.MediaURLs == nil {
		v.MediaURLs = []string{}
	}
	if len(v.Metadata) == 0 {
		v.Metadata = json.RawMessage("{}")
	}
	if m.Encoding != "" {
		seg := m.Segments
		v.Segments = &seg
	}
	return json.Marshal(v)
}

// WebhookPayload is the body of a webhook announcing that m reached the
// status of its event number seq.
func WebhookPayload(eventType string, m *Message, at time.Time) ([]byte, error) {
	return json.Marshal(struct {
		Type      string    `json:"type"`
		Timestamp time.Time `json:"timestamp"`
		Data      *Message  `json:"data"`
	}{eventType, at.UTC(), m})
}
