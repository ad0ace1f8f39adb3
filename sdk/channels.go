package sdk

import (
	"context"
	"errors"
	"iter"
	"net/url"
	"time"
)

// ChannelType names the provider a connected channel talks to.
type ChannelType string

// Provider types a channel can connect, with the message channels each
// carries.
const (
	ChannelTypeTwilio        ChannelType = "twilio"         // sms, whatsapp
	ChannelTypeTelegram      ChannelType = "telegram"       // telegram
	ChannelTypeWhatsAppCloud ChannelType = "whatsapp_cloud" // whatsapp, through Meta's WhatsApp Cloud API
	ChannelTypeViber         ChannelType = "viber"          // viber
	ChannelTypeExolve        ChannelType = "exolve"         // sms, through MTS Exolve
	ChannelTypeSandbox       ChannelType = "sandbox"        // every channel; nothing leaves the server
)

// Statuses of a ConnectedChannel. A disabled channel carries no outbound
// messages.
const (
	ChannelActive   = "active"
	ChannelDisabled = "disabled"
)

// How the provider learned a channel's WebhookURL.
const (
	// WebhookRegistered: Switchboard set it through the provider's API.
	WebhookRegistered = "registered"
	// WebhookManual: the provider has no API for it; paste WebhookURL into
	// the provider's console.
	WebhookManual = "manual"
	// WebhookFailed: registering it failed; paste WebhookURL by hand.
	WebhookFailed = "failed"
)

// ConnectedChannel is a provider account connected to Switchboard. Its
// credentials are stored encrypted on the server and never returned;
// CredentialsHint shows them masked.
type ConnectedChannel struct {
	ID   string      `json:"id"`
	Type ChannelType `json:"type"`
	Name string      `json:"name"`
	// Status is ChannelActive or ChannelDisabled.
	Status  string         `json:"status"`
	Senders []Sender       `json:"senders"`
	Config  map[string]any `json:"config"`
	// CredentialsHint maps credential fields to masked values: ids in
	// full, secrets as "****" and at most their last four characters.
	CredentialsHint map[string]string `json:"credentials_hint"`
	// WebhookURL is where the provider sends inbound messages and
	// receipts. Its secret authenticates it: keep it private.
	WebhookURL string `json:"webhook_url"`
	// WebhookStatus is WebhookRegistered, WebhookManual or WebhookFailed.
	WebhookStatus string `json:"webhook_status"`
	// ProviderAccount is what the provider said about the credentials. It
	// is set only by Create, and by Update when it changed the credentials.
	ProviderAccount *ProviderAccount `json:"provider_account,omitempty"`
	CreatedAt       time.Time        `json:"created_at"`
	UpdatedAt       time.Time        `json:"updated_at"`
}

// Sender is one of our addresses on a connected channel: E.164 for sms and
// whatsapp (sms also takes an alphanumeric sender id such as "MyShop", and
// Twilio a Messaging Service SID "MG…"), the bot's username for telegram,
// the bot's URI for viber. Default marks the default sender for its
// message channel (at most one per channel).
type Sender struct {
	Channel Channel `json:"channel"`
	Address string  `json:"address"`
	Default bool    `json:"default,omitempty"`
}

// ProviderAccount is what a provider reported about credentials it
// accepted: its name for the account (a bot's username, a Twilio
// account's friendly name) and details.
type ProviderAccount struct {
	Name    string            `json:"name"`
	Details map[string]string `json:"details,omitempty"`
}

// CreateChannelParams is the body of Channels.Create.
type CreateChannelParams struct {
	Type ChannelType `json:"type"`
	// Name defaults to the provider's name for the account.
	Name string `json:"name,omitempty"`
	// Credentials are provider-specific (docs/API.md lists each type's
	// fields), for example {"bot_token": "…"} for telegram. The sandbox
	// takes none.
	Credentials map[string]any `json:"credentials,omitempty"`
	Senders     []Sender       `json:"senders,omitempty"`
	// Config holds non-secret provider settings.
	Config map[string]any `json:"config,omitempty"`
}

// UpdateChannelParams is the body of Channels.Update. Nil fields are left
// unchanged; write new("…") to set Name or Status.
type UpdateChannelParams struct {
	Name *string `json:"name,omitempty"`
	// Status is ChannelActive or ChannelDisabled.
	Status *string `json:"status,omitempty"`
	// Credentials, when non-nil, replace the credentials whole once the
	// provider has accepted them.
	Credentials map[string]any `json:"credentials,omitzero"`
	// Senders, when non-nil, replaces the senders; an empty slice clears
	// them.
	Senders []Sender       `json:"senders,omitzero"`
	Config  map[string]any `json:"config,omitzero"`
}

// ListChannelsParams pages Channels.List.
type ListChannelsParams struct {
	// Limit is the page size, not a cap on the total.
	Limit int
}

// ChannelsService connects provider accounts. Get it from Client.Channels.
type ChannelsService struct{ c *Client }

// Create connects a provider account. The server checks the credentials,
// proves them with one call to the provider (an *Error with Code
// ProblemProviderRefused when the provider rejects them), stores them
// encrypted (ProblemUnavailable when the server has no
// SWITCHBOARD_MASTER_KEY) and registers WebhookURL with the provider where
// it can.
//
// Create is not retried after a network error or 5xx, whose outcome is
// unknown, because a repeat could connect the account twice.
func (s *ChannelsService) Create(ctx context.Context, params *CreateChannelParams) (*ConnectedChannel, error) {
	if params == nil {
		return nil, errors.New("switchboard: create channel: params are required")
	}
	var out ConnectedChannel
	if err := s.c.do(ctx, request{method: "POST", path: "/v1/channels", body: params}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Get fetches one connected channel.
func (s *ChannelsService) Get(ctx context.Context, id string) (*ConnectedChannel, error) {
	p, err := pathID("channel", id)
	if err != nil {
		return nil, err
	}
	var out ConnectedChannel
	if err := s.c.do(ctx, request{method: "GET", path: "/v1/channels/" + p}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// List iterates over the account's connected channels, newest first,
// following next_cursor. A nil params uses the server's page size.
func (s *ChannelsService) List(ctx context.Context, params *ListChannelsParams) iter.Seq2[*ConnectedChannel, error] {
	q := url.Values{}
	if params != nil {
		setLimit(q, params.Limit)
	}
	return paginate[ConnectedChannel](ctx, s.c, "/v1/channels", q)
}

// Update changes the non-nil fields of params. New credentials are
// verified with the provider before they replace the old ones.
func (s *ChannelsService) Update(ctx context.Context, id string, params *UpdateChannelParams) (*ConnectedChannel, error) {
	p, err := pathID("channel", id)
	if err != nil {
		return nil, err
	}
	if params == nil {
		params = &UpdateChannelParams{}
	}
	var out ConnectedChannel
	if err := s.c.do(ctx, request{method: "PATCH", path: "/v1/channels/" + p, body: params}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Delete disconnects a channel and deletes its credentials; its
// WebhookURL stops answering.
func (s *ChannelsService) Delete(ctx context.Context, id string) error {
	p, err := pathID("channel", id)
	if err != nil {
		return err
	}
	return s.c.do(ctx, request{method: "DELETE", path: "/v1/channels/" + p}, nil)
}
