package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"

	sb "github.com/switchboardhq/switchboard"
)

// Fixed values for connected channels in the fakes below.
const (
	fakeChannel       = "0193f6a2-6a00-7000-8000-000000000a01" // a telegram bot
	fakeTwilioChannel = "0193f6a2-6a00-7000-8000-000000000a02" // a Twilio account
	fakeHookSecret    = "3q2-7wAAb1fGmX9pL0sYcTz4VkRnUe8H"
	fakePublicURL     = "https://switchboard.example.com"

	// fakeRefusedToken is a credential value the fake provider refuses when
	// asked to verify it, as a provider refuses a revoked token.
	fakeRefusedToken = "revoked"
	// fakeForgedHeader marks a webhook whose signature does not verify.
	fakeForgedHeader = "X-Fake-Signature"
	fakeVerifyToken  = "c0ffee-verify-7f3a"
)

func fakeChannelRecord() *sb.ConnectedChannel {
	return &sb.ConnectedChannel{ID: fakeChannel, AccountID: fakeAccount, Type: sb.ProviderTelegram, Name: "Support bot",
		Status: "active", Senders: []sb.Sender{{Channel: sb.ChannelTelegram, Address: "switchboard_bot", Default: true}},
		Config: json.RawMessage(`{}`), Credentials: json.RawMessage(`{"bot_token":"7123456789:AAF1x2y3z4a5b6c7d8e9f0g1h2i3j4k5l6m"}`),
		CredentialsHint: map[string]string{"bot_id": "7123456789", "bot_token": "****6l6m"}, HookSecret: fakeHookSecret,
		WebhookStatus: "registered", CreatedAt: fakeTime, UpdatedAt: fakeTime}
}

func fakeTwilioRecord() *sb.ConnectedChannel {
	return &sb.ConnectedChannel{ID: fakeTwilioChannel, AccountID: fakeAccount, Type: sb.ProviderTwilio, Name: "Twilio",
		Status: "disabled", Senders: []sb.Sender{{Channel: sb.ChannelSMS, Address: "+15005550006", Default: true},
			{Channel: sb.ChannelWhatsApp, Address: "+15005550006"},
			{Channel: sb.ChannelVoice, Address: fakeInboundTo, Default: true, InboundFlowID: fakeFlow}},
		Config:          json.RawMessage(`{"messaging_service_sid":"MG0123"}`),
		Credentials:     json.RawMessage(`{"account_sid":"AC0123456789abcdef0123456789abcdef","auth_token":"0123456789abcdef0123456789abcdef"}`),
		CredentialsHint: map[string]string{"account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": "****cdef"},
		HookSecret:      fakeHookSecret, WebhookStatus: "manual", CreatedAt: fakeTime, UpdatedAt: fakeTime}
}

func (s fakeStore) CreateChannel(_ context.Context, c *sb.ConnectedChannel) (*sb.ConnectedChannel, error) {
	if s.noMasterKey {
		return nil, &sb.Error{Code: sb.EUNAVAILABLE, Message: "SWITCHBOARD_MASTER_KEY is not set"}
	}
	c.HookSecret, c.Status, c.WebhookStatus, c.CreatedAt, c.UpdatedAt = fakeHookSecret, "active", "manual", fakeTime, fakeTime
	if len(c.Config) == 0 {
		c.Config = json.RawMessage(`{}`)
	}
	return c, nil
}

func (fakeStore) GetChannel(_ context.Context, _, id string) (*sb.ConnectedChannel, error) {
	switch id {
	case fakeChannel:
		return fakeChannelRecord(), nil
	case fakeTwilioChannel:
		return fakeTwilioRecord(), nil
	}
	return nil, sb.ErrNotFound
}

func (s fakeStore) LoadChannel(ctx context.Context, id string) (*sb.ConnectedChannel, error) {
	return s.GetChannel(ctx, fakeAccount, id)
}

func (fakeStore) ListChannels(context.Context, string, string, int) ([]*sb.ConnectedChannel, string, error) {
	return []*sb.ConnectedChannel{fakeChannelRecord(), fakeTwilioRecord()}, "b3BhcXVl", nil
}

// UpdateChannel applies u to the telegram record under id: the fake keeps
// no state, and a create updates the webhook status of the channel it just
// made.
func (fakeStore) UpdateChannel(_ context.Context, _, id string, u sb.ChannelUpdate) (*sb.ConnectedChannel, error) {
	if id == fakeUnknown {
		return nil, sb.ErrNotFound
	}
	c := fakeChannelRecord()
	c.ID = id
	if u.Name != nil {
		c.Name = *u.Name
	}
	if u.Status != nil {
		c.Status = *u.Status
	}
	if u.Senders != nil {
		c.Senders = u.Senders
	}
	if u.Config != nil {
		c.Config = u.Config
	}
	if u.Credentials != nil {
		c.Credentials, c.CredentialsHint = u.Credentials, u.CredentialsHint
	}
	if u.WebhookStatus != nil {
		c.WebhookStatus = *u.WebhookStatus
	}
	return c, nil
}

func (fakeStore) DeleteChannel(_ context.Context, _, id string) error {
	if id != fakeChannel && id != fakeTwilioChannel {
		return sb.ErrNotFound
	}
	return nil
}

func (fakeStore) FindInbound(context.Context, string, string, string) (*sb.Message, error) {
	return nil, sb.ErrNotFound
}

