package testenv

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

const cannedMessage = `{
  "id": "0193f6a2-8c1e-7b3a-9d1e-4f2a6b7c8d9e",
  "account_id": "0193f6a2-0000-7000-8000-000000000001",
  "channel": "sms",
  "direction": "outbound",
  "from": "+15005550000",
  "to": "+79991234567",
  "text": "Hello",
  "media_urls": [],
  "metadata": {},
  "status": "accepted",
  "status_callback_url": null,
  "encoding": "GSM-7",
  "segments": 1,
  "provider": "sandbox",
  "provider_message_id": null,
  "error_code": null,
  "error_message": null,
  "attempts": 0,
  "sequence": 1,
  "created_at": "2026-11-23T06:00:00.123456789Z",
  "updated_at": "2026-11-23T06:00:00.123456789Z",
  "customer_id": "0193f6a2-5c00-7000-8000-000000000c01",
  "conversation_id": "0193f6a2-5d00-7000-8000-000000000d01",
  "category": null,
  "routing": null,
  "parent_id": null,
  "deferred_until": null
}`

const validProblem = `{"type":"https://switchboard.dev/problems/malformed-json","title":"Malformed request body",` +
	`"status":400,"detail":"colour: unknown field","errors":[{"field":"colour","message":"unknown field"}],"request_id":"req_1"}`

// recorder is a testing.TB that records Errorf calls instead of failing.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// canned answers every request with status, content type and body, and
// records the request body it got.
type canned struct {
	status int
	ctype  string
	body   string
	got    string
}

func (c *canned) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c.got = string(b)
	if c.ctype != "" {
		w.Header().Set("Content-Type", c.ctype)
	}
	w.WriteHeader(c.status)
	io.WriteString(w, c.body)
}

