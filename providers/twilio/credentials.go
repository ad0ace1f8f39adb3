package twilio

import (
	"regexp"

	sb "github.com/switchboardhq/switchboard"
)

// Credentials are what an account pastes in to connect Twilio. The auth
// token is required even when an API key authenticates the REST calls:
// Twilio signs webhooks with the account's auth token only.
type Credentials struct {
	AccountSID   string `json:"account_sid"`
	AuthToken    string `json:"auth_token"`
	APIKeySID    string `json:"api_key_sid,omitempty"`
	APIKeySecret string `json:"api_key_secret,omitempty"`
}

var (
	accountSIDPattern = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)
	apiKeySIDPattern  = regexp.MustCompile(`^SK[0-9a-fA-F]{32}$`)
	authTokenPattern  = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)
	// twilio-go refuses Basic-auth passwords that are not alphanumeric.
	alphanumeric = regexp.MustCompile(`^[0-9A-Za-z]+$`)
)

// Validate reports every missing or malformed field at once.
func (c Credentials) Validate() error {
	var fields []sb.FieldError
	bad := func(field, msg string) {
		fields = append(fields, sb.FieldError{Field: "credentials." + field, Message: msg})
	}
	switch {
	case c.AccountSID == "":
		bad("account_sid", "is required")
	case !accountSIDPattern.MatchString(c.AccountSID):
		bad("account_sid", `must be "AC" followed by 32 hexadecimal characters`)
	}
	switch {
	case c.AuthToken == "":
		bad("auth_token", "is required (Twilio signs webhooks with it)")
	case !authTokenPattern.MatchString(c.AuthToken):
		bad("auth_token", "must be 32 hexadecimal characters")
	}
	switch {
	case c.APIKeySID == "" && c.APIKeySecret != "":
		bad("api_key_sid", "is required with api_key_secret")
	case c.APIKeySID != "" && !apiKeySIDPattern.MatchString(c.APIKeySID):
		bad("api_key_sid", `must be "SK" followed by 32 hexadecimal characters`)
	}
	switch {
	case c.APIKeySecret == "" && c.APIKeySID != "":
		bad("api_key_secret", "is required with api_key_sid")
	case c.APIKeySecret != "" && !alphanumeric.MatchString(c.APIKeySecret):
		bad("api_key_secret", "must contain only letters and digits")
	}
	if len(fields) > 0 {
		return sb.Invalid(fields...)
	}
	return nil
}

// Hint is a masked view for display. SIDs identify and are shown whole;
// the auth token and API key secret show their last four characters at most.
func (c Credentials) Hint() map[string]string {
	h := map[string]string{"account_sid": c.AccountSID, "auth_token": mask(c.AuthToken)}
	if c.APIKeySID != "" {
		h["api_key_sid"] = c.APIKeySID
		h["api_key_secret"] = mask(c.APIKeySecret)
	}
	return h
}

// mask shows the last four characters of a secret long enough that they
// give little away, and nothing of a short one.
func mask(secret string) string {
	switch {
	case secret == "":
		return ""
	case len(secret) < 12:
		return "****"
	}
	return "****" + secret[len(secret)-4:]
}
