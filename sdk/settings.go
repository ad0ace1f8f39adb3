package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Settings are the account's routing rules, with the server's defaults
// filled in.
type Settings struct {
	// ConversationInactivity closes an open conversation after this long
	// without an interaction (default 24 h).
	ConversationInactivity time.Duration
	// OptOutKeywords and OptInKeywords are matched case-insensitively
	// against the whole trimmed text of an inbound message (defaults STOP,
	// UNSUBSCRIBE, СТОП, ОТПИСАТЬСЯ and START).
	OptOutKeywords []string
	OptInKeywords  []string
	// OptOutReply and OptInReply are the confirmations sent back on the
	// same channel.
	OptOutReply string
	OptInReply  string
	// QuietHours, when set, defer marketing sends; nil when there are none.
	QuietHours *QuietHours
	// Senders is the default sender address per channel.
	Senders map[Channel]string
}

// QuietHours is a daily window, "HH:MM" local time, in which marketing
// sends are deferred to End; Start after End wraps past midnight
// ("21:00"–"09:00"). It is computed in the customer's timezone, else in
// Timezone, else in UTC.
type QuietHours struct {
	Start string `json:"start"`
	End   string `json:"end"`
	// Timezone is the IANA name used for customers without one.
	Timezone string `json:"timezone,omitempty"`
}

type settingsJSON struct {
	ConversationInactivity string             `json:"conversation_inactivity"`
	OptOutKeywords         []string           `json:"opt_out_keywords"`
	OptInKeywords          []string           `json:"opt_in_keywords"`
	OptOutReply            string             `json:"opt_out_reply"`
	OptInReply             string             `json:"opt_in_reply"`
	QuietHours             *QuietHours        `json:"quiet_hours"`
	Senders                map[Channel]string `json:"senders"`
}

// UnmarshalJSON reads the API's shape, ConversationInactivity from a Go
// duration string ("24h0m0s").
func (s *Settings) UnmarshalJSON(b []byte) error {
	var v settingsJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	d, err := parseDuration("conversation_inactivity", v.ConversationInactivity)
	if err != nil {
		return err
	}
	*s = Settings{ConversationInactivity: d, OptOutKeywords: v.OptOutKeywords, OptInKeywords: v.OptInKeywords,
		OptOutReply: v.OptOutReply, OptInReply: v.OptInReply, QuietHours: v.QuietHours, Senders: v.Senders}
	return nil
}

// MarshalJSON writes the API's shape.
func (s Settings) MarshalJSON() ([]byte, error) {
	return json.Marshal(settingsJSON{ConversationInactivity: s.ConversationInactivity.String(),
		OptOutKeywords: s.OptOutKeywords, OptInKeywords: s.OptInKeywords, OptOutReply: s.OptOutReply,
		OptInReply: s.OptInReply, QuietHours: s.QuietHours, Senders: s.Senders})
}

// UpdateSettingsParams is the body of Settings.Update: only what is set is
// changed.
type UpdateSettingsParams struct {
	// ConversationInactivity, when non-zero, replaces the inactivity period
	// (1 s to 8760 h).
	ConversationInactivity time.Duration
	// OptOutKeywords and OptInKeywords, when non-nil, replace the lists.
	OptOutKeywords []string
	OptInKeywords  []string
	OptOutReply    *string
	OptInReply     *string
	// QuietHours, when non-nil, replaces the quiet hours.
	QuietHours *QuietHours
	// ClearQuietHours removes the quiet hours ("quiet_hours": null); it
	// cannot be combined with QuietHours.
	ClearQuietHours bool
	// Senders is merged into the account's default senders, channel by
	// channel; an empty address removes that channel's default sender.
	Senders map[Channel]string
}

// MarshalJSON writes only the fields that are set.
func (p UpdateSettingsParams) MarshalJSON() ([]byte, error) {
	v := map[string]any{}
	if p.ConversationInactivity != 0 {
		v["conversation_inactivity"] = p.ConversationInactivity.String()
	}
	if p.OptOutKeywords != nil {
		v["opt_out_keywords"] = p.OptOutKeywords
	}
	if p.OptInKeywords != nil {
		v["opt_in_keywords"] = p.OptInKeywords
	}
	if p.OptOutReply != nil {
		v["opt_out_reply"] = *p.OptOutReply
	}
	if p.OptInReply != nil {
		v["opt_in_reply"] = *p.OptInReply
	}
	switch {
	case p.ClearQuietHours:
		v["quiet_hours"] = nil
	case p.QuietHours != nil:
		v["quiet_hours"] = p.QuietHours
	}
	if p.Senders != nil {
		v["senders"] = p.Senders
	}
	return json.Marshal(v)
}

// SettingsService reads and changes the account's routing settings. Get
// it from Client.Settings.
type SettingsService struct{ c *Client }

// Get returns the account's settings, defaults filled in.
func (s *SettingsService) Get(ctx context.Context) (*Settings, error) {
	var out Settings
	if err := s.c.do(ctx, request{method: "GET", path: "/v1/account/settings"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Update changes the settings that params sets and returns them all.
func (s *SettingsService) Update(ctx context.Context, params *UpdateSettingsParams) (*Settings, error) {
	if params == nil {
		params = &UpdateSettingsParams{}
	}
	if params.ClearQuietHours && params.QuietHours != nil {
		return nil, errors.New("switchboard: update settings: set QuietHours or ClearQuietHours, not both")
	}
	var out Settings
	if err := s.c.do(ctx, request{method: "PATCH", path: "/v1/account/settings", body: params}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
