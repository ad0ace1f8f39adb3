package twilio

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	twclient "github.com/twilio/twilio-go/client"

	sb "github.com/switchboardhq/switchboard"
)

// Verify fetches the account the credentials name, which proves they work
// (with an API key too: the key must belong to that account). The answer
// also carries the account's auth token; it is not passed on.
func (c *Client) Verify(ctx context.Context) (sb.ProviderAccount, error) {
	if c.baseErr != nil {
		return sb.ProviderAccount{}, c.baseErr
	}
	call := c.newCall(ctx)
	defer call.cancel()
	acct, err := call.api.FetchAccount(c.creds.AccountSID)
	if err != nil {
		var rest *twclient.TwilioRestError
		if errors.As(err, &rest) && refused(rest) {
			return sb.ProviderAccount{}, &sb.Error{Code: sb.EREFUSED, Message: "twilio refused the credentials: " + rest.Message}
		}
		return sb.ProviderAccount{}, fmt.Errorf("twilio: fetch account: %w", err)
	}
	pa := sb.ProviderAccount{Details: map[string]string{}}
	if acct.FriendlyName != nil {
		pa.Name = *acct.FriendlyName
	}
	if acct.Status != nil {
		pa.Details["status"] = *acct.Status
	}
	if acct.Type != nil {
		pa.Details["type"] = *acct.Type
	}
	return pa, nil
}

// refused reports whether an error answering the account fetch means the
// credentials are wrong: 20003 Authenticate (401), a key without access to
// the account (403), an account SID that does not exist (404), or
// twilio-go's own refusal of characters Basic auth cannot carry.
func refused(e *twclient.TwilioRestError) bool {
	switch e.Code {
	case 20003, 21222, 21224:
		return true
	}
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return true
	}
	return false
}
