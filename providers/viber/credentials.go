package viber

import (
	"log/slog"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	sb "github.com/switchboardhq/switchboard"
)

// maxSenderName is send_message's limit on sender.name.
const maxSenderName = 28

// Credentials are what an account pastes in to connect a Viber bot: the
// bot's auth token (its "app key") and the sender shown on every message,
// which send_message requires on each call.
type Credentials struct {
	AuthToken    string `json:"auth_token"`
	SenderName   string `json:"sender_name"`
	SenderAvatar string `json:"sender_avatar,omitempty"` // optional image URL, ≤ 100 KB per Viber
}

// Validate reports every missing or malformed field at once.
func (c Credentials) Validate() error {
	var fields []sb.FieldError
	add := func(field, msg string) {
		fields = append(fields, sb.FieldError{Field: "credentials." + field, Message: msg})
	}
	switch {
	case c.AuthToken == "":
		add("auth_token", "is required")
	case strings.IndexFunc(c.AuthToken, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		// It travels in an HTTP header.
		add("auth_token", "must not contain spaces or control characters")
	}
	switch n := utf8.RuneCountInString(c.SenderName); {
	case strings.TrimSpace(c.SenderName) == "":
		add("sender_name", "is required")
	case n > maxSenderName:
		add("sender_name", "must be at most 28 characters")
	}
	if c.SenderAvatar != "" {
		u, err := url.Parse(c.SenderAvatar)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("sender_avatar", "must be an absolute http(s) URL")
		}
	}
	if len(fields) > 0 {
		return sb.Invalid(fields...)
	}
	return nil
}

// Hint is a masked view for display: the token's last four characters at
// most, none at all for a token too short to hide behind them.
func (c Credentials) Hint() map[string]string {
	h := map[string]string{"auth_token": mask(c.AuthToken), "sender_name": c.SenderName}
	if c.SenderAvatar != "" {
		h["sender_avatar"] = c.SenderAvatar
	}
	return h
}

// String keeps the token out of anything that prints credentials with %v.
func (c Credentials) String() string {
	return "viber.Credentials{auth_token: " + mask(c.AuthToken) + ", sender_name: " + c.SenderName + "}"
}

// GoString keeps the token out of %#v.
func (c Credentials) GoString() string { return c.String() }

// LogValue keeps the token out of structured logs.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("auth_token", mask(c.AuthToken)), slog.String("sender_name", c.SenderName))
}

func mask(secret string) string {
	if secret == "" {
		return ""
	}
	if len(secret) < 12 {
		return "****"
	}
	return "****" + secret[len(secret)-4:]
}
