// Package switchboard is the domain of the Switchboard platform: the one
// message model shared by every channel, its status lifecycle, and the error
// codes every layer speaks. It imports only the standard library so that the
// API, the store, the queue and the providers all depend inward on it.
package switchboard

import (
	"encoding/json"
	"time"
)

// Channel is a way of reaching a customer. The model carries every channel
// from day one; providers are added per channel.
type Channel string

const (
	ChannelSMS      Channel = "sms"
	ChannelWhatsApp Channel = "whatsapp"
	ChannelTelegram Channel = "telegram"
	ChannelViber    Channel = "viber"
	ChannelWebRTC   Channel = "webrtc"
	ChannelVoice    Channel = "voice"
)

// Channels lists every known channel, in documentation order.
var Channels = []Channel{ChannelSMS, ChannelWhatsApp, ChannelTelegram, ChannelViber, ChannelWebRTC, ChannelVoice}

// Valid reports whether c is a known channel.
func (c Channel) Valid() bool {
	for _, k := range Channels {
		if c == k {
			return true
		}
	}
	return false
}

// UsesPhoneNumbers reports whether addresses on c are E.164 phone numbers.
func (c Channel) UsesPhoneNumbers() bool {
	return c == ChannelSMS || c == ChannelWhatsApp || c == ChannelVoice
}

// Direction says who started a message.
type Direction string

const (
	Outbound Direction = "outbound"
	Inbound  Direction = "inbound"
)

// Message is one message on any channel, in either direction.
type Message struct {
	ID                string
	AccountID         string
	Channel           Channel
	Direction         Direction
	From              string
	To                string
	Text              string
	MediaURLs         []string
	Metadata          json.RawMessage
	Status            Status
	StatusCallbackURL string
	Encoding          string // sms only
	Segments          int    // sms only
	Provider          string
	ProviderMessageID string
	ErrorCode         string
	ErrorMessage      string
	Attempts          int
	Sequence          int // sequence number of the latest event
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Event is one status transition of a message. Sequence numbers start at 1
// and grow by one per transition, so webhook receivers can order them.
type Event struct {
	MessageID    string
	Sequence     int
	Status       Status
	ErrorCode    string
	ErrorMessage string
	Timestamp    time.Time
}
