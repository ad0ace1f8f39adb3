package exolvetest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/providers/exolve"
	"github.com/switchboardhq/switchboard/providers/exolve/exolvetest"
)

const key = "exolvetest-key-0123456789abcdef"

func start(t *testing.T) (*exolvetest.Server, *exolve.Client) {
	t.Helper()
	f := exolvetest.NewServer(key)
	t.Cleanup(f.Close)
	return f, exolve.New(exolve.Credentials{APIKey: key}, exolve.Options{BaseURL: f.URL})
}

// TestWithClient drives the fake with package exolve's own client: what
// the client sends is recorded, and every scripted answer is classified as
// the client classifies Exolve's.
func TestWithClient(t *testing.T) {
	ctx := context.Background()
	f, c := start(t)

	if _, err := exolve.New(exolve.Credentials{APIKey: "wrong"}, exolve.Options{BaseURL: f.URL}).Verify(ctx); sb.ErrorCode(err) != sb.EREFUSED {
		t.Fatalf("Verify with a wrong key = %v, want refused", err)
	}
	res, err := c.Send(ctx, &sb.Message{Channel: sb.ChannelSMS, From: "+79991112233", To: "+79992223344", Text: "Код: 1234"})
	if err != nil || res.ProviderMessageID == "" {
		t.Fatalf("Send = %+v, %v", res, err)
	}
	if _, err := c.Send(ctx, &sb.Message{Channel: sb.ChannelSMS, From: "MyShop", To: "+79992223344", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	acct, err := c.Verify(ctx)
	if err != nil || acct.Details["sms_count"] != "2" {
		t.Fatalf("Verify = %+v, %v; want sms_count 2", acct, err)
	}
	want := []exolvetest.SendSMS{
		{Number: "79991112233", Destination: "79992223344", Text: "Код: 1234", MessageID: res.ProviderMessageID},
		{Number: "MyShop", Destination: "79992223344", Text: "hi"},
	}
	got := f.Sends()
	want[1].MessageID = got[1].MessageID
	if !slices.Equal(got, want) || got[1].MessageID == "" || got[0].MessageID == got[1].MessageID {
		t.Fatalf("Sends = %+v, want %+v", got, want)
	}
	reqs := f.Requests()
	if len(reqs) != 4 || reqs[0].Authorized || reqs[0].Status != 401 || reqs[3].Path != "/messaging/v1/GetCount" ||
		reqs[1].Header.Get("Authorization") != "Bearer "+key || !maps.Equal(keys(reqs[1].Fields), keys(map[string]any{"number": 0, "destination": 0, "text": 0})) {
		t.Fatalf("Requests = %+v", reqs)
	}

	tests := []struct {
		name  string
		reply exolvetest.Reply
		want  sb.ProviderError
	}{
		{name: "500", reply: exolvetest.ServerError(), want: sb.ProviderError{Code: "internal error"}},
		{name: "429", reply: exolvetest.RateLimited(2 * time.Second), want: sb.ProviderError{Code: "too many requests", RetryAfter: 2 * time.Second}},
		{name: "refused", reply: exolvetest.Refused(exolvetest.TextAlphaNameNotActive), want: sb.ProviderError{Code: exolvetest.TextAlphaNameNotActive, Permanent: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.FailNext(exolvetest.SendSMSMethod, 1, tt.reply)
			_, err := c.Send(ctx, &sb.Message{Channel: sb.ChannelSMS, From: "MyShop", To: "+79992223344", Text: "hi"})
			var pe *sb.ProviderError
			if !errors.As(err, &pe) || pe.Code != tt.want.Code || pe.Permanent != tt.want.Permanent || pe.RetryAfter != tt.want.RetryAfter {
				t.Fatalf("Send = %v, want %+v", err, tt.want)
			}
		})
	}
	t.Run("hang", func(t *testing.T) {
		f.FailNext(exolvetest.SendSMSMethod, 1, exolvetest.Hang(5*time.Second))
		short := exolve.New(exolve.Credentials{APIKey: key}, exolve.Options{BaseURL: f.URL, HTTPClient: &http.Client{Timeout: 100 * time.Millisecond}})
		_, err := short.Send(ctx, &sb.Message{Channel: sb.ChannelSMS, From: "MyShop", To: "+79992223344", Text: "hi"})
		var pe *sb.ProviderError
		if !errors.As(err, &pe) || pe.Code != "timeout" || pe.Permanent {
			t.Fatalf("Send = %v, want a transient timeout", err)
		}
	})
	t.Run("no key, and a + in the destination", func(t *testing.T) {
		resp, err := http.Post(f.URL+"/messaging/v1/SendSMS", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("no key: %d, want 401", resp.StatusCode)
		}
		req, _ := http.NewRequest("POST", f.URL+"/messaging/v1/SendSMS", strings.NewReader(`{"number": "MyShop", "destination": "+79992223344", "text": "hi"}`))
		req.Header.Set("Authorization", "Bearer "+key)
		if resp, err = http.DefaultClient.Do(req); err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || string(body) != `{"error": "enter another number"}` {
			t.Fatalf("+ in destination: %d %s", resp.StatusCode, body)
		}
	})
}

// TestEvents checks the events against the fixtures' shapes and package
// exolve's reading of them, and that Post delivers them unsigned.
func TestEvents(t *testing.T) {
	ctx := context.Background()
	f, c := start(t)
	res, err := c.Send(ctx, &sb.Message{Channel: sb.ChannelSMS, From: "+79991112233", To: "+79992223344", Text: "Код: 1234"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		ev      exolvetest.Event
		fixture string
		status  sb.Status // "" = no receipt
	}{
		{name: "transmitted", ev: f.StatusEvent(res.ProviderMessageID, exolvetest.Transmitted), fixture: "sms_event.outgoing_transmitted.json"},
		{name: "delivered", ev: f.StatusEvent(res.ProviderMessageID, exolvetest.Delivered), fixture: "sms_event.outgoing_delivered.json", status: sb.StatusDelivered},
		{name: "failed", ev: f.StatusEvent(res.ProviderMessageID, exolvetest.Failed), fixture: "sms_event.outgoing_failed.json", status: sb.StatusUndelivered},
		{name: "underfunded", ev: f.StatusEvent(res.ProviderMessageID, exolvetest.Underfunded), fixture: "sms_event.outgoing_underfunded.json", status: sb.StatusFailed},
		{name: "retries exceeded", ev: f.StatusEvent(res.ProviderMessageID, exolvetest.RetriesExceeded), status: sb.StatusUndelivered},
		{name: "prohibited", ev: f.StatusEvent(res.ProviderMessageID, exolvetest.Prohibited), status: sb.StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, _ := json.Marshal(tt.ev)
			if tt.fixture != "" {
				var got, want map[string]any
				json.Unmarshal(body, &got)
				if err := json.Unmarshal(readFixture(t, tt.fixture), &want); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want))) {
					t.Errorf("fields %v, fixture has %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
				}
				for _, k := range []string{"direction", "billing_status", "delivery_status", "status"} {
					if got[k] != want[k] {
						t.Errorf("%s = %v, fixture has %v", k, got[k], want[k])
					}
				}
			}
			b, err := c.ParseWebhook(nil, body, "")
			if err != nil || len(b.Messages) != 0 {
				t.Fatalf("ParseWebhook = %+v, %v", b, err)
			}
			switch {
			case tt.status == "" && len(b.Receipts) != 0:
				t.Fatalf("receipts %+v, want none", b.Receipts)
			case tt.status != "" && (len(b.Receipts) != 1 || b.Receipts[0].Status != tt.status || b.Receipts[0].ProviderMessageID != res.ProviderMessageID):
				t.Fatalf("receipts %+v, want one %s", b.Receipts, tt.status)
			}
		})
	}

	in := f.IncomingEvent("+79991112233", "+79992223344", "Да")
	body, _ := json.Marshal(in)
	var got, want map[string]any
	json.Unmarshal(body, &got)
	json.Unmarshal(readFixture(t, "sms_event.incoming.json"), &want)
	if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want))) || got["number"] != want["number"] || got["sender"] != want["sender"] {
		t.Errorf("incoming event %v, fixture %v", got, want)
	}
	b, err := c.ParseWebhook(nil, body, "")
	if err != nil || len(b.Messages) != 1 || b.Messages[0].From != "+79992223344" || b.Messages[0].To != "+79991112233" || b.Messages[0].ProviderMessageID == res.ProviderMessageID {
		t.Fatalf("ParseWebhook(incoming) = %+v, %v", b, err)
	}

	var posted *http.Request
	var postedBody []byte
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posted, postedBody = r, must(io.ReadAll(r.Body))
		w.WriteHeader(http.StatusTeapot)
	}))
	defer hook.Close()
	code, err := f.Post(hook.URL+"/hooks/ch/secret", in)
	if err != nil || code != http.StatusTeapot || posted.Method != "POST" || posted.URL.Path != "/hooks/ch/secret" ||
		posted.Header.Get("Content-Type") != "application/json" || string(postedBody) != string(body) {
		t.Fatalf("Post = %d, %v; request %+v %s", code, err, posted, postedBody)
	}
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "webhooks", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func keys(m map[string]any) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

func must[T any](v T, _ error) T { return v }
