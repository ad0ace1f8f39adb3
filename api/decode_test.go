package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sb "github.com/switchboardhq/switchboard"
)

// wantErr describes the *sb.Error a decode is expected to fail with.
type wantErr struct {
	code   string // sb.Error code
	status int    // HTTP status through the codes table
	field  string // Fields[0].Field; "" when no field is named
	msg    string // substring of the message
}

// checkErr asserts err is the *sb.Error w describes.
func checkErr(t *testing.T, err error, w wantErr) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %s (%q)", w.code, w.msg)
	}
	var e *sb.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *switchboard.Error", err, err)
	}
	if e.Code != w.code {
		t.Errorf("code %q, want %q (%v)", e.Code, w.code, err)
	}
	if m, ok := codes[e.Code]; !ok {
		t.Errorf("code %q is not in the codes table", e.Code)
	} else if m.status != w.status {
		t.Errorf("code %q maps to %d, want %d", e.Code, m.status, w.status)
	}
	if !strings.Contains(e.Message, w.msg) {
		t.Errorf("message %q does not contain %q", e.Message, w.msg)
	}
	switch {
	case w.field == "" && len(e.Fields) > 0:
		t.Errorf("fields %+v, want none", e.Fields)
	case w.field != "" && len(e.Fields) == 0:
		t.Errorf("no field named; want %q", w.field)
	case w.field != "":
		if e.Fields[0].Field != w.field {
			t.Errorf("field %q, want %q", e.Fields[0].Field, w.field)
		}
		if !strings.HasPrefix(e.Message, w.field+": ") {
			t.Errorf("message %q does not start with the field %q", e.Message, w.field)
		}
		if e.Fields[0].Message == "" {
			t.Error("field error has no message")
		}
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	malformed := func(field, msg string) wantErr {
		return wantErr{code: ecMalformed, status: http.StatusBadRequest, field: field, msg: msg}
	}
	tests := []struct {
		name string
		body string
		want wantErr
	}{
		{name: "unknown field", body: `{"channel":"sms","colour":"red"}`, want: malformed("colour", "unknown field")},
		{name: "unknown field after valid ones", body: `{"channel":"sms","from":"+15005550000","to":"+79991234567","text":"hi","priority":1}`,
			want: malformed("priority", "unknown field")},
		{name: "unknown field with odd name", body: `{"a.b c":1}`, want: malformed("a.b c", "unknown field")},
		{name: "wrong type string", body: `{"text":5}`, want: malformed("text", "must be a string, not number")},
		{name: "wrong type channel object", body: `{"channel":{"name":"sms"}}`, want: malformed("channel", "must be a string, not object")},
		{name: "wrong type bool", body: `{"status_callback_url":true}`, want: malformed("status_callback_url", "must be a string, not bool")},
		{name: "wrong type array", body: `{"media_urls":"https://example.com/a.png"}`, want: malformed("media_urls", "must be an array, not string")},
		{name: "wrong type array element", body: `{"media_urls":[1]}`, want: malformed("media_urls", "must be a string, not number")},
		{name: "wrong type huge number", body: `{"text":1e999}`, want: malformed("text", "must be a string")},
		{name: "array body", body: `[{"channel":"sms"}]`, want: malformed("", "must be a JSON object")},
		{name: "string body", body: `"hello"`, want: malformed("", "must be a JSON object")},
		{name: "number body", body: `42`, want: malformed("", "must be a JSON object")},
		{name: "trailing object", body: `{"text":"hi"} {"text":"again"}`, want: malformed("", "unexpected data after the JSON object")},
		{name: "trailing garbage", body: `{"text":"hi"}x`, want: malformed("", "unexpected data after the JSON object")},
		{name: "trailing brace", body: `{"text":"hi"}}`, want: malformed("", "unexpected data after the JSON object")},
		{name: "trailing bracket", body: `{"text":"hi"}]`, want: malformed("", "unexpected data after the JSON object")},
		{name: "empty body", body: ``, want: malformed("", "request body is empty")},
		{name: "whitespace body", body: " \n\t ", want: malformed("", "request body is empty")},
		{name: "truncated in a string", body: `{"text":"hel`, want: malformed("", "truncated JSON")},
		{name: "truncated after brace", body: `{`, want: malformed("", "truncated JSON")},
		{name: "truncated after key", body: `{"channel":`, want: malformed("", "truncated JSON")},
		{name: "syntax error", body: `{"text":}`, want: malformed("", "invalid JSON at byte")},
		{name: "bad literal", body: `{"metadata":nul}`, want: malformed("", "invalid JSON at byte")},
		{name: "single quotes", body: `{'text':'hi'}`, want: malformed("", "invalid JSON at byte")},
		{name: "not JSON", body: `channel=sms&text=hi`, want: malformed("", "invalid JSON at byte")},
		{name: "null body", body: `null`, want: malformed("", "must be a JSON object")},
		{name: "field name in another case", body: `{"Text":"hi"}`, want: malformed("Text", "unknown field")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req sendRequest
			err := decodeJSON([]byte(tt.body), &req)
			checkErr(t, err, tt.want)
		})
	}
}

