package whatsapp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	sb "github.com/switchboardhq/switchboard"
)

// Verify reads the phone number's profile (GET /{phone_number_id}), which
// proves that the token is valid and may use that number. The account's
// name is the number's verified business name; Details carry the display
// number in E.164 (the address inbound messages arrive at), the quality
// rating and the phone number id.
//
// Meta refusing the token (code 190, HTTP 401) or the number (any other
// 4xx that is not a rate limit: a wrong phone_number_id answers 100) is an
// EREFUSED error; rate limits, 5xx and network failures are plain errors.
func (c *Client) Verify(ctx context.Context) (sb.ProviderAccount, error) {
	q := url.Values{"fields": {"display_phone_number,verified_name,quality_rating"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint(c.creds.PhoneNumberID)+"?"+q.Encode(), nil)
	if err != nil {
		return sb.ProviderAccount{}, fmt.Errorf("whatsapp: verify: build request: %w", err)
	}
	resp, body, err := c.do(req)
	if err != nil {
		return sb.ProviderAccount{}, fmt.Errorf("whatsapp: verify: %s", c.redact(err.Error()))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ge := parseGraphError(body)
		msg := http.StatusText(resp.StatusCode)
		code := 0
		if ge != nil {
			code = ge.Code
			if d := ge.description(); d != "" {
				msg = d
			}
		}
		msg = c.redact(msg)
		refused := code == codeTokenInvalid || resp.StatusCode == http.StatusUnauthorized ||
			(resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests && !transientCodes[code])
		if refused {
			return sb.ProviderAccount{}, &sb.Error{Code: sb.EREFUSED, Message: "WhatsApp Cloud refused the credentials: " + msg}
		}
		return sb.ProviderAccount{}, fmt.Errorf("whatsapp: verify: HTTP %d: %s", resp.StatusCode, msg)
	}
	var p struct {
		ID                 string `json:"id"`
		VerifiedName       string `json:"verified_name"`
		DisplayPhoneNumber string `json:"display_phone_number"`
		QualityRating      string `json:"quality_rating"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return sb.ProviderAccount{}, fmt.Errorf("whatsapp: verify: %w", err)
	}
	acct := sb.ProviderAccount{Name: p.VerifiedName, Details: map[string]string{"phone_number_id": c.creds.PhoneNumberID}}
	if n := e164(p.DisplayPhoneNumber); n != "" {
		acct.Details["display_phone_number"] = n
	}
	if p.QualityRating != "" {
		acct.Details["quality_rating"] = p.QualityRating
	}
	if acct.Name == "" {
		acct.Name = acct.Details["display_phone_number"]
	}
	return acct, nil
}

// e164 turns a number as Meta writes it ("+1 555-078-3881", "15550783881")
// into "+15550783881"; "" when it holds no digits.
func e164(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return "+" + b.String()
}
