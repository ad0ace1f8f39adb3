package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	sb "github.com/switchboardhq/switchboard"
)

const (
	textWamid     = "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA" // send_text_response.json
	templateWamid = "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA" // send_template_response.json
)

// withRecipientType is a request fixture plus the recipient_type we always
// send (Meta's getting-started example leaves it out; it defaults to it).
func withRecipientType(t *testing.T, name string) map[string]any {
	v := decode(t, fixture(t, name))
	v["recipient_type"] = "individual"
	return v
}

func TestSend(t *testing.T) {
	tests := []struct {
		name   string
		msg    sb.Message
		answer string
		want   map[string]any // the exact JSON body Meta must receive
		wantID string
	}{
		{
			name:   "text",
			msg:    sb.Message{ID: "msg_1", Channel: sb.ChannelWhatsApp, From: testPhoneID, To: "+16505551234", Text: "Does it come in another color? https://example.com/x"},
			answer: "send_text_response.json",
			want: map[string]any{
				"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234", "type": "text",
				"text": map[string]any{"preview_url": false, "body": "Does it come in another color? https://example.com/x"},
			},
			wantID: textWamid,
		},
		{
			name:   "image with caption",
			msg:    sb.Message{Channel: sb.ChannelWhatsApp, From: "+15550783881", To: "+79991234567", Text: "The best succulent ever?", MediaURLs: []string{"https://cdn.example.com/a/aloe.JPG?sig=abc", "https://cdn.example.com/b.png"}},
			answer: "send_text_response.json",
			want: map[string]any{
				"messaging_product": "whatsapp", "recipient_type": "individual", "to": "79991234567", "type": "image",
				"image": map[string]any{"link": "https://cdn.example.com/a/aloe.JPG?sig=abc", "caption": "The best succulent ever?"},
			},
			wantID: textWamid,
		},
		{
			name:   "image without text has no caption",
			msg:    sb.Message{To: "+16505551234", MediaURLs: []string{"https://cdn.example.com/a.png"}},
			answer: "send_text_response.json",
			want: map[string]any{
				"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234", "type": "image",
				"image": map[string]any{"link": "https://cdn.example.com/a.png"},
			},
			wantID: textWamid,
		},
		{
			name:   "document",
			msg:    sb.Message{To: "+16505551234", Text: "Your invoice", MediaURLs: []string{"https://cdn.example.com/files/invoice-42.pdf"}},
			answer: "send_text_response.json",
			want: map[string]any{
				"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234", "type": "document",
				"document": map[string]any{"link": "https://cdn.example.com/files/invoice-42.pdf", "caption": "Your invoice", "filename": "invoice-42.pdf"},
			},
			wantID: textWamid,
		},
		{
			name:   "video",
			msg:    sb.Message{To: "+16505551234", Text: "Unboxing", MediaURLs: []string{"https://cdn.example.com/v.mp4"}},
			answer: "send_text_response.json",
			want: map[string]any{
				"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234", "type": "video",
				"video": map[string]any{"link": "https://cdn.example.com/v.mp4", "caption": "Unboxing"},
			},
			wantID: textWamid,
		},
		{
			name:   "audio takes no caption",
			msg:    sb.Message{To: "+16505551234", Text: "not sent", MediaURLs: []string{"https://cdn.example.com/voice.ogg"}},
			answer: "send_text_response.json",
			want: map[string]any{
				"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234", "type": "audio",
				"audio": map[string]any{"link": "https://cdn.example.com/voice.ogg"},
			},
			wantID: textWamid,
		},
		{
			name:   "template with a language code",
			msg:    sb.Message{To: "+16505551234", Text: "ignored for templates", Metadata: json.RawMessage(`{"template": {"name": "hello_world", "language": "en_US"}, "order": 42}`)},
			answer: "send_template_response.json",
			want:   withRecipientType(t, "send_template_hello_world_request.json"),
			wantID: templateWamid,
		},
		{
			name: "template with a language object and components",
			msg: sb.Message{To: "+12345678901", MediaURLs: []string{"https://cdn.example.com/ignored.png"}, Metadata: json.RawMessage(`{"template": {
				"name": "Subscribe", "language": {"policy": "deterministic", "code": "en_US"},
				"components": [{"type": "body", "parameters": [{"type": "text", "text": "newsletter"}]}]}}`)},
			answer: "send_template_response.json",
			want:   decode(t, fixture(t, "send_template_with_params_request.json")),
			wantID: templateWamid,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGraph(t, answer(http.StatusOK, fixture(t, tt.answer)))
			res, err := g.client(Options{}).Send(context.Background(), &tt.msg)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if res.ProviderMessageID != tt.wantID {
				t.Errorf("ProviderMessageID = %q, want %q", res.ProviderMessageID, tt.wantID)
			}
			calls := g.recorded()
			if len(calls) != 1 {
				t.Fatalf("%d calls, want 1", len(calls))
			}
			c := calls[0]
			if c.Method != http.MethodPost || c.Path != "/"+DefaultAPIVersion+"/"+testPhoneID+"/messages" {
				t.Errorf("request %s %s, want POST /%s/%s/messages", c.Method, c.Path, DefaultAPIVersion, testPhoneID)
			}
			if c.Auth != "Bearer "+testToken {
				t.Errorf("Authorization = %q", c.Auth)
			}
			if c.Type != "application/json" {
				t.Errorf("Content-Type = %q", c.Type)
			}
			if got := decode(t, c.Body); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("body\n got %s\nwant %s", c.Body, mustJSON(tt.want))
			}
		})
	}
}