// fakeProviders stands in for the provider packages: it knows each type's
// credential fields and channels, refuses fakeRefusedToken, registers
// webhooks for telegram only, and reads every webhook as one inbound
// message unless fakeForgedHeader says "forged".
type fakeProviders struct{}

var _ Providers = fakeProviders{}

var fakeCredentialFields = map[string][]string{
	sb.ProviderTwilio:        {"account_sid", "auth_token"},
	sb.ProviderTelegram:      {"bot_token"},
	sb.ProviderWhatsAppCloud: {"access_token", "phone_number_id", "app_secret", "verify_token"},
	sb.ProviderViber:         {"auth_token", "sender_name"},
	sb.ProviderExolve:        {"api_key"},
	sb.ProviderWebRTC:        nil,
	sb.ProviderSandbox:       nil,
}

func (fakeProviders) Check(typ string, creds json.RawMessage) (map[string]string, error) {
	var m map[string]string
	if len(creds) > 0 {
		if err := json.Unmarshal(creds, &m); err != nil {
			return nil, sb.Errorf(sb.EINVALID, "must be an object of strings")
		}
	}
	var fields []sb.FieldError
	hint := map[string]string{}
	for _, f := range fakeCredentialFields[typ] {
		switch v := m[f]; {
		case v == "":
			fields = append(fields, sb.FieldError{Field: "credentials." + f, Message: "is required"})
		case len(v) < 8:
			hint[f] = "****"
		default:
			hint[f] = "****" + v[len(v)-4:]
		}
	}
	if len(fields) > 0 {
		return nil, sb.Invalid(fields...)
	}
	return hint, nil
}

func (fakeProviders) Channels(typ string) []sb.Channel {
	switch typ {
	case sb.ProviderTwilio:
		return []sb.Channel{sb.ChannelSMS, sb.ChannelWhatsApp, sb.ChannelVoice}
	case sb.ProviderTelegram:
		return []sb.Channel{sb.ChannelTelegram}
	case sb.ProviderWhatsAppCloud:
		return []sb.Channel{sb.ChannelWhatsApp}
	case sb.ProviderViber:
		return []sb.Channel{sb.ChannelViber}
	case sb.ProviderExolve:
		return []sb.Channel{sb.ChannelSMS}
	case sb.ProviderWebRTC:
		return []sb.Channel{sb.ChannelWebRTC}
	case sb.ProviderSandbox:
		return []sb.Channel{sb.ChannelSMS, sb.ChannelWhatsApp, sb.ChannelTelegram, sb.ChannelViber, sb.ChannelWebRTC, sb.ChannelVoice}
	}
	return nil
}

func (fakeProviders) Verify(_ context.Context, ch *sb.ConnectedChannel) (sb.ProviderAccount, error) {
	var m map[string]string
	_ = json.Unmarshal(ch.Credentials, &m)
	for _, v := range m {
		if v == fakeRefusedToken {
			return sb.ProviderAccount{}, &sb.Error{Code: sb.EREFUSED, Message: ch.Type + " refused the credentials: Unauthorized"}
		}
	}
	if ch.Type == sb.ProviderTelegram {
		return sb.ProviderAccount{Name: "switchboard_bot", Details: map[string]string{"bot_id": "7123456789"}}, nil
	}
	return sb.ProviderAccount{Name: "Acme " + ch.Type}, nil
}

func (fakeProviders) Register(_ context.Context, ch *sb.ConnectedChannel, hookURL string) (bool, error) {
	if !strings.HasPrefix(hookURL, fakePublicURL+"/hooks/"+ch.ID+"/") {
		return false, sb.Errorf(sb.EINTERNAL, "register: unexpected URL %s", hookURL)
	}
	return ch.Type == sb.ProviderTelegram, nil
}

func (p fakeProviders) Parse(ch *sb.ConnectedChannel, r *http.Request, body []byte, publicURL string) (*sb.InboundBatch, error) {
	if r.Header.Get(fakeForgedHeader) == "forged" {
		return nil, sb.ErrForged
	}
	if !strings.HasPrefix(publicURL, fakePublicURL+"/hooks/"+ch.ID+"/") || len(body) == 0 {
		return nil, sb.Errorf(sb.EINVALID, "fake webhook: no body, or called at %s", publicURL)
	}
	if len(ch.Senders) == 0 || !slices.Contains(p.Channels(ch.Type), ch.Senders[0].Channel) {
		return nil, sb.Errorf(sb.EINTERNAL, "fake channel %s has no sender it can carry", ch.ID)
	}
	snd := ch.Senders[0]
	from := "+79991234567"
	if snd.Channel == sb.ChannelTelegram {
		from = "42"
	}
	b := &sb.InboundBatch{Messages: []*sb.Message{{Channel: snd.Channel, From: from, To: snd.Address, Text: "hello",
		ProviderMessageID: "IN-" + ch.ID}}}
	if ch.Type == sb.ProviderTwilio {
		b.Response, b.ContentType = []byte(`<?xml version="1.0" encoding="UTF-8"?><Response/>`), "text/xml"
		b.Receipts = []sb.Receipt{{ProviderMessageID: "SM0123", Status: sb.StatusDelivered}}
	}
	return b, nil
}

func (fakeProviders) Handshake(_ *sb.ConnectedChannel, q url.Values) ([]byte, bool) {
	if q.Get("hub.mode") != "subscribe" || q.Get("hub.verify_token") != fakeVerifyToken {
		return nil, false
	}
	return []byte(q.Get("hub.challenge")), true
}
