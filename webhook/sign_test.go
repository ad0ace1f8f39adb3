package webhook

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// vector is the official Standard Webhooks v1 vector, copied into testdata
// from the spec repository's library tests.
type vector struct {
	Secret              string `json:"secret"`
	SecretNoPrefix      string `json:"secret_base64_without_prefix"`
	MsgID               string `json:"msg_id"`
	Timestamp           int64  `json:"timestamp"`
	Payload             string `json:"payload"`
	ExpectedSignature   string `json:"expected_signature"`
	NegativeFromLibrary struct {
		WrongLastChar  string `json:"wrong_signature_last_char_changed"`
		Unrelated      string `json:"unrelated_signature"`
		MultiSignature string `json:"multi_signature_header_pattern"`
	} `json:"negative_examples_from_tests"`
}

func loadVector(t *testing.T) vector {
	t.Helper()
	b, err := os.ReadFile("testdata/standard_webhooks_symmetric.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vector
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func headers(id string, ts int64, sig string) http.Header {
	h := http.Header{}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderSignature, sig)
	return h
}

func TestSignOfficialVector(t *testing.T) {
	v := loadVector(t)
	ts := time.Unix(v.Timestamp, 0)
	tests := []struct {
		name   string
		secret string
	}{
		{"with prefix", v.Secret},
		{"without prefix", v.SecretNoPrefix},
		{"unpadded", strings.TrimRight(v.SecretNoPrefix, "=")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Sign([]string{tt.secret}, v.MsgID, ts, []byte(v.Payload))
			if err != nil {
				t.Fatal(err)
			}
			if got != v.ExpectedSignature {
				t.Errorf("Sign = %q, want %q", got, v.ExpectedSignature)
			}
			// Sub-second precision must not leak into the signed content.
			got, err = Sign([]string{tt.secret}, v.MsgID, ts.Add(999*time.Millisecond), []byte(v.Payload))
			if err != nil || got != v.ExpectedSignature {
				t.Errorf("Sign with sub-second ts = %q, %v", got, err)
			}
		})
	}
}

