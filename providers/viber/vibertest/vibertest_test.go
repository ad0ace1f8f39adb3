package vibertest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/providers/viber"
	"github.com/switchboardhq/switchboard/providers/viber/vibertest"
)

const token = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"

var (
	account = vibertest.Account{ID: "pa:75346594275468546724", Name: "Switchboard Shop", URI: "switchboard", Subscribers: 35}
	creds   = viber.Credentials{AuthToken: token, SenderName: "Shop"}
	john    = vibertest.User{ID: "01234567890A=", Name: "John McClane", Avatar: "http://avatar.example.com", Country: "UK", Language: "en", APIVersion: 1}
)

// decode reads JSON keeping numbers exact.
func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v map[string]any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

func fixture(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, b)
}

// hook serves ParseWebhook of a client for the fake's bot, recording what
// each callback carried.
func hook(t *testing.T, c *viber.Client) (*httptest.Server, *[]*sb.InboundBatch) {
	var got []*sb.InboundBatch
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b, err := c.ParseWebhook(r, body, "http://"+r.Host+r.URL.RequestURI())
		switch {
		case errors.Is(err, sb.ErrForged):
			w.WriteHeader(http.StatusForbidden)
		case err != nil:
			w.WriteHeader(http.StatusBadRequest)
		default:
			got = append(got, b)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func setup(t *testing.T) (*vibertest.Server, *viber.Client) {
	t.Helper()
	fake := vibertest.NewServer(token, account)
	t.Cleanup(fake.Close)
	return fake, viber.New(creds, viber.Options{BaseURL: fake.URL, BotURI: account.URI, HTTPClient: &http.Client{Timeout: 2 * time.Second}})
}

func TestVerify(t *testing.T) {
	fake, c := setup(t)
	acct, err := c.Verify(context.Background())
	if err != nil || acct.Name != account.Name || acct.Details["uri"] != "switchboard" || acct.Details["subscribers_count"] != "35" {
		t.Fatalf("Verify = %+v, %v", acct, err)
	}
	wrong := viber.New(viber.Credentials{AuthToken: "nope-nope-nope", SenderName: "x"}, viber.Options{BaseURL: fake.URL})
	if _, err := wrong.Verify(context.Background()); sb.ErrorCode(err) != sb.EREFUSED {
		t.Fatalf("Verify with a wrong token: %v, want EREFUSED", err)
	}
	reqs := fake.Requests("get_account_info")
	if len(reqs) != 2 || reqs[1].Status != vibertest.StatusInvalidAuthToken || reqs[0].Header.Get("X-Viber-Auth-Token") != token {
		t.Fatalf("requests %+v", reqs)
	}
}

func TestSetWebhookChecksTheURL(t *testing.T) {
	fake, c := setup(t)
	srv, got := hook(t, c)
	if err := c.SetWebhook(context.Background(), srv.URL+"/hook"); err != nil {
		t.Fatalf("SetWebhook: %v", err)
	}
	wh := fake.Webhook()
	if wh.URL != srv.URL+"/hook" || wh.CheckStatus != 200 || len(*got) != 1 || !wh.SendName || wh.SendPhoto ||
		!reflect.DeepEqual(wh.EventTypes, []string{"delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"}) {
		t.Fatalf("webhook %+v, %d checks", wh, len(*got))
	}
	// A URL that does not answer 200 is refused, and the old one kept.
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer refuse.Close()
	err := c.SetWebhook(context.Background(), refuse.URL)
	var pe *sb.ProviderError
	if !errors.As(err, &pe) || pe.Code != "1" || !pe.Permanent {
		t.Fatalf("SetWebhook to a failing URL: %v", err)
	}
	if fake.Webhook().URL != srv.URL+"/hook" {
		t.Fatalf("webhook changed to %q", fake.Webhook().URL)
	}
}

func TestSend(t *testing.T) {
	fake, c := setup(t)
	ctx := context.Background()
	_, err := c.Send(ctx, &sb.Message{ID: "m0", To: john.ID, Text: "too early"})
	var pe *sb.ProviderError
	if !errors.As(err, &pe) || pe.Code != "10" {
		t.Fatalf("send without a webhook: %v, want status 10", err)
	}
	srv, _ := hook(t, c)
	if err := c.SetWebhook(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	r1, err := c.Send(ctx, &sb.Message{ID: "m1", To: john.ID, Text: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := c.Send(ctx, &sb.Message{ID: "m2", To: john.ID, Text: "look", MediaURLs: []string{"https://cdn.example.com/a.png"}})
	if err != nil {
		t.Fatal(err)
	}
	sends := fake.Sends()
	if len(sends) != 3 || r1.ProviderMessageID != sends[1].MessageToken || r2.ProviderMessageID != sends[2].MessageToken || r1.ProviderMessageID == r2.ProviderMessageID {
		t.Fatalf("results %v %v, sends %+v", r1, r2, sends)
	}
	want := decode(t, []byte(`{"receiver":"01234567890A=","min_api_version":1,"sender":{"name":"Shop"},"tracking_data":"m2",
		"type":"picture","text":"look","media":"https://cdn.example.com/a.png"}`))
	if !reflect.DeepEqual(sends[2].Fields, want) {
		t.Fatalf("picture send %s", sends[2].Body)
	}
}

func TestScriptedFailures(t *testing.T) {
	tests := []struct {
		name string
		f    vibertest.Failure
		want sb.ProviderError
	}{
		{"HTTP 500", vibertest.Failure{HTTPStatus: 500}, sb.ProviderError{Code: "http_500", Message: "Internal Server Error"}},
		{"HTTP 429 with Retry-After", vibertest.Failure{HTTPStatus: 429, RetryAfter: "2"},
			sb.ProviderError{Code: "http_429", Message: "Too Many Requests", RetryAfter: 2 * time.Second}},
		{"tooManyRequests", vibertest.Failure{Status: vibertest.StatusTooManyRequests},
			sb.ProviderError{Code: "12", Message: "Too many requests", RetryAfter: time.Second}},
		{"receiverNotSubscribed", vibertest.Failure{Status: vibertest.StatusReceiverNotSubscribed},
			sb.ProviderError{Code: "6", Message: "receiverNotSubscribed", Permanent: true, OptOut: true}},
		{"hang past the client timeout", vibertest.Failure{Delay: time.Minute}, sb.ProviderError{Code: "timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, _ := setup(t)
			c := viber.New(creds, viber.Options{BaseURL: fake.URL, HTTPClient: &http.Client{Timeout: 100 * time.Millisecond}})
			fake.FailNextSends(1, tt.f)
			_, err := c.Send(context.Background(), &sb.Message{ID: "m1", To: john.ID, Text: "hi"})
			var pe *sb.ProviderError
			if !errors.As(err, &pe) {
				t.Fatalf("Send: %v", err)
			}
			if tt.want.Code == "timeout" {
				pe.Message = "" // the transport's words
			}
			if *pe != tt.want {
				t.Fatalf("error %+v, want %+v", *pe, tt.want)
			}
			sends := fake.Sends()
			// The fake notices a client hanging up just after the client does.
			for deadline := time.Now().Add(5 * time.Second); len(sends) == 1 && sends[0].HTTPStatus == 0 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
				sends = fake.Sends()
			}
			if len(sends) != 1 || sends[0].Abandoned != (tt.f.Delay > 0) || sends[0].MessageToken != "" {
				t.Fatalf("sends %+v", sends)
			}
		})
	}
}

// TestCallbacksMatchFixtures: the builders give the documented payloads.
func TestCallbacksMatchFixtures(t *testing.T) {
	const tok = "4912661846655238145"
	jc := vibertest.User{ID: "jc9HsWTZ2Yf2NkRZ8KcNug==", Name: "John McClane", Avatar: "http://avatar.example.com", Country: "UK", Language: "en", APIVersion: 1}
	tests := []struct {
		fixture string
		cb      vibertest.Callback
	}{
		{"callback_webhook.json", vibertest.WebhookCheck("241256543215")},
		{"callback_delivered.json", vibertest.Delivered(tok, "01234567890A=")},
		{"callback_seen.json", vibertest.Seen(tok, "jc9HsWTZ2Yf2NkRZ8KcNug==")},
		{"callback_failed.json", vibertest.Failed(tok, "01234567890A=", "failure description")},
		{"callback_subscribed.json", vibertest.Subscribed(tok, jc)},
		{"callback_unsubscribed.json", vibertest.Unsubscribed(tok, "01234567890A=")},
		{"callback_message_text.json", vibertest.Received(tok, john, vibertest.Message{Type: "text", Text: "a message to the service", TrackingData: "tracking data"})},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			want := fixture(t, tt.fixture)
			tt.cb.Timestamp = 1457764197627
			if got := decode(t, tt.cb.JSON()); !reflect.DeepEqual(got, want) {
				t.Fatalf("callback\n got %s\nwant %v", tt.cb.JSON(), want)
			}
		})
	}
}

func TestSignVector(t *testing.T) {
	v := fixture(t, "signature_vector.json")
	if got := vibertest.Sign(v["auth_token"].(string), []byte(v["body"].(string))); got != v["expected_signature_hex"] {
		t.Fatalf("Sign = %s", got)
	}
}

func TestPost(t *testing.T) {
	fake, c := setup(t)
	srv, got := hook(t, c)
	if _, err := fake.Post(vibertest.Seen("1", john.ID)); err == nil {
		t.Fatal("Post without a webhook succeeded")
	}
	if err := c.SetWebhook(context.Background(), srv.URL); err != nil {
		t.Fatal(err)
	}
	if code, err := fake.Post(vibertest.Text("7", john, "hi")); err != nil || code != 200 {
		t.Fatalf("Post: %d %v", code, err)
	}
	body := vibertest.Seen("7", john.ID).JSON()
	if code, err := fake.PostSigned(srv.URL, body, vibertest.Sign("another token", body)); err != nil || code != 403 {
		t.Fatalf("forged Post: %d %v", code, err)
	}
	// The check and the text message; not the forgery.
	if len(*got) != 2 || len((*got)[1].Messages) != 1 || (*got)[1].Messages[0].Text != "hi" || (*got)[1].Messages[0].ProviderMessageID != "7" {
		t.Fatalf("parsed %+v", *got)
	}
	// Events the webhook did not ask for are not sent.
	req, _ := http.NewRequest("POST", fake.URL+"/set_webhook", bytes.NewReader([]byte(`{"url":"`+srv.URL+`","event_types":["delivered"]}`)))
	req.Header.Set("X-Viber-Auth-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := fake.Post(vibertest.Seen("7", john.ID)); err == nil {
		t.Fatal("Post of an event the webhook filtered out succeeded")
	}
	if code, err := fake.Post(vibertest.Delivered("7", john.ID)); err != nil || code != 200 {
		t.Fatalf("Post delivered: %d %v", code, err)
	}
}
