package exolve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	sb "github.com/switchboardhq/switchboard"
)

// MetadataTemplateResourceID is the message metadata key that names an
// approved Exolve SMS template: {"exolve_template_resource_id": 12345}
// (a number, or a string of digits). Exolve sends template SMS only from
// an alpha name.
const MetadataTemplateResourceID = "exolve_template_resource_id"

// sendRequest is SendSMS's body.
type sendRequest struct {
	Number             string `json:"number"`      // sender: digits, or an alpha name
	Destination        string `json:"destination"` // recipient: digits
	Text               string `json:"text"`
	TemplateResourceID uint64 `json:"template_resource_id,omitempty"`
}

// Send sends m as an SMS through SendSMS. A failure is a *sb.ProviderError:
// permanent for anything Exolve refused (any 4xx but 408 and 429) and for
// messages it could never take; transient for 408, 429, 5xx, timeouts and
// network failures, with RetryAfter when Exolve gives a Retry-After.
func (c *Client) Send(ctx context.Context, m *sb.Message) (sb.SendResult, error) {
	if m.Channel != "" && m.Channel != sb.ChannelSMS {
		return sb.SendResult{}, permanent("unsupported_channel", fmt.Sprintf("the Exolve provider sends sms, not %s", m.Channel))
	}
	to, ok := wireNumber(m.To)
	if !ok {
		return sb.SendResult{}, permanent("invalid_destination", "the destination is not a phone number")
	}
	if m.From == "" {
		return sb.SendResult{}, permanent("missing_sender", "no sender number or alpha name")
	}
	tpl, err := templateResourceID(m.Metadata)
	if err != nil {
		return sb.SendResult{}, permanent("invalid_template_resource_id", err.Error())
	}
	req := sendRequest{Number: wireSender(m.From), Destination: to, Text: m.Text, TemplateResourceID: tpl}
	var resp struct {
		MessageID wireID `json:"message_id"`
	}
	if err := c.call(ctx, "SendSMS", req, &resp); err != nil {
		return sb.SendResult{}, providerError(err)
	}
	if resp.MessageID == "" {
		return sb.SendResult{}, providerError(&badResponse{method: "SendSMS", err: errors.New("no message_id")})
	}
	return sb.SendResult{ProviderMessageID: string(resp.MessageID)}, nil
}

func permanent(code, msg string) *sb.ProviderError {
	return &sb.ProviderError{Code: code, Message: msg, Permanent: true}
}

// templateResourceID reads MetadataTemplateResourceID from a message's
// metadata; 0 when absent.
func templateResourceID(meta json.RawMessage) (uint64, error) {
	var fields map[string]json.RawMessage
	if len(bytes.TrimSpace(meta)) == 0 || json.Unmarshal(meta, &fields) != nil {
		return 0, nil // no metadata, or not an object: nothing of ours in it
	}
	raw, ok := fields[MetadataTemplateResourceID]
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return 0, nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = string(bytes.TrimSpace(raw))
	}
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("metadata %s must be a positive integer", MetadataTemplateResourceID)
	}
	return id, nil
}

// Verify proves the API key with GetCount and an empty filter: Exolve
// answers it with a single number however many SMS the application has,
// where GetList would return message bodies. A 2xx answer proves the key
// even if its body is not the {"count": …} this package expects.
func (c *Client) Verify(ctx context.Context) (sb.ProviderAccount, error) {
	if err := c.creds.Validate(); err != nil {
		return sb.ProviderAccount{}, err
	}
	var resp struct {
		Count wireID `json:"count"`
	}
	err := c.call(ctx, "GetCount", struct{}{}, &resp)
	var ae *apiError
	var br *badResponse
	switch {
	case errors.As(err, &br):
		// Accepted, answer unreadable: the key works.
	case errors.As(err, &ae) && (ae.status == http.StatusUnauthorized || ae.status == http.StatusForbidden):
		reason := ae.text
		if reason == "" {
			reason = ae.describe()
		}
		return sb.ProviderAccount{}, &sb.Error{Code: sb.EREFUSED, Message: "MTS Exolve refused the credentials: " + reason}
	case err != nil:
		return sb.ProviderAccount{}, fmt.Errorf("verify exolve credentials: %w", err)
	}
	details := map[string]string{"api_key": mask(c.creds.APIKey)}
	if resp.Count != "" {
		details["sms_count"] = string(resp.Count)
	}
	return sb.ProviderAccount{Name: "MTS Exolve application", Details: details}, nil
}
