package api

import (
	"errors"
	"strings"
	"testing"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/routing"
)

// FuzzDecodeSendRequest feeds arbitrary bodies through the POST /v1/messages
// decoding and validation. Whatever the input, nothing may panic and every
// error must be a *switchboard.Error that the codes table answers with a
// 4xx: a client's body can never cause a 500.
func FuzzDecodeSendRequest(f *testing.F) {
	seeds := []string{
		// Valid requests on every channel.
		`{"channel":"sms","from":"+15005550000","to":"+79991234567","text":"Hello"}`,
		`{"channel":"sms","from":"+15005550000","to":"+79991234567","text":"Привет, мир 👋"}`,
		`{"channel":"whatsapp","from":"+15005550000","to":"+79991234567","text":"Your order has shipped",` +
			`"media_urls":["https://example.com/images/parcel.jpg"],"metadata":{"order_id":"A-1042","priority":2},` +
			`"status_callback_url":"https://example.com/callbacks/status"}`,
		`{"channel":"telegram","from":"mybot","to":"123456789","text":"hi"}`,
		`{"channel":"viber","from":"Switchboard","to":"+79991234567","text":"hi"}`,
		`{"channel":"webrtc","from":"agent-1","to":"user-42","text":"hi"}`,
		`{"channel":"voice","from":"+15005550000","to":"+79991234567","text":"Your code is 1234"}`,
		`{"channel":"whatsapp","from":"+15005550000","to":"+79991234567","media_urls":["http://example.com/a.png"]}`,
		// Invalid values.
		`{"channel":"fax","from":"+1","to":"+2","text":"x"}`,
		`{"channel":"sms","from":"not a number","to":"+00","text":""}`,
		`{"channel":"sms","from":"+15005550000","to":"+79991234567","text":"x","media_urls":["ftp://x","/rel",""]}`,
		`{"channel":"sms","from":"+15005550000","to":"+79991234567","text":"x","metadata":[1,2]}`,
		`{"channel":"sms","from":"+15005550000","to":"+79991234567","text":"x","metadata":null}`,
		`{"channel":"sms","from":"+15005550000","to":"+79991234567","text":"x","metadata":"str"}`,
		`{"channel":"sms","from":"+15005550000","to":"+79991234567","text":"x","status_callback_url":"http://169.254.169.254/latest"}`,
		`{"channel":"sms","from":"+15005550000","to":"+79991234567","text":"x","status_callback_url":"http://[::1]:99999/"}`,
		`{"channel":"sms","from":"+15005550000","to":"+79991234567","text":"x","status_callback_url":"http://user:pw@example.com/"}`,
		`{"channel":"sms","from":"+15005550000","to":"+79991234567","text":"` + strings.Repeat("a", maxText+1) + `"}`,
		`{"channel":"sms","from":"+15005550000","to":"+79991234567","text":"x","media_urls":[` +
			strings.TrimSuffix(strings.Repeat(`"https://example.com/a",`, maxMediaURLs+1), ",") + `]}`,
		`{"channel":"","from":"","to":"","text":""}`,
		`{"channel":"telegram","from":"","to":"@","text":"x"}`,
		// Broken bodies.
		``,
		` `,
		`null`,
		`[]`,
		`"x"`,
		`{`,
		`{"text":"hel`,
		`{"text":}`,
		`{"text":5}`,
		`{"colour":"red"}`,
		`{"media_urls":[1]}`,
		`{"text":"a"}}`,
		`{"text":"a"} {}`,
		`{"text":"\ud800"}`,
		"{\"text\":\"\xff\xfe\"}",
		`{"metadata":{"a":{"b":{"c":[[[[[[[[[[]]]]]]]]]]}}}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	s := &Server{} // validate needs nothing but cfg.Guard, whose zero value refuses private addresses
	f.Fuzz(func(t *testing.T, body []byte) {
		var req sendRequest
		if err := decodeJSON(body, &req); err != nil {
			check4xx(t, "decodeJSON", body, err)
			return
		}
		m, err := s.validate(&req)
		if err != nil {
			check4xx(t, "validate", body, err)
			if m != nil {
				t.Errorf("validate returned a message along with the error for %q", body)
			}
			return
		}
		if m == nil {
			t.Fatalf("validate returned neither a message nor an error for %q", body)
		}
		// from may be left to routing (the account's default sender); the
		// destination is an address or a customer.
		channelOK := m.Channel.Valid() || (m.Channel == routing.ChannelAuto && m.CustomerID != "")
		if !channelOK || (m.To == "" && m.CustomerID == "") || m.Status != sb.StatusAccepted || m.Direction != sb.Outbound ||
			(m.Failover != nil && len(m.Failover.Steps) < 2) {
			t.Errorf("validate accepted %q as %+v", body, m)
		}
	})
}

// check4xx fails unless err is a *switchboard.Error whose code the codes
// table maps to a 4xx status.
func check4xx(t *testing.T, step string, body []byte, err error) {
	t.Helper()
	var e *sb.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s(%q): error %v (%T) is not a *switchboard.Error", step, body, err, err)
	}
	m, ok := codes[e.Code]
	if !ok {
		t.Fatalf("%s(%q): code %q is not in the codes table (it would be answered as 500): %v", step, body, e.Code, err)
	}
	if m.status < 400 || m.status > 499 {
		t.Fatalf("%s(%q): code %q is answered with %d, not a 4xx: %v", step, body, e.Code, m.status, err)
	}
	if e.Message == "" {
		t.Errorf("%s(%q): error without a message", step, body)
	}
}
