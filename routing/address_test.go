package routing

import (
	"testing"

	sb "github.com/switchboardhq/switchboard"
)

func TestNormalizeAddress(t *testing.T) {
	tests := []struct {
		name    string
		ch      sb.Channel
		in      string
		want    string
		wantErr bool
	}{
		{"e164 stays", sb.ChannelSMS, "+79991234567", "+79991234567", false},
		{"spaces and dashes", sb.ChannelSMS, "+7 (999) 123-45-67", "+79991234567", false},
		{"00 prefix", sb.ChannelVoice, "0079991234567", "+79991234567", false},
		{"whatsapp prefix", sb.ChannelWhatsApp, "whatsapp:+14155238886", "+14155238886", false},
		{"sandbox magic number", sb.ChannelSMS, "+15005550001", "+15005550001", false},
		{"uk", sb.ChannelSMS, "+44 7911 123456", "+447911123456", false},
		{"no country code", sb.ChannelSMS, "9991234567", "", true},
		{"letters", sb.ChannelSMS, "+1abc", "", true},
		{"too short", sb.ChannelSMS, "+12", "", true},
		{"too long", sb.ChannelSMS, "+1234567890123456789", "", true},
		{"empty", sb.ChannelSMS, "", "", true},
		{"telegram chat id", sb.ChannelTelegram, " 123456789 ", "123456789", false},
		{"telegram empty", sb.ChannelTelegram, "  ", "", true},
		{"viber newline", sb.ChannelViber, "a\nb", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeAddress(tt.ch, tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNormalizeSender(t *testing.T) {
	for _, tt := range []struct {
		ch   sb.Channel
		in   string
		want string
		ok   bool
	}{
		{sb.ChannelSMS, "MyShop", "MyShop", true},
		{sb.ChannelSMS, " +1 500 555 0000 ", "+15005550000", true},
		{sb.ChannelSMS, "MG0123456789abcdef0123456789abcdef", "MG0123456789abcdef0123456789abcdef", true},
		{sb.ChannelSMS, "12345", "", false},             // digits only: a number, and not a valid one
		{sb.ChannelSMS, "ThisIsTooLongName", "", false}, // over 11 characters
		{sb.ChannelWhatsApp, "MyShop", "", false},       // alphanumeric IDs are an SMS thing
		{sb.ChannelTelegram, "switchboard_bot", "switchboard_bot", true},
	} {
		got, err := NormalizeSender(tt.ch, tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("NormalizeSender(%s, %q) = %q, %v", tt.ch, tt.in, got, err)
		}
	}
}
