package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/postgres"
	"github.com/switchboardhq/switchboard/providers/exolve"
	"github.com/switchboardhq/switchboard/providers/sandbox"
	"github.com/switchboardhq/switchboard/providers/telegram"
	"github.com/switchboardhq/switchboard/providers/twilio"
	"github.com/switchboardhq/switchboard/providers/viber"
	"github.com/switchboardhq/switchboard/providers/whatsapp"
	"github.com/switchboardhq/switchboard/queue"
)

// conn is what every provider package's Client offers.
type conn interface {
	Verify(ctx context.Context) (sb.ProviderAccount, error)
	Send(ctx context.Context, m *sb.Message) (sb.SendResult, error)
	ParseWebhook(r *http.Request, body []byte, publicURL string) (*sb.InboundBatch, error)
}

// credentials is what every provider package's Credentials offers.
type credentials interface {
	Validate() error
	Hint() map[string]string
}

// kind is one provider type: the message channels it carries, how to read
// its credentials and how to open a client for a channel.
type kind struct {
	channels []sb.Channel
	check    func(raw json.RawMessage) (map[string]string, error)
	open     func(p *providerSet, ch *sb.ConnectedChannel) (conn, error)
	// register tells the provider our inbound URL (nil: pasted by hand).
	register func(ctx context.Context, c conn, ch *sb.ConnectedChannel, hookURL string) error
	// handshake answers the provider's GET check of the URL (nil: none).
	handshake func(ch *sb.ConnectedChannel, q url.Values) ([]byte, bool)
}

// decode reads credentials strictly (unknown fields are refused: a typo
// must not silently drop a secret) and validates them.
func decode[C credentials](raw json.RawMessage) (C, error) {
	var c C
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = json.RawMessage("{}")
		dec = json.NewDecoder(bytes.NewReader(raw))
	}
	if err := dec.Decode(&c); err != nil {
		return c, sb.Invalid(sb.FieldError{Field: "credentials", Message: "must be a JSON object with this provider's fields: " + err.Error()})
	}
	return c, c.Validate()
}

func check[C credentials](raw json.RawMessage) (map[string]string, error) {
	c, err := decode[C](raw)
	if err != nil {
		return nil, err
	}
	return c.Hint(), nil
}

// noCredentials checks the credentials of a built-in channel type: none.
func noCredentials(raw json.RawMessage) (map[string]string, error) {
	if s := string(bytes.TrimSpace(raw)); s != "" && s != "{}" && s != "null" {
		return nil, sb.Invalid(sb.FieldError{Field: "credentials", Message: "this channel type takes no credentials"})
	}
	return map[string]string{}, nil
}

// sender returns the channel's address on ch (its default sender).
func sender(ch *sb.ConnectedChannel, c sb.Channel) string {
	s, _ := ch.SenderFor(c, "")
	return s.Address
}

