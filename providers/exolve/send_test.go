package exolve

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	sb "github.com/switchboardhq/switchboard"
)

// smsFromNumber is the message testdata/sms/send_sms.request.json carries.
func smsFromNumber() *sb.Message {
	return &sb.Message{ID: "msg_1", Channel: sb.ChannelSMS, From: "+79991112233", To: "+79992223344", Text: "Код подтверждения: 1234"}
}

func TestSend(t *testing.T) {
	fromAlpha := &sb.Message{ID: "msg_2", Channel: sb.ChannelSMS, From: "MyCompany", To: "+79992223344", Text: "Ваш заказ готов к выдаче"}
	template := func(v string) *sb.Message {
		return &sb.Message{ID: "msg_3", Channel: sb.ChannelSMS, From: "MyCompany", To: "+79992223344", Text: "Код подтверждения: 1234",
			Metadata: json.RawMessage(`{"order": "A-17", "exolve_template_resource_id": ` + v + `}`)}
	}
	tests := []struct {
		name    string
		msg     *sb.Message
		wantReq string // testdata file the request body must equal
		answer  []byte
		wantID  string
	}{
		{name: "from a number", msg: smsFromNumber(), wantReq: "sms/send_sms.request.json", answer: fixture(t, "sms/send_sms.response.json"), wantID: "439166538239448536"},
		{name: "from an alpha name", msg: fromAlpha, wantReq: "sms/send_sms.request.alpha_name.json", answer: fixture(t, "sms/send_sms.response.json"), wantID: "439166538239448536"},
		{name: "template id as a number", msg: template(`12345`), wantReq: "sms/send_sms.request.template.json", answer: fixture(t, "sms/send_sms.response.json"), wantID: "439166538239448536"},
		{name: "template id as a string", msg: template(`"12345"`), wantReq: "sms/send_sms.request.template.json", answer: fixture(t, "sms/send_sms.response.json"), wantID: "439166538239448536"},
		{name: "message_id as a JSON number", msg: smsFromNumber(), wantReq: "sms/send_sms.request.json", answer: []byte(`{"message_id": 439166538239448536}`), wantID: "439166538239448536"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeExolve{method: "SendSMS", wantBody: fixture(t, tt.wantReq), body: tt.answer}
			res, err := serve(t, f, Options{}).Send(context.Background(), tt.msg)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if res.ProviderMessageID != tt.wantID {
				t.Errorf("ProviderMessageID = %q, want %q", res.ProviderMessageID, tt.wantID)
			}
			if f.calls.Load() != 1 {
				t.Errorf("%d calls, want 1", f.calls.Load())
			}
		})
	}
}

func TestSendErrors(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		answer    []byte
		want      sb.ProviderError // Message is matched as a substring
		permanent bool
	}{
		{
			name: "401 flat", status: 401, answer: fixture(t, "errors/error.401.incorrect_token.json"),
			want: sb.ProviderError{Code: "incorrect authorization token", Message: "HTTP 401", Permanent: true},
		},
		{
			name: "401 nested", status: 401, answer: fixture(t, "errors/error.401.nested.incorrect_token.json"),
			want: sb.ProviderError{Code: "incorrect authorization token", Message: "incorrect authorization token", Permanent: true},
		},
		{
			name: "400 nested destination not permitted", status: 400, answer: fixture(t, "errors/error.400.nested.destination_not_permitted.json"),
			want: sb.ProviderError{Code: "destination is not permitted for delivery", Message: "HTTP 400", Permanent: true},
		},
		{
			name: "400 nested alpha name not active", status: 400, answer: fixture(t, "errors/error.400.nested.alpha_name_not_active.json"),
			want: sb.ProviderError{Code: "alpha name is not active", Message: "alpha name is not active", Permanent: true},
		},
		{
			name: "400 flat", status: 400, answer: fixture(t, "errors/error.400.flat.enter_another_number.json"),
			want: sb.ProviderError{Code: "enter another number", Message: "enter another number", Permanent: true},
		},
		{
			// grpc-gateway's own shape, which the docs do not show.
			name: "400 grpc-gateway", status: 400, answer: []byte(`{"code": 3, "message": "exceeded the limit of segments", "details": []}`),
			want: sb.ProviderError{Code: "exceeded the limit of segments", Message: "(code 3)", Permanent: true},
		},
		{
			name: "400 nested with a code", status: 400, answer: []byte(`{"error": {"code": 3, "message": "text does not match the template", "details": [{"field": "text"}]}}`),
			want: sb.ProviderError{Code: "text does not match the template", Message: "(code 3)", Permanent: true},
		},
		{
			name: "403 without a body", status: 403,
			want: sb.ProviderError{Code: "http_403", Message: "Forbidden", Permanent: true},
		},
		{
			name: "404 plain text", status: 404, header: map[string]string{"Content-Type": "text/plain"}, answer: fixture(t, "errors/error.404.txt"),
			want: sb.ProviderError{Code: "http_404", Message: "404 page not found", Permanent: true},
		},
		{
			name: "429 with Retry-After", status: 429, header: map[string]string{"Retry-After": "7"}, answer: []byte(`{"error": {"message": "too many requests"}}`),
			want: sb.ProviderError{Code: "too many requests", Message: "HTTP 429", RetryAfter: 7 * time.Second},
		},
		{
			name: "429 without a body", status: 429,
			want: sb.ProviderError{Code: "http_429", Message: "Too Many Requests"},
		},
		{
			name: "500", status: 500, answer: []byte(`{"error": {"message": "internal error"}}`),
			want: sb.ProviderError{Code: "internal error", Message: "HTTP 500"},
		},
		{
			name: "502 html page", status: 502, answer: []byte("<html>\n<body>Bad Gateway</body></html>"),
			want: sb.ProviderError{Code: "http_502", Message: "HTTP 502: <html>"},
		},
		{
			name: "503 with Retry-After", status: 503, header: map[string]string{"Retry-After": "30"},
			want: sb.ProviderError{Code: "http_503", Message: "Service Unavailable", RetryAfter: 30 * time.Second},
		},
		{
			// Accepted, so it may have gone out: never retried.
			name: "200 without message_id", status: 200, answer: []byte(`{}`),
			want: sb.ProviderError{Code: "invalid_response", Message: "may have been sent", Permanent: true},
		},
		{
			name: "200 not JSON", status: 200, answer: []byte(`OK`),
			want: sb.ProviderError{Code: "invalid_response", Message: "may have been sent", Permanent: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeExolve{method: "SendSMS", wantBody: fixture(t, "sms/send_sms.request.json"), status: tt.status, header: tt.header, body: tt.answer}
			_, err := serve(t, f, Options{}).Send(context.Background(), smsFromNumber())
			assertProviderError(t, err, tt.want)
		})
	}
}

