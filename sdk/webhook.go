package sdk

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// WebhookTolerance is how far a delivery's webhook-timestamp may lie from
// the receiver's clock, either way, before VerifyWebhook rejects it. It
// bounds replays of captured deliveries.
const WebhookTolerance = 5 * time.Minute

// Errors returned by VerifyWebhook, possibly wrapped; check with errors.Is.
var (
	// ErrMissingHeaders: webhook-id, webhook-timestamp or webhook-signature
	// is absent or empty.
	ErrMissingHeaders = errors.New("switchboard: webhook: missing required headers")
	// ErrInvalidSignature: no v1 signature matches, or the timestamp is not
	// an integer. Treat the delivery as forged.
	ErrInvalidSignature = errors.New("switchboard: webhook: no matching signature")
	// ErrTimestampTooOld: the timestamp is more than WebhookTolerance in
	// the past (a replay, or a badly skewed clock).
	ErrTimestampTooOld = errors.New("switchboard: webhook: timestamp too old")
	// ErrTimestampTooNew: the timestamp is more than WebhookTolerance in
	// the future.
	ErrTimestampTooNew = errors.New("switchboard: webhook: timestamp too new")
	// ErrInvalidSecret: the secret is empty or not base64 (a configuration
	// error, not a forged delivery).
	ErrInvalidSecret = errors.New("switchboard: webhook: invalid secret")
)

// now is the verifier's clock; tests replace it.
var now = time.Now

// WebhookEvent is the body of a webhook delivery: {"type", "timestamp",
// "data"}. Which field holds data depends on Type: Data for message.*
// events, Customer for customer.created and customer.merged (the surviving
// customer), Conversation for conversation.opened and conversation.closed,
// OptOut for customer.opted_out and customer.opted_in. RawData always
// holds data as sent, also for types this SDK does not know yet.
type WebhookEvent struct {
	Type      EventType
	Timestamp time.Time
	// Data is the message as of this event; Data.Sequence is the event's
	// sequence number, so receivers can ignore events older than one they
	// have already applied. Nil for customer-level events.
	Data         *Message
	Customer     *Customer
	Conversation *Conversation
	// OptOut is the opt-out recorded (customer.opted_out) or, for
	// customer.opted_in, the address that opted back in (Source empty).
	OptOut  *OptOut
	RawData json.RawMessage
}

type webhookEventJSON struct {
	Type      EventType       `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// UnmarshalJSON decodes data into the field that Type calls for.
func (e *WebhookEvent) UnmarshalJSON(b []byte) error {
	var v webhookEventJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*e = WebhookEvent{Type: v.Type, Timestamp: v.Timestamp, RawData: v.Data}
	if len(v.Data) == 0 || string(v.Data) == "null" {
		return nil
	}
	var dst any
	switch v.Type {
	case EventCustomerCreated, EventCustomerMerged:
		e.Customer = new(Customer)
		dst = e.Customer
	case EventConversationOpened, EventConversationClosed:
		e.Conversation = new(Conversation)
		dst = e.Conversation
	case EventCustomerOptedOut, EventCustomerOptedIn:
		e.OptOut = new(OptOut)
		dst = e.OptOut
	default:
		if !strings.HasPrefix(string(v.Type), "message.") {
			return nil
		}
		e.Data = new(Message)
		dst = e.Data
	}
	if err := json.Unmarshal(v.Data, dst); err != nil {
		return fmt.Errorf("%s data: %w", v.Type, err)
	}
	return nil
}

// MarshalJSON writes the delivery body: RawData if set, else the field
// that holds data.
func (e WebhookEvent) MarshalJSON() ([]byte, error) {
	var data any
	switch {
	case len(e.RawData) > 0:
		data = e.RawData
	case e.Data != nil:
		data = e.Data
	case e.Customer != nil:
		data = e.Customer
	case e.Conversation != nil:
		data = e.Conversation
	case e.OptOut != nil:
		data = e.OptOut
	}
	return json.Marshal(struct {
		Type      EventType `json:"type"`
		Timestamp time.Time `json:"timestamp"`
		Data      any       `json:"data"`
	}{e.Type, e.Timestamp, data})
}

// VerifyWebhook checks a delivery's signature per Standard Webhooks 1.0. It
// needs the raw request body, byte for byte, before any JSON decoding.
//
// secret is the endpoint's secret, with or without the "whsec_" prefix.
// The delivery passes when webhook-timestamp lies within WebhookTolerance
// of now and any v1 entry of the space-separated webhook-signature list
// matches; during a secret rotation the server sends one entry per secret.
// Entries of other versions are skipped.
func VerifyWebhook(secret string, headers http.Header, body []byte) error {
	key, err := decodeSecret(secret)
	if err != nil {
		return err
	}
	id := headerValue(headers, "webhook-id")
	ts := headerValue(headers, "webhook-timestamp")
	sigs := headerValue(headers, "webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return ErrMissingHeaders
	}

	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: webhook-timestamp %q is not a Unix time", ErrInvalidSignature, ts)
	}
	sent, n := time.Unix(unix, 0), now()
	if n.Sub(sent) > WebhookTolerance {
		return ErrTimestampTooOld
	}
	if sent.Sub(n) > WebhookTolerance {
		return ErrTimestampTooNew
	}

	want := []byte(signature(key, id, ts, body))
	for entry := range strings.SplitSeq(sigs, " ") {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		if hmac.Equal([]byte(sig), want) {
			return nil
		}
	}
	return ErrInvalidSignature
}

// ParseWebhookEvent decodes a delivery's body. It does not verify it: call
// VerifyWebhook first, or use ConstructWebhookEvent.
func ParseWebhookEvent(body []byte) (*WebhookEvent, error) {
	var ev WebhookEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("switchboard: parse webhook event: %w", err)
	}
	if ev.Type == "" || len(ev.RawData) == 0 || string(ev.RawData) == "null" {
		return nil, errors.New("switchboard: parse webhook event: missing type or data")
	}
	return &ev, nil
}

// ConstructWebhookEvent verifies a delivery with VerifyWebhook and then
// decodes it with ParseWebhookEvent.
func ConstructWebhookEvent(secret string, headers http.Header, body []byte) (*WebhookEvent, error) {
	if err := VerifyWebhook(secret, headers, body); err != nil {
		return nil, err
	}
	return ParseWebhookEvent(body)
}

// SignWebhook returns the webhook-signature header value ("v1,<base64>")
// the server would send for body with webhook-id id and webhook-timestamp
// ts. It lets integrators test their receivers without a server.
func SignWebhook(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return "", err
	}
	return "v1," + signature(key, id, strconv.FormatInt(ts.Unix(), 10), body), nil
}

// signature is base64(HMAC-SHA256(key, id.ts.body)).
func signature(key []byte, id, ts string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// decodeSecret strips the optional "whsec_" prefix and base64-decodes the
// rest, padded or not.
func decodeSecret(secret string) ([]byte, error) {
	s := strings.TrimPrefix(secret, "whsec_")
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidSecret)
	}
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if key, err = base64.RawStdEncoding.DecodeString(s); err != nil {
			return nil, fmt.Errorf("%w: not base64", ErrInvalidSecret)
		}
	}
	return key, nil
}

// headerValue reads a header case-insensitively, also from maps built by
// hand with non-canonical keys (http.Header{"webhook-id": …}).
func headerValue(h http.Header, name string) string {
	if v := h.Get(name); v != "" {
		return v
	}
	for k, vs := range h {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}