func TestSendAPIVersion(t *testing.T) {
	g := newFakeGraph(t, answer(http.StatusOK, fixture(t, "send_text_response.json")))
	if _, err := g.client(Options{APIVersion: "v99.0"}).Send(context.Background(), &sb.Message{To: "+16505551234", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	if p := g.recorded()[0].Path; p != "/v99.0/"+testPhoneID+"/messages" {
		t.Errorf("path = %s", p)
	}
}

func TestSendErrors(t *testing.T) {
	tests := []struct {
		name          string
		reply         http.HandlerFunc
		msg           *sb.Message
		code          string
		permanent     bool
		optOut        bool
		retryAfter    time.Duration
		inMessage     string
		noRequestMade bool
	}{
		{name: "131047 re-engagement is permanent", reply: answer(400, fixture(t, "error_response_131047.json")),
			code: "131047", permanent: true, inMessage: "24 hours"},
		{name: "131050 marketing opt-out", reply: answer(400, fixture(t, "error_response_131050.json")),
			code: "131050", permanent: true, optOut: true, inMessage: "stop receiving marketing"},
		{name: "190 expired token is permanent", reply: answer(401, fixture(t, "error_response_190_token_expired.json")),
			code: "190", permanent: true, inMessage: "Session has expired"},
		{name: "unknown code on a 4xx is permanent", reply: answer(400, []byte(`{"error":{"message":"(#999999) Something new","type":"OAuthException","code":999999}}`)),
			code: "999999", permanent: true},
		{name: "130429 throughput is transient", reply: answer(400, fixture(t, "error_response_130429_rate_limit.json")),
			code: "130429", inMessage: "throughput"},
		{name: "130429 honours Retry-After", reply: answer(400, fixture(t, "error_response_130429_rate_limit.json"), "Retry-After", "30"),
			code: "130429", retryAfter: 30 * time.Second},
		{name: "131056 pair rate limit waits Meta's pace", reply: answer(400, fixture(t, "error_response_131056_pair_rate_limit.json")),
			code: "131056", retryAfter: 6 * time.Second},
		{name: "131000 on a 500 is transient", reply: answer(500, fixture(t, "error_response_131000_something_went_wrong.json")),
			code: "131000", inMessage: "Something went wrong"},
		{name: "500 without a Graph error", reply: answer(500, []byte("<html>oops</html>")),
			code: "http_500"},
		{name: "503 from a proxy", reply: answer(503, nil, "Retry-After", "5"),
			code: "http_503", retryAfter: 5 * time.Second},
		{name: "429 without a body", reply: answer(429, nil),
			code: "http_429"},
		{name: "accepted without an id", reply: answer(200, []byte(`{"messaging_product":"whatsapp","messages":[]}`)),
			code: "bad_response", permanent: true},
		{name: "recipient that is not a phone number", reply: answer(200, fixture(t, "send_text_response.json")),
			msg: &sb.Message{To: "alice", Text: "hi"}, code: "invalid_to", permanent: true, noRequestMade: true},
		{name: "nothing to send", reply: answer(200, fixture(t, "send_text_response.json")),
			msg: &sb.Message{To: "+16505551234"}, code: "empty_message", permanent: true, noRequestMade: true},
		{name: "another channel", reply: answer(200, fixture(t, "send_text_response.json")),
			msg: &sb.Message{Channel: sb.ChannelSMS, To: "+16505551234", Text: "hi"}, code: "unsupported_channel", permanent: true, noRequestMade: true},
		{name: "malformed template", reply: answer(200, fixture(t, "send_template_response.json")),
			msg:  &sb.Message{To: "+16505551234", Metadata: json.RawMessage(`{"template":{"language":"en_US"}}`)},
			code: "invalid_template", permanent: true, inMessage: "metadata.template.name", noRequestMade: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGraph(t, tt.reply)
			m := tt.msg
			if m == nil {
				m = &sb.Message{To: "+16505551234", Text: "hello"}
			}
			_, err := g.client(Options{}).Send(context.Background(), m)
			pe := providerErr(t, err)
			if pe.Code != tt.code || pe.Permanent != tt.permanent || pe.OptOut != tt.optOut || pe.RetryAfter != tt.retryAfter {
				t.Errorf("got %+v, want code %s permanent %v optOut %v retryAfter %v", pe, tt.code, tt.permanent, tt.optOut, tt.retryAfter)
			}
			if !strings.Contains(pe.Message, tt.inMessage) {
				t.Errorf("message %q does not contain %q", pe.Message, tt.inMessage)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error shows the token: %v", err)
			}
			if made := len(g.recorded()) > 0; made == tt.noRequestMade {
				t.Errorf("request made = %v", made)
			}
		})
	}
}

// TestSendTransportErrors: no answer at all is transient.
func TestSendTransportErrors(t *testing.T) {
	// hang answers nothing until the client gives up or the test ends.
	hang := func(t *testing.T) (*fakeGraph, *Client) {
		release := make(chan struct{})
		g := newFakeGraph(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		})
		t.Cleanup(func() { close(release) }) // runs before the server's Close
		return g, g.client(Options{})
	}
	t.Run("client timeout", func(t *testing.T) {
		g, _ := hang(t)
		c := g.client(Options{HTTPClient: &http.Client{Timeout: 50 * time.Millisecond}})
		_, err := c.Send(context.Background(), &sb.Message{To: "+16505551234", Text: "hi"})
		pe := providerErr(t, err)
		if pe.Permanent || pe.Code != "timeout" {
			t.Errorf("got %+v, want transient timeout", pe)
		}
	})
	t.Run("context deadline", func(t *testing.T) {
		_, c := hang(t)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := c.Send(ctx, &sb.Message{To: "+16505551234", Text: "hi"})
		pe := providerErr(t, err)
		if pe.Permanent || pe.Code != "timeout" {
			t.Errorf("got %+v, want transient timeout", pe)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		g := newFakeGraph(t, answer(200, nil))
		c := g.client(Options{})
		g.srv.Close()
		_, err := c.Send(context.Background(), &sb.Message{To: "+16505551234", Text: "hi"})
		pe := providerErr(t, err)
		if pe.Permanent || pe.Code != "network" {
			t.Errorf("got %+v, want transient network", pe)
		}
		if strings.Contains(pe.Message, testToken) {
			t.Errorf("message shows the token: %s", pe.Message)
		}
	})
}

func providerErr(t *testing.T, err error) *sb.ProviderError {
	t.Helper()
	var pe *sb.ProviderError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *sb.ProviderError", err, err)
	}
	return pe
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