func TestSendTimeouts(t *testing.T) {
	t.Run("client timeout", func(t *testing.T) {
		f := &fakeExolve{method: "SendSMS", hang: true}
		c := serve(t, f, Options{HTTPClient: &http.Client{Timeout: 50 * time.Millisecond}})
		_, err := c.Send(context.Background(), smsFromNumber())
		assertProviderError(t, err, sb.ProviderError{Code: "timeout", Message: "SendSMS"})
	})
	t.Run("context deadline", func(t *testing.T) {
		f := &fakeExolve{method: "SendSMS", hang: true}
		c := serve(t, f, Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := c.Send(ctx, smsFromNumber())
		assertProviderError(t, err, sb.ProviderError{Code: "timeout", Message: "SendSMS"})
	})
	t.Run("connection refused", func(t *testing.T) {
		c := New(Credentials{APIKey: testKey}, Options{BaseURL: "http://127.0.0.1:1"})
		_, err := c.Send(context.Background(), smsFromNumber())
		assertProviderError(t, err, sb.ProviderError{Code: "network", Message: "SendSMS"})
	})
}

// TestSendRefusedLocally covers messages Exolve could never take: they are
// refused permanently without a call.
func TestSendRefusedLocally(t *testing.T) {
	tests := []struct {
		name string
		edit func(m *sb.Message)
		code string
	}{
		{name: "destination not a number", edit: func(m *sb.Message) { m.To = "@someone" }, code: "invalid_destination"},
		{name: "no sender", edit: func(m *sb.Message) { m.From = "" }, code: "missing_sender"},
		{name: "other channel", edit: func(m *sb.Message) { m.Channel = sb.ChannelWhatsApp }, code: "unsupported_channel"},
		{name: "template id not a number", edit: func(m *sb.Message) { m.Metadata = json.RawMessage(`{"exolve_template_resource_id": "abc"}`) }, code: "invalid_template_resource_id"},
		{name: "template id negative", edit: func(m *sb.Message) { m.Metadata = json.RawMessage(`{"exolve_template_resource_id": -1}`) }, code: "invalid_template_resource_id"},
		{name: "template id fractional", edit: func(m *sb.Message) { m.Metadata = json.RawMessage(`{"exolve_template_resource_id": 1.5}`) }, code: "invalid_template_resource_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeExolve{method: "SendSMS"}
			m := smsFromNumber()
			tt.edit(m)
			_, err := serve(t, f, Options{}).Send(context.Background(), m)
			assertProviderError(t, err, sb.ProviderError{Code: tt.code, Permanent: true})
			if n := f.calls.Load(); n != 0 {
				t.Errorf("%d calls to Exolve, want none", n)
			}
		})
	}
}

