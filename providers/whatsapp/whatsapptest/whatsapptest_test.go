package whatsapptest_test

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
	"strings"
	"sync"
	"testing"
	"time"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/providers/whatsapp"
	"github.com/switchboardhq/switchboard/providers/whatsapp/whatsapptest"
)

const verifyToken = "meatyhamhock"

func creds(f *whatsapptest.Server) whatsapp.Credentials {
	return whatsapp.Credentials{AccessToken: f.AccessToken, PhoneNumberID: f.PhoneNumberID, AppSecret: f.AppSecret, VerifyToken: verifyToken}
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// receiver is our side of the webhook, built on package whatsapp: it
// answers the handshake and parses (and authenticates) notifications.
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	batches []*sb.InboundBatch
}

func newReceiver(t *testing.T, client *whatsapp.Client) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			challenge, ok := whatsapp.VerifyChallenge(r.URL.Query(), verifyToken)
			if !ok {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			io.WriteString(w, challenge)
			return
		}
		body, _ := io.ReadAll(r.Body)
		b, err := client.ParseWebhook(r, body, "")
		if err != nil {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		rc.mu.Lock()
		rc.batches = append(rc.batches, b)
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) last() *sb.InboundBatch {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.batches[len(rc.batches)-1]
}

func newFake(t *testing.T) (*whatsapptest.Server, *whatsapp.Client) {
	f := whatsapptest.NewServer()
	t.Cleanup(f.Close)
	return f, whatsapp.New(creds(f), whatsapp.Options{BaseURL: f.URL})
}

func TestVerify(t *testing.T) {
	f, c := newFake(t)
	acct, err := c.Verify(context.Background())
	if err != nil || acct.Name != whatsapptest.VerifiedName || acct.Details["display_phone_number"] != whatsapptest.Sender {
		t.Fatalf("Verify: %+v, %v", acct, err)
	}
	r := f.Requests()[0]
	if r.Method != "GET" || r.Version != whatsapp.DefaultAPIVersion || r.Path != "/"+whatsapp.DefaultAPIVersion+"/"+whatsapptest.PhoneNumberID ||
		r.Auth() != whatsapptest.AccessToken || r.Status != 200 {
		t.Fatalf("request %+v", r)
	}
	for _, tc := range []struct {
		name string
		edit func(*whatsapp.Credentials)
	}{
		{"wrong token", func(c *whatsapp.Credentials) { c.AccessToken = "EAAGwrongwrongwrongwrong" }},
		{"wrong phone number id", func(c *whatsapp.Credentials) { c.PhoneNumberID = "106540352242999" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cr := creds(f)
			tc.edit(&cr)
			_, err := whatsapp.New(cr, whatsapp.Options{BaseURL: f.URL}).Verify(context.Background())
			if sb.ErrorCode(err) != sb.EREFUSED {
				t.Fatalf("Verify: %v, want EREFUSED", err)
			}
		})
	}
}