var kinds = map[string]kind{
	sb.ProviderTwilio: {
		channels: []sb.Channel{sb.ChannelSMS, sb.ChannelWhatsApp, sb.ChannelVoice},
		check:    check[twilio.Credentials],
		open: func(p *providerSet, ch *sb.ConnectedChannel) (conn, error) {
			c, err := decode[twilio.Credentials](ch.Credentials)
			return twilio.New(c, twilio.Options{BaseURL: p.cfg.ProviderBaseURLs[sb.ProviderTwilio], StatusCallbackURL: p.hookURL(ch)}), err
		},
	},
	sb.ProviderTelegram: {
		channels: []sb.Channel{sb.ChannelTelegram},
		check:    check[telegram.Credentials],
		open: func(p *providerSet, ch *sb.ConnectedChannel) (conn, error) {
			c, err := decode[telegram.Credentials](ch.Credentials)
			return telegram.New(c, telegram.Options{BaseURL: p.cfg.ProviderBaseURLs[sb.ProviderTelegram],
				WebhookSecret: ch.HookSecret, BotUsername: sender(ch, sb.ChannelTelegram)}), err
		},
		register: func(ctx context.Context, c conn, ch *sb.ConnectedChannel, hookURL string) error {
			// The hook secret is also Telegram's secret_token: it comes
			// back in X-Telegram-Bot-Api-Secret-Token on every update.
			return c.(*telegram.Client).SetWebhook(ctx, hookURL, ch.HookSecret)
		},
	},
	sb.ProviderWhatsAppCloud: {
		channels: []sb.Channel{sb.ChannelWhatsApp},
		check: func(raw json.RawMessage) (map[string]string, error) {
			c, err := decode[whatsapp.Credentials](raw)
			if err == nil && c.VerifyToken == "" {
				// Meta saves the callback URL only once it has echoed a
				// challenge for this token: without one it never can.
				err = sb.Invalid(sb.FieldError{Field: "credentials.verify_token",
					Message: "is required: the Verify Token you type into the webhook settings of your Meta app"})
			}
			if err != nil {
				return nil, err
			}
			return c.Hint(), nil
		},
		open: func(p *providerSet, ch *sb.ConnectedChannel) (conn, error) {
			c, err := decode[whatsapp.Credentials](ch.Credentials)
			return whatsapp.New(c, whatsapp.Options{BaseURL: p.cfg.ProviderBaseURLs[sb.ProviderWhatsAppCloud]}), err
		},
		handshake: func(ch *sb.ConnectedChannel, q url.Values) ([]byte, bool) {
			c, err := decode[whatsapp.Credentials](ch.Credentials)
			if err != nil {
				return nil, false
			}
			challenge, ok := whatsapp.VerifyChallenge(q, c.VerifyToken)
			return []byte(challenge), ok
		},
	},
	sb.ProviderViber: {
		channels: []sb.Channel{sb.ChannelViber},
		check:    check[viber.Credentials],
		open: func(p *providerSet, ch *sb.ConnectedChannel) (conn, error) {
			c, err := decode[viber.Credentials](ch.Credentials)
			return viber.New(c, viber.Options{BaseURL: p.cfg.ProviderBaseURLs[sb.ProviderViber], BotURI: sender(ch, sb.ChannelViber)}), err
		},
		register: func(ctx context.Context, c conn, ch *sb.ConnectedChannel, hookURL string) error {
			return c.(*viber.Client).SetWebhook(ctx, hookURL)
		},
	},
	sb.ProviderExolve: {
		channels: []sb.Channel{sb.ChannelSMS},
		check:    check[exolve.Credentials],
		open: func(p *providerSet, ch *sb.ConnectedChannel) (conn, error) {
			c, err := decode[exolve.Credentials](ch.Credentials)
			return exolve.New(c, exolve.Options{BaseURL: p.cfg.ProviderBaseURLs[sb.ProviderExolve]}), err
		},
	},
	sb.ProviderWebRTC: {
		// The web widget's addresses: browsers call and write to them;
		// messages to browsers are delivered by the built-in carrier and
		// read by the widget from the customer's thread.
		channels: []sb.Channel{sb.ChannelWebRTC},
		check:    noCredentials,
		open:     func(p *providerSet, ch *sb.ConnectedChannel) (conn, error) { return sandboxConn{p.sandbox}, nil },
	},
	sb.ProviderSandbox: {
		channels: sb.Channels,
		check:    noCredentials,
		open:     func(p *providerSet, ch *sb.ConnectedChannel) (conn, error) { return sandboxConn{p.sandbox}, nil },
	},
}

// sandboxConn lets a "sandbox" channel (senders without a provider account)
// be handled like any other.
type sandboxConn struct{ *sandbox.Provider }

func (sandboxConn) Verify(context.Context) (sb.ProviderAccount, error) {
	return sb.ProviderAccount{Name: "Sandbox carrier"}, nil
}

func (sandboxConn) ParseWebhook(*http.Request, []byte, string) (*sb.InboundBatch, error) {
	return nil, sb.Invalid(sb.FieldError{Field: "body", Message: "the sandbox has no webhooks: simulate inbound with POST /v1/sandbox/inbound"})
}

// providerSet is the one place that knows the provider packages: it serves
// the API (connect, verify, register, read webhooks) and the workers (the
// client for a message's channel, behind its provider's circuit breaker).
type providerSet struct {
	cfg      Config
	db       *postgres.DB
	sandbox  *sandbox.Provider
	breakers *queue.Breakers

	mu    sync.Mutex
	cache map[string]cachedConn
}

type cachedConn struct {
	ch   *sb.ConnectedChannel
	conn conn
	at   time.Time
}

// connTTL bounds how long a worker keeps using a channel's client after
// its credentials changed elsewhere.
const connTTL = 30 * time.Second

func newProviderSet(cfg Config, db *postgres.DB, carrier *sandbox.Provider) *providerSet {
	return &providerSet{cfg: cfg, db: db, sandbox: carrier, breakers: queue.NewBreakers(5, 30*time.Second), cache: map[string]cachedConn{}}
}

