package exolve

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"reflect"
	"testing"

	sb "github.com/switchboardhq/switchboard"
)

const hookURL = "https://switchboard.example.com/hooks/ch_1/s3cr3t"

func TestParseWebhook(t *testing.T) {
	incoming := &sb.Message{
		Channel: sb.ChannelSMS, Direction: sb.Inbound, Status: sb.StatusReceived,
		From: "+79992223344", To: "+79991112233", Text: "Да", Segments: 1,
		Provider: sb.ProviderExolve, ProviderMessageID: "439166538239448537",
	}
	tests := []struct {
		name         string
		body         []byte
		wantMessages []*sb.Message
		wantReceipts []sb.Receipt
	}{
		{name: "incoming", body: fixture(t, "webhooks/sms_event.incoming.json"), wantMessages: []*sb.Message{incoming}},
		{name: "transmitted", body: fixture(t, "webhooks/sms_event.outgoing_transmitted.json")},
		{
			name: "delivered", body: fixture(t, "webhooks/sms_event.outgoing_delivered.json"),
			wantReceipts: []sb.Receipt{{Provider: sb.ProviderExolve, ProviderMessageID: "439166538239448536", Status: sb.StatusDelivered}},
		},
		{
			name: "failed", body: fixture(t, "webhooks/sms_event.outgoing_failed.json"),
			wantReceipts: []sb.Receipt{{Provider: sb.ProviderExolve, ProviderMessageID: "439166538239448538", Status: sb.StatusUndelivered,
				ErrorCode: "DELIVERY_STATUS_FAILED", ErrorMessage: "the operator reported the SMS undelivered"}},
		},
		{
			name: "underfunded", body: fixture(t, "webhooks/sms_event.outgoing_underfunded.json"),
			wantReceipts: []sb.Receipt{{Provider: sb.ProviderExolve, ProviderMessageID: "439166538239448539", Status: sb.StatusFailed,
				ErrorCode: "STATUS_UNDERFUNDED", ErrorMessage: "not sent: insufficient balance"}},
		},
		{
			name: "enums as numbers", body: []byte(`{"message_id": 439166538239448540, "sender": "79991112233", "receiver": "79992223344",
				"direction": 2, "billing_status": 2, "delivery_status": 6, "status": 6}`),
			wantReceipts: []sb.Receipt{{Provider: sb.ProviderExolve, ProviderMessageID: "439166538239448540", Status: sb.StatusFailed,
				ErrorCode: "DELIVERY_STATUS_PROHIBITED", ErrorMessage: "sending the SMS was prohibited"}},
		},
		{
			name: "retries exceeded", body: []byte(`{"message_id": "1", "direction": "DIRECTION_OUTGOING", "delivery_status": "DELIVERY_STATUS_RETRIES_EXCEEDED"}`),
			wantReceipts: []sb.Receipt{{Provider: sb.ProviderExolve, ProviderMessageID: "1", Status: sb.StatusUndelivered,
				ErrorCode: "DELIVERY_STATUS_RETRIES_EXCEEDED", ErrorMessage: "delivery attempts exhausted"}},
		},
		{
			name: "incoming as numbers", body: []byte(`{"message_id": 439166538239448537, "sender": "79992223344", "receiver": "79991112233",
				"text": "Да", "direction": 1, "segments_count": "1", "billing_status": 2}`),
			wantMessages: []*sb.Message{incoming},
		},
		{
			name: "incoming not billed yet", body: []byte(`{"message_id": "2", "sender": "79992223344", "receiver": "79991112233",
				"text": "Да", "direction": "DIRECTION_INCOMING", "billing_status": "BILLING_STATUS_PREBILLED"}`),
		},
		{
			name: "incoming without receiver falls back to number", body: []byte(`{"message_id": "3", "sender": "79992223344", "number": "79991112233",
				"text": "Стоп", "direction": "DIRECTION_INCOMING"}`),
			wantMessages: []*sb.Message{{Channel: sb.ChannelSMS, Direction: sb.Inbound, Status: sb.StatusReceived,
				From: "+79992223344", To: "+79991112233", Text: "Стоп", Provider: sb.ProviderExolve, ProviderMessageID: "3"}},
		},
		{
			name: "status without a direction", body: []byte(`{"message_id": "5", "delivery_status": "DELIVERY_STATUS_DELIVERED"}`),
			wantReceipts: []sb.Receipt{{Provider: sb.ProviderExolve, ProviderMessageID: "5", Status: sb.StatusDelivered}},
		},
		{
			name: "delivered wins over a failed billing", body: []byte(`{"message_id": "6", "direction": "DIRECTION_OUTGOING",
				"delivery_status": "DELIVERY_STATUS_DELIVERED", "billing_status": "BILLING_STATUS_FAILED"}`),
			wantReceipts: []sb.Receipt{{Provider: sb.ProviderExolve, ProviderMessageID: "6", Status: sb.StatusDelivered}},
		},
		{name: "unknown delivery status", body: []byte(`{"message_id": "4", "direction": "DIRECTION_OUTGOING", "delivery_status": "DELIVERY_STATUS_SOMETHING_NEW"}`)},
		{name: "unknown payload", body: []byte(`{"event": "ping"}`)},
		{name: "json array", body: []byte(`[1, 2, 3]`)},
		{name: "empty body", body: nil},
	}
	c := New(Credentials{APIKey: testKey}, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", hookURL, bytes.NewReader(tt.body))
			r.Header.Set("Content-Type", "application/json")
			batch, err := c.ParseWebhook(r, tt.body, hookURL)
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			if !reflect.DeepEqual(batch.Messages, tt.wantMessages) {
				t.Errorf("Messages = %+v, want %+v", dump(batch.Messages), dump(tt.wantMessages))
			}
			if !reflect.DeepEqual(batch.Receipts, tt.wantReceipts) {
				t.Errorf("Receipts = %+v, want %+v", batch.Receipts, tt.wantReceipts)
			}
			if len(batch.OptOuts) != 0 || len(batch.OptIns) != 0 || batch.Response != nil {
				t.Errorf("batch = %+v, want no opt-outs, opt-ins or response", batch)
			}
		})
	}
}

func TestParseWebhookInvalid(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{name: "malformed JSON", body: `{"message_id": "1", "direction":`},
		{name: "not JSON", body: `message_id=1&direction=DIRECTION_INCOMING`},
		{name: "wrong field type", body: `{"message_id": "1", "text": {"nested": true}}`},
	}
	c := New(Credentials{APIKey: testKey}, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", hookURL, bytes.NewReader([]byte(tt.body)))
			_, err := c.ParseWebhook(r, []byte(tt.body), hookURL)
			if sb.ErrorCode(err) != sb.EINVALID {
				t.Fatalf("ParseWebhook = %v, want %s", err, sb.EINVALID)
			}
			if errors.Is(err, sb.ErrForged) {
				t.Error("ParseWebhook returned ErrForged; Exolve signs nothing")
			}
		})
	}
}

func dump(ms []*sb.Message) []sb.Message {
	out := make([]sb.Message, len(ms))
	for i, m := range ms {
		out[i] = *m
	}
	return out
}
