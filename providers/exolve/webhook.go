package exolve

import (
	"bytes"
	"encoding/json"
	"net/http"

	sb "github.com/switchboardhq/switchboard"
)

// smsEvent is the body Exolve POSTs to the "URL for SMS events" of a
// number: one SMS, incoming or outgoing, with its current statuses. There
// is no event-type field; direction and the status fields tell events apart.
type smsEvent struct {
	MessageID      wireID   `json:"message_id"`
	Number         string   `json:"number"`   // our number (or alpha name)
	Sender         string   `json:"sender"`   // digits, or an alpha name
	Receiver       string   `json:"receiver"` // digits
	Text           string   `json:"text"`
	Direction      wireEnum `json:"direction"`
	SegmentsCount  wireID   `json:"segments_count"`
	BillingStatus  wireEnum `json:"billing_status"`
	DeliveryStatus wireEnum `json:"delivery_status"`
	Status         wireEnum `json:"status"`
}

// Enum names and the protobuf numbers a client observed for them
// (testdata/sms/enums.json).
const (
	directionIncoming = "DIRECTION_INCOMING"
	directionOutgoing = "DIRECTION_OUTGOING"
	billingBilled     = "BILLING_STATUS_BILLED"
)

var (
	directionNames = map[string]string{"1": directionIncoming, "2": directionOutgoing}
	billingNames   = map[string]string{
		"1": "BILLING_STATUS_PREBILLED", "2": billingBilled, "4": "BILLING_STATUS_UNDERFUNDED",
		"6": "BILLING_STATUS_FAILED", "7": "BILLING_STATUS_AUTHORIZED",
	}
	deliveryNames = map[string]string{
		"1": "DELIVERY_STATUS_QUEUED", "2": "DELIVERY_STATUS_TRANSMITTED", "3": "DELIVERY_STATUS_DELIVERED",
		"4": "DELIVERY_STATUS_FAILED", "5": "DELIVERY_STATUS_RETRIES_EXCEEDED", "6": "DELIVERY_STATUS_PROHIBITED",
	}
	statusNames = map[string]string{
		"1": "STATUS_QUEUED", "2": "STATUS_TRANSMITTED", "3": "STATUS_DELIVERED",
		"4": "STATUS_FAILED", "5": "STATUS_UNDERFUNDED", "6": "STATUS_PROHIBITED",
	}
)

// outcome is what a final Exolve status means for our message.
type outcome struct {
	status sb.Status
	reason string // the receipt's error message; "" for delivered
}

// outcomes maps Exolve's final statuses to ours. Queued and transmitted
// are absent: the queue records "sent" when SendSMS answers, so a receipt
// for them would add nothing. "undelivered" is the operator reporting that
// the handset was not reached; "failed" is an SMS that never went out.
var outcomes = map[string]outcome{
	"DELIVERY_STATUS_DELIVERED":        {sb.StatusDelivered, ""},
	"DELIVERY_STATUS_FAILED":           {sb.StatusUndelivered, "the operator reported the SMS undelivered"},
	"DELIVERY_STATUS_RETRIES_EXCEEDED": {sb.StatusUndelivered, "delivery attempts exhausted"},
	"DELIVERY_STATUS_PROHIBITED":       {sb.StatusFailed, "sending the SMS was prohibited"},
	"STATUS_DELIVERED":                 {sb.StatusDelivered, ""},
	"STATUS_FAILED":                    {sb.StatusUndelivered, "the operator reported the SMS undelivered"},
	"STATUS_PROHIBITED":                {sb.StatusFailed, "sending the SMS was prohibited"},
	"STATUS_UNDERFUNDED":               {sb.StatusFailed, "not sent: insufficient balance"},
	"BILLING_STATUS_UNDERFUNDED":       {sb.StatusFailed, "not sent: insufficient balance"},
	"BILLING_STATUS_FAILED":            {sb.StatusFailed, "billing the SMS failed"},
}

// ParseWebhook reads one SMS event: an incoming SMS becomes an inbound
// message, a final status of one of our SMS a receipt. Anything else (an
// intermediate status, a payload of another shape, an empty body) gives an
// empty batch. Invalid JSON is an sb.EINVALID error. Exolve expects no
// answer body, so Response stays nil.
//
// ParseWebhook never returns sb.ErrForged: Exolve signs nothing and
// documents no signature header or source addresses, so what authenticates
// an event is the unguessable /hooks/{channel_id}/{secret} URL it was sent
// to, which the caller has already matched. r and publicURL are unused.
func (c *Client) ParseWebhook(r *http.Request, body []byte, publicURL string) (*sb.InboundBatch, error) {
	batch := &sb.InboundBatch{}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return batch, nil
	}
	if !json.Valid(body) {
		return nil, sb.Errorf(sb.EINVALID, "exolve webhook: body is not valid JSON")
	}
	if body[0] != '{' {
		return batch, nil
	}
	var ev smsEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, sb.Errorf(sb.EINVALID, "exolve webhook: not an SMS event: %v", err)
	}
	if ev.MessageID == "" {
		return batch, nil
	}
	switch ev.Direction.in(directionNames) {
	case directionIncoming:
		if m := inbound(ev); m != nil {
			batch.Messages = append(batch.Messages, m)
		}
	case directionOutgoing, "":
		// A status without a direction can only be about an SMS we sent.
		if rc, ok := receipt(ev); ok {
			batch.Receipts = append(batch.Receipts, rc)
		}
	}
	return batch, nil
}

// inbound is the customer's message an incoming-SMS event carries, or nil
// when it is not ready: like Exolve's own example, only billed incoming SMS
// are taken (or ones whose billing status is not given), so a pre-billing
// event and the billed one after it do not make two messages.
func inbound(ev smsEvent) *sb.Message {
	if b := ev.BillingStatus.in(billingNames); b != "" && b != billingBilled {
		return nil
	}
	if ev.Sender == "" {
		return nil
	}
	to := ev.Receiver
	if to == "" {
		to = ev.Number
	}
	m := &sb.Message{
		Channel:           sb.ChannelSMS,
		Direction:         sb.Inbound,
		Status:            sb.StatusReceived,
		From:              e164(ev.Sender),
		To:                e164(to),
		Text:              ev.Text,
		Provider:          Name,
		ProviderMessageID: string(ev.MessageID),
	}
	if n, err := json.Number(ev.SegmentsCount).Int64(); err == nil && n > 0 {
		m.Segments = int(n)
	}
	return m
}

// receipt is the final status an outgoing-SMS event reports, if any. The
// delivery status speaks first, then the combined status, then billing; a
// value this package does not know gives no receipt rather than a guess.
func receipt(ev smsEvent) (sb.Receipt, bool) {
	for _, name := range []string{
		ev.DeliveryStatus.in(deliveryNames),
		ev.Status.in(statusNames),
		ev.BillingStatus.in(billingNames),
	} {
		o, ok := outcomes[name]
		if !ok {
			continue
		}
		rc := sb.Receipt{Provider: Name, ProviderMessageID: string(ev.MessageID), Status: o.status}
		if o.status != sb.StatusDelivered {
			rc.ErrorCode, rc.ErrorMessage = name, o.reason
		}
		return rc, true
	}
	return sb.Receipt{}, false
}
