package webhook

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDeliverSendsVerifiableRequest(t *testing.T) {
	oldSecret, _ := NewSecret()
	newSecret, _ := NewSecret()
	ts := time.Now().Truncate(time.Second)
	body := []byte(`{"type":"message.delivered","timestamp":"2026-01-02T03:04:05Z","data":{"id":"msg_1","sequence":7}}`)

	var (
		mu      sync.Mutex
		gotReq  *http.Request
		gotBody []byte
	)
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		gotReq, gotBody = r, b
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})

	a := Deliver(context.Background(), NewHTTPClient(Guard{AllowPrivate: true}, 5*time.Second),
		srv.URL+"/hooks", "evt_123", ts, []string{oldSecret, newSecret}, body)
	if a.Err != nil {
		t.Fatal(a.Err)
	}
	if a.StatusCode != http.StatusNoContent || a.Outcome() != Delivered {
		t.Errorf("attempt %+v, outcome %v; want 204 delivered", a, a.Outcome())
	}
	if a.Duration <= 0 {
		t.Errorf("duration %v, want > 0", a.Duration)
	}

	mu.Lock()
	defer mu.Unlock()
	if gotReq.Method != http.MethodPost || gotReq.URL.Path != "/hooks" {
		t.Errorf("request %s %s, want POST /hooks", gotReq.Method, gotReq.URL.Path)
	}
	if string(gotBody) != string(body) {
		t.Errorf("body %q, want %q", gotBody, body)
	}
	wantHeaders := map[string]string{
		"webhook-id":        "evt_123",
		"webhook-timestamp": strconv.FormatInt(ts.Unix(), 10),
		"content-type":      "application/json",
		"user-agent":        "Switchboard-Webhooks/1",
	}
	for k, want := range wantHeaders {
		if got := gotReq.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if n := len(strings.Fields(gotReq.Header.Get("webhook-signature"))); n != 2 {
		t.Errorf("webhook-signature has %d entries, want 2", n)
	}
	for _, tt := range []struct {
		name   string
		secret string
	}{{"old secret", oldSecret}, {"new secret", newSecret}} {
		t.Run("receiver verifies with "+tt.name, func(t *testing.T) {
			if err := Verify(tt.secret, gotReq.Header, gotBody, DefaultTolerance, time.Now()); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestDeliverOutcomes(t *testing.T) {
	secret, _ := NewSecret()
	retryDate := time.Now().Add(2 * time.Hour).UTC().Format(http.TimeFormat)
	tests := []struct {
		name           string
		handler        http.HandlerFunc
		clientTimeout  time.Duration
		wantStatus     int
		wantOutcome    Outcome
		wantRetryAfter time.Duration // exact unless retryApprox
		retryApprox    bool
		wantErr        bool
	}{
		{
			name:        "200 delivered",
			handler:     func(w http.ResponseWriter, r *http.Request) {},
			wantStatus:  200,
			wantOutcome: Delivered,
		},
		{
			name: "large response body is cut off",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(strings.Repeat("x", 1<<20)))
			},
			wantStatus:  200,
			wantOutcome: Delivered,
		},
		{
			name:        "410 disables",
			handler:     func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) },
			wantStatus:  410,
			wantOutcome: Disable,
		},
		{
			name: "429 with Retry-After seconds",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "120")
				w.WriteHeader(http.StatusTooManyRequests)
			},
			wantStatus:     429,
			wantOutcome:    Retry,
			wantRetryAfter: 2 * time.Minute,
		},
		{
			name: "503 with Retry-After date",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", retryDate)
				w.WriteHeader(http.StatusServiceUnavailable)
			},
			wantStatus:     503,
			wantOutcome:    Retry,
			wantRetryAfter: 2 * time.Hour,
			retryApprox:    true,
		},
		{
			name:        "500 retries",
			handler:     func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) },
			wantStatus:  500,
			wantOutcome: Retry,
		},
		{
			name:        "400 retries",
			handler:     func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadRequest) },
			wantStatus:  400,
			wantOutcome: Retry,
		},
		{
			name: "redirect is a failure",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "https://example.com/", http.StatusFound)
			},
			wantStatus:  302,
			wantOutcome: Retry,
		},
		{
			name: "timeout retries",
			handler: func(w http.ResponseWriter, r *http.Request) {
				// Hold the response until the client gives up. The body is
				// read first so the server notices the client hanging up.
				io.Copy(io.Discard, r.Body)
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			},
			clientTimeout: 100 * time.Millisecond,
			wantOutcome:   Retry,
			wantErr:       true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := countingServer(t, tt.handler)
			timeout := tt.clientTimeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			a := Deliver(context.Background(), NewHTTPClient(Guard{AllowPrivate: true}, timeout),
				srv.URL, "evt_1", time.Now(), []string{secret}, []byte(`{}`))
			if (a.Err != nil) != tt.wantErr {
				t.Fatalf("Err = %v, wantErr %v", a.Err, tt.wantErr)
			}
			if a.StatusCode != tt.wantStatus {
				t.Errorf("StatusCode = %d, want %d", a.StatusCode, tt.wantStatus)
			}
			if got := a.Outcome(); got != tt.wantOutcome {
				t.Errorf("Outcome = %v, want %v", got, tt.wantOutcome)
			}
			if tt.retryApprox {
				if d := a.RetryAfter - tt.wantRetryAfter; d < -5*time.Second || d > time.Second {
					t.Errorf("RetryAfter = %v, want about %v", a.RetryAfter, tt.wantRetryAfter)
				}
			} else if a.RetryAfter != tt.wantRetryAfter {
				t.Errorf("RetryAfter = %v, want %v", a.RetryAfter, tt.wantRetryAfter)
			}
			if tt.wantErr {
				var ne net.Error
				if !errors.As(a.Err, &ne) || !ne.Timeout() {
					t.Errorf("Err = %v, want a timeout", a.Err)
				}
			}
		})
	}
}

