package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/switchboardhq/switchboard/keyring"
)

type rchannel struct {
	ID              string            `json:"id"`
	Type            string            `json:"type"`
	Name            string            `json:"name"`
	Status          string            `json:"status"`
	WebhookURL      string            `json:"webhook_url"`
	WebhookStatus   string            `json:"webhook_status"`
	CredentialsHint map[string]string `json:"credentials_hint"`
	Senders         []struct {
		Channel string `json:"channel"`
		Address string `json:"address"`
		Default bool   `json:"default"`
	} `json:"senders"`
}

// TestChannelsSandboxAndRouting: a connected channel carries the messages
// of its senders; the rest go to the sandbox, and the message says which.
func TestChannelsSandboxAndRouting(t *testing.T) {
	s := newStack(t)
	c := s.raw("channels")
	var ch rchannel
	c.must(http.StatusCreated, "POST", "/v1/channels", map[string]any{"type": "sandbox", "name": "test numbers",
		"senders": []map[string]any{{"channel": "sms", "address": "+1 500 555 0000", "default": true}, {"channel": "sms", "address": "MyShop"}}}, &ch)
	if ch.Type != "sandbox" || len(ch.Senders) != 2 || ch.Senders[0].Address != "+15005550000" || ch.Senders[1].Address != "MyShop" ||
		!strings.HasPrefix(ch.WebhookURL, s.cfg.PublicURL+"/hooks/"+ch.ID+"/") || ch.WebhookStatus != "manual" {
		t.Fatalf("channel %+v", ch)
	}
	// Routed through the channel: from one of its senders, or no from at all (its default).
	viaChannel := c.send(map[string]any{"channel": "sms", "from": "MyShop", "to": "+79990010001", "text": "hi"})
	byDefault := c.send(map[string]any{"channel": "sms", "to": "+79990010002", "text": "hi"})
	other := c.send(map[string]any{"channel": "sms", "from": "+15005550999", "to": "+79990010003", "text": "hi"})
	for _, m := range []struct {
		msg       rmsg
		channelID string
		from      string
	}{{viaChannel, ch.ID, "MyShop"}, {byDefault, ch.ID, "+15005550000"}, {other, "", "+15005550999"}} {
		got := c.waitDelivered(m.msg.ID)
		var raw map[string]any
		_, b := c.do("GET", "/v1/messages/"+got.ID, nil, nil)
		json.Unmarshal(b, &raw)
		if id, _ := raw["channel_id"].(string); id != m.channelID || got.From != m.from || got.Provider != "sandbox" {
			t.Fatalf("message %+v channel_id %v, want channel %q from %q", got, raw["channel_id"], m.channelID, m.from)
		}
	}
	// Credentials and hook secret are sealed at rest: not in the row in the clear.
	var creds, hook []byte
	if err := s.pg(t).QueryRow(context.Background(), `SELECT credentials, hook_secret FROM channels WHERE id = $1`, ch.ID).Scan(&creds, &hook); err != nil {
		t.Fatal(err)
	}
	secret := ch.WebhookURL[strings.LastIndex(ch.WebhookURL, "/")+1:]
	if !bytes.HasPrefix(creds, []byte("sb1:")) || bytes.Contains(hook, []byte(secret)) {
		t.Fatalf("stored credentials %q hook %q", creds, hook)
	}
	// The inbound URL: a wrong secret is indistinguishable from no channel.
	for _, u := range []string{ch.WebhookURL + "x", s.url + "/hooks/" + ch.ID + "/nope", s.url + "/hooks/00000000-0000-7000-8000-000000000000/" + secret} {
		u = strings.Replace(u, s.cfg.PublicURL, s.url, 1)
		resp, err := http.Post(u, "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("POST %s: %d, want 404", u, resp.StatusCode)
		}
	}
	// Validation: unknown type, a sender on a channel the type does not carry, credentials the sandbox does not take.
	c.problem("POST", "/v1/channels", map[string]any{"type": "carrier-pigeon"}, 422, "validation")
	c.problem("POST", "/v1/channels", map[string]any{"type": "telegram", "credentials": map[string]string{"bot_token": "nope"},
		"senders": []map[string]any{{"channel": "sms", "address": "+15005550000"}}}, 422, "validation")
	// Disabled: its senders fall back to the sandbox without the channel.
	c.must(http.StatusOK, "PATCH", "/v1/channels/"+ch.ID, map[string]any{"status": "disabled"}, nil)
	if m := c.send(map[string]any{"channel": "sms", "from": "MyShop", "to": "+79990010004", "text": "hi"}); m.Provider != "sandbox" {
		t.Fatalf("after disabling: %+v", m)
	}
	c.must(http.StatusNoContent, "DELETE", "/v1/channels/"+ch.ID, nil, nil)
	c.problem("GET", "/v1/channels/"+ch.ID, nil, 404, "not-found")
}

// TestChannelsNeedAMasterKey: without SWITCHBOARD_MASTER_KEY credentials
// cannot be stored encrypted, so connecting is refused (503), while the
// sandbox keeps working.
func TestChannelsNeedAMasterKey(t *testing.T) {
	cfg := testConfig(t)
	cfg.MasterKey = ""
	s := startStack(t, cfg, RoleAll)
	c := s.raw("nokey")
	c.problem("POST", "/v1/channels", map[string]any{"type": "sandbox", "senders": []map[string]any{{"channel": "sms", "address": "+15005550000"}}}, 503, "unavailable")
	c.waitDelivered(c.send(map[string]any{"channel": "sms", "from": "+15005550000", "to": "+79990010005", "text": "hi"}).ID)
}

// TestKeysRotate: after rotating the master key, channels open under the
// new key alone.
func TestKeysRotate(t *testing.T) {
	cfg := testConfig(t)
	oldKey := cfg.MasterKey
	s := startStack(t, cfg, RoleAll)
	c := s.raw("rotate")
	var ch rchannel
	c.must(http.StatusCreated, "POST", "/v1/channels", map[string]any{"type": "sandbox", "senders": []map[string]any{{"channel": "sms", "address": "+15005550000"}}}, &ch)
	newKey := keyring.NewKey()
	env := map[string]string{"SWITCHBOARD_DATABASE_URL": cfg.DatabaseURL, "SWITCHBOARD_REDIS_URL": cfg.RedisURL,
		"SWITCHBOARD_MASTER_KEY": newKey, "SWITCHBOARD_MASTER_KEY_PREVIOUS": oldKey}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"keys", "rotate"}, func(k string) string { return env[k] }, &out, &out); err != nil {
		t.Fatalf("keys rotate: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "1 channels re-sealed") {
		t.Fatalf("output %q", out.String())
	}
	s.app.Close()
	cfg.MasterKey = newKey
	s2 := startStack(t, cfg, RoleAll)
	c.base = s2.url
	var got rchannel
	c.must(http.StatusOK, "GET", "/v1/channels/"+ch.ID, nil, &got)
	if got.ID != ch.ID || got.WebhookURL != ch.WebhookURL {
		t.Fatalf("after rotation: %+v", got)
	}
}

// pg is a plain connection to the stack's database, for checks the API
// cannot make (what is stored at rest).
func (s *stack) pg(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), s.cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}