func TestValidatingTransport(t *testing.T) {
	const sendBody = `{"channel":"sms","from":"+15005550000","to":"+79991234567","text":"Hello"}`
	tests := []struct {
		name      string
		method    string
		path      string
		reqBody   string
		reqType   string
		status    int
		respType  string
		respBody  string
		wantError string // "" for no report
	}{
		{name: "valid get", method: "GET", path: "/v1/messages/0193f6a2-8c1e-7b3a-9d1e-4f2a6b7c8d9e",
			status: 200, respType: "application/json", respBody: cannedMessage},
		{name: "valid send", method: "POST", path: "/v1/messages", reqBody: sendBody, reqType: "application/json",
			status: 202, respType: "application/json; charset=utf-8", respBody: cannedMessage},
		{name: "valid media-only send", method: "POST", path: "/v1/messages", reqType: "application/json",
			reqBody: `{"channel":"whatsapp","from":"+15005550000","to":"+79991234567","media_urls":["https://example.com/a.png"]}`,
			status:  202, respType: "application/json", respBody: cannedMessage},
		{name: "send without text or media accepted", method: "POST", path: "/v1/messages", reqType: "application/json",
			reqBody: `{"channel":"whatsapp","from":"+15005550000","to":"+79991234567","media_urls":[]}`,
			status:  202, respType: "application/json", respBody: cannedMessage, wantError: "the server accepted a request the spec disallows"},
		{name: "valid list", method: "GET", path: "/v1/messages?limit=5&channel=sms",
			status: 200, respType: "application/json", respBody: `{"data":[` + cannedMessage + `],"has_more":true,"next_cursor":"abc"}`},
		{name: "valid delete", method: "DELETE", path: "/v1/webhook-endpoints/0193f6a2-9a00-7c00-8000-0000000000aa",
			status: 204},
		{name: "response missing a required field", method: "GET", path: "/v1/messages/0193f6a2-8c1e-7b3a-9d1e-4f2a6b7c8d9e",
			status: 200, respType: "application/json", respBody: strings.Replace(cannedMessage, `"sequence": 1,`, "", 1),
			wantError: `property "sequence" is missing`},
		{name: "response field of the wrong type", method: "GET", path: "/v1/messages/0193f6a2-8c1e-7b3a-9d1e-4f2a6b7c8d9e",
			status: 200, respType: "application/json", respBody: strings.Replace(cannedMessage, `"attempts": 0`, `"attempts": "0"`, 1),
			wantError: "attempts"},
		{name: "response id not a uuid", method: "GET", path: "/v1/messages/0193f6a2-8c1e-7b3a-9d1e-4f2a6b7c8d9e",
			status: 200, respType: "application/json", respBody: strings.Replace(cannedMessage, `"id": "0193f6a2-8c1e-7b3a-9d1e-4f2a6b7c8d9e"`, `"id": "msg_1"`, 1),
			wantError: "uuid"},
		{name: "undocumented status", method: "GET", path: "/v1/messages/0193f6a2-8c1e-7b3a-9d1e-4f2a6b7c8d9e",
			status: 418, respType: "application/problem+json", respBody: validProblem, wantError: "status is not supported"},
		{name: "problem with wrong content type", method: "POST", path: "/v1/messages", reqBody: `{"colour":"red"}`, reqType: "application/json",
			status: 400, respType: "text/plain", respBody: validProblem, wantError: "text/plain"},
		{name: "invalid request answered 4xx is expected", method: "POST", path: "/v1/messages", reqBody: `{"colour":"red"}`, reqType: "application/json",
			status: 400, respType: "application/problem+json", respBody: validProblem},
		{name: "wrong content type answered 415 is expected", method: "POST", path: "/v1/messages", reqBody: sendBody, reqType: "text/plain",
			status: 415, respType: "application/problem+json", respBody: strings.Replace(validProblem, "400", "415", 1)},
		{name: "invalid request accepted", method: "POST", path: "/v1/messages", reqBody: `{"colour":"red"}`, reqType: "application/json",
			status: 202, respType: "application/json", respBody: cannedMessage, wantError: "the server accepted a request the spec disallows"},
		{name: "invalid query accepted", method: "GET", path: "/v1/messages?limit=500",
			status: 200, respType: "application/json", respBody: `{"data":[],"has_more":false,"next_cursor":null}`, wantError: "limit"},
		{name: "path not in the spec", method: "GET", path: "/openapi.yaml", status: 200, respType: "application/yaml", respBody: "openapi: 3.0.3"},
		{name: "method not in the spec", method: "PUT", path: "/v1/messages", status: 405, respType: "text/plain", respBody: "no"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &canned{status: tt.status, ctype: tt.respType, body: tt.respBody}
			srv := httptest.NewServer(h)
			defer srv.Close()
			rec := &recorder{TB: t}
			client := &http.Client{Transport: ValidatingTransport(rec, nil)}

			var body io.Reader
			if tt.reqBody != "" {
				body = strings.NewReader(tt.reqBody)
			}
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, body)
			if err != nil {
				t.Fatal(err)
			}
			if tt.reqType != "" {
				req.Header.Set("Content-Type", tt.reqType)
			}
			req.Header.Set("Authorization", "Bearer sk_test")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()

			// The exchange itself is untouched.
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if string(got) != tt.respBody {
				t.Errorf("client got body %q, want %q", got, tt.respBody)
			}
			if h.got != tt.reqBody {
				t.Errorf("server got body %q, want %q", h.got, tt.reqBody)
			}

			for _, e := range rec.errs {
				t.Log("reported: " + e)
			}
			switch {
			case tt.wantError == "" && len(rec.errs) > 0:
				t.Errorf("unexpected report: %s", strings.Join(rec.errs, "\n"))
			case tt.wantError != "" && len(rec.errs) == 0:
				t.Errorf("no report; want one mentioning %q", tt.wantError)
			case tt.wantError != "":
				all := strings.Join(rec.errs, "\n")
				if !strings.Contains(all, tt.wantError) {
					t.Errorf("report does not mention %q:\n%s", tt.wantError, all)
				}
				if !strings.Contains(all, tt.method+" ") || !strings.Contains(all, fmt.Sprint(tt.status)) {
					t.Errorf("report does not name the method and status:\n%s", all)
				}
			}
		})
	}
}