func TestDeliverFailuresBeforeResponse(t *testing.T) {
	secret, _ := NewSecret()
	srv, hits := countingServer(t, nil)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		client  *http.Client
		url     string
		secrets []string
		wantIs  error
	}{
		{"blocked destination", context.Background(), NewHTTPClient(Guard{}, time.Second), srv.URL, []string{secret}, ErrBlockedDestination},
		{"nil client is guarded", context.Background(), nil, srv.URL, []string{secret}, ErrBlockedDestination},
		{"canceled context", canceled, NewHTTPClient(Guard{AllowPrivate: true}, time.Second), srv.URL, []string{secret}, context.Canceled},
		{"no secret", context.Background(), NewHTTPClient(Guard{AllowPrivate: true}, time.Second), srv.URL, nil, ErrEmptySecret},
		{"bad URL", context.Background(), NewHTTPClient(Guard{AllowPrivate: true}, time.Second), "http://[::1", []string{secret}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Deliver(tt.ctx, tt.client, tt.url, "evt_1", time.Now(), tt.secrets, []byte(`{}`))
			if a.Err == nil {
				t.Fatalf("attempt %+v, want an error", a)
			}
			if tt.wantIs != nil && !errors.Is(a.Err, tt.wantIs) {
				t.Errorf("Err = %v, want %v", a.Err, tt.wantIs)
			}
			if a.StatusCode != 0 || a.Outcome() != Retry {
				t.Errorf("StatusCode %d, Outcome %v; want 0, retry", a.StatusCode, a.Outcome())
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("server got %d requests, want 0", n)
	}
}

func TestOutcome(t *testing.T) {
	tests := []struct {
		name string
		a    Attempt
		want Outcome
	}{
		{"200", Attempt{StatusCode: 200}, Delivered},
		{"201", Attempt{StatusCode: 201}, Delivered},
		{"299", Attempt{StatusCode: 299}, Delivered},
		{"100", Attempt{StatusCode: 100}, Retry},
		{"301", Attempt{StatusCode: 301}, Retry},
		{"304", Attempt{StatusCode: 304}, Retry},
		{"404", Attempt{StatusCode: 404}, Retry},
		{"410", Attempt{StatusCode: 410}, Disable},
		{"429", Attempt{StatusCode: 429, RetryAfter: time.Minute}, Retry},
		{"500", Attempt{StatusCode: 500}, Retry},
		{"502", Attempt{StatusCode: 502}, Retry},
		{"network error", Attempt{Err: errors.New("connection reset")}, Retry},
		{"blocked", Attempt{Err: &BlockedError{Host: "127.0.0.1", Range: "loopback"}}, Retry},
		{"zero", Attempt{}, Retry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Outcome(); got != tt.want {
				t.Errorf("Outcome = %v, want %v", got, tt.want)
			}
		})
	}
	for o, want := range map[Outcome]string{Retry: "retry", Delivered: "delivered", Disable: "disable", 7: "Outcome(7)"} {
		if got := o.String(); got != want {
			t.Errorf("Outcome(%d).String() = %q, want %q", int(o), got, want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		v    string
		want time.Duration
	}{
		{"absent", "", 0},
		{"seconds", "120", 2 * time.Minute},
		{"zero", "0", 0},
		{"spaces", " 30 ", 30 * time.Second},
		{"negative", "-5", 0},
		{"fraction", "1.5", 0},
		{"garbage", "soon", 0},
		{"huge seconds capped", "99999999999999999", MaxDelay},
		{"overflowing seconds capped", "999999999999999999999999", MaxDelay},
		{"HTTP date", now.Add(90 * time.Minute).Format(http.TimeFormat), 90 * time.Minute},
		{"RFC 850 date", now.Add(time.Hour).Format(time.RFC850), time.Hour},
		{"past date", now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"far date capped", now.Add(30 * 24 * time.Hour).Format(http.TimeFormat), MaxDelay},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseRetryAfter(tt.v, now); got != tt.want {
				t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.v, got, tt.want)
			}
		})
	}
}
