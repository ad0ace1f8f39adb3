package twilio

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	sb "github.com/switchboardhq/switchboard"
)

const (
	statusCallback = "https://example.com/twilio/status"
	messagesPath   = "/2010-04-01/Accounts/" + testAccountSID + "/Messages.json"
)

func TestSend(t *testing.T) {
	withoutCallback := func(t *testing.T, name string) url.Values {
		v := fixtureForm(t, name)
		v.Del("StatusCallback")
		return v
	}
	keyCreds := testCreds
	keyCreds.APIKeySID, keyCreds.APIKeySecret = testKeySID, testKeySecret

	tests := []struct {
		name     string
		creds    Credentials
		callback string
		msg      sb.Message
		form     func(*testing.T) url.Values
		answer   string
		wantID   string
	}{
		{
			name: "sms", callback: statusCallback,
			msg:    sb.Message{ID: "msg_1", Channel: sb.ChannelSMS, From: "+15017122661", To: "+15558675310", Text: "Hi there"},
			form:   func(t *testing.T) url.Values { return fixtureForm(t, "messages_create_request.txt") },
			answer: "message_create_response_queued.json", wantID: "SMXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
		},
		{
			name: "mms", callback: statusCallback,
			msg: sb.Message{
				Channel: sb.ChannelSMS, From: "+15017122661", To: "+15558675310",
				Text:      "This is the ship that made the Kessel Run in fourteen parsecs?",
				MediaURLs: []string{"https://c1.staticflickr.com/3/2899/14341091933_1e92e62d12_b.jpg"},
			},
			form:   func(t *testing.T) url.Values { return fixtureForm(t, "messages_create_request_media.txt") },
			answer: "message_create_response_queued.json", wantID: "SMXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
		},
		{
			name: "mms with several media and no text",
			msg: sb.Message{
				Channel: sb.ChannelSMS, From: "+15017122661", To: "+15558675310",
				MediaURLs: []string{"https://example.com/b.png", "https://example.com/a.png"},
			},
			form: func(*testing.T) url.Values {
				return url.Values{"To": {"+15558675310"}, "From": {"+15017122661"}, "MediaUrl": {"https://example.com/b.png", "https://example.com/a.png"}}
			},
			answer: "message_create_response_queued.json", wantID: "SMXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
		},
		{
			name: "whatsapp", callback: statusCallback,
			msg:    sb.Message{Channel: sb.ChannelWhatsApp, From: "+14155238886", To: "+15005550006", Text: "Hello! This is a WhatsApp message from Twilio."},
			form:   func(t *testing.T) url.Values { return fixtureForm(t, "messages_create_request_whatsapp.txt") },
			answer: "message_create_response_queued.json", wantID: "SMXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
		},
		{
			name: "messaging service", callback: statusCallback,
			msg:    sb.Message{Channel: sb.ChannelSMS, From: "MGXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", To: "+15558675310", Text: "Hi there"},
			form:   func(t *testing.T) url.Values { return fixtureForm(t, "messages_create_request_messaging_service.txt") },
			answer: "message_create_response_sdk_fixture.json", wantID: "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		},
		{
			name: "whatsapp through a messaging service",
			msg:  sb.Message{Channel: sb.ChannelWhatsApp, From: "MGXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", To: "+15558675310", Text: "Hi there"},
			form: func(*testing.T) url.Values {
				return url.Values{"To": {"whatsapp:+15558675310"}, "MessagingServiceSid": {"MGXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"}, "Body": {"Hi there"}}
			},
			answer: "message_create_response_sdk_fixture.json", wantID: "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		},
		{
			name:   "no status callback configured",
			msg:    sb.Message{Channel: sb.ChannelSMS, From: "+15017122661", To: "+15558675310", Text: "Hi there"},
			form:   func(t *testing.T) url.Values { return withoutCallback(t, "messages_create_request.txt") },
			answer: "message_create_response_queued.json", wantID: "SMXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
		},
		{
			name: "api key", creds: keyCreds, callback: statusCallback,
			msg:    sb.Message{Channel: sb.ChannelSMS, From: "+15017122661", To: "+15558675310", Text: "Hi there"},
			form:   func(t *testing.T) url.Values { return fixtureForm(t, "messages_create_request.txt") },
			answer: "message_create_response_queued.json", wantID: "SMXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			creds := tt.creds
			if creds == (Credentials{}) {
				creds = testCreds
			}
			user, pass := creds.AccountSID, creds.AuthToken
			if creds.APIKeySID != "" {
				user, pass = creds.APIKeySID, creds.APIKeySecret
			}
			f := &fakeTwilio{
				t: t, method: http.MethodPost, path: messagesPath, user: user, pass: pass,
				form: tt.form(t), status: http.StatusCreated, body: fixture(t, tt.answer),
			}
			c := f.start(creds, Options{StatusCallbackURL: tt.callback})
			res, err := c.Send(context.Background(), &tt.msg)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if res.ProviderMessageID != tt.wantID {
				t.Errorf("ProviderMessageID = %q, want %q", res.ProviderMessageID, tt.wantID)
			}
			if f.calls != 1 {
				t.Errorf("%d requests, want 1", f.calls)
			}
		})
	}
}

func TestSendErrors(t *testing.T) {
	now := time.Date(2026, 5, 8, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		status  int
		body    []byte
		header  http.Header
		hang    bool
		timeout time.Duration
		want    sb.ProviderError
	}{
		{
			name: "invalid To is permanent", status: 400, body: fixture(t, "error_21211_invalid_to.json"),
			want: sb.ProviderError{Code: "21211", Message: "The 'To' number 5551234567 is not a valid phone number.", Permanent: true},
		},
		{
			name: "unsubscribed recipient is permanent and an opt-out", status: 400, body: fixture(t, "error_21610_unsubscribed.json"),
			want: sb.ProviderError{Code: "21610", Message: "Attempt to send to unsubscribed recipient", Permanent: true, OptOut: true},
		},
		{
			name: "too many requests is transient and honours Retry-After", status: 429,
			body: fixture(t, "error_20429_too_many_requests.json"), header: http.Header{"Retry-After": {"7"}},
			want: sb.ProviderError{Code: "20429", Message: "Too Many Requests", RetryAfter: 7 * time.Second},
		},
		{
			name: "Retry-After as a date", status: 429,
			body: fixture(t, "error_20429_too_many_requests.json"), header: http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}},
			want: sb.ProviderError{Code: "20429", Message: "Too Many Requests", RetryAfter: 90 * time.Second},
		},
		{
			name: "too many requests without a hint", status: 429, body: fixture(t, "error_20429_too_many_requests.json"),
			want: sb.ProviderError{Code: "20429", Message: "Too Many Requests"},
		},
		{
			name: "WhatsApp outside the 24 h window is permanent", status: 400,
			body: []byte(`{"code": 63016, "message": "Failed to send freeform message because you are outside the allowed window.", "status": 400}`),
			want: sb.ProviderError{Code: "63016", Message: "Failed to send freeform message because you are outside the allowed window.", Permanent: true},
		},
		{
			name: "queue overflow is transient whatever the status", status: 400,
			body: []byte(`{"code": 30001, "message": "Queue overflow", "status": 400}`),
			want: sb.ProviderError{Code: "30001", Message: "Queue overflow"},
		},
		{
			name: "unknown 4xx is permanent", status: 400,
			body: []byte(`{"code": 21999, "message": "Something new", "status": 400}`),
			want: sb.ProviderError{Code: "21999", Message: "Something new", Permanent: true},
		},
		{
			name: "unknown 5xx is transient", status: 503,
			body: []byte(`{"code": 29999, "message": "Something broke", "status": 503}`),
			want: sb.ProviderError{Code: "29999", Message: "Something broke"},
		},
		{
			name: "500 without Twilio's JSON is transient", status: 500, body: []byte("<html>Internal Server Error</html>"),
			want: sb.ProviderError{Code: "http_500", Message: "Internal Server Error"},
		},
		{
			name: "502 with an empty body is transient", status: 502, header: http.Header{"Retry-After": {"3"}},
			want: sb.ProviderError{Code: "http_502", Message: "Bad Gateway", RetryAfter: 3 * time.Second},
		},
		{
			name: "client timeout is transient", hang: true, timeout: 50 * time.Millisecond,
			want: sb.ProviderError{Code: "timeout"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeTwilio{
				t: t, method: http.MethodPost, path: messagesPath, user: testAccountSID, pass: testAuthToken,
				form: fixtureForm(t, "messages_create_request.txt"), status: tt.status, body: tt.body, header: tt.header, hang: tt.hang,
			}
			opts := Options{StatusCallbackURL: statusCallback}
			if tt.timeout > 0 {
				opts.HTTPClient = &http.Client{Timeout: tt.timeout}
			}
			c := f.start(testCreds, opts)
			c.clock = func() time.Time { return now }
			_, err := c.Send(context.Background(), &sb.Message{Channel: sb.ChannelSMS, From: "+15017122661", To: "+15558675310", Text: "Hi there"})
			var pe *sb.ProviderError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v (%T), want *sb.ProviderError", err, err)
			}
			got := *pe
			if tt.want.Message == "" {
				got.Message = "" // a transport error's text is Go's, not Twilio's
			}
			if got != tt.want {
				t.Errorf("error = %+v\nwant    %+v", got, tt.want)
			}
		})
	}
}