func TestSendAndWindow(t *testing.T) {
	f, c := newFake(t)
	rc := newReceiver(t, c)
	msg := &sb.Message{ID: "m1", Channel: sb.ChannelWhatsApp, From: whatsapptest.Sender, To: "+16505551234", Text: "Hello"}

	// Free-form before the customer wrote: Meta's 131047, permanent.
	_, err := c.Send(context.Background(), msg)
	var pe *sb.ProviderError
	if !errors.As(err, &pe) || pe.Code != "131047" || !pe.Permanent {
		t.Fatalf("send outside the window: %v", err)
	}
	// A template goes.
	tpl := *msg
	tpl.Text, tpl.Metadata = "", json.RawMessage(`{"template":{"name":"hello_world","language":{"code":"en_US"}}}`)
	res, err := c.Send(context.Background(), &tpl)
	if err != nil || !strings.HasPrefix(res.ProviderMessageID, "wamid.") {
		t.Fatalf("template: %+v %v", res, err)
	}
	if last := f.Sends()[1]; last.WAMID != res.ProviderMessageID || last.Message.Template.Name != "hello_world" || last.Message.To != "16505551234" {
		t.Fatalf("recorded %+v", last)
	}

	// The customer writes (through a verified subscription); text goes.
	if err := f.Subscribe(rc.srv.URL, "wrong"); err == nil {
		t.Fatal("Subscribe with a wrong verify token succeeded")
	}
	if err := f.Subscribe(rc.srv.URL, verifyToken); err != nil {
		t.Fatal(err)
	}
	in := &whatsapptest.Inbound{From: "+16505551234", Name: "Sheena Nelson", Text: "Привет/hi 👋"}
	if code, err := f.Notify(f.Messages(in)); err != nil || code != 200 {
		t.Fatalf("Notify: %d %v", code, err)
	}
	b := rc.last()
	if len(b.Messages) != 1 || b.Messages[0].Text != "Привет/hi 👋" || b.Messages[0].ProviderMessageID != in.ID ||
		b.Messages[0].From != "+16505551234" || b.Messages[0].To != whatsapptest.Sender {
		t.Fatalf("parsed %+v", b.Messages)
	}
	if res, err = c.Send(context.Background(), msg); err != nil {
		t.Fatalf("send in the window: %v", err)
	}
	// A status for it parses into a receipt.
	if code, _ := f.Notify(f.Statuses(whatsapptest.Status{ID: res.ProviderMessageID, Status: "read", RecipientID: msg.To})); code != 200 {
		t.Fatalf("status: %d", code)
	}
	if r := rc.last().Receipts; len(r) != 1 || r[0].ProviderMessageID != res.ProviderMessageID || r[0].Status != sb.StatusRead {
		t.Fatalf("receipts %+v", r)
	}
	// A forged delivery is refused by the receiver.
	if code, _ := f.Post(rc.srv.URL, f.Messages(in), whatsapptest.Sign("not the secret", []byte("x"))); code != 403 {
		t.Fatalf("forged: %d", code)
	}
}

func TestFailures(t *testing.T) {
	f, _ := newFake(t)
	f.EnforceWindow = false
	hc := &http.Client{Timeout: 200 * time.Millisecond}
	c := whatsapp.New(creds(f), whatsapp.Options{BaseURL: f.URL, HTTPClient: hc})
	withRetryAfter := whatsapptest.Throughput()
	withRetryAfter.Status, withRetryAfter.RetryAfter = 429, "7"
	tests := []struct {
		name       string
		fail       whatsapptest.Failure
		code       string
		permanent  bool
		retryAfter time.Duration
	}{
		{"server error", whatsapptest.ServerError(), "131000", false, 0},
		{"throughput", whatsapptest.Throughput(), "130429", false, 0},
		{"429 with Retry-After", withRetryAfter, "130429", false, 7 * time.Second},
		{"template missing", whatsapptest.TemplateMissing("nope", "en_US"), "132001", true, 0},
		{"re-engagement", whatsapptest.ReEngagement(), "131047", true, 0},
		{"hang past the client timeout", whatsapptest.Failure{Hang: 5 * time.Second}, "timeout", false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.FailNext(1, tc.fail)
			_, err := c.Send(context.Background(), &sb.Message{To: "+16505551234", Text: "hi"})
			var pe *sb.ProviderError
			if !errors.As(err, &pe) || pe.Code != tc.code || pe.Permanent != tc.permanent || pe.RetryAfter != tc.retryAfter {
				t.Fatalf("Send: %#v", err)
			}
			// The script is used up: the next send goes.
			if _, err := c.Send(context.Background(), &sb.Message{To: "+16505551234", Text: "hi"}); err != nil {
				t.Fatalf("next send: %v", err)
			}
		})
	}
}

func TestStrict(t *testing.T) {
	f, _ := newFake(t)
	f.EnforceWindow = false
	for _, tc := range []struct {
		name, body string
		code       float64
	}{
		{"unknown field", `{"messaging_product":"whatsapp","to":"1650","type":"text","text":{"body":"x"},"priority":"high"}`, 100},
		{"no messaging_product", `{"to":"1650","type":"text","text":{"body":"x"}}`, 100},
		{"no to", `{"messaging_product":"whatsapp","type":"text","text":{"body":"x"}}`, 131008},
		{"type and object differ", `{"messaging_product":"whatsapp","to":"1650","type":"image","text":{"body":"x"}}`, 131008},
		{"caption on audio", `{"messaging_product":"whatsapp","to":"1650","type":"audio","audio":{"link":"https://x.test/a.mp3","caption":"c"}}`, 100},
		{"template without language", `{"messaging_product":"whatsapp","to":"1650","type":"template","template":{"name":"t","language":{}}}`, 131008},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", f.URL+"/v25.0/"+f.PhoneNumberID+"/messages", strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer "+f.AccessToken)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			e, _ := decode(t, b)["error"].(map[string]any)
			if resp.StatusCode != 400 || e == nil || e["code"] != tc.code {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
		})
	}
}