func TestDecodeJSONAccepts(t *testing.T) {
	tests := []struct {
		name string
		body string
		want sendRequest
	}{
		{name: "all fields", body: `{"channel":"sms","from":"+15005550000","to":"+79991234567","text":"Hello",
			"media_urls":["https://example.com/a.png"],"metadata":{"k":1},"status_callback_url":"https://example.com/cb"}`,
			want: sendRequest{Channel: "sms", From: "+15005550000", To: json.RawMessage(`"+79991234567"`), Text: "Hello",
				MediaURLs: []string{"https://example.com/a.png"}, Metadata: []byte(`{"k":1}`), StatusCallbackURL: "https://example.com/cb"}},
		{name: "surrounding whitespace", body: "\n  {\"text\":\"hi\"}  \n", want: sendRequest{Text: "hi"}},
		{name: "empty object", body: `{}`},
		{name: "null optional fields", body: `{"text":"hi","media_urls":null,"status_callback_url":null}`, want: sendRequest{Text: "hi"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got sendRequest
			if err := decodeJSON([]byte(tt.body), &got); err != nil {
				t.Fatalf("decode %s: %v", tt.body, err)
			}
			if got.Channel != tt.want.Channel || got.From != tt.want.From || string(got.To) != string(tt.want.To) || got.Text != tt.want.Text ||
				strings.Join(got.MediaURLs, ",") != strings.Join(tt.want.MediaURLs, ",") ||
				string(got.Metadata) != string(tt.want.Metadata) || got.StatusCallbackURL != tt.want.StatusCallbackURL {
				t.Errorf("decoded %+v, want %+v", got, tt.want)
			}
		})
	}
}

// errReader fails every read.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestDecodeReadBody(t *testing.T) {
	tooLarge := wantErr{code: ecTooLarge, status: http.StatusRequestEntityTooLarge, msg: "body exceeds"}
	mediaType := wantErr{code: ecMediaType, status: http.StatusUnsupportedMediaType, msg: "Content-Type must be application/json"}
	tests := []struct {
		name  string
		ctype string
		body  io.Reader
		want  *wantErr // nil: accepted
	}{
		{name: "json", ctype: "application/json", body: strings.NewReader(`{}`)},
		{name: "json with charset", ctype: "application/json; charset=utf-8", body: strings.NewReader(`{}`)},
		{name: "upper case media type", ctype: "Application/JSON", body: strings.NewReader(`{}`)},
		{name: "json suffix", ctype: "application/merge-patch+json", body: strings.NewReader(`{}`)},
		{name: "no content type", ctype: "", body: strings.NewReader(`{}`)},
		{name: "exactly the limit", ctype: "application/json", body: strings.NewReader(strings.Repeat(" ", maxBody))},
		{name: "one byte over the limit", ctype: "application/json", body: strings.NewReader(strings.Repeat(" ", maxBody+1)), want: &tooLarge},
		{name: "far over the limit", ctype: "application/json", body: io.LimitReader(zeros{}, 10<<20), want: &tooLarge},
		{name: "text/plain", ctype: "text/plain", body: strings.NewReader(`{}`), want: &mediaType},
		{name: "form", ctype: "application/x-www-form-urlencoded", body: strings.NewReader(`a=b`), want: &mediaType},
		{name: "multipart", ctype: "multipart/form-data; boundary=x", body: strings.NewReader(`{}`), want: &mediaType},
		{name: "json lookalike", ctype: "application/jsonp", body: strings.NewReader(`{}`), want: &mediaType},
		{name: "unparsable content type", ctype: "application/json; charset", body: strings.NewReader(`{}`), want: &mediaType},
		{name: "read error", ctype: "application/json", body: errReader{},
			want: &wantErr{code: ecMalformed, status: http.StatusBadRequest, msg: "could not read body"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/messages", tt.body)
			if tt.ctype != "" {
				r.Header.Set("Content-Type", tt.ctype)
			}
			body, err := readBody(r)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("readBody: %v", err)
				}
				return
			}
			checkErr(t, err, *tt.want)
			if body != nil {
				t.Errorf("got %d bytes of body along with the error", len(body))
			}
		})
	}
}

// zeros is an endless stream of '0' bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '0'
	}
	return len(p), nil
}