func TestVerifyOfficialVector(t *testing.T) {
	v := loadVector(t)
	now := time.Unix(v.Timestamp, 0)
	tests := []struct {
		name    string
		sig     string
		wantErr error
	}{
		{"expected signature", v.ExpectedSignature, nil},
		{"last char changed", v.NegativeFromLibrary.WrongLastChar, ErrNoMatchingSignature},
		{"unrelated signature", v.NegativeFromLibrary.Unrelated, ErrNoMatchingSignature},
		{"one of several entries", strings.Replace(v.NegativeFromLibrary.MultiSignature, "<valid v1 signature>", v.ExpectedSignature, 1), nil},
		{"valid signature under another version", strings.Replace(v.ExpectedSignature, "v1,", "v2,", 1), ErrNoMatchingSignature},
		{"no version", strings.TrimPrefix(v.ExpectedSignature, "v1,"), ErrNoMatchingSignature},
		{"not base64", "v1,!!!", ErrNoMatchingSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(v.Secret, headers(v.MsgID, v.Timestamp, tt.sig), []byte(v.Payload), DefaultTolerance, now)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Verify = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestSignRotation(t *testing.T) {
	oldSecret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	newSecret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"type":"message.delivered"}`)
	sig, err := Sign([]string{oldSecret, newSecret}, "msg_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	entries := strings.Split(sig, " ")
	if len(entries) != 2 {
		t.Fatalf("signature %q: got %d entries, want 2", sig, len(entries))
	}
	for i, e := range entries {
		if !strings.HasPrefix(e, "v1,") {
			t.Errorf("entry %d = %q, want v1 prefix", i, e)
		}
	}
	if entries[0] == entries[1] {
		t.Error("both entries are the same; expected one per secret")
	}
	other, _ := NewSecret()
	tests := []struct {
		name    string
		secret  string
		wantErr error
	}{
		{"old secret", oldSecret, nil},
		{"new secret", newSecret, nil},
		{"unrelated secret", other, ErrNoMatchingSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.secret, headers("msg_1", now.Unix(), sig), body, DefaultTolerance, now)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Verify = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestSignErrors(t *testing.T) {
	good, _ := NewSecret()
	tests := []struct {
		name    string
		secrets []string
		id      string
		wantErr error
	}{
		{"no secrets", nil, "msg_1", ErrEmptySecret},
		{"empty secret", []string{""}, "msg_1", ErrEmptySecret},
		{"bare prefix", []string{"whsec_"}, "msg_1", ErrEmptySecret},
		{"empty among good", []string{good, ""}, "msg_1", ErrEmptySecret},
		{"not base64", []string{"whsec_not*base64"}, "msg_1", ErrInvalidSecret},
		{"empty id", []string{good}, "", ErrInvalidID},
		{"id with dot", []string{good}, "msg.1", ErrInvalidID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Sign(tt.secrets, tt.id, time.Unix(1, 0), []byte("{}"))
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Sign error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	secret, _ := NewSecret()
	wrong, _ := NewSecret()
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"type":"message.delivered","data":{"id":"msg_1"}}`)
	sign := func(ts time.Time) string {
		s, err := Sign([]string{secret}, "msg_1", ts, body)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name      string
		secret    string
		h         http.Header
		body      []byte
		tolerance time.Duration
		wantErr   error
	}{
		{"valid", secret, headers("msg_1", now.Unix(), sign(now)), body, DefaultTolerance, nil},
		{"valid at edge of tolerance", secret, headers("msg_1", now.Unix()-300, sign(now.Add(-5*time.Minute))), body, DefaultTolerance, nil},
		{"zero tolerance means default", secret, headers("msg_1", now.Unix()-299, sign(now.Add(-299*time.Second))), body, 0, nil},
		{"tampered body", secret, headers("msg_1", now.Unix(), sign(now)), []byte(`{"type":"message.failed","data":{"id":"msg_1"}}`), DefaultTolerance, ErrNoMatchingSignature},
		{"tampered id", secret, headers("msg_2", now.Unix(), sign(now)), body, DefaultTolerance, ErrNoMatchingSignature},
		{"tampered timestamp", secret, headers("msg_1", now.Unix()+1, sign(now)), body, DefaultTolerance, ErrNoMatchingSignature},
		{"wrong secret", wrong, headers("msg_1", now.Unix(), sign(now)), body, DefaultTolerance, ErrNoMatchingSignature},
		{"too old", secret, headers("msg_1", now.Unix()-301, sign(now.Add(-301*time.Second))), body, DefaultTolerance, ErrTimestampTooOld},
		{"too new", secret, headers("msg_1", now.Unix()+301, sign(now.Add(301*time.Second))), body, DefaultTolerance, ErrTimestampTooNew},
		{"too old for custom tolerance", secret, headers("msg_1", now.Unix()-61, sign(now.Add(-61*time.Second))), body, time.Minute, ErrTimestampTooOld},
		{"far future timestamp", secret, headers("msg_1", 1<<62, "v1,AAAA"), body, DefaultTolerance, ErrTimestampTooNew},
		{"missing id", secret, http.Header{"Webhook-Timestamp": {"1"}, "Webhook-Signature": {"v1,x"}}, body, DefaultTolerance, ErrMissingHeaders},
		{"missing signature", secret, headers("msg_1", now.Unix(), ""), body, DefaultTolerance, ErrMissingHeaders},
		{"non-numeric timestamp", secret, http.Header{"Webhook-Id": {"msg_1"}, "Webhook-Timestamp": {"soon"}, "Webhook-Signature": {sign(now)}}, body, DefaultTolerance, ErrInvalidHeaders},
		{"empty secret", "", headers("msg_1", now.Unix(), sign(now)), body, DefaultTolerance, ErrEmptySecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.secret, tt.h, tt.body, tt.tolerance, now)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Verify = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestNewSecret(t *testing.T) {
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSecret()
	if a == b {
		t.Error("two secrets are equal")
	}
	raw, ok := strings.CutPrefix(a, SecretPrefix)
	if !ok {
		t.Fatalf("secret %q lacks %q", a, SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(key) != 32 {
		t.Fatalf("secret %q decodes to %d bytes, %v; want 32", a, len(key), err)
	}
}