// TestPayloadsMatchFixtures: what the fake posts has the shape of the
// documented payloads in package whatsapp's testdata.
func TestPayloadsMatchFixtures(t *testing.T) {
	f, _ := newFake(t)
	at := func(s int64) time.Time { return time.Unix(s, 0) }
	const wamid = "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"
	without := func(b []byte, keys ...string) map[string]any {
		v := decode(t, b)
		st := v["entry"].([]any)[0].(map[string]any)["changes"].([]any)[0].(map[string]any)["value"].(map[string]any)["statuses"].([]any)[0].(map[string]any)
		for _, k := range keys {
			delete(st, k)
		}
		return v
	}
	tests := []struct {
		name string
		got  []byte
		want map[string]any
	}{
		{"text", f.Messages(&whatsapptest.Inbound{From: "+16505551234", Name: "Sheena Nelson", ID: "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
			Text: "Does it come in another color?", At: at(1749416383)}), decode(t, fixture(t, "webhook_incoming_text.json"))},
		{"image", f.Messages(&whatsapptest.Inbound{From: "16505551234", Name: "Sheena Nelson", ID: "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=",
			Text: "The best succulent ever?", At: at(1749416383),
			Image: &whatsapptest.InboundMedia{ID: "1003383421387256", MimeType: "image/jpeg", SHA256: "ux6LSpTaNBCWAdeyk9DP4Zbjl7TQtn3crBuFT4fUvBs="}}),
			decode(t, fixture(t, "webhook_incoming_image.json"))},
		{"sent", f.Statuses(whatsapptest.Status{ID: wamid, Status: "sent", RecipientID: "+16505551234", At: at(1749416390)}),
			without(fixture(t, "webhook_status_sent.json"), "conversation", "pricing")},
		{"delivered", f.Statuses(whatsapptest.Status{ID: wamid, Status: "delivered", RecipientID: "+16505551234", At: at(1749416391)}),
			without(fixture(t, "webhook_status_delivered.json"), "conversation", "pricing")},
		{"failed", f.Statuses(whatsapptest.Status{ID: wamid, Status: "failed", RecipientID: "+16505551234", At: at(1749416396),
			Errors: []whatsapptest.Error{{Code: 131026, Title: "Message undeliverable", Details: "Message Undeliverable."}}}),
			decode(t, fixture(t, "webhook_status_failed_131026.json"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := decode(t, tc.got); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("payload\n%s\nwant the fixture's\n%v", tc.got, tc.want)
			}
		})
	}
	if got := f.Messages(&whatsapptest.Inbound{From: "1", Text: "é/"}); !bytes.Contains(got, []byte(`"body":"\u00e9\/"`)) {
		t.Fatalf("Meta escapes non-ASCII and slashes: %s", got)
	}
}

func TestSignatureVectors(t *testing.T) {
	var v struct {
		Vectors []struct {
			AppSecret      string `json:"app_secret"`
			Body           string `json:"body"`
			BodyFile       string `json:"body_file"`
			ExpectedHex    string `json:"expected_hex"`
			ExpectedHeader string `json:"expected_header"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(fixture(t, "signature_vectors.json"), &v); err != nil {
		t.Fatal(err)
	}
	for _, vec := range v.Vectors {
		body := []byte(vec.Body)
		if vec.BodyFile != "" {
			body = fixture(t, vec.BodyFile)
		}
		want := vec.ExpectedHeader
		if want == "" {
			want = "sha256=" + vec.ExpectedHex
		}
		if got := whatsapptest.Sign(vec.AppSecret, body); got != want {
			t.Errorf("Sign(%q, %.20q) = %s, want %s", vec.AppSecret, body, got, want)
		}
	}
}
