package viber

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	sb "github.com/switchboardhq/switchboard"
)

// accountInfo is the part of get_account_info's answer we show.
type accountInfo struct {
	ID               string      `json:"id"`
	Name             string      `json:"name"`
	URI              string      `json:"uri"`
	SubscribersCount json.Number `json:"subscribers_count"`
}

// refusedStatuses are the statuses that mean the token will not work, now
// or later: invalid, or naming a bot that is blocked, gone or suspended.
var refusedStatuses = map[int]bool{
	statusInvalidAuthToken:       true,
	statusPublicAccountBlocked:   true,
	statusPublicAccountNotFound:  true,
	statusPublicAccountSuspended: true,
}

// Verify proves the credentials with get_account_info and returns the bot's
// name and its uri (our address on Viber: Options.BotURI), id and
// subscribers_count.
func (c *Client) Verify(ctx context.Context) (sb.ProviderAccount, error) {
	var info accountInfo
	if err := c.call(ctx, "get_account_info", struct{}{}, &info); err != nil {
		return sb.ProviderAccount{}, refusal(err)
	}
	details := map[string]string{}
	for k, v := range map[string]string{"uri": info.URI, "id": info.ID, "subscribers_count": info.SubscribersCount.String()} {
		if v != "" {
			details[k] = v
		}
	}
	return sb.ProviderAccount{Name: info.Name, Details: details}, nil
}

// webhookEvents are the optional callbacks we subscribe to; "message" and
// "webhook" always come.
var webhookEvents = []string{"delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"}

type setWebhookRequest struct {
	URL        string   `json:"url"`
	EventTypes []string `json:"event_types"`
	SendName   bool     `json:"send_name"`
	SendPhoto  bool     `json:"send_photo"`
}

// SetWebhook points the bot's callbacks at url ("" removes the webhook).
// Viber posts a "webhook" event to url before it answers and fails the call
// unless that event gets HTTP 200, so url must already be served by
// ParseWebhook for this bot. We ask for the sender's name (it names new
// customers) but not their photo URL.
//
// A refused token is an *sb.Error with code sb.EREFUSED; another refusal (an
// unreachable or invalid url: status 1) wraps a classified *sb.ProviderError.
func (c *Client) SetWebhook(ctx context.Context, url string) error {
	req := setWebhookRequest{URL: url, EventTypes: webhookEvents, SendName: true, SendPhoto: false}
	if err := c.call(ctx, "set_webhook", req, nil); err != nil {
		return refusal(err)
	}
	return nil
}

// refusal turns a call's error into EREFUSED when Viber refused the token,
// and into a wrapped *sb.ProviderError for other statuses.
func refusal(err error) error {
	var se *statusError
	if !errors.As(err, &se) {
		return err
	}
	if refusedStatuses[se.status] {
		return &sb.Error{Code: sb.EREFUSED, Message: "viber refused the credentials: " + se.message}
	}
	return fmt.Errorf("viber %s: %w", se.method, classify(se.status, se.message))
}
