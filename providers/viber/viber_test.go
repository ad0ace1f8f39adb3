package viber_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/providers/viber"
)

const token = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"

var creds = viber.Credentials{AuthToken: token, SenderName: "John McClane", SenderAvatar: "http://avatar.example.com"}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decode reads JSON keeping numbers exact, so 64-bit tokens compare equal.
func decode(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// answer is what the fake Viber says back.
type answer struct {
	status int    // HTTP status; 0 = 200
	header string // Retry-After
	body   []byte
}

// fakeViber plays the Viber API for one call: it checks the method's path,
// the token header and every field of the JSON body against want (nil: no
// body check), then answers.
func fakeViber(t *testing.T, method string, want any, ans answer) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/pa/"+method {
			t.Errorf("request %s %s, want POST /pa/%s", r.Method, r.URL.Path, method)
		}
		if got := r.Header.Get("X-Viber-Auth-Token"); got != token {
			t.Errorf("X-Viber-Auth-Token = %q", got)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
		body, _ := io.ReadAll(r.Body)
		if want != nil {
			if got := decode(t, body); !reflect.DeepEqual(got, want) {
				t.Errorf("request body\n got %s\nwant %s", body, mustJSON(want))
			}
		}
		if ans.header != "" {
			w.Header().Set("Retry-After", ans.header)
		}
		w.Header().Set("Content-Type", "application/json")
		if ans.status != 0 {
			w.WriteHeader(ans.status)
		}
		w.Write(ans.body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func client(srv *httptest.Server, c viber.Credentials) *viber.Client {
	return viber.New(c, viber.Options{BaseURL: srv.URL + "/pa/", HTTPClient: srv.Client(), BotURI: "switchboardbot"})
}

func TestSend(t *testing.T) {
	ok := answer{body: fixture(t, "send_message_response_ok.json")}
	base := func(extra map[string]any) any {
		m := map[string]any{
			"receiver": "01234567890A=", "min_api_version": 1,
			"sender":        map[string]any{"name": "John McClane", "avatar": "http://avatar.example.com"},
			"tracking_data": "msg_01",
		}
		for k, v := range extra {
			m[k] = v
		}
		return decode(t, []byte(mustJSON(m)))
	}
	tests := []struct {
		name  string
		creds viber.Credentials
		msg   sb.Message
		want  any
	}{
		{
			name:  "text, as in the docs",
			creds: creds,
			msg:   sb.Message{ID: "tracking data", Channel: sb.ChannelViber, From: "switchboardbot", To: "01234567890A=", Text: "Hello world!"},
			want:  decode(t, fixture(t, "send_message_text_request.json")),
		},
		{
			name:  "text without avatar",
			creds: viber.Credentials{AuthToken: token, SenderName: "Shop"},
			msg:   sb.Message{ID: "msg_01", To: "01234567890A=", Text: "hi", Metadata: json.RawMessage(`{"order":"42"}`)},
			want: decode(t, []byte(`{"receiver":"01234567890A=","min_api_version":1,"sender":{"name":"Shop"},
				"tracking_data":"msg_01","type":"text","text":"hi"}`)),
		},
		{
			name:  "picture with caption",
			creds: creds,
			msg:   sb.Message{ID: "msg_01", To: "01234567890A=", Text: "our new cat", MediaURLs: []string{"https://cdn.example.com/img/Cat.JPG?v=2"}},
			want:  base(map[string]any{"type": "picture", "text": "our new cat", "media": "https://cdn.example.com/img/Cat.JPG?v=2"}),
		},
		{
			name:  "picture without caption keeps an empty text",
			creds: creds,
			msg:   sb.Message{ID: "msg_01", To: "01234567890A=", MediaURLs: []string{"https://cdn.example.com/a.png"}},
			want:  base(map[string]any{"type": "picture", "text": "", "media": "https://cdn.example.com/a.png"}),
		},
		{
			name:  "a file alone is a url message",
			creds: creds,
			msg:   sb.Message{ID: "msg_01", To: "01234567890A=", MediaURLs: []string{"https://cdn.example.com/report.pdf"}},
			want:  base(map[string]any{"type": "url", "media": "https://cdn.example.com/report.pdf"}),
		},
		{
			name:  "a file with text is a text with the link",
			creds: creds,
			msg:   sb.Message{ID: "msg_01", To: "01234567890A=", Text: "your invoice", MediaURLs: []string{"https://cdn.example.com/report.pdf"}},
			want:  base(map[string]any{"type": "text", "text": "your invoice\nhttps://cdn.example.com/report.pdf"}),
		},
		{
			name:  "a caption over 120 characters is a text with the link",
			creds: creds,
			msg:   sb.Message{ID: "msg_01", To: "01234567890A=", Text: strings.Repeat("é", 121), MediaURLs: []string{"https://cdn.example.com/a.jpg"}},
			want:  base(map[string]any{"type": "text", "text": strings.Repeat("é", 121) + "\nhttps://cdn.example.com/a.jpg"}),
		},
		{
			name:  "several media are links",
			creds: creds,
			msg:   sb.Message{ID: "msg_01", To: "01234567890A=", MediaURLs: []string{"https://cdn.example.com/a.jpg", "https://cdn.example.com/b.gif"}},
			want:  base(map[string]any{"type": "text", "text": "https://cdn.example.com/a.jpg\nhttps://cdn.example.com/b.gif"}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fakeViber(t, "send_message", tt.want, ok)
			res, err := client(srv, tt.creds).Send(context.Background(), &tt.msg)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if res.ProviderMessageID != "5741311803571721087" {
				t.Errorf("ProviderMessageID = %q, want 5741311803571721087", res.ProviderMessageID)
			}
		})
	}
}

func TestSendErrors(t *testing.T) {
	tests := []struct {
		name string
		ans  answer
		want sb.ProviderError
	}{
		{"not subscribed: permanent opt-out", answer{body: fixture(t, "send_message_response_not_subscribed.json")},
			sb.ProviderError{Code: "6", Message: "receiverNotSubscribed", Permanent: true, OptOut: true}},
		{"not registered: permanent", answer{body: []byte(`{"status":5,"status_message":"receiverNotRegistered"}`)},
			sb.ProviderError{Code: "5", Message: "receiverNotRegistered", Permanent: true}},
		{"bad data: permanent", answer{body: []byte(`{"status":3,"status_message":"badData"}`)},
			sb.ProviderError{Code: "3", Message: "badData", Permanent: true}},
		{"no suitable device: permanent", answer{body: []byte(`{"status":11,"status_message":"receiverNoSuitableDevice"}`)},
			sb.ProviderError{Code: "11", Message: "receiverNoSuitableDevice", Permanent: true}},
		{"too many requests: transient", answer{body: fixture(t, "send_message_response_too_many_requests.json")},
			sb.ProviderError{Code: "12", Message: "Too many requests", RetryAfter: time.Second}},
		{"invalid token: permanent", answer{body: fixture(t, "send_message_response_invalid_auth_token.json")},
			sb.ProviderError{Code: "2", Message: "invalidAuthToken", Permanent: true}},
		{"unknown status: permanent", answer{body: []byte(`{"status":99}`)},
			sb.ProviderError{Code: "99", Message: "status 99", Permanent: true}},
		{"HTTP 500: transient", answer{status: 500, body: []byte("oops")},
			sb.ProviderError{Code: "http_500", Message: "Internal Server Error"}},
		{"HTTP 503 with Retry-After", answer{status: 503, header: "7"},
			sb.ProviderError{Code: "http_503", Message: "Service Unavailable", RetryAfter: 7 * time.Second}},
		{"HTTP 429: transient", answer{status: 429},
			sb.ProviderError{Code: "http_429", Message: "Too Many Requests"}},
		{"HTTP 404: permanent", answer{status: 404},
			sb.ProviderError{Code: "http_404", Message: "Not Found", Permanent: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fakeViber(t, "send_message", nil, tt.ans)
			_, err := client(srv, creds).Send(context.Background(), &sb.Message{ID: "m1", To: "u1", Text: "hi"})
			var pe *sb.ProviderError
			if !errors.As(err, &pe) {
				t.Fatalf("Send error = %v, want *sb.ProviderError", err)
			}
			if *pe != tt.want {
				t.Errorf("error = %+v\n          want %+v", *pe, tt.want)
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("error %q contains the token", err)
			}
		})
	}
	t.Run("malformed answer: transient", func(t *testing.T) {
		srv := fakeViber(t, "send_message", nil, answer{body: []byte("<html>")})
		_, err := client(srv, creds).Send(context.Background(), &sb.Message{ID: "m1", To: "u1", Text: "hi"})
		var pe *sb.ProviderError
		if !errors.As(err, &pe) || pe.Permanent || pe.Code != "bad_response" {
			t.Fatalf("Send error = %#v, want a transient bad_response", err)
		}
	})
}

func TestSendTransportErrors(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // lets the server notice the client hanging up
		select {                    // never answers in time
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) }) // runs first
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()

	ctxTimeout := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 50*time.Millisecond)
	}
	background := func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }
	tests := []struct {
		name     string
		base     string
		client   *http.Client
		ctx      func() (context.Context, context.CancelFunc)
		wantCode string
	}{
		{"client timeout", hang.URL, &http.Client{Timeout: 50 * time.Millisecond}, background, "timeout"},
		{"context deadline", hang.URL, nil, ctxTimeout, "timeout"},
		{"connection refused", down.URL, nil, background, "network"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := tt.ctx()
			defer cancel()
			c := viber.New(creds, viber.Options{BaseURL: tt.base, HTTPClient: tt.client})
			_, err := c.Send(ctx, &sb.Message{ID: "m1", To: "u1", Text: "hi"})
			var pe *sb.ProviderError
			if !errors.As(err, &pe) {
				t.Fatalf("Send error = %v, want *sb.ProviderError", err)
			}
			if pe.Permanent || pe.Code != tt.wantCode {
				t.Errorf("error = %+v, want transient %s", *pe, tt.wantCode)
			}
			if strings.Contains(pe.Message, token) {
				t.Errorf("error %q contains the token", pe.Message)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	t.Run("ok", func(t *testing.T) {
		srv := fakeViber(t, "get_account_info", map[string]any{}, answer{body: fixture(t, "get_account_info_response.json")})
		acct, err := client(srv, creds).Verify(context.Background())
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		want := sb.ProviderAccount{Name: "account name", Details: map[string]string{
			"uri": "accountUri", "id": "pa:75346594275468546724", "subscribers_count": "35"}}
		if !reflect.DeepEqual(acct, want) {
			t.Errorf("Verify = %+v, want %+v", acct, want)
		}
	})
	refused := []struct {
		name string
		body []byte
		msg  string
	}{
		{"invalid token", fixture(t, "send_message_response_invalid_auth_token.json"), "invalidAuthToken"},
		{"account suspended", []byte(`{"status":9,"status_message":"publicAccountSuspended"}`), "publicAccountSuspended"},
	}
	for _, tt := range refused {
		t.Run("refused: "+tt.name, func(t *testing.T) {
			srv := fakeViber(t, "get_account_info", nil, answer{body: tt.body})
			_, err := client(srv, creds).Verify(context.Background())
			var e *sb.Error
			if !errors.As(err, &e) || e.Code != sb.EREFUSED {
				t.Fatalf("Verify error = %v, want EREFUSED", err)
			}
			if want := "viber refused the credentials: " + tt.msg; e.Message != want {
				t.Errorf("message = %q, want %q", e.Message, want)
			}
		})
	}
	t.Run("HTTP 502 is a plain error", func(t *testing.T) {
		srv := fakeViber(t, "get_account_info", nil, answer{status: 502})
		_, err := client(srv, creds).Verify(context.Background())
		if err == nil || sb.ErrorCode(err) != sb.EINTERNAL {
			t.Fatalf("Verify error = %v, want a plain error", err)
		}
		if strings.Contains(err.Error(), token) {
			t.Errorf("error %q contains the token", err)
		}
	})
}

func TestSetWebhook(t *testing.T) {
	// The docs' request, with send_photo off: we do not store photos.
	want := decode(t, fixture(t, "set_webhook_request.json")).(map[string]any)
	want["send_photo"] = false
	t.Run("ok", func(t *testing.T) {
		srv := fakeViber(t, "set_webhook", want, answer{body: fixture(t, "set_webhook_response.json")})
		if err := client(srv, creds).SetWebhook(context.Background(), "https://my.host.com"); err != nil {
			t.Fatalf("SetWebhook: %v", err)
		}
	})
	t.Run("invalid url", func(t *testing.T) {
		srv := fakeViber(t, "set_webhook", want, answer{body: []byte(`{"status":1,"status_message":"invalidUrl"}`)})
		err := client(srv, creds).SetWebhook(context.Background(), "https://my.host.com")
		var pe *sb.ProviderError
		if !errors.As(err, &pe) || !pe.Permanent || pe.Code != "1" || pe.Message != "invalidUrl" {
			t.Fatalf("SetWebhook error = %v, want permanent provider error 1", err)
		}
	})
	t.Run("refused token", func(t *testing.T) {
		srv := fakeViber(t, "set_webhook", want, answer{body: fixture(t, "send_message_response_invalid_auth_token.json")})
		err := client(srv, creds).SetWebhook(context.Background(), "https://my.host.com")
		if sb.ErrorCode(err) != sb.EREFUSED {
			t.Fatalf("SetWebhook error = %v, want EREFUSED", err)
		}
	})
}

// signed is a callback request as Viber posts it.
func signed(body []byte, tok string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "https://sb.example.com/hooks/ch_1/secret", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(viber.SignatureHeader, viber.Sign(tok, body))
	return r
}

func TestParseWebhook(t *testing.T) {
	const public = "https://sb.example.com/hooks/ch_1/secret"
	inbound := func(token, text string, media []string, meta string) *sb.Message {
		return &sb.Message{
			Channel: sb.ChannelViber, Direction: sb.Inbound, Status: sb.StatusReceived,
			From: "01234567890A=", To: "switchboardbot", Text: text, MediaURLs: media,
			Metadata: json.RawMessage(meta), Provider: sb.ProviderViber, ProviderMessageID: token,
		}
	}
	// Writing to the bot subscribes the user again.
	resubscribe := []sb.OptOut{{Channel: sb.ChannelViber, Address: "01234567890A=", Source: "provider", Keyword: "message"}}
	tests := []struct {
		fixture string
		want    sb.InboundBatch
	}{
		{"callback_webhook.json", sb.InboundBatch{}},
		{"callback_conversation_started.json", sb.InboundBatch{}},
		{"callback_message_text.json", sb.InboundBatch{OptIns: resubscribe, Messages: []*sb.Message{
			inbound("4912661846655238145", "a message to the service", nil,
				`{"viber":{"type":"text","tracking_data":"tracking data","sender_name":"John McClane","country":"UK",
				"language":"en","api_version":1,"timestamp":1457764197627}}`)}}},
		{"callback_message_picture.json", sb.InboundBatch{OptIns: resubscribe, Messages: []*sb.Message{
			inbound("4912661846655238146", "look at this",
				[]string{"https://dl-media.viber.com/1/share/2/long/vibes/icon/image/0x0/95e0/photo.jpg"},
				`{"viber":{"type":"picture","tracking_data":"msg_01","file_name":"photo.jpg","size":123456,
				"thumbnail":"https://dl-media.viber.com/1/share/2/long/vibes/icon/image/0x0/95e0/thumb.jpg",
				"sender_name":"John McClane","country":"UK","language":"en","api_version":1,"timestamp":1457764197627}}`)}}},
		{"callback_message_file.json", sb.InboundBatch{OptIns: resubscribe, Messages: []*sb.Message{
			inbound("4912661846655238147", "",
				[]string{"https://dl-media.viber.com/5/share/2/long/bots/generic/file/report.pdf"},
				`{"viber":{"type":"file","file_name":"report.pdf","size":10240,"sender_name":"John McClane",
				"api_version":7,"timestamp":1457764197627}}`)}}},
		{"callback_message_location.json", sb.InboundBatch{OptIns: resubscribe, Messages: []*sb.Message{
			inbound("4912661846655238148", "", nil,
				`{"viber":{"type":"location","location":{"lat":50.76891,"lon":6.11499},"sender_name":"John McClane",
				"timestamp":1457764197627}}`)}}},
		{"callback_delivered.json", sb.InboundBatch{Receipts: []sb.Receipt{
			{Provider: sb.ProviderViber, ProviderMessageID: "4912661846655238145", Status: sb.StatusDelivered}}}},
		{"callback_seen.json", sb.InboundBatch{Receipts: []sb.Receipt{
			{Provider: sb.ProviderViber, ProviderMessageID: "4912661846655238145", Status: sb.StatusRead}}}},
		{"callback_failed.json", sb.InboundBatch{Receipts: []sb.Receipt{
			{Provider: sb.ProviderViber, ProviderMessageID: "4912661846655238145", Status: sb.StatusFailed, ErrorMessage: "failure description"}}}},
		{"callback_subscribed.json", sb.InboundBatch{OptIns: []sb.OptOut{
			{Channel: sb.ChannelViber, Address: "jc9HsWTZ2Yf2NkRZ8KcNug==", Source: "provider", Keyword: "subscribed"}}}},
		{"callback_unsubscribed.json", sb.InboundBatch{OptOuts: []sb.OptOut{
			{Channel: sb.ChannelViber, Address: "01234567890A=", Source: "provider", Keyword: "unsubscribed"}}}},
	}
	c := viber.New(creds, viber.Options{BotURI: "switchboardbot"})
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			body := fixture(t, tt.fixture)
			got, err := c.ParseWebhook(signed(body, token), body, public)
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			if len(got.Messages) != len(tt.want.Messages) {
				t.Fatalf("%d messages, want %d", len(got.Messages), len(tt.want.Messages))
			}
			for i, m := range got.Messages {
				w := tt.want.Messages[i]
				if !reflect.DeepEqual(decode(t, m.Metadata), decode(t, w.Metadata)) {
					t.Errorf("metadata\n got %s\nwant %s", m.Metadata, w.Metadata)
				}
				gm, wm := *m, *w
				gm.Metadata, wm.Metadata = nil, nil
				if !reflect.DeepEqual(gm, wm) {
					t.Errorf("message\n got %+v\nwant %+v", gm, wm)
				}
			}
			got.Messages, tt.want.Messages = nil, nil
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("batch\n got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
	t.Run("unknown event", func(t *testing.T) {
		body := []byte(`{"event":"client_status","timestamp":1}`)
		got, err := c.ParseWebhook(signed(body, token), body, public)
		if err != nil || !reflect.DeepEqual(*got, sb.InboundBatch{}) {
			t.Fatalf("ParseWebhook = %+v, %v; want an empty batch", got, err)
		}
	})
}

// TestParseWebhookVector checks the official SDKs' signature vector.
func TestParseWebhookVector(t *testing.T) {
	var v struct {
		AuthToken string `json:"auth_token"`
		Body      string `json:"body"`
		Expected  string `json:"expected_signature_hex"`
	}
	if err := json.Unmarshal(fixture(t, "signature_vector.json"), &v); err != nil {
		t.Fatal(err)
	}
	body := fixture(t, "signature_vector_body.json")
	if string(body) != v.Body {
		t.Fatalf("signature_vector_body.json differs from the vector's body")
	}
	if got := viber.Sign(v.AuthToken, body); got != v.Expected {
		t.Fatalf("Sign = %s, want %s", got, v.Expected)
	}
	c := viber.New(viber.Credentials{AuthToken: v.AuthToken, SenderName: "bot"}, viber.Options{})
	for name, r := range map[string]*http.Request{
		"header":          httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body)),
		"sig query param": httptest.NewRequest(http.MethodPost, "/hook?sig="+v.Expected, bytes.NewReader(body)),
	} {
		t.Run(name, func(t *testing.T) {
			if name == "header" {
				r.Header.Set("X-Viber-Content-Signature", v.Expected)
			}
			got, err := c.ParseWebhook(r, body, "https://sb.example.com/hook")
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			if !reflect.DeepEqual(*got, sb.InboundBatch{}) {
				t.Errorf("webhook check gave %+v, want an empty batch", *got)
			}
		})
	}
}

func TestParseWebhookForged(t *testing.T) {
	body := fixture(t, "callback_message_text.json")
	withSig := func(sig string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
		if sig != "" {
			r.Header.Set(viber.SignatureHeader, sig)
		}
		return r
	}
	c := viber.New(creds, viber.Options{})
	tests := []struct {
		name   string
		client *viber.Client
		r      *http.Request
		body   []byte
	}{
		{"no signature", c, withSig(""), body},
		{"garbage (python SDK test)", c, withSig("aaaaaaaaaaaaaaaaaaaaaa"), body},
		{"garbage (node SDK test)", c, withSig("abcd"), body},
		{"another bot's token", c, signed(body, "0000000000000000-0000000000000000-0000000000000000"), body},
		{"body changed after signing", c, signed(body, token), bytes.Replace(body, []byte("a message"), []byte("A message"), 1)},
		{"signature of a prefix", c, withSig(viber.Sign(token, body[:len(body)-1])), body},
		{"client without a token", viber.New(viber.Credentials{}, viber.Options{}), signed(body, ""), body},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.client.ParseWebhook(tt.r, tt.body, "https://sb.example.com/hook")
			if !errors.Is(err, sb.ErrForged) || got != nil {
				t.Fatalf("ParseWebhook = %v, %v; want sb.ErrForged", got, err)
			}
		})
	}
}

