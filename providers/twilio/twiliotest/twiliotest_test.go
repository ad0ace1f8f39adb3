package twiliotest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/providers/twilio"
	"github.com/switchboardhq/switchboard/providers/twilio/twiliotest"
)

const (
	accountSID = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	authToken  = "0123456789abcdef0123456789abcdef"
)

// TestSignatureVectors: the fake signs as Twilio's libraries do, checked
// against the vectors in ../testdata (those signed over the URL as given).
func TestSignatureVectors(t *testing.T) {
	raw, err := os.ReadFile("../testdata/signature_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Vectors []struct {
			Provenance   string            `json:"provenance"`
			AuthToken    string            `json:"auth_token"`
			URL          string            `json:"url"`
			Params       map[string]string `json:"params"`
			FormBody     string            `json:"form_body"`
			FormBodyFile string            `json:"form_body_file"`
			Expected     string            `json:"expected_signature"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, v := range file.Vectors {
		if strings.Contains(v.Provenance, "removes_port") {
			continue // signed over the URL without its port, which Post never rewrites
		}
		body := v.FormBody
		if v.FormBodyFile != "" {
			b, err := os.ReadFile("../testdata/" + v.FormBodyFile)
			if err != nil {
				t.Fatal(err)
			}
			body = string(b)
		}
		params, err := url.ParseQuery(body)
		if err != nil {
			t.Fatal(err)
		}
		for k, val := range v.Params {
			params.Set(k, val)
		}
		if got := (twiliotest.Webhook{URL: v.URL, Params: params}).Signature(v.AuthToken); got != v.Expected {
			t.Errorf("%s: signature %s, want %s", v.Provenance, got, v.Expected)
		}
		checked++
	}
	if checked < 5 {
		t.Fatalf("checked %d vectors", checked)
	}
}

// TestClientAgainstFake drives providers/twilio against the fake: the
// fake must be something the real client talks to, and its scripted
// failures must classify as Twilio's would.
func TestClientAgainstFake(t *testing.T) {
	fake := twiliotest.NewServer(accountSID, authToken)
	defer fake.Close()
	creds := twilio.Credentials{AccountSID: accountSID, AuthToken: authToken}
	c := twilio.New(creds, twilio.Options{BaseURL: fake.URL, StatusCallbackURL: "https://example.com/cb",
		HTTPClient: &http.Client{Timeout: 300 * time.Millisecond}})
	ctx := context.Background()

	acct, err := c.Verify(ctx)
	if err != nil || acct.Name != "Switchboard Test" {
		t.Fatalf("Verify: %+v %v", acct, err)
	}
	wrong := twilio.New(twilio.Credentials{AccountSID: accountSID, AuthToken: strings.Repeat("f", 32)}, twilio.Options{BaseURL: fake.URL})
	if _, err := wrong.Verify(ctx); sb.ErrorCode(err) != sb.EREFUSED {
		t.Fatalf("Verify with a wrong token: %v", err)
	}
	if r := fake.Requests()[1]; r.Status != http.StatusUnauthorized || r.User != accountSID {
		t.Fatalf("wrong token answered %+v", r)
	}

	m := &sb.Message{Channel: sb.ChannelSMS, From: "+15017122661", To: "+15558675310", Text: "Hi",
		MediaURLs: []string{"https://example.com/a.png", "https://example.com/b.png"}}
	res, err := c.Send(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := fake.Message(res.ProviderMessageID)
	if !ok || got.To != m.To || got.From != m.From || got.Body != "Hi" || !slices.Equal(got.MediaURLs, m.MediaURLs) ||
		got.StatusCallback != "https://example.com/cb" || !strings.HasPrefix(got.Sid, "MM") {
		t.Fatalf("fake recorded %+v for %s", got, res.ProviderMessageID)
	}

	failures := []struct {
		name      string
		f         twiliotest.Failure
		code      string
		permanent bool
		optOut    bool
		after     time.Duration
	}{
		{name: "500", f: twiliotest.ServerError, code: "20500"},
		{name: "502 without JSON", f: twiliotest.BadGateway, code: "http_502"},
		{name: "429 with Retry-After", f: withRetryAfter(twiliotest.TooManyRequests, "3"), code: "20429", after: 3 * time.Second},
		{name: "invalid To", f: twiliotest.InvalidTo, code: "21211", permanent: true},
		{name: "unsubscribed", f: twiliotest.Unsubscribed, code: "21610", permanent: true, optOut: true},
		{name: "hang", f: twiliotest.Hang, code: "timeout"},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			fake.FailNext(1, tt.f)
			_, err := c.Send(ctx, m)
			var pe *sb.ProviderError
			if !errors.As(err, &pe) || pe.Code != tt.code || pe.Permanent != tt.permanent || pe.OptOut != tt.optOut || pe.RetryAfter != tt.after {
				t.Fatalf("Send: %#v", err)
			}
		})
	}
}

func withRetryAfter(f twiliotest.Failure, s string) twiliotest.Failure {
	f.RetryAfter = s
	return f
}

// TestWebhooksParse: what the fake posts, providers/twilio accepts, and
// reads back as the receipt or message it stands for.
func TestWebhooksParse(t *testing.T) {
	fake := twiliotest.NewServer(accountSID, authToken)
	defer fake.Close()
	var app *twilio.Client
	var batch *sb.InboundBatch
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var err error
		batch, err = app.ParseWebhook(r, body, "http://"+r.Host+r.URL.RequestURI())
		if err != nil {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", batch.ContentType)
		w.Write(batch.Response)
	}))
	defer srv.Close()
	app = twilio.New(twilio.Credentials{AccountSID: accountSID, AuthToken: authToken},
		twilio.Options{BaseURL: fake.URL, StatusCallbackURL: srv.URL + "/status?x=1"})
	res, err := app.Send(context.Background(), &sb.Message{Channel: sb.ChannelWhatsApp, From: "+14155238886", To: "+15558675310", Text: "Hi"})
	if err != nil {
		t.Fatal(err)
	}

	read, err := fake.StatusCallback(res.ProviderMessageID, "read", "")
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := fake.Deliver(read); err != nil || resp.Status != http.StatusOK || len(batch.Receipts) != 1 ||
		batch.Receipts[0].Status != sb.StatusRead || batch.Receipts[0].ProviderMessageID != res.ProviderMessageID {
		t.Fatalf("read callback: %+v %v, batch %+v", resp, err, batch)
	}
	if read.Params.Get("To") != "whatsapp:+15558675310" || read.Params.Get("ChannelPrefix") != "whatsapp" {
		t.Fatalf("read callback params %v", read.Params)
	}

	in := fake.InboundSMS(srv.URL+"/in", "+15558675310", "+15017122661", "Look", "https://example.com/p.jpg")
	resp, err := fake.Deliver(in)
	if err != nil || resp.Status != http.StatusOK || resp.ContentType != "text/xml" || !strings.Contains(string(resp.Body), "<Response></Response>") {
		t.Fatalf("inbound: %+v %v", resp, err)
	}
	if msg := batch.Messages[0]; msg.Channel != sb.ChannelSMS || msg.From != "+15558675310" || msg.Text != "Look" ||
		!slices.Equal(msg.MediaURLs, []string{"https://example.com/p.jpg"}) || msg.ProviderMessageID != in.Params.Get("MessageSid") {
		t.Fatalf("inbound message %+v", msg)
	}
	wa := fake.InboundWhatsApp(srv.URL+"/in", "+15558675311", "+14155238886", "Hello", "Jane")
	if resp, err := fake.Deliver(wa); err != nil || resp.Status != http.StatusOK || batch.Messages[0].Channel != sb.ChannelWhatsApp ||
		batch.Messages[0].From != "+15558675311" {
		t.Fatalf("inbound whatsapp: %+v %v %+v", resp, err, batch.Messages)
	}

	// Forgeries: another token, another URL, no signature.
	for name, sig := range map[string]string{
		"wrong token": in.Signature(strings.Repeat("f", 32)),
		"other URL":   twiliotest.Webhook{URL: srv.URL + "/other", Params: in.Params}.Signature(authToken),
		"none":        "",
	} {
		if resp, err := in.Post(sig); err != nil || resp.Status != http.StatusForbidden {
			t.Errorf("%s: %+v %v", name, resp, err)
		}
	}
}