func TestSendNetworkErrors(t *testing.T) {
	msg := &sb.Message{Channel: sb.ChannelSMS, From: "+15017122661", To: "+15558675310", Text: "Hi there"}

	t.Run("connection refused is transient", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		base := srv.URL
		srv.Close()
		_, err := New(testCreds, Options{BaseURL: base}).Send(context.Background(), msg)
		var pe *sb.ProviderError
		if !errors.As(err, &pe) || pe.Permanent || pe.Code != "network" {
			t.Fatalf("err = %#v, want a transient network error", err)
		}
		if strings.Contains(pe.Message, testAuthToken) {
			t.Errorf("error message carries the auth token: %s", pe.Message)
		}
	})

	t.Run("the caller's deadline is transient", func(t *testing.T) {
		f := &fakeTwilio{
			t: t, method: http.MethodPost, path: messagesPath, user: testAccountSID, pass: testAuthToken,
			form: url.Values{"To": {"+15558675310"}, "From": {"+15017122661"}, "Body": {"Hi there"}}, hang: true,
		}
		c := f.start(testCreds, Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := c.Send(ctx, msg)
		var pe *sb.ProviderError
		if !errors.As(err, &pe) || pe.Permanent || pe.Code != "timeout" {
			t.Fatalf("err = %#v, want a transient timeout", err)
		}
	})

	t.Run("a channel Twilio does not carry is refused without a request", func(t *testing.T) {
		f := &fakeTwilio{t: t}
		c := f.start(testCreds, Options{})
		_, err := c.Send(context.Background(), &sb.Message{Channel: sb.ChannelTelegram, From: "bot", To: "42", Text: "hi"})
		var pe *sb.ProviderError
		if !errors.As(err, &pe) || !pe.Permanent {
			t.Fatalf("err = %#v, want a permanent error", err)
		}
		if f.calls != 0 {
			t.Errorf("%d requests, want none", f.calls)
		}
	})
}
