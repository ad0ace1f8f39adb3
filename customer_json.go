package switchboard

import (
	"encoding/json"
	"time"
)

type identityJSON struct {
	Channel       Channel    `json:"channel"`
	Address       string     `json:"address"`
	OptedOut      bool       `json:"opted_out"`
	LastInboundAt *time.Time `json:"last_inbound_at"`
	LastSeenAt    *time.Time `json:"last_seen_at"`
	CreatedAt     time.Time  `json:"created_at"`
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// MarshalJSON renders an identity in its API shape.
func (i Identity) MarshalJSON() ([]byte, error) {
	return json.Marshal(identityJSON{i.Channel, i.Address, i.OptedOut, timeOrNil(i.LastInboundAt), timeOrNil(i.LastSeenAt), i.CreatedAt.UTC()})
}

type customerJSON struct {
	ID               string          `json:"id"`
	AccountID        string          `json:"account_id"`
	Name             string          `json:"name"`
	Email            string          `json:"email"`
	Locale           string          `json:"locale"`
	Timezone         string          `json:"timezone"`
	Attributes       json.RawMessage `json:"attributes"`
	PreferredChannel *Channel        `json:"preferred_channel"`
	Identities       []Identity      `json:"identities"`
	CreatedAt        time.Time       `json:"created_at"`
	UpdatedAt        time.Time       `json:"updated_at"`
}

// MarshalJSON renders a customer in its API (and webhook) shape.
func (c *Customer) MarshalJSON() ([]byte, error) {
	v := customerJSON{ID: c.ID, AccountID: c.AccountID, Name: c.Name, Email: c.Email, Locale: c.Locale,
		Timezone: c.Timezone, Attributes: c.Attributes, Identities: c.Identities,
		CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC()}
	if len(v.Attributes) == 0 {
		v.Attributes = json.RawMessage("{}")
	}
	if v.Identities == nil {
		v.Identities = []Identity{}
	}
	if c.PreferredChannel != "" {
		p := c.PreferredChannel
		v.PreferredChannel = &p
	}
	return json.Marshal(v)
}

type conversationJSON struct {
	ID                 string     `json:"id"`
	AccountID          string     `json:"account_id"`
	CustomerID         string     `json:"customer_id"`
	Status             string     `json:"status"`
	Channels           []Channel  `json:"channels"`
	CurrentChannel     Channel    `json:"current_channel"`
	LastInboundChannel *Channel   `json:"last_inbound_channel"`
	MessageCount       int        `json:"message_count"`
	LastActivityAt     time.Time  `json:"last_activity_at"`
	ClosedAt           *time.Time `json:"closed_at"`
	ClosedReason       *string    `json:"closed_reason"`
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`
	Agent              *string    `json:"agent"`
}

// MarshalJSON renders a conversation in its API (and webhook) shape.
func (c *Conversation) MarshalJSON() ([]byte, error) {
	v := conversationJSON{ID: c.ID, AccountID: c.AccountID, CustomerID: c.CustomerID, Status: c.Status,
		Channels: c.Channels, CurrentChannel: c.CurrentChannel, MessageCount: c.MessageCount,
		LastActivityAt: c.LastActivityAt.UTC(), ClosedAt: timeOrNil(c.ClosedAt), ClosedReason: nullable(c.ClosedReason),
		CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC(), Agent: nullable(c.Agent)}
	if v.Channels == nil {
		v.Channels = []Channel{}
	}
	if c.LastInboundChannel != "" {
		ch := c.LastInboundChannel
		v.LastInboundChannel = &ch
	}
	return json.Marshal(v)
}

type customerEventJSON struct {
	ID             string          `json:"id"`
	Type           string          `json:"type"`
	CustomerID     string          `json:"customer_id"`
	ConversationID *string         `json:"conversation_id"`
	Data           json.RawMessage `json:"data"`
	CreatedAt      time.Time       `json:"created_at"`
}

// MarshalJSON renders a customer event as the timeline shows it.
func (e *CustomerEvent) MarshalJSON() ([]byte, error) {
	v := customerEventJSON{e.ID, e.Type, e.CustomerID, nullable(e.ConversationID), e.Data, e.CreatedAt.UTC()}
	if len(v.Data) == 0 {
		v.Data = json.RawMessage("{}")
	}
	return json.Marshal(v)
}

// MarshalJSON renders a timeline entry: {"type", "id", "at", "message"|"event"}.
func (t TimelineEntry) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Type       string           `json:"type"`
		ID         string           `json:"id"`
		At         time.Time        `json:"at"`
		Message    *Message         `json:"message,omitempty"`
		Event      *CustomerEvent   `json:"event,omitempty"`
		Call       *Call            `json:"call,omitempty"`
		Transcript *TranscriptEntry `json:"transcript,omitempty"`
	}{t.Type, t.ID, t.At.UTC(), t.Message, t.Event, t.Call, t.Transcript})
}

// MarshalJSON renders an opt-out in its API shape.
func (o *OptOut) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Channel    Channel   `json:"channel"`
		Address    string    `json:"address"`
		CustomerID *string   `json:"customer_id"`
		Source     string    `json:"source"`
		Keyword    *string   `json:"keyword"`
		CreatedAt  time.Time `json:"created_at"`
	}{o.Channel, o.Address, nullable(o.CustomerID), o.Source, nullable(o.Keyword), o.CreatedAt.UTC()})
}

// EventPayload is the body of a webhook for a customer-level event: the
// same envelope as message events, with the customer or conversation as data.
func EventPayload(eventType string, data any, at time.Time) ([]byte, error) {
	return json.Marshal(struct {
		Type      string    `json:"type"`
		Timestamp time.Time `json:"timestamp"`
		Data      any       `json:"data"`
	}{eventType, at.UTC(), data})
}
