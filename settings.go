package switchboard

import (
	"encoding/json"
	"fmt"
	"time"
)

// AccountSettings are an account's routing rules. Zero values mean the
// defaults given by Defaults.
type AccountSettings struct {
	// ConversationInactivity closes an open conversation after this long
	// without an interaction (default 24 h).
	ConversationInactivity time.Duration
	// OptOutKeywords and OptInKeywords are matched case-insensitively
	// against the whole trimmed text of an inbound message.
	OptOutKeywords []string
	OptInKeywords  []string
	// Confirmations sent back on the same channel.
	OptOutReply string
	OptInReply  string
	// QuietHours, when set, defer marketing messages that would arrive
	// between Start and End in the customer's timezone (or Timezone when the
	// customer has none) to End.
	QuietHours *QuietHours
	// Senders is the default sender per channel, used when routing picks a
	// channel and the customer never wrote to one of ours on it.
	Senders map[Channel]string
}

// QuietHours is a daily window, "HH:MM" local time; Start after End wraps
// past midnight (21:00–09:00).
type QuietHours struct {
	Start    string
	End      string
	Timezone string // default timezone for customers without one; "" = UTC
}

// Default routing settings.
var (
	DefaultConversationInactivity = 24 * time.Hour
	DefaultOptOutKeywords         = []string{"STOP", "UNSUBSCRIBE", "СТОП", "ОТПИСАТЬСЯ"}
	DefaultOptInKeywords          = []string{"START"}
	DefaultOptOutReply            = "You have been unsubscribed and will receive no more messages. Reply START to resubscribe."
	DefaultOptInReply             = "You have been resubscribed. Reply STOP to unsubscribe."
)

// WithDefaults fills unset settings with the defaults.
func (s AccountSettings) WithDefaults() AccountSettings {
	if s.ConversationInactivity <= 0 {
		s.ConversationInactivity = DefaultConversationInactivity
	}
	if s.OptOutKeywords == nil {
		s.OptOutKeywords = DefaultOptOutKeywords
	}
	if s.OptInKeywords == nil {
		s.OptInKeywords = DefaultOptInKeywords
	}
	if s.OptOutReply == "" {
		s.OptOutReply = DefaultOptOutReply
	}
	if s.OptInReply == "" {
		s.OptInReply = DefaultOptInReply
	}
	if s.Senders == nil {
		s.Senders = map[Channel]string{}
	}
	return s
}

type quietHoursJSON struct {
	Start    string `json:"start"`
	End      string `json:"end"`
	Timezone string `json:"timezone"`
}

type settingsJSON struct {
	ConversationInactivity string             `json:"conversation_inactivity"`
	OptOutKeywords         []string           `json:"opt_out_keywords"`
	OptInKeywords          []string           `json:"opt_in_keywords"`
	OptOutReply            string             `json:"opt_out_reply"`
	OptInReply             string             `json:"opt_in_reply"`
	QuietHours             *quietHoursJSON    `json:"quiet_hours"`
	Senders                map[Channel]string `json:"senders"`
}

// MarshalJSON renders the settings as the API and the database store them,
// durations as Go duration strings ("24h0m0s").
func (s AccountSettings) MarshalJSON() ([]byte, error) {
	v := settingsJSON{OptOutKeywords: s.OptOutKeywords, OptInKeywords: s.OptInKeywords,
		OptOutReply: s.OptOutReply, OptInReply: s.OptInReply, Senders: s.Senders}
	if s.ConversationInactivity > 0 {
		v.ConversationInactivity = s.ConversationInactivity.String()
	}
	if q := s.QuietHours; q != nil {
		v.QuietHours = &quietHoursJSON{q.Start, q.End, q.Timezone}
	}
	return json.Marshal(v)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *AccountSettings) UnmarshalJSON(b []byte) error {
	var v settingsJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = AccountSettings{OptOutKeywords: v.OptOutKeywords, OptInKeywords: v.OptInKeywords,
		OptOutReply: v.OptOutReply, OptInReply: v.OptInReply, Senders: v.Senders}
	if v.ConversationInactivity != "" {
		d, err := time.ParseDuration(v.ConversationInactivity)
		if err != nil {
			return fmt.Errorf("conversation_inactivity: %w", err)
		}
		s.ConversationInactivity = d
	}
	if q := v.QuietHours; q != nil {
		s.QuietHours = &QuietHours{q.Start, q.End, q.Timezone}
	}
	return nil
}
