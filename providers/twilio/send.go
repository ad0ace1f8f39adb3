package twilio

import (
	"context"
	"strings"
	"time"

	twapi "github.com/twilio/twilio-go/rest/api/v2010"

	sb "github.com/switchboardhq/switchboard"
)

// whatsappPrefix marks a WhatsApp address in Twilio's To and From.
const whatsappPrefix = "whatsapp:"

// messagingServicePrefix starts a Messaging Service SID, which a sender may
// be instead of a phone number: Twilio then picks the number from its pool.
const messagingServicePrefix = "MG"

// Send sends m through Twilio's Messages API: SMS (MMS when m has media)
// or WhatsApp. Twilio has no idempotency key for message creation, so a
// send retried after a timeout may reach the customer twice.
func (c *Client) Send(ctx context.Context, m *sb.Message) (sb.SendResult, error) {
	params, perr := c.messageParams(m)
	if perr != nil {
		return sb.SendResult{}, perr
	}
	if c.baseErr != nil {
		return sb.SendResult{}, &sb.ProviderError{Code: "config", Message: c.baseErr.Error(), Permanent: true}
	}
	call := c.newCall(ctx)
	defer call.cancel()
	msg, err := call.api.CreateMessage(params)
	if err != nil {
		return sb.SendResult{}, sendError(err, call.exchange, c.now())
	}
	if msg.Sid == nil || *msg.Sid == "" {
		return sb.SendResult{}, &sb.ProviderError{Code: "bad_response", Message: "Twilio accepted the message but returned no sid", Permanent: true}
	}
	return sb.SendResult{ProviderMessageID: *msg.Sid}, nil
}

// messageParams maps m onto Twilio's message-create parameters.
func (c *Client) messageParams(m *sb.Message) (*twapi.CreateMessageParams, *sb.ProviderError) {
	var prefix string
	switch m.Channel {
	case sb.ChannelSMS:
	case sb.ChannelWhatsApp:
		prefix = whatsappPrefix
	default:
		return nil, &sb.ProviderError{Code: "unsupported_channel", Message: "twilio does not send on channel " + string(m.Channel), Permanent: true}
	}
	if m.Text == "" && len(m.MediaURLs) == 0 {
		return nil, &sb.ProviderError{Code: "empty_message", Message: "a message needs text or media", Permanent: true}
	}
	p := &twapi.CreateMessageParams{}
	p.SetTo(prefix + strings.TrimPrefix(m.To, whatsappPrefix))
	if strings.HasPrefix(m.From, messagingServicePrefix) {
		p.SetMessagingServiceSid(m.From)
	} else {
		p.SetFrom(prefix + strings.TrimPrefix(m.From, whatsappPrefix))
	}
	if m.Text != "" {
		p.SetBody(m.Text)
	}
	if len(m.MediaURLs) > 0 {
		p.SetMediaUrl(m.MediaURLs)
	}
	if c.opts.StatusCallbackURL != "" {
		p.SetStatusCallback(c.opts.StatusCallbackURL)
	}
	return p, nil
}

// now is the clock Retry-After dates are read against.
func (c *Client) now() time.Time {
	if c.clock != nil {
		return c.clock()
	}
	return time.Now()
}
