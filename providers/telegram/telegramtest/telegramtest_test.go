package telegramtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/providers/telegram"
	"github.com/switchboardhq/switchboard/providers/telegram/telegramtest"
)

const token = "7000000001:AAH-telegramtest_fake_token_0123456789"

// TestFakeWithClient drives the fake with our provider package: both
// sides of the wire agree.
func TestFakeWithClient(t *testing.T) {
	fake := telegramtest.NewServer(token, "switchboard_bot")
	defer fake.Close()
	ctx := context.Background()
	c := telegram.New(telegram.Credentials{BotToken: token}, telegram.Options{BaseURL: fake.URL, WebhookSecret: "hook-secret_1", BotUsername: "switchboard_bot"})

	acct, err := c.Verify(ctx)
	if err != nil || acct.Name != "@switchboard_bot" || acct.Details["id"] != "7000000001" {
		t.Fatalf("Verify: %+v %v", acct, err)
	}
	other := telegram.New(telegram.Credentials{BotToken: "7000000001:AAH-some_other_token_000000000000000000"}, telegram.Options{BaseURL: fake.URL})
	var se *sb.Error
	if _, err := other.Verify(ctx); !errors.As(err, &se) || se.Code != sb.EREFUSED {
		t.Fatalf("Verify with a wrong token: %v", err)
	}

	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b, err := c.ParseWebhook(r, body, "")
		switch {
		case errors.Is(err, sb.ErrForged):
			w.WriteHeader(http.StatusForbidden)
		case err != nil || len(b.Messages)+len(b.OptOuts)+len(b.OptIns) == 0:
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	defer hook.Close()
	if err := c.SetWebhook(ctx, hook.URL, "hook-secret_1"); err != nil {
		t.Fatal(err)
	}
	if wh := fake.Webhook(); wh.URL != hook.URL || wh.SecretToken != "hook-secret_1" {
		t.Fatalf("webhook %+v", wh)
	}
	ivan := telegramtest.User{ID: 4242, FirstName: "Ivan", Username: "ivan_p", LanguageCode: "en"}
	for _, u := range []telegramtest.Update{fake.Text(ivan, "hello"), fake.Text(ivan, "/start"), fake.Photo(ivan, "look"), fake.Blocked(ivan), fake.Unblocked(ivan)} {
		if code, err := fake.Deliver(u); err != nil || code != http.StatusOK {
			t.Fatalf("deliver %+v: %d %v", u, code, err)
		}
	}
	if code, _ := telegramtest.Post(hook.URL, "wrong", fake.Text(ivan, "forged")); code != http.StatusForbidden {
		t.Fatalf("forged delivery: %d", code)
	}

	res, err := c.Send(ctx, &sb.Message{ID: "m1", Channel: sb.ChannelTelegram, From: "switchboard_bot", To: "4242", Text: "hi",
		MediaURLs: []string{"https://cdn.example.com/a.jpg"}})
	if err != nil || res.Receipt == nil || res.Receipt.Status != sb.StatusDelivered {
		t.Fatalf("Send: %+v %v", res, err)
	}
	sends := fake.Sends("4242")
	if len(sends) != 1 || sends[0].Method != "sendPhoto" || sends[0].Params["chat_id"] != json.Number("4242") ||
		sends[0].Param("photo") != "https://cdn.example.com/a.jpg" || sends[0].Param("caption") != "hi" {
		t.Fatalf("sends %+v", sends)
	}

	for _, tc := range []struct {
		name      string
		reply     telegramtest.Reply
		permanent bool
		optOut    bool
		retry     time.Duration
	}{
		{"500", telegramtest.ServerError(), false, false, 0},
		{"429", telegramtest.TooManyRequests(3), false, false, 3 * time.Second},
		{"blocked", telegramtest.BotBlocked(), true, true, 0},
		{"chat not found", telegramtest.ChatNotFound(), true, false, 0},
		{"proxy page", telegramtest.Reply{Code: 502, Body: "<html>bad gateway</html>"}, false, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake.FailNext(1, tc.reply)
			_, err := c.Send(ctx, &sb.Message{Channel: sb.ChannelTelegram, To: "4242", Text: "x"})
			var pe *sb.ProviderError
			if !errors.As(err, &pe) || pe.Permanent != tc.permanent || pe.OptOut != tc.optOut || pe.RetryAfter != tc.retry {
				t.Fatalf("%+v", err)
			}
		})
	}
	t.Run("hang", func(t *testing.T) {
		fake.FailNext(1, telegramtest.Hang(time.Minute))
		short := telegram.New(telegram.Credentials{BotToken: token}, telegram.Options{BaseURL: fake.URL, HTTPClient: &http.Client{Timeout: 100 * time.Millisecond}})
		_, err := short.Send(ctx, &sb.Message{Channel: sb.ChannelTelegram, To: "4242", Text: "x"})
		var pe *sb.ProviderError
		if !errors.As(err, &pe) || pe.Permanent || pe.Code != "timeout" {
			t.Fatalf("%+v", err)
		}
	})
}
