package sdk

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestSendBodyAndDecode(t *testing.T) {
	tests := []struct {
		name     string
		params   *SendMessageParams
		wantBody string
	}{
		{
			name:     "required fields only",
			params:   &SendMessageParams{Channel: ChannelSMS, From: "+15005550000", To: "+79991234567", Text: "Hello"},
			wantBody: `{"channel":"sms","from":"+15005550000","to":"+79991234567","text":"Hello"}`,
		},
		{
			name: "every field",
			params: &SendMessageParams{
				Channel: ChannelWhatsApp, From: "+15005550000", To: "+79991234567", Text: "Hi",
				MediaURLs:         []string{"https://example.com/a.png"},
				Metadata:          map[string]any{"order": 42, "vip": true},
				StatusCallbackURL: "https://example.com/cb",
				IdempotencyKey:    "caller-key",
			},
			wantBody: `{"channel":"whatsapp","from":"+15005550000","to":"+79991234567","text":"Hi",
				"media_urls":["https://example.com/a.png"],"metadata":{"order":42,"vip":true},
				"status_callback_url":"https://example.com/cb"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := newFake(t, func(_ int, r recorded, w http.ResponseWriter) {
				if r.Method != "POST" || r.Path != "/v1/messages" {
					t.Errorf("request = %s %s, want POST /v1/messages", r.Method, r.Path)
				}
				reply(w, http.StatusAccepted, messageJSON)
			})
			m, err := c.Messages.Send(context.Background(), tt.params)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want 1", len(reqs))
			}
			assertJSON(t, reqs[0].Body, tt.wantBody)
			key := reqs[0].Header.Get("Idempotency-Key")
			if tt.params.IdempotencyKey != "" && key != tt.params.IdempotencyKey {
				t.Errorf("Idempotency-Key = %q, want the caller's %q", key, tt.params.IdempotencyKey)
			}
			if key == "" {
				t.Error("Idempotency-Key missing")
			}

			if m.ID != "0193f6a2-8c1e-7b3a-9d1e-4f2a6b7c8d9e" || m.Channel != ChannelSMS || m.Status != StatusAccepted {
				t.Errorf("message = %+v", m)
			}
			if m.Encoding == nil || *m.Encoding != "GSM-7" || m.Segments == nil || *m.Segments != 1 {
				t.Errorf("encoding, segments = %v, %v; want GSM-7, 1", m.Encoding, m.Segments)
			}
			if m.StatusCallbackURL != nil || m.ProviderMessageID != nil || m.ErrorCode != nil {
				t.Errorf("null fields decoded as non-nil: %+v", m)
			}
			want := time.Date(2026, 11, 23, 6, 0, 0, 123456789, time.UTC)
			if !m.CreatedAt.Equal(want) {
				t.Errorf("CreatedAt = %v, want %v", m.CreatedAt, want)
			}
			if m.Metadata["order"] != float64(42) || m.MediaURLs == nil {
				t.Errorf("metadata, media_urls = %v, %v", m.Metadata, m.MediaURLs)
			}
		})
	}
}

func TestSendGeneratesDistinctKeys(t *testing.T) {
	c, f := newFake(t, func(_ int, _ recorded, w http.ResponseWriter) { reply(w, http.StatusAccepted, messageJSON) })
	p := &SendMessageParams{Channel: ChannelSMS, From: "+15005550000", To: "+79991234567", Text: "x"}
	for range 2 {
		if _, err := c.Messages.Send(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	reqs := f.requests()
	if a, b := reqs[0].Header.Get("Idempotency-Key"), reqs[1].Header.Get("Idempotency-Key"); a == b {
		t.Errorf("two sends shared key %q; each send needs its own", a)
	}
	if p.IdempotencyKey != "" {
		t.Error("Send wrote the generated key into the caller's params")
	}
}

// TestRetries scripts transient failures and checks what is retried, how
// often, after how long, and that a send keeps its Idempotency-Key.
func TestRetries(t *testing.T) {
	send := func(c *Client) error {
		_, err := c.Messages.Send(context.Background(), &SendMessageParams{
			Channel: ChannelSMS, From: "+15005550000", To: "+79991234567", Text: "Hello",
		})
		return err
	}
	createEndpoint := func(c *Client) error {
		_, err := c.WebhookEndpoints.Create(context.Background(), &CreateWebhookEndpointParams{
			URL: "https://example.com/hook", Events: []EventType{EventAll},
		})
		return err
	}
	get := func(c *Client) error {
		_, err := c.Messages.Get(context.Background(), "m1")
		return err
	}
	// closeConn drops the connection without an answer: a network error.
	closeConn := func(w http.ResponseWriter) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		conn.Close()
	}
	unavailable := func(w http.ResponseWriter) { problem(w, http.StatusServiceUnavailable, "unavailable", "Unavailable") }
	ok := func(status int) func(http.ResponseWriter) {
		return func(w http.ResponseWriter) { reply(w, status, messageJSON) }
	}

	tests := []struct {
		name       string
		opts       []Option
		call       func(*Client) error
		script     []func(http.ResponseWriter) // one per attempt
		wantStatus int                         // 0: success
		wantNetErr bool
		wantSleeps []time.Duration // nil: don't check lengths exactly
		wantTries  int
	}{
		{
			name:      "send 503 then 201 reuses the generated key",
			call:      send,
			script:    []func(http.ResponseWriter){unavailable, ok(http.StatusCreated)},
			wantTries: 2,
		},
		{
			name: "send 429 honours Retry-After seconds",
			call: send,
			script: []func(http.ResponseWriter){
				func(w http.ResponseWriter) {
					w.Header().Set("Retry-After", "2")
					problem(w, http.StatusTooManyRequests, "rate-limited", "Too Many Requests")
				},
				ok(http.StatusAccepted),
			},
			wantSleeps: []time.Duration{2 * time.Second},
			wantTries:  2,
		},
		{
			name:      "send retries a network error",
			call:      send,
			script:    []func(http.ResponseWriter){closeConn, ok(http.StatusAccepted)},
			wantTries: 2,
		},
		{
			name:       "send gives up after the default 2 retries",
			call:       send,
			script:     []func(http.ResponseWriter){unavailable, unavailable, unavailable, ok(http.StatusAccepted)},
			wantStatus: http.StatusServiceUnavailable,
			wantTries:  3,
		},
		{
			name:       "WithMaxRetries(0) disables retries",
			opts:       []Option{WithMaxRetries(0)},
			call:       send,
			script:     []func(http.ResponseWriter){unavailable, ok(http.StatusAccepted)},
			wantStatus: http.StatusServiceUnavailable,
			wantTries:  1,
		},
		{
			name:      "WithMaxRetries(4) allows 4 retries",
			opts:      []Option{WithMaxRetries(4)},
			call:      send,
			script:    []func(http.ResponseWriter){unavailable, unavailable, unavailable, unavailable, ok(http.StatusAccepted)},
			wantTries: 5,
		},
		{
			name: "422 is not retried",
			call: send,
			script: []func(http.ResponseWriter){
				func(w http.ResponseWriter) {
					problem(w, http.StatusUnprocessableEntity, "validation", "Validation failed")
				},
				ok(http.StatusAccepted),
			},
			wantStatus: http.StatusUnprocessableEntity,
			wantSleeps: []time.Duration{},
			wantTries:  1,
		},
		{
			name: "Retry-After beyond a minute ends the call",
			call: send,
			script: []func(http.ResponseWriter){
				func(w http.ResponseWriter) {
					w.Header().Set("Retry-After", "3600")
					problem(w, http.StatusTooManyRequests, "rate-limited", "Too Many Requests")
				},
				ok(http.StatusAccepted),
			},
			wantStatus: http.StatusTooManyRequests,
			wantSleeps: []time.Duration{},
			wantTries:  1,
		},
		{
			name:      "GET retries a 500",
			call:      get,
			script:    []func(http.ResponseWriter){func(w http.ResponseWriter) { problem(w, 500, "internal", "Internal") }, ok(200)},
			wantTries: 2,
		},
		{
			name:       "create endpoint is not retried after a 503",
			call:       createEndpoint,
			script:     []func(http.ResponseWriter){unavailable, ok(http.StatusCreated)},
			wantStatus: http.StatusServiceUnavailable,
			wantTries:  1,
		},
		{
			name: "create endpoint is retried after a 429",
			call: createEndpoint,
			script: []func(http.ResponseWriter){
				func(w http.ResponseWriter) {
					problem(w, http.StatusTooManyRequests, "rate-limited", "Too Many Requests")
				},
				ok(http.StatusCreated),
			},
			wantTries: 2,
		},
		{
			name:       "create endpoint is not retried after a network error",
			call:       createEndpoint,
			script:     []func(http.ResponseWriter){closeConn, ok(http.StatusCreated)},
			wantNetErr: true,
			wantTries:  1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := newFake(t, func(n int, _ recorded, w http.ResponseWriter) {
				if n >= len(tt.script) {
					t.Errorf("unexpected attempt %d", n+1)
					reply(w, http.StatusTeapot, "")
					return
				}
				tt.script[n](w)
			}, tt.opts...)
			err := tt.call(c)

			reqs := f.requests()
			if len(reqs) != tt.wantTries {
				t.Errorf("attempts = %d, want %d", len(reqs), tt.wantTries)
			}
			var apiErr *Error
			switch {
			case tt.wantNetErr:
				if err == nil || errors.As(err, &apiErr) {
					t.Errorf("err = %v, want a network error", err)
				}
			case tt.wantStatus == 0:
				if err != nil {
					t.Errorf("err = %v, want success", err)
				}
			default:
				if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != tt.wantStatus {
					t.Errorf("err = %v, want *Error with status %d", err, tt.wantStatus)
				}
			}

			// Every attempt of one call carries the same key.
			first := reqs[0].Header.Get("Idempotency-Key")
			for i, r := range reqs {
				if got := r.Header.Get("Idempotency-Key"); got != first {
					t.Errorf("attempt %d Idempotency-Key = %q, want %q as on attempt 1", i+1, got, first)
				}
				if string(r.Body) != string(reqs[0].Body) {
					t.Errorf("attempt %d body = %s, want %s", i+1, r.Body, reqs[0].Body)
				}
			}
			if reqs[0].Method == "POST" && reqs[0].Path == "/v1/messages" && first == "" {
				t.Error("send carried no Idempotency-Key")
			}

			sleeps := f.slept()
			if tt.wantSleeps != nil {
				if len(sleeps) != len(tt.wantSleeps) {
					t.Fatalf("sleeps = %v, want %v", sleeps, tt.wantSleeps)
				}
				for i := range sleeps {
					if sleeps[i] != tt.wantSleeps[i] {
						t.Errorf("sleep %d = %v, want %v", i, sleeps[i], tt.wantSleeps[i])
					}
				}
			} else if len(sleeps) != max(len(reqs)-1, 0) {
				t.Errorf("slept %d times for %d attempts", len(sleeps), len(reqs))
			}
			for _, d := range sleeps {
				if d <= 0 || d > maxRetryAfter {
					t.Errorf("sleep %v out of range", d)
				}
			}
		})
	}
}

func TestRetryStopsWhenContextEnds(t *testing.T) {
	c, f := newFake(t, func(_ int, _ recorded, w http.ResponseWriter) {
		problem(w, http.StatusServiceUnavailable, "unavailable", "Unavailable")
	})
	ctx, cancel := context.WithCancel(context.Background())
	c.sleep = func(context.Context, time.Duration) error { cancel(); return ctx.Err() }

	_, err := c.Messages.Get(ctx, "m1")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != http.StatusServiceUnavailable {
		t.Errorf("err = %v, want it to carry the last *Error", err)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("attempts = %d, want 1", n)
	}
}

func TestBackoff(t *testing.T) {
	for attempt := range 12 {
		d := backoff(attempt)
		ceiling := min(initialBackoff<<min(attempt, 10), maxBackoff)
		if d < ceiling/2 || d > ceiling {
			t.Errorf("backoff(%d) = %v, want within [%v, %v]", attempt, d, ceiling/2, ceiling)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		value  string
		want   time.Duration
		wantOK bool
	}{
		{"seconds", "3", 3 * time.Second, true},
		{"zero", "0", 0, true},
		{"http date", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"past date", now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"empty", "", 0, false},
		{"negative", "-1", 0, false},
		{"garbage", "soon", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseRetryAfter(tt.value, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.value, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	c := New("k")
	if c.baseURL != DefaultBaseURL || c.maxRetries != 2 || c.httpClient == nil || c.httpClient.Timeout == 0 {
		t.Errorf("defaults = %q, %d, %v", c.baseURL, c.maxRetries, c.httpClient)
	}
	hc := &http.Client{}
	c = New("k", WithBaseURL("https://sb.example.com/"), WithHTTPClient(hc), WithMaxRetries(-3))
	if c.baseURL != "https://sb.example.com" || c.httpClient != hc || c.maxRetries != 0 {
		t.Errorf("options = %q, %v, %d", c.baseURL, c.httpClient, c.maxRetries)
	}
}
