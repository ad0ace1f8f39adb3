package sdk

import (
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestErrorDecoding(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		header      map[string]string
		body        string
		want        Error
		wantCode    string
		wantString  string
	}{
		{
			name:        "validation problem with field errors",
			status:      422,
			contentType: "application/problem+json",
			body: `{"type":"https://switchboard.dev/problems/validation","title":"Validation failed","status":422,
				"detail":"to: not a valid phone number","errors":[{"field":"to","message":"not a valid phone number"}],
				"request_id":"req_body"}`,
			header: map[string]string{"X-Request-Id": "req_header"},
			want: Error{
				Type: "https://switchboard.dev/problems/validation", Title: "Validation failed", Status: 422,
				Detail: "to: not a valid phone number", Errors: []FieldError{{Field: "to", Message: "not a valid phone number"}},
				RequestID: "req_body", HTTPStatusCode: 422,
			},
			wantCode:   ProblemValidation,
			wantString: "switchboard: 422 Validation failed: to: not a valid phone number (request_id req_body)",
		},
		{
			name:        "request id from the header when the body has none",
			status:      404,
			contentType: "application/problem+json",
			body:        `{"type":"https://switchboard.dev/problems/not-found","title":"Not found","status":404}`,
			header:      map[string]string{"X-Request-Id": "req_header"},
			want: Error{
				Type: "https://switchboard.dev/problems/not-found", Title: "Not found", Status: 404,
				RequestID: "req_header", HTTPStatusCode: 404,
			},
			wantCode:   ProblemNotFound,
			wantString: "switchboard: 404 Not found (request_id req_header)",
		},
		{
			name:        "field errors without detail",
			status:      400,
			contentType: "application/problem+json",
			body: `{"type":"https://switchboard.dev/problems/malformed-json","title":"Malformed JSON","status":400,
				"errors":[{"field":"colour","message":"unknown field"},{"field":"to","message":"must be a string"}]}`,
			want: Error{
				Type: "https://switchboard.dev/problems/malformed-json", Title: "Malformed JSON", Status: 400,
				Errors: []FieldError{{"colour", "unknown field"}, {"to", "must be a string"}}, HTTPStatusCode: 400,
			},
			wantCode:   ProblemMalformedJSON,
			wantString: "switchboard: 400 Malformed JSON: colour: unknown field; to: must be a string",
		},
		{
			name:        "HTML from a proxy",
			status:      502,
			contentType: "text/html",
			body:        "<html>\n  <body>Bad Gateway</body>\n</html>\n",
			header:      map[string]string{"X-Request-Id": "req_proxy"},
			want: Error{
				Title: "Bad Gateway", Status: 502, Detail: "<html> <body>Bad Gateway</body> </html>",
				RequestID: "req_proxy", HTTPStatusCode: 502,
			},
			wantString: "switchboard: 502 Bad Gateway: <html> <body>Bad Gateway</body> </html> (request_id req_proxy)",
		},
		{
			name:       "empty body",
			status:     401,
			want:       Error{Title: "Unauthorized", Status: 401, HTTPStatusCode: 401},
			wantString: "switchboard: 401 Unauthorized",
		},
		{
			name:        "JSON that is not an object",
			status:      500,
			contentType: "application/json",
			body:        `"oops"`,
			want:        Error{Title: "Internal Server Error", Status: 500, Detail: `"oops"`, HTTPStatusCode: 500},
			wantString:  `switchboard: 500 Internal Server Error: "oops"`,
		},
		{
			name:        "long plain text is cut",
			status:      418,
			contentType: "text/plain",
			body:        strings.Repeat("é", 300),
			want:        Error{Title: "I'm a teapot", Status: 418, Detail: strings.Repeat("é", 100) + "…", HTTPStatusCode: 418},
			wantString:  "switchboard: 418 I'm a teapot: " + strings.Repeat("é", 100) + "…",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newFake(t, func(_ int, _ recorded, w http.ResponseWriter) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				if tt.contentType != "" {
					w.Header().Set("Content-Type", tt.contentType)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}, WithMaxRetries(0))

			_, err := c.Messages.Get(context.Background(), "m1")
			var got *Error
			if !errors.As(err, &got) {
				t.Fatalf("err = %T %v, want *Error", err, err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("error = %#v\nwant    %#v", *got, tt.want)
			}
			if got.Code() != tt.wantCode {
				t.Errorf("Code() = %q, want %q", got.Code(), tt.wantCode)
			}
			if got.Error() != tt.wantString {
				t.Errorf("Error() = %q\nwant      %q", got.Error(), tt.wantString)
			}
		})
	}
}

func TestEmptyIDIsRejectedLocally(t *testing.T) {
	c, f := newFake(t, func(_ int, _ recorded, w http.ResponseWriter) { reply(w, 200, "{}") })
	ctx := context.Background()
	calls := map[string]func() error{
		"Messages.Get":            func() error { _, err := c.Messages.Get(ctx, ""); return err },
		"Messages.Events":         func() error { _, err := c.Messages.Events(ctx, ""); return err },
		"WebhookEndpoints.Get":    func() error { _, err := c.WebhookEndpoints.Get(ctx, ""); return err },
		"WebhookEndpoints.Update": func() error { _, err := c.WebhookEndpoints.Update(ctx, "", nil); return err },
		"WebhookEndpoints.Delete": func() error { return c.WebhookEndpoints.Delete(ctx, "") },
		"WebhookEndpoints.Rotate": func() error { _, err := c.WebhookEndpoints.RotateSecret(ctx, ""); return err },
		"Sandbox.DeleteRule":      func() error { return c.Sandbox.DeleteRule(ctx, "") },
		"Sandbox.Submissions":     func() error { _, err := c.Sandbox.Submissions(ctx, ""); return err },
		"Messages.Send nil":       func() error { _, err := c.Messages.Send(ctx, nil); return err },
		"WebhookEndpoints.Create": func() error { _, err := c.WebhookEndpoints.Create(ctx, nil); return err },
		"Sandbox.SetRule nil":     func() error { _, err := c.Sandbox.SetRule(ctx, nil); return err },
		"Sandbox.Inbound nil":     func() error { _, err := c.Sandbox.Inbound(ctx, nil); return err },
		"WebhookEndpoints.Attempts": func() error {
			for _, err := range c.WebhookEndpoints.Attempts(ctx, "", nil) {
				return err
			}
			return nil
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			if err := call(); err == nil {
				t.Error("err = nil, want an error")
			}
		})
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}
