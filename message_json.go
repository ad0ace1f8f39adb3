package switchboard

import (
	"encoding/json"
	"time"
)

// messageJSON is the public representation of a Message, shared by the REST
// API and webhook payloads so both always agree.
type messageJSON struct {
	ID                string           `json:"id"`
	AccountID         string           `json:"account_id"`
	Channel           Channel          `json:"channel"`
	Direction         Direction        `json:"direction"`
	From              string           `json:"from"`
	To                string           `json:"to"`
	Text              string           `json:"text"`
	MediaURLs         []string         `json:"media_urls"`
	Metadata          json.RawMessage  `json:"metadata"`
	Status            Status           `json:"status"`
	StatusCallbackURL *string          `json:"status_callback_url"`
	Encoding          *string          `json:"encoding"`
	Segments          *int             `json:"segments"`
	Provider          string           `json:"provider"`
	ProviderMessageID *string          `json:"provider_message_id"`
	ErrorCode         *string          `json:"error_code"`
	ErrorMessage      *string          `json:"error_message"`
	Attempts          int              `json:"attempts"`
	Sequence          int              `json:"sequence"`
	CreatedAt         time.Time        `json:"created_at"`
	UpdatedAt         time.Time        `json:"updated_at"`
	CustomerID        *string          `json:"customer_id"`
	ConversationID    *string          `json:"conversation_id"`
	Category          *string          `json:"category"`
	Routing           *RoutingDecision `json:"routing"`
	ParentID          *string          `json:"parent_id"`
	Failover          *failoverJSON    `json:"failover,omitempty"`
	DeferredUntil     *time.Time       `json:"deferred_until"`
	ChannelID         *string          `json:"channel_id"`
}

// failoverJSON is a failover parent's plan as the API shows it: durations
// as strings ("30s") and the winning step's index.
type failoverJSON struct {
	Steps  []failoverStepJSON `json:"steps"`
	Winner *int               `json:"winner"`
}

type failoverStepJSON struct {
	Channel   Channel    `json:"channel"`
	From      *string    `json:"from"`
	To        *string    `json:"to"`
	After     string     `json:"after"`
	Unless    *Status    `json:"unless"`
	MessageID *string    `json:"message_id"`
	State     string     `json:"state"`
	Reason    *string    `json:"reason"`
	StartedAt *time.Time `json:"started_at"`
}

func failoverView(p *FailoverPlan) *failoverJSON {
	if p == nil {
		return nil
	}
	v := &failoverJSON{Steps: make([]failoverStepJSON, len(p.Steps)), Winner: p.Winner}
	for i, st := range p.Steps {
		fs := failoverStepJSON{Channel: st.Channel, From: nullable(st.From), To: nullable(st.To), After: st.After.String(),
			MessageID: nullable(st.MessageID), State: st.State, Reason: nullable(st.Reason), StartedAt: st.StartedAt}
		if st.Unless != "" {
			u := st.Unless
			fs.Unless = &u
		}
		v.Steps[i] = fs
	}
	return v
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
		CustomerID: nullable(m.CustomerID), ConversationID: nullable(m.ConversationID), Category: nullable(m.Category),
		Routing: m.Routing, ParentID: nullable(m.ParentID), Failover: failoverView(m.Failover),
		ChannelID: nullable(m.ChannelID),
	}
	if !m.DeferredUntil.IsZero() {
		t := m.DeferredUntil.UTC()
		v.DeferredUntil = &t
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
