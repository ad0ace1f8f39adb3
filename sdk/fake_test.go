package sdk

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"sync"
	"testing"
	"time"
)

const testAPIKey = "sk_test_123"

// recorded is one request as the fake server saw it.
type recorded struct {
	Method string
	Path   string // escaped
	Query  url.Values
	Header http.Header
	Body   []byte
}

// fake is an httptest server standing in for Switchboard. It checks the
// headers every request must carry, records each request, and answers
// with respond(n, req, w), n counting from 0.
type fake struct {
	t       *testing.T
	mu      sync.Mutex
	reqs    []recorded
	sleeps  []time.Duration
	respond func(n int, r recorded, w http.ResponseWriter)
}

func newFake(t *testing.T, respond func(n int, r recorded, w http.ResponseWriter), opts ...Option) (*Client, *fake) {
	t.Helper()
	f := &fake{t: t, respond: respond}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	c := New(testAPIKey, append([]Option{WithBaseURL(srv.URL + "/"), WithHTTPClient(srv.Client())}, opts...)...)
	c.sleep = func(ctx context.Context, d time.Duration) error {
		f.mu.Lock()
		f.sleeps = append(f.sleeps, d)
		f.mu.Unlock()
		return ctx.Err()
	}
	return c, f
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.t.Errorf("read request body: %v", err)
	}
	if got, want := r.Header.Get("Authorization"), "Bearer "+testAPIKey; got != want {
		f.t.Errorf("%s %s: Authorization = %q, want %q", r.Method, r.URL, got, want)
	}
	if got, want := r.Header.Get("User-Agent"), "switchboard-go/"+Version; got != want {
		f.t.Errorf("%s %s: User-Agent = %q, want %q", r.Method, r.URL, got, want)
	}
	if len(body) > 0 {
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			f.t.Errorf("%s %s: Content-Type = %q, want application/json", r.Method, r.URL, ct)
		}
		if !json.Valid(body) {
			f.t.Errorf("%s %s: body is not JSON: %s", r.Method, r.URL, body)
		}
	}
	rec := recorded{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(), Header: r.Header.Clone(), Body: body}
	f.mu.Lock()
	n := len(f.reqs)
	f.reqs = append(f.reqs, rec)
	f.mu.Unlock()
	f.respond(n, rec, w)
}

func (f *fake) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

func (f *fake) slept() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.sleeps...)
}

// reply writes a JSON response.
func reply(w http.ResponseWriter, status int, body string) {
	if body != "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// problem writes an application/problem+json response.
func problem(w http.ResponseWriter, status int, typ, title string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type": "https://switchboard.dev/problems/" + typ, "title": title, "status": status,
	})
}

// assertJSON fails unless got and want are the same JSON value, which also
// catches fields sent that the server would reject as unknown.
func assertJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("body %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %q is not JSON: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("body = %s\nwant   %s", got, want)
	}
}

// messageJSON is a full message as the API returns it.
const messageJSON = `{
  "id": "0193f6a2-8c1e-7b3a-9d1e-4f2a6b7c8d9e",
  "account_id": "0193f6a2-0000-7000-8000-000000000001",
  "channel": "sms",
  "direction": "outbound",
  "from": "+15005550000",
  "to": "+79991234567",
  "text": "Hello",
  "media_urls": [],
  "metadata": {"order": 42},
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
  "updated_at": "2026-11-23T06:00:00.123456789Z"
}`

// messageWithID is a minimal message JSON with the given id.
func messageWithID(id string) string {
	return `{"id":"` + id + `","channel":"sms","direction":"outbound","status":"sent","media_urls":[],"metadata":{},` +
		`"created_at":"2026-11-23T06:00:00Z","updated_at":"2026-11-23T06:00:00Z"}`
}
