package sdk

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// vector is the official Standard Webhooks v1 test vector, copied into
// testdata/ from the standard-webhooks repository's library tests.
type vector struct {
	Secret              string `json:"secret"`
	SecretWithoutPrefix string `json:"secret_base64_without_prefix"`
	MsgID               string `json:"msg_id"`
	Timestamp           int64  `json:"timestamp"`
	Payload             string `json:"payload"`
	ExpectedSignature   string `json:"expected_signature"`
	Negative            struct {
		WrongSignature     string `json:"wrong_signature_last_char_changed"`
		UnrelatedSignature string `json:"unrelated_signature"`
	} `json:"negative_examples_from_tests"`
}

func loadVector(t *testing.T) vector {
	t.Helper()
	raw, err := os.ReadFile("testdata/standard_webhooks_symmetric.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vector
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if v.Secret == "" || v.ExpectedSignature == "" || v.Payload == "" {
		t.Fatal("test vector incomplete")
	}
	return v
}

// setNow fixes the verifier's clock for one test.
func setNow(t *testing.T, at time.Time) {
	t.Helper()
	old := now
	now = func() time.Time { return at }
	t.Cleanup(func() { now = old })
}

func TestSignWebhookMatchesOfficialVector(t *testing.T) {
	v := loadVector(t)
	for _, secret := range []string{v.Secret, v.SecretWithoutPrefix} {
		got, err := SignWebhook(secret, v.MsgID, time.Unix(v.Timestamp, 0), []byte(v.Payload))
		if err != nil {
			t.Fatal(err)
		}
		if got != v.ExpectedSignature {
			t.Errorf("SignWebhook(%q) = %q, want %q", secret, got, v.ExpectedSignature)
		}
	}
}

func TestVerifyWebhook(t *testing.T) {
	v := loadVector(t)
	ts := time.Unix(v.Timestamp, 0)
	tsHeader := strconv.FormatInt(v.Timestamp, 10)
	// otherSecret stands for the endpoint's previous or next secret during
	// a rotation.
	const otherSecret = "whsec_c2Vjb25kLXNlY3JldC1mb3Itcm90YXRpb24="
	other, err := SignWebhook(otherSecret, v.MsgID, ts, []byte(v.Payload))
	if err != nil {
		t.Fatal(err)
	}
	headers := func(id, timestamp, sig string) http.Header {
		h := http.Header{}
		for k, val := range map[string]string{"webhook-id": id, "webhook-timestamp": timestamp, "webhook-signature": sig} {
			if val != "" {
				h.Set(k, val)
			}
		}
		return h
	}

	tests := []struct {
		name    string
		secret  string
		headers http.Header
		body    string
		now     time.Time
		wantErr error // nil: valid
	}{
		{name: "official vector", secret: v.Secret, headers: headers(v.MsgID, tsHeader, v.ExpectedSignature)},
		{name: "secret without whsec_ prefix", secret: v.SecretWithoutPrefix, headers: headers(v.MsgID, tsHeader, v.ExpectedSignature)},
		{name: "unpadded secret", secret: trimPadding(otherSecret), headers: headers(v.MsgID, tsHeader, other)},
		{
			name:    "header keys not canonicalised",
			secret:  v.Secret,
			headers: http.Header{"webhook-id": {v.MsgID}, "webhook-timestamp": {tsHeader}, "webhook-signature": {v.ExpectedSignature}},
		},
		{
			name:    "rotation: new secret's signature listed first",
			secret:  v.Secret,
			headers: headers(v.MsgID, tsHeader, other+" "+v.ExpectedSignature),
		},
		{
			name:    "rotation: receiver still on the old secret",
			secret:  otherSecret,
			headers: headers(v.MsgID, tsHeader, v.ExpectedSignature+" "+other),
		},
		{
			name:   "the library tests' multi-signature pattern: v2 and bad v1 entries skipped",
			secret: v.Secret,
			headers: headers(v.MsgID, tsHeader, v.Negative.UnrelatedSignature+" v2,"+v.Negative.UnrelatedSignature[3:]+" "+
				v.ExpectedSignature+" "+v.Negative.UnrelatedSignature),
		},
		{
			name:    "a v1a entry with the right bytes is not a v1 signature",
			secret:  v.Secret,
			headers: headers(v.MsgID, tsHeader, "v1a,"+v.ExpectedSignature[3:]),
			wantErr: ErrInvalidSignature,
		},
		{
			name:    "tampered body",
			secret:  v.Secret,
			headers: headers(v.MsgID, tsHeader, v.ExpectedSignature),
			body:    `{"test": 2432232315}`,
			wantErr: ErrInvalidSignature,
		},
		{
			name:    "tampered id",
			secret:  v.Secret,
			headers: headers("msg_other", tsHeader, v.ExpectedSignature),
			wantErr: ErrInvalidSignature,
		},
		{
			name:    "signature with its last character changed",
			secret:  v.Secret,
			headers: headers(v.MsgID, tsHeader, v.Negative.WrongSignature),
			wantErr: ErrInvalidSignature,
		},
		{
			name:    "only the other secret's signature",
			secret:  v.Secret,
			headers: headers(v.MsgID, tsHeader, other),
			wantErr: ErrInvalidSignature,
		},
		{
			name:    "wrong secret",
			secret:  otherSecret,
			headers: headers(v.MsgID, tsHeader, v.ExpectedSignature),
			wantErr: ErrInvalidSignature,
		},
		{
			name:    "timestamp not a number",
			secret:  v.Secret,
			headers: headers(v.MsgID, "yesterday", v.ExpectedSignature),
			wantErr: ErrInvalidSignature,
		},
		{name: "missing webhook-id", secret: v.Secret, headers: headers("", tsHeader, v.ExpectedSignature), wantErr: ErrMissingHeaders},
		{name: "missing webhook-timestamp", secret: v.Secret, headers: headers(v.MsgID, "", v.ExpectedSignature), wantErr: ErrMissingHeaders},
		{name: "missing webhook-signature", secret: v.Secret, headers: headers(v.MsgID, tsHeader, ""), wantErr: ErrMissingHeaders},
		{name: "nil headers", secret: v.Secret, headers: nil, wantErr: ErrMissingHeaders},
		{
			name:    "exactly 5 minutes old passes",
			secret:  v.Secret,
			headers: headers(v.MsgID, tsHeader, v.ExpectedSignature),
			now:     ts.Add(5 * time.Minute),
		},
		{
			name:    "5 minutes and 1 second old",
			secret:  v.Secret,
			headers: headers(v.MsgID, tsHeader, v.ExpectedSignature),
			now:     ts.Add(5*time.Minute + time.Second),
			wantErr: ErrTimestampTooOld,
		},
		{
			name:    "5 minutes ahead passes",
			secret:  v.Secret,
			headers: headers(v.MsgID, tsHeader, v.ExpectedSignature),
			now:     ts.Add(-5 * time.Minute),
		},
		{
			name:    "5 minutes and 1 second ahead",
			secret:  v.Secret,
			headers: headers(v.MsgID, tsHeader, v.ExpectedSignature),
			now:     ts.Add(-5*time.Minute - time.Second),
			wantErr: ErrTimestampTooNew,
		},
		{
			name:    "the vector checked against the real clock is a replay",
			secret:  v.Secret,
			headers: headers(v.MsgID, tsHeader, v.ExpectedSignature),
			now:     time.Now(),
			wantErr: ErrTimestampTooOld,
		},
		{name: "empty secret", secret: "whsec_", headers: headers(v.MsgID, tsHeader, v.ExpectedSignature), wantErr: ErrInvalidSecret},
		{name: "secret not base64", secret: "whsec_!!!", headers: headers(v.MsgID, tsHeader, v.ExpectedSignature), wantErr: ErrInvalidSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := tt.now
			if at.IsZero() {
				at = ts.Add(10 * time.Second)
			}
			setNow(t, at)
			body := tt.body
			if body == "" {
				body = v.Payload
			}
			err := VerifyWebhook(tt.secret, tt.headers, []byte(body))
			if tt.wantErr == nil && err != nil {
				t.Errorf("VerifyWebhook = %v, want nil", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("VerifyWebhook = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func trimPadding(s string) string {
	trimmed := strings.TrimRight(s, "=")
	if trimmed == s {
		panic("trimPadding: " + s + " has no padding to trim")
	}
	return trimmed
}

func TestSignThenVerifyRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)
	setNow(t, at)
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	body := []byte(`{"type":"message.sent"}`)
	sig, err := SignWebhook(secret, "msg_1", at, body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("webhook-id", "msg_1")
	h.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	h.Set("webhook-signature", sig)
	if err := VerifyWebhook(secret, h, body); err != nil {
		t.Errorf("VerifyWebhook of SignWebhook output = %v", err)
	}
	if _, err := SignWebhook("", "msg_1", at, body); !errors.Is(err, ErrInvalidSecret) {
		t.Errorf("SignWebhook with empty secret = %v, want ErrInvalidSecret", err)
	}
}

func TestParseWebhookEvent(t *testing.T) {
	delivery := `{"type":"message.delivered","timestamp":"2026-11-23T06:00:05.5Z","data":` + messageJSON[:len(messageJSON)-1] + `}}`
	tests := []struct {
		name    string
		body    string
		wantErr bool
	}{
		{name: "delivery", body: delivery},
		{name: "not JSON", body: `<xml/>`, wantErr: true},
		{name: "no data", body: `{"type":"message.sent","timestamp":"2026-11-23T06:00:05Z"}`, wantErr: true},
		{name: "no type", body: `{"timestamp":"2026-11-23T06:00:05Z","data":{}}`, wantErr: true},
		{name: "bad timestamp", body: `{"type":"message.sent","timestamp":"yesterday","data":{}}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := ParseWebhookEvent([]byte(tt.body))
			if tt.wantErr {
				if err == nil {
					t.Errorf("ParseWebhookEvent = %+v, want an error", ev)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ev.Type != EventMessageDelivered || ev.Data.ID != "0193f6a2-8c1e-7b3a-9d1e-4f2a6b7c8d9e" || ev.Data.Sequence != 1 ||
				!ev.Timestamp.Equal(time.Date(2026, 11, 23, 6, 0, 5, 5e8, time.UTC)) {
				t.Errorf("event = %+v, data = %+v", ev, ev.Data)
			}
		})
	}
}

func TestConstructWebhookEvent(t *testing.T) {
	at := time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)
	setNow(t, at)
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	body := []byte(`{"type":"message.received","timestamp":"2026-11-23T06:00:00Z","data":` + messageWithID("m1") + `}`)
	sig, err := SignWebhook(secret, "msg_2", at, body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{"Webhook-Id": {"msg_2"}, "Webhook-Timestamp": {strconv.FormatInt(at.Unix(), 10)}, "Webhook-Signature": {sig}}

	ev, err := ConstructWebhookEvent(secret, h, body)
	if err != nil || ev.Type != EventMessageReceived || ev.Data.ID != "m1" {
		t.Errorf("ConstructWebhookEvent = %+v, %v", ev, err)
	}
	body[len(body)-2] = ' ' // tamper
	if _, err := ConstructWebhookEvent(secret, h, body); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("tampered: err = %v, want ErrInvalidSignature", err)
	}
}