func (p *providerSet) hookURL(ch *sb.ConnectedChannel) string {
	return p.cfg.PublicURL + "/hooks/" + ch.ID + "/" + ch.HookSecret
}

func (p *providerSet) kind(typ string) (kind, error) {
	k, ok := kinds[typ]
	if !ok {
		return kind{}, fmt.Errorf("unknown provider type %q", typ)
	}
	return k, nil
}

// Check implements api.Providers.
func (p *providerSet) Check(typ string, creds json.RawMessage) (map[string]string, error) {
	k, err := p.kind(typ)
	if err != nil {
		return nil, err
	}
	return k.check(creds)
}

// Channels implements api.Providers.
func (p *providerSet) Channels(typ string) []sb.Channel { return kinds[typ].channels }

func (p *providerSet) open(ch *sb.ConnectedChannel) (conn, error) {
	k, err := p.kind(ch.Type)
	if err != nil {
		return nil, err
	}
	return k.open(p, ch)
}

// Verify implements api.Providers.
func (p *providerSet) Verify(ctx context.Context, ch *sb.ConnectedChannel) (sb.ProviderAccount, error) {
	c, err := p.open(ch)
	if err != nil {
		return sb.ProviderAccount{}, err
	}
	acct, err := c.Verify(ctx)
	if err != nil && sb.ErrorCode(err) == sb.EINTERNAL {
		// Not a refusal (that is EREFUSED): the provider failed or could
		// not be reached. Say so, and that trying again may work.
		return acct, sb.Errorf(sb.EUNAVAILABLE, "%s could not check the credentials; try again later: %v", ch.Type, err)
	}
	return acct, err
}

// Register implements api.Providers.
func (p *providerSet) Register(ctx context.Context, ch *sb.ConnectedChannel, hookURL string) (bool, error) {
	k, err := p.kind(ch.Type)
	if err != nil || k.register == nil {
		return false, err
	}
	c, err := k.open(p, ch)
	if err != nil {
		return false, err
	}
	if err := k.register(ctx, c, ch, hookURL); err != nil {
		return false, err
	}
	return true, nil
}

// Parse implements api.Providers.
func (p *providerSet) Parse(ch *sb.ConnectedChannel, r *http.Request, body []byte, publicURL string) (*sb.InboundBatch, error) {
	c, err := p.open(ch)
	if err != nil {
		return nil, err
	}
	return c.ParseWebhook(r, body, publicURL)
}

// Handshake implements api.Providers.
func (p *providerSet) Handshake(ch *sb.ConnectedChannel, q url.Values) ([]byte, bool) {
	k, err := p.kind(ch.Type)
	if err != nil || k.handshake == nil {
		return nil, false
	}
	return k.handshake(ch, q)
}

// route picks the provider for a message: the sandbox when no channel is
// connected for its sender, else the channel's client (cached) behind its
// provider's breaker.
func (p *providerSet) route(m *sb.Message) (string, queue.Provider) {
	if m.ChannelID == "" {
		return sandbox.Name, p.sandbox
	}
	ch, c, err := p.client(m.ChannelID)
	if err != nil {
		return m.Provider, failing{err}
	}
	if ch.Type == sb.ProviderSandbox || ch.Type == sb.ProviderWebRTC {
		return sandbox.Name, p.sandbox
	}
	return ch.Type, p.breakers.Wrap(ch.Type, c)
}

func (p *providerSet) client(id string) (*sb.ConnectedChannel, conn, error) {
	p.mu.Lock()
	e, ok := p.cache[id]
	p.mu.Unlock()
	if ok && time.Since(e.at) < connTTL {
		return e.ch, e.conn, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ch, err := p.db.LoadChannel(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	c, err := p.open(ch)
	if err != nil {
		return nil, nil, err
	}
	p.mu.Lock()
	if len(p.cache) > 10000 {
		clear(p.cache)
	}
	p.cache[id] = cachedConn{ch: ch, conn: c, at: time.Now()}
	p.mu.Unlock()
	return ch, c, nil
}

// failing answers every send with why the channel cannot be used: gone
// (disconnected) is permanent, anything else (the database) transient.
type failing struct{ err error }

func (f failing) Send(context.Context, *sb.Message) (sb.SendResult, error) {
	if errors.Is(f.err, sb.ErrNotFound) {
		return sb.SendResult{}, &sb.ProviderError{Code: "channel_disconnected", Permanent: true,
			Message: "the channel this message was routed to was disconnected"}
	}
	return sb.SendResult{}, &sb.ProviderError{Code: "channel_unavailable", Message: f.err.Error()}
}
