package whatsapp

import (
	"crypto/rand"
	"strings"
	"unicode"

	sb "github.com/switchboardhq/switchboard"
)

// Credentials are what an account pastes in to connect a WhatsApp business
// phone number: a system-user (or permanent) access token, the phone
// number's Graph id, the Meta app's secret (it signs webhooks) and the
// verify token of the webhook subscription handshake.
type Credentials struct {
	AccessToken   string `json:"access_token"`
	PhoneNumberID string `json:"phone_number_id"`
	AppSecret     string `json:"app_secret"`
	// VerifyToken is the string Meta sends back in the GET handshake. It may be
	// left empty when connecting: the caller then fills it with
	// NewVerifyToken and shows it to the account to paste into Meta's app
	// dashboard.
	VerifyToken string `json:"verify_token,omitempty"`
	WABAID      string `json:"waba_id,omitempty"` // WhatsApp Business Account id, for display
}

// Validate reports every missing or malformed field at once.
func (c Credentials) Validate() error {
	var fields []sb.FieldError
	bad := func(name, msg string) {
		fields = append(fields, sb.FieldError{Field: "credentials." + name, Message: msg})
	}
	secret := func(name, v string) {
		switch {
		case v == "":
			bad(name, "is required")
		case strings.IndexFunc(v, unicode.IsSpace) >= 0:
			bad(name, "must not contain whitespace")
		}
	}
	secret("access_token", c.AccessToken)
	switch {
	case c.PhoneNumberID == "":
		bad("phone_number_id", "is required")
	case !digits(c.PhoneNumberID):
		bad("phone_number_id", "must be the numeric phone number id from WhatsApp Manager, not the phone number")
	}
	secret("app_secret", c.AppSecret)
	if c.VerifyToken != "" && strings.IndexFunc(c.VerifyToken, unicode.IsSpace) >= 0 {
		bad("verify_token", "must not contain whitespace")
	}
	if c.WABAID != "" && !digits(c.WABAID) {
		bad("waba_id", "must be numeric")
	}
	if len(fields) > 0 {
		return sb.Invalid(fields...)
	}
	return nil
}

// Hint is a masked view of c for display: ids in full, secrets as their
// last four characters at most.
func (c Credentials) Hint() map[string]string {
	h := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			h[k] = v
		}
	}
	set("access_token", mask(c.AccessToken))
	set("phone_number_id", c.PhoneNumberID)
	set("app_secret", mask(c.AppSecret))
	set("verify_token", mask(c.VerifyToken))
	set("waba_id", c.WABAID)
	return h
}

// mask shows the last four characters of a secret long enough that they
// give nothing away, and only that it is set otherwise.
func mask(s string) string {
	switch {
	case s == "":
		return ""
	case len(s) < 16:
		return "****"
	}
	return "****" + s[len(s)-4:]
}

// NewVerifyToken returns a random verify token for an account that did not
// choose one.
func NewVerifyToken() string { return rand.Text() }

// digits reports whether s is non-empty and all ASCII digits.
func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
