// Package telegram connects a Telegram bot through the Bot API: it sends
// our messages into chats, registers the webhook Telegram pushes updates
// to, and turns those updates into inbound messages, opt-outs and opt-ins.
//
// The bot token travels in every request's URL path, so nothing this
// package returns — errors included — may carry it: transport errors are
// rewritten with the token's secret part replaced before they leave.
package telegram

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	sb "github.com/switchboardhq/switchboard"
)

// DefaultBaseURL is the public Bot API server.
const DefaultBaseURL = "https://api.telegram.org"

// defaultTimeout bounds a call when Options.HTTPClient is nil.
const defaultTimeout = 15 * time.Second

// tokenShape is what @BotFather hands out: the bot's numeric user id, a
// colon, and the secret part.
var tokenShape = regexp.MustCompile(`^[0-9]+:[A-Za-z0-9_-]{35,}$`)

// Credentials are what an account pastes in to connect a bot.
type Credentials struct {
	BotToken string `json:"bot_token"`
}

// Validate reports a missing or malformed token.
func (c Credentials) Validate() error {
	var fields []sb.FieldError
	switch {
	case c.BotToken == "":
		fields = append(fields, sb.FieldError{Field: "credentials.bot_token", Message: "is required"})
	case !tokenShape.MatchString(c.BotToken):
		fields = append(fields, sb.FieldError{Field: "credentials.bot_token",
			Message: `must look like 123456789:AAF… as @BotFather gives it: the bot's numeric id, a colon, then at least 35 letters, digits, "_" or "-"`})
	}
	if len(fields) > 0 {
		return sb.Invalid(fields...)
	}
	return nil
}

// Hint is a masked view of the credentials for display. The part before
// the colon is the bot's public user id (getMe reports it to anyone holding
// the token, and every chat with the bot shows it), so it is shown whole;
// of the secret part only the last four characters are.
func (c Credentials) Hint() map[string]string {
	id, secret, ok := strings.Cut(c.BotToken, ":")
	if !ok {
		id, secret = "", c.BotToken
	}
	h := map[string]string{"bot_token": "****"}
	if len(secret) >= 16 {
		h["bot_token"] = "****" + secret[len(secret)-4:]
	}
	if _, err := strconv.ParseUint(id, 10, 64); err == nil {
		h["bot_id"] = id
	}
	return h
}

// Options tune a Client.
type Options struct {
	BaseURL    string       // Bot API server; "" = DefaultBaseURL. Tests point it at an httptest server.
	HTTPClient *http.Client // nil = a client with a 15 s timeout
	// WebhookSecret is the secret_token given to SetWebhook: ParseWebhook
	// refuses every request whose X-Telegram-Bot-Api-Secret-Token header
	// does not carry it (all of them while it is empty).
	WebhookSecret string
	// BotUsername is our address on the channel: the To of inbound
	// messages, and how "/start@name" commands are recognised as ours.
	BotUsername string
}

// Client talks to the Bot API as one bot.
type Client struct {
	token    string
	tokenErr error // the token's shape is checked once: a malformed one is never put in a URL
	base     string
	http     *http.Client
	secret   string
	username string
}

// New returns a client for the bot creds names. It does not call Telegram;
// Verify does.
func New(creds Credentials, opts Options) *Client {
	c := &Client{
		token:    creds.BotToken,
		tokenErr: creds.Validate(),
		base:     strings.TrimRight(opts.BaseURL, "/"),
		http:     opts.HTTPClient,
		secret:   opts.WebhookSecret,
		username: opts.BotUsername,
	}
	if c.base == "" {
		c.base = DefaultBaseURL
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: defaultTimeout}
	}
	return c
}

// Verify proves the token works with getMe, the Bot API's cheapest
// authenticated call, and names the bot.
func (c *Client) Verify(ctx context.Context) (sb.ProviderAccount, error) {
	if c.tokenErr != nil {
		return sb.ProviderAccount{}, c.tokenErr
	}
	var me user
	if err := c.call(ctx, "getMe", struct{}{}, &me); err != nil {
		if refused(err) {
			return sb.ProviderAccount{}, refusedError(err)
		}
		return sb.ProviderAccount{}, fmt.Errorf("check telegram credentials: %w", err)
	}
	return sb.ProviderAccount{
		Name:    "@" + me.Username,
		Details: map[string]string{"id": strconv.FormatInt(me.ID, 10), "first_name": me.FirstName},
	}, nil
}

// refused reports whether err is Telegram rejecting the token: 401 for a
// revoked or unknown one, 404 for one it cannot even parse.
func refused(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && !ae.Malformed && (ae.Code == http.StatusUnauthorized || ae.Code == http.StatusNotFound)
}

func refusedError(err error) error {
	var ae *apiError
	errors.As(err, &ae)
	return &sb.Error{Code: sb.EREFUSED, Message: "telegram refused the credentials: " + ae.Description}
}
