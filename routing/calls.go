package routing

import (
	"context"

	sb "github.com/switchboardhq/switchboard"
)

// CallRequest describes a call to attach: the other party is an address on
// Channel (a phone number, a browser identity) or a customer.
type CallRequest struct {
	AccountID  string
	Channel    sb.Channel // voice | webrtc
	Address    string     // the customer's address, or
	CustomerID string     // the customer to call (their phone identity is used)
	Ours       string     // our address: the caller id, or the number they called
	Direction  sb.Direction
}

// CallRoute is what a call belongs to and who carries it.
type CallRoute struct {
	Address        string // the customer's address on the call's channel
	From           string // our address
	CustomerID     string
	ConversationID string
	Deliveries     []string
	Provider       string // the provider type carrying it (sandbox when none is connected)
	ChannelID      string
}

// Call attaches a call to its customer (created on first contact) and the
// customer's open conversation, and picks the carrier: the connected
// channel holding our address as a voice sender, else the sandbox. A call
// to a customer uses their voice identity, else any phone number they have
// (one person, one number, across sms, whatsapp and voice).
func (s *Service) Call(ctx context.Context, r CallRequest) (*CallRoute, error) {
	acct, err := s.account(ctx, r.AccountID)
	if err != nil {
		return nil, err
	}
	out := &CallRoute{Address: r.Address, From: r.Ours}
	if r.CustomerID != "" {
		c, err := s.store.GetCustomer(ctx, r.AccountID, r.CustomerID)
		if err != nil {
			return nil, err
		}
		out.Address = ""
		for _, id := range c.Identities {
			if id.Channel == r.Channel {
				out.Address = id.Address
				break
			}
			if r.Channel == sb.ChannelVoice && id.Channel.UsesPhoneNumbers() && out.Address == "" {
				out.Address = id.Address
			}
		}
		if out.Address == "" {
			return nil, sb.Invalid(sb.FieldError{Field: "to.customer_id", Message: "the customer has no " + string(r.Channel) + " identity or phone number to call"})
		}
	}
	if out.From == "" && r.Direction == sb.Outbound {
		out.From = acct.s.Senders[r.Channel]
		if out.From == "" {
			for _, ch := range acct.channels {
				if snd, ok := ch.SenderFor(r.Channel, ""); ok {
					out.From = snd.Address
					break
				}
			}
		}
	}
	res, j, err := s.store.Attach(ctx, AttachRequest{AccountID: r.AccountID, Channel: r.Channel, Address: out.Address,
		Direction: r.Direction, InboundTo: r.Ours, At: s.now(), Idle: acct.s.ConversationInactivity})
	if err != nil {
		return nil, err
	}
	if j.ConversationID == "" {
		// An identity opted out of messages still talks on the phone, and
		// the call belongs to the thread.
		jr := JoinRequest{AccountID: r.AccountID, CustomerID: res.CustomerID, IdentityID: res.IdentityID, Channel: r.Channel,
			Direction: r.Direction, InboundTo: r.Ours, At: s.now(), Idle: acct.s.ConversationInactivity}
		if j, err = s.store.JoinConversation(ctx, jr); err != nil {
			return nil, err
		}
	}
	out.CustomerID, out.ConversationID = res.CustomerID, j.ConversationID
	out.Deliveries = append(res.Deliveries, j.Deliveries...)
	out.ChannelID, out.Provider = carrier(acct.channels, r.Channel, out.From)
	return out, nil
}
