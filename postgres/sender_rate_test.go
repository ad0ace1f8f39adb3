package postgres_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/uuid"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/keyring"
)

// TestSenderRate checks the order in which a sender's per-second limit is
// found: a sandbox rule, then the connected channel's config
// rate_per_second, then the provider's usual limit, else none. Only the
// account's own rules and active channels count.
func TestSenderRate(t *testing.T) {
	ctx := context.Background()
	db, _, account := customerAccount(t)
	keys, err := keyring.New(keyring.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	db.SetSealer(keys)
	other, _, err := db.CreateAccount(ctx, "other", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}

	connect := func(acct, typ, status, config string, senders ...sb.Sender) {
		t.Helper()
		c := &sb.ConnectedChannel{ID: uuid.Must(uuid.NewV7()).String(), AccountID: acct, Type: typ, Status: status,
			Senders: senders, Config: json.RawMessage(config), Credentials: json.RawMessage(`{}`)}
		if _, err := db.CreateChannel(ctx, c); err != nil {
			t.Fatalf("connect %s: %v", typ, err)
		}
	}
	rule := func(acct string, r sb.SandboxRule) {
		t.Helper()
		r.AccountID = acct
		if _, err := db.PutRule(ctx, &r); err != nil {
			t.Fatalf("rule %+v: %v", r, err)
		}
	}
	sms := func(addr string) sb.Sender { return sb.Sender{Channel: sb.ChannelSMS, Address: addr} }

	// A rule beats the channel's configured rate; a channel-specific rule
	// beats one for any channel.
	connect(account, sb.ProviderTwilio, "", `{"rate_per_second": 3}`, sms("+15005550001"), sms("+15005550002"))
	rule(account, sb.SandboxRule{From: "+15005550001", RatePerSecond: 7})
	rule(account, sb.SandboxRule{Channel: sb.ChannelSMS, From: "+15005550002", RatePerSecond: 4})
	rule(account, sb.SandboxRule{From: "+15005550002", RatePerSecond: 9})
	// An outcome rule sets no rate: the channel's config still applies.
	connect(account, sb.ProviderTwilio, "", `{"rate_per_second": 2.5}`, sms("+15005550003"),
		sb.Sender{Channel: sb.ChannelWhatsApp, Address: "+15005550003"})
	rule(account, sb.SandboxRule{From: "+15005550003", Outcome: "failed"})
	// No configured rate (or a non-positive one): the provider's usual limit.
	connect(account, sb.ProviderTelegram, "", `{}`, sb.Sender{Channel: sb.ChannelTelegram, Address: "shop_bot"})
	connect(account, sb.ProviderTwilio, "", `{"from_name": "x"}`, sms("+15005550004"))
	connect(account, sb.ProviderTwilio, "", `{"rate_per_second": 0}`, sms("+15005550005"))
	connect(account, sb.ProviderWhatsAppCloud, "", `{}`, sb.Sender{Channel: sb.ChannelWhatsApp, Address: "1234567890"})
	// A provider with no usual limit, and a disabled channel: none.
	connect(account, sb.ProviderSandbox, "", `{}`, sms("+15005550006"))
	connect(account, sb.ProviderTwilio, "disabled", `{"rate_per_second": 6}`, sms("+15005550007"))
	// Another account's channel and rule do not reach this account.
	connect(other, sb.ProviderTelegram, "", `{"rate_per_second": 5}`, sb.Sender{Channel: sb.ChannelTelegram, Address: "other_bot"})
	rule(other, sb.SandboxRule{From: "+15005550008", RatePerSecond: 8})
	connect(other, sb.ProviderTwilio, "", `{}`, sms("+15005550009"))

	tests := []struct {
		name    string
		account string
		channel sb.Channel
		from    string
		want    float64
	}{
		{"rule over channel config", account, sb.ChannelSMS, "+15005550001", 7},
		{"channel rule over any-channel rule", account, sb.ChannelSMS, "+15005550002", 4},
		{"any-channel rule on another channel", account, sb.ChannelWhatsApp, "+15005550002", 9},
		{"outcome rule leaves channel config", account, sb.ChannelSMS, "+15005550003", 2.5},
		{"channel config on a second sender channel", account, sb.ChannelWhatsApp, "+15005550003", 2.5},
		{"telegram default", account, sb.ChannelTelegram, "shop_bot", 30},
		{"twilio default", account, sb.ChannelSMS, "+15005550004", 10},
		{"zero config falls back to default", account, sb.ChannelSMS, "+15005550005", 10},
		{"whatsapp cloud default", account, sb.ChannelWhatsApp, "1234567890", 80},
		{"sandbox channel has no default", account, sb.ChannelSMS, "+15005550006", 0},
		{"disabled channel", account, sb.ChannelSMS, "+15005550007", 0},
		{"address on another message channel", account, sb.ChannelWhatsApp, "+15005550004", 0},
		{"unconnected sender", account, sb.ChannelSMS, "+15005550099", 0},
		{"other account's channel", account, sb.ChannelTelegram, "other_bot", 0},
		{"other account's rule", account, sb.ChannelSMS, "+15005550008", 0},
		{"other account's twilio sender", account, sb.ChannelSMS, "+15005550009", 0},
		{"other account sees its channel", other, sb.ChannelTelegram, "other_bot", 5},
		{"other account sees its rule", other, sb.ChannelSMS, "+15005550008", 8},
		{"other account does not see ours", other, sb.ChannelSMS, "+15005550001", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.SenderRate(ctx, tt.account, tt.channel, tt.from)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("SenderRate(%s, %s) = %v, want %v", tt.channel, tt.from, got, tt.want)
			}
		})
	}
}
