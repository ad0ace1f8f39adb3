package switchboard

import (
	"encoding/json"
	"time"
)

type callJSON struct {
	ID                string          `json:"id"`
	AccountID         string          `json:"account_id"`
	CustomerID        *string         `json:"customer_id"`
	ConversationID    *string         `json:"conversation_id"`
	Direction         string          `json:"direction"`
	Channel           Channel         `json:"channel"`
	From              string          `json:"from"`
	To                string          `json:"to"`
	Status            CallStatus      `json:"status"`
	Provider          string          `json:"provider"`
	ChannelID         *string         `json:"channel_id"`
	ProviderCallID    *string         `json:"provider_call_id"`
	FlowID            *string         `json:"flow_id"`
	FlowVersion       *int            `json:"flow_version"`
	SessionID         *string         `json:"session_id"`
	ParentCallID      *string         `json:"parent_call_id"`
	CallbackID        *string         `json:"callback_id"`
	StatusCallbackURL *string         `json:"status_callback_url"`
	Record            bool            `json:"record"`
	Timeout           int             `json:"timeout"`
	MachineDetection  *string         `json:"machine_detection"`
	AnsweredBy        *string         `json:"answered_by"`
	AnsweredAt        *time.Time      `json:"answered_at"`
	EndedAt           *time.Time      `json:"ended_at"`
	Duration          int             `json:"duration"`
	HangupBy          *string         `json:"hangup_by"`
	RecordingURL      *string         `json:"recording_url"`
	TranscriptURL     string          `json:"transcript_url"`
	ErrorCode         *string         `json:"error_code"`
	ErrorMessage      *string         `json:"error_message"`
	Sequence          int             `json:"sequence"`
	Flow              json.RawMessage `json:"flow,omitempty"`
	CreatedAt         time.Time       `json:"created_at"`
	UpdatedAt         time.Time       `json:"updated_at"`
}

func utcOrNil(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// MarshalJSON renders c in its public API shape.
func (c *Call) MarshalJSON() ([]byte, error) {
	v := callJSON{
		ID: c.ID, AccountID: c.AccountID, CustomerID: nullable(c.CustomerID), ConversationID: nullable(c.ConversationID),
		Direction: c.Direction, Channel: c.Channel, From: c.From, To: c.To, Status: c.Status, Provider: c.Provider,
		ChannelID: nullable(c.ChannelID), ProviderCallID: nullable(c.ProviderCallID), FlowID: nullable(c.FlowID),
		SessionID: nullable(c.SessionID), ParentCallID: nullable(c.ParentCallID), CallbackID: nullable(c.CallbackID),
		StatusCallbackURL: nullable(c.StatusCallbackURL), Record: c.Record, Timeout: c.Timeout,
		MachineDetection: nullable(c.MachineDetection), AnsweredBy: nullable(c.AnsweredBy),
		AnsweredAt: utcOrNil(c.AnsweredAt), EndedAt: utcOrNil(c.EndedAt), Duration: c.Duration,
		HangupBy: nullable(c.HangupBy), RecordingURL: nullable(c.RecordingURL),
		TranscriptURL: "/v1/calls/" + c.ID + "/transcript",
		ErrorCode:     nullable(c.ErrorCode), ErrorMessage: nullable(c.ErrorMessage), Sequence: c.Sequence,
		Flow: c.Flow, CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC(),
	}
	if c.FlowVersion > 0 {
		n := c.FlowVersion
		v.FlowVersion = &n
	}
	return json.Marshal(v)
}

// CallEventType is the webhook event type announcing a call status.
func CallEventType(s CallStatus) string { return "call." + string(s) }

// MarshalJSON renders e in its public API shape.
func (e TranscriptEntry) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID             string    `json:"id"`
		SessionID      string    `json:"session_id"`
		CallID         *string   `json:"call_id"`
		ConversationID *string   `json:"conversation_id"`
		Channel        Channel   `json:"channel"`
		Role           string    `json:"role"`
		Kind           string    `json:"kind"`
		Text           string    `json:"text"`
		StepID         *string   `json:"step_id"`
		CreatedAt      time.Time `json:"created_at"`
	}{e.ID, e.SessionID, nullable(e.CallID), nullable(e.ConversationID), e.Channel, e.Role, e.Kind, e.Text, nullable(e.StepID), e.CreatedAt.UTC()})
}

// MarshalJSON renders f in its public API shape: the stored definition's
// fields next to the record's.
func (f *FlowRecord) MarshalJSON() ([]byte, error) {
	var def map[string]json.RawMessage
	if err := json.Unmarshal(f.Definition, &def); err != nil || def == nil {
		def = map[string]json.RawMessage{}
	}
	put := func(k string, v any) {
		b, _ := json.Marshal(v)
		def[k] = b
	}
	put("id", f.ID)
	put("name", f.Name)
	put("version", f.Version)
	put("created_at", f.CreatedAt.UTC())
	return json.Marshal(def)
}