func TestParseWebhookMalformed(t *testing.T) {
	c := viber.New(creds, viber.Options{})
	for _, body := range []string{
		`{"event":"message",`,
		`["event"]`,
		`{"event":"message","message_token":1,"message":{"type":"text","text":"hi"}}`,
		`{"event":"delivered","user_id":"u1"}`,
		`{"event":"unsubscribed","message_token":1}`,
	} {
		t.Run(body, func(t *testing.T) {
			_, err := c.ParseWebhook(signed([]byte(body), token), []byte(body), "https://sb.example.com/hook")
			if sb.ErrorCode(err) != sb.EINVALID {
				t.Fatalf("ParseWebhook error = %v, want EINVALID", err)
			}
		})
	}
}

func TestCredentials(t *testing.T) {
	tests := []struct {
		name       string
		creds      viber.Credentials
		wantFields []string
	}{
		{"ok", creds, nil},
		{"ok without avatar, 28-character name", viber.Credentials{AuthToken: token, SenderName: strings.Repeat("ж", 28)}, nil},
		{"empty", viber.Credentials{}, []string{"credentials.auth_token", "credentials.sender_name"}},
		{"long name, bad avatar, spaced token", viber.Credentials{AuthToken: "abc def", SenderName: strings.Repeat("x", 29), SenderAvatar: "avatar.png"},
			[]string{"credentials.auth_token", "credentials.sender_name", "credentials.sender_avatar"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.creds.Validate()
			if tt.wantFields == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var e *sb.Error
			if !errors.As(err, &e) || e.Code != sb.EINVALID {
				t.Fatalf("Validate = %v, want EINVALID", err)
			}
			var got []string
			for _, f := range e.Fields {
				got = append(got, f.Field)
			}
			if !reflect.DeepEqual(got, tt.wantFields) {
				t.Errorf("fields = %v, want %v", got, tt.wantFields)
			}
		})
	}
}

func TestHintHidesToken(t *testing.T) {
	for _, c := range []viber.Credentials{creds, {AuthToken: "short", SenderName: "bot"}} {
		h := c.Hint()
		for k, v := range h {
			if strings.Contains(v, c.AuthToken) || (len(c.AuthToken) >= 12 && strings.Contains(v, c.AuthToken[:8])) {
				t.Errorf("Hint()[%q] = %q shows the token", k, v)
			}
		}
		if len(c.AuthToken) >= 12 && h["auth_token"] != "****"+c.AuthToken[len(c.AuthToken)-4:] {
			t.Errorf("Hint auth_token = %q", h["auth_token"])
		}
		if h["sender_name"] != c.SenderName {
			t.Errorf("Hint sender_name = %q", h["sender_name"])
		}
		for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
			if strings.Contains(s, c.AuthToken) {
				t.Errorf("formatted credentials %q show the token", s)
			}
		}
	}
}