// TestSendIgnoresOtherMetadata checks that metadata without our key, or
// metadata that is not an object, changes nothing in the request.
func TestSendIgnoresOtherMetadata(t *testing.T) {
	for _, meta := range []string{`{"order": "A-17"}`, `{"exolve_template_resource_id": null}`, `[1, 2]`, `null`} {
		t.Run(meta, func(t *testing.T) {
			f := &fakeExolve{method: "SendSMS", wantBody: fixture(t, "sms/send_sms.request.json"), body: fixture(t, "sms/send_sms.response.json")}
			m := smsFromNumber()
			m.Metadata = json.RawMessage(meta)
			if _, err := serve(t, f, Options{}).Send(context.Background(), m); err != nil {
				t.Fatalf("Send: %v", err)
			}
		})
	}
}

func assertProviderError(t *testing.T, err error, want sb.ProviderError) {
	t.Helper()
	var pe *sb.ProviderError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v (%T), want a *sb.ProviderError", err, err)
	}
	if pe.Code != want.Code || pe.Permanent != want.Permanent || pe.RetryAfter != want.RetryAfter || pe.OptOut != want.OptOut {
		t.Errorf("err = %+v, want Code %q Permanent %v RetryAfter %v OptOut %v", pe, want.Code, want.Permanent, want.RetryAfter, want.OptOut)
	}
	if !strings.Contains(pe.Message, want.Message) {
		t.Errorf("Message = %q, want it to contain %q", pe.Message, want.Message)
	}
	if strings.Contains(pe.Error(), testKey) {
		t.Errorf("error %q contains the API key", pe)
	}
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		answer      []byte
		wantDetails map[string]string
		wantCode    string // sb.ErrorCode of the error; "" = success
		wantMsg     string
	}{
		{name: "ok", answer: fixture(t, "sms/get_count.response.json"), wantDetails: map[string]string{"api_key": "****cdef", "sms_count": "2"}},
		{name: "ok, count as a number", answer: []byte(`{"count": 0}`), wantDetails: map[string]string{"api_key": "****cdef", "sms_count": "0"}},
		{name: "ok, unexpected answer", answer: []byte(`{"total": 3}`), wantDetails: map[string]string{"api_key": "****cdef"}},
		{name: "refused flat", status: 401, answer: fixture(t, "errors/error.401.incorrect_token.json"), wantCode: sb.EREFUSED, wantMsg: "MTS Exolve refused the credentials: incorrect authorization token"},
		{name: "refused nested", status: 401, answer: fixture(t, "errors/error.401.nested.incorrect_token.json"), wantCode: sb.EREFUSED, wantMsg: "MTS Exolve refused the credentials: incorrect authorization token"},
		{name: "forbidden", status: 403, wantCode: sb.EREFUSED, wantMsg: "MTS Exolve refused the credentials: HTTP 403 (Forbidden)"},
		{name: "server failure", status: 500, answer: []byte(`{"error": {"message": "internal error"}}`), wantCode: sb.EINTERNAL, wantMsg: "internal error"},
		{name: "wrong path", status: 404, answer: fixture(t, "errors/error.404.txt"), wantCode: sb.EINTERNAL, wantMsg: "404 page not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeExolve{method: "GetCount", wantBody: []byte(`{}`), status: tt.status, body: tt.answer}
			acc, err := serve(t, f, Options{}).Verify(context.Background())
			if code := sb.ErrorCode(err); code != tt.wantCode {
				t.Fatalf("Verify err = %v (code %q), want code %q", err, code, tt.wantCode)
			}
			if err != nil {
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("err = %q, want it to contain %q", err, tt.wantMsg)
				}
				if strings.Contains(err.Error(), testKey) {
					t.Errorf("err %q contains the API key", err)
				}
				return
			}
			if acc.Name == "" {
				t.Error("account has no name")
			}
			if !equalMaps(acc.Details, tt.wantDetails) {
				t.Errorf("Details = %v, want %v", acc.Details, tt.wantDetails)
			}
		})
	}
}

func TestVerifyTimeout(t *testing.T) {
	f := &fakeExolve{method: "GetCount", hang: true}
	c := serve(t, f, Options{HTTPClient: &http.Client{Timeout: 50 * time.Millisecond}})
	_, err := c.Verify(context.Background())
	if err == nil || sb.ErrorCode(err) != sb.EINTERNAL {
		t.Fatalf("Verify = %v, want a plain error", err)
	}
}

func TestVerifyMissingKey(t *testing.T) {
	c := New(Credentials{}, Options{BaseURL: "http://127.0.0.1:1"})
	if _, err := c.Verify(context.Background()); sb.ErrorCode(err) != sb.EINVALID {
		t.Fatalf("Verify = %v, want %s", err, sb.EINVALID)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}
