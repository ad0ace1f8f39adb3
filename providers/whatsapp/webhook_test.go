package whatsapp

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	sb "github.com/switchboardhq/switchboard"
)

const hookURL = "https://switchboard.example.com/hooks/ch_1/s3cret"

// signatureVectors is testdata/signature_vectors.json.
type signatureVectors struct {
	Vectors []struct {
		AppSecret      string `json:"app_secret"`
		Body           string `json:"body"`
		BodyFile       string `json:"body_file"`
		ExpectedHex    string `json:"expected_hex"`
		ExpectedHeader string `json:"expected_header"`
	} `json:"vectors"`
}

// hook is a webhook POST as Meta sends it.
func hook(body []byte, signature string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, hookURL, strings.NewReader(string(body)))
	r.Header.Set("Content-Type", "application/json")
	if signature != "" {
		r.Header.Set(SignatureHeader, signature)
	}
	return r
}

// wantMsg is what an inbound message must carry besides the constant
// fields (channel, direction, status, provider) checked for all.
type wantMsg struct {
	From, To, Text, ID string
	Meta               map[string]any
}

const (
	inboundWamid = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=" // webhook_incoming_text.json
	otherWamid   = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=" // the fixtures written for this package
	repliedWamid = "wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA="
	sentWamid    = "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA" // the status fixtures
	customer     = "+16505551234"
	ourNumber    = "+15550783881"
)

func TestParseWebhook(t *testing.T) {
	receipt := func(st sb.Status, code, msg string) sb.Receipt {
		return sb.Receipt{Provider: Name, ProviderMessageID: sentWamid, Status: st, ErrorCode: code, ErrorMessage: msg}
	}
	tests := []struct {
		fixture  string
		messages []wantMsg
		receipts []sb.Receipt
		optOuts  []string
		optIns   []string
	}{
		{fixture: "webhook_incoming_text.json", messages: []wantMsg{{From: customer, To: ourNumber, ID: inboundWamid,
			Text: "Does it come in another color?", Meta: map[string]any{"kind": "text", "profile_name": "Sheena Nelson"}}}},
		{fixture: "webhook_incoming_image.json", messages: []wantMsg{{From: customer, To: ourNumber, ID: otherWamid,
			Text: "The best succulent ever?", Meta: map[string]any{"kind": "image", "profile_name": "Sheena Nelson",
				"whatsapp_media_id": "1003383421387256", "mime_type": "image/jpeg"}}}},
		{fixture: "webhook_incoming_document.json", messages: []wantMsg{{From: customer, To: ourNumber, ID: otherWamid,
			Text: "Lucky Shrub Invoice", Meta: map[string]any{"kind": "document", "profile_name": "Sheena Nelson",
				"whatsapp_media_id": "1003383421387257", "mime_type": "application/pdf", "filename": "lucky-shrub-invoice.pdf"}}}},
		{fixture: "webhook_incoming_button.json", messages: []wantMsg{{From: customer, To: ourNumber, ID: otherWamid,
			Text: "Unsubscribe", Meta: map[string]any{"kind": "button", "profile_name": "Sheena Nelson",
				"payload": "unsubscribe-payload", "context_message_id": repliedWamid}}}},
		{fixture: "webhook_incoming_interactive_button_reply.json", messages: []wantMsg{{From: customer, To: ourNumber, ID: otherWamid,
			Text: "Cancel", Meta: map[string]any{"kind": "button_reply", "profile_name": "Sheena Nelson",
				"reply_id": "cancel-button", "context_message_id": repliedWamid}}}},
		{fixture: "webhook_incoming_interactive_list_reply.json", messages: []wantMsg{{From: customer, To: ourNumber, ID: otherWamid,
			Text: "Priority Mail Express", Meta: map[string]any{"kind": "list_reply", "profile_name": "Sheena Nelson",
				"reply_id": "priority_express", "description": "Next Day to 2 Days", "context_message_id": repliedWamid}}}},
		{fixture: "webhook_incoming_location.json", messages: []wantMsg{{From: customer, To: ourNumber, ID: otherWamid,
			Meta: map[string]any{"kind": "location", "profile_name": "Sheena Nelson", "latitude": 37.44221496582, "longitude": -122.16163635254,
				"name": "Philz Coffee", "address": "101 Forest Ave, Palo Alto, CA 94301", "url": "https://philzcoffee.com/"}}}},
		{fixture: "webhook_status_sent.json", receipts: []sb.Receipt{receipt(sb.StatusSent, "", "")}},
		{fixture: "webhook_status_delivered.json", receipts: []sb.Receipt{receipt(sb.StatusDelivered, "", "")}},
		{fixture: "webhook_status_read.json", receipts: []sb.Receipt{receipt(sb.StatusRead, "", "")}},
		{fixture: "webhook_status_failed_131047.json", receipts: []sb.Receipt{receipt(sb.StatusFailed, "131047", "Re-engagement message")}},
		{fixture: "webhook_status_failed_131026.json", receipts: []sb.Receipt{receipt(sb.StatusFailed, "131026", "Message undeliverable")}},
		{fixture: "webhook_status_failed_131050.json", optOuts: []string{customer}, receipts: []sb.Receipt{receipt(sb.StatusFailed, "131050",
			"Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business.")}},
		{fixture: "webhook_user_preferences.json", optOuts: []string{customer}, optIns: []string{"+16505550000"}},
		{fixture: "webhook_errors_130429.json"}, // an app-level error: nothing to store
		{fixture: "webhook_other_object.json"},
	}
	c := New(testCreds(), Options{})
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			body := fixture(t, tt.fixture)
			batch, err := c.ParseWebhook(hook(body, Sign(testAppSecret, body)), body, hookURL)
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			checkBatch(t, batch, tt.messages, tt.receipts, tt.optOuts, tt.optIns)
		})
	}
}

func checkBatch(t *testing.T, batch *sb.InboundBatch, messages []wantMsg, receipts []sb.Receipt, optOuts, optIns []string) {
	t.Helper()
	if batch == nil {
		t.Fatal("nil batch")
	}
	if len(batch.Messages) != len(messages) {
		t.Fatalf("%d messages, want %d", len(batch.Messages), len(messages))
	}
	for i, w := range messages {
		m := batch.Messages[i]
		if m.Channel != sb.ChannelWhatsApp || m.Direction != sb.Inbound || m.Status != sb.StatusReceived || m.Provider != sb.ProviderWhatsAppCloud {
			t.Errorf("message %d: channel %s direction %s status %s provider %s", i, m.Channel, m.Direction, m.Status, m.Provider)
		}
		got := wantMsg{From: m.From, To: m.To, Text: m.Text, ID: m.ProviderMessageID}
		if err := json.Unmarshal(m.Metadata, &got.Meta); err != nil {
			t.Errorf("message %d metadata %s: %v", i, m.Metadata, err)
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("message %d\n got %+v\nwant %+v", i, got, w)
		}
	}
	if len(batch.Receipts) != len(receipts) || (len(receipts) > 0 && !reflect.DeepEqual(batch.Receipts, receipts)) {
		t.Errorf("receipts\n got %+v\nwant %+v", batch.Receipts, receipts)
	}
	addresses := func(os []sb.OptOut) []string {
		var a []string
		for _, o := range os {
			if o.Channel != sb.ChannelWhatsApp || o.Source != "provider" {
				t.Errorf("opt-out/in %+v: want channel whatsapp, source provider", o)
			}
			a = append(a, o.Address)
		}
		return a
	}
	if got := addresses(batch.OptOuts); !reflect.DeepEqual(got, optOuts) {
		t.Errorf("opt-outs %v, want %v", got, optOuts)
	}
	if got := addresses(batch.OptIns); !reflect.DeepEqual(got, optIns) {
		t.Errorf("opt-ins %v, want %v", got, optIns)
	}
	if batch.Response != nil {
		t.Errorf("Response = %q, want none", batch.Response)
	}
}

// TestSignatureVectors checks Sign and ParseWebhook against the verified
// vectors: the official SDK's, and one over the exact bytes of
// webhook_incoming_text.json.
func TestSignatureVectors(t *testing.T) {
	var sv signatureVectors
	if err := json.Unmarshal(fixture(t, "signature_vectors.json"), &sv); err != nil {
		t.Fatal(err)
	}
	if len(sv.Vectors) < 2 {
		t.Fatalf("%d vectors", len(sv.Vectors))
	}
	for _, v := range sv.Vectors {
		body := []byte(v.Body)
		if v.BodyFile != "" {
			body = fixture(t, v.BodyFile)
		}
		want := v.ExpectedHeader
		if want == "" {
			want = "sha256=" + v.ExpectedHex
		}
		if got := Sign(v.AppSecret, body); got != want {
			t.Errorf("Sign(%q, %d bytes) = %s, want %s", v.AppSecret, len(body), got, want)
		}
		creds := testCreds()
		creds.AppSecret = v.AppSecret
		batch, err := New(creds, Options{}).ParseWebhook(hook(body, want), body, hookURL)
		switch {
		case v.BodyFile == "webhook_incoming_text.json":
			if err != nil {
				t.Fatalf("ParseWebhook with the known vector: %v", err)
			}
			checkBatch(t, batch, []wantMsg{{From: customer, To: ourNumber, ID: inboundWamid, Text: "Does it come in another color?",
				Meta: map[string]any{"kind": "text", "profile_name": "Sheena Nelson"}}}, nil, nil, nil)
		default:
			// The body "test" verifies but is not JSON.
			if sb.ErrorCode(err) != sb.EINVALID {
				t.Errorf("ParseWebhook(%q) = %v, want EINVALID", v.Body, err)
			}
		}
	}
}

func TestParseWebhookForged(t *testing.T) {
	body := fixture(t, "webhook_incoming_text.json")
	good := Sign(testAppSecret, body)
	tampered := []byte(strings.Replace(string(body), "another color", "another colour", 1))
	tests := []struct {
		name      string
		creds     func(c *Credentials)
		body      []byte
		signature string
	}{
		{name: "no signature", body: body},
		{name: "signed with another secret", body: body, signature: Sign("not the app secret", body)},
		{name: "body changed after signing", body: tampered, signature: good},
		{name: "legacy sha1 header form", body: body, signature: "sha1=" + strings.TrimPrefix(good, "sha256=")},
		{name: "bare hex", body: body, signature: strings.TrimPrefix(good, "sha256=")},
		{name: "not hex", body: body, signature: "sha256=zz" + good[9:]},
		{name: "truncated", body: body, signature: good[:len(good)-2]},
		{name: "no app secret configured", creds: func(c *Credentials) { c.AppSecret = "" }, body: body, signature: Sign("", body)},
		{name: "malformed body, bad signature", body: []byte("{"), signature: good},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			creds := testCreds()
			if tt.creds != nil {
				tt.creds(&creds)
			}
			batch, err := New(creds, Options{}).ParseWebhook(hook(tt.body, tt.signature), tt.body, hookURL)
			if !errors.Is(err, sb.ErrForged) || batch != nil {
				t.Errorf("ParseWebhook = %v, %v; want nil, sb.ErrForged", batch, err)
			}
		})
	}
	t.Run("uppercase hex verifies", func(t *testing.T) {
		sig := "sha256=" + strings.ToUpper(strings.TrimPrefix(good, "sha256="))
		if _, err := New(testCreds(), Options{}).ParseWebhook(hook(body, sig), body, hookURL); err != nil {
			t.Errorf("ParseWebhook: %v", err)
		}
	})
}

func TestParseWebhookMalformed(t *testing.T) {
	for _, body := range []string{`{"object": "whatsapp_business_account", "entry": [`, `{"entry": "not a list"}`, ``} {
		_, err := New(testCreds(), Options{}).ParseWebhook(hook([]byte(body), Sign(testAppSecret, []byte(body))), []byte(body), hookURL)
		if sb.ErrorCode(err) != sb.EINVALID {
			t.Errorf("ParseWebhook(%q) = %v, want EINVALID", body, err)
		}
	}
}

// TestParseWebhookBatched: Meta batches several entries, changes, messages
// and statuses in one post; all are read, in order. A status we do not map
// (played) and a system notice are skipped; an unknown message type still
// arrives (the customer wrote), as its kind.
func TestParseWebhookBatched(t *testing.T) {
	body := []byte(`{"object":"whatsapp_business_account","entry":[
	 {"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp",
	   "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
	   "contacts":[{"profile":{"name":"A"},"wa_id":"16505551234"},{"profile":{"name":"B"},"wa_id":"447700900123"}],
	   "messages":[
	     {"from":"16505551234","id":"wamid.1","timestamp":"1","type":"text","text":{"body":"one"}},
	     {"from":"447700900123","id":"wamid.2","timestamp":"2","type":"sticker","sticker":{"id":"77","mime_type":"image/webp","animated":false}},
	     {"from":"447700900123","id":"wamid.3","timestamp":"3","type":"system","system":{"body":"changed number","type":"user_changed_number"}},
	     {"from":"447700900123","id":"wamid.4","timestamp":"4","type":"unsupported","errors":[{"code":131051,"title":"Message type unknown"}]},
	     {"from":"447700900123","id":"wamid.5","timestamp":"5","type":"reaction","reaction":{"message_id":"wamid.out","emoji":"👍"}}]}},
	  {"field":"messages","value":{"messaging_product":"whatsapp",
	   "metadata":{"phone_number_id":"106540352242922"},
	   "statuses":[
	     {"id":"wamid.out","status":"delivered","timestamp":"6","recipient_id":"16505551234"},
	     {"id":"wamid.voice","status":"played","timestamp":"7","recipient_id":"16505551234"},
	     {"id":"wamid.out2","status":"failed","timestamp":"8","recipient_id":"16505551234"}]}}]},
	 {"id":"2","changes":[{"field":"message_template_status_update","value":{"event":"APPROVED"}}]}]}`)
	batch, err := New(testCreds(), Options{}).ParseWebhook(hook(body, Sign(testAppSecret, body)), body, hookURL)
	if err != nil {
		t.Fatal(err)
	}
	checkBatch(t, batch, []wantMsg{
		{From: customer, To: ourNumber, ID: "wamid.1", Text: "one", Meta: map[string]any{"kind": "text", "profile_name": "A"}},
		{From: "+447700900123", To: ourNumber, ID: "wamid.2", Meta: map[string]any{"kind": "sticker", "profile_name": "B", "whatsapp_media_id": "77", "mime_type": "image/webp"}},
		{From: "+447700900123", To: ourNumber, ID: "wamid.4", Meta: map[string]any{"kind": "unsupported", "profile_name": "B"}},
		{From: "+447700900123", To: ourNumber, ID: "wamid.5", Text: "👍", Meta: map[string]any{"kind": "reaction", "profile_name": "B", "reacted_message_id": "wamid.out"}},
	}, []sb.Receipt{
		{Provider: Name, ProviderMessageID: "wamid.out", Status: sb.StatusDelivered},
		{Provider: Name, ProviderMessageID: "wamid.out2", Status: sb.StatusFailed},
	}, nil, nil)
	// Without a display number, To is the phone number id.
	body = []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
	  "metadata":{"phone_number_id":"106540352242922"},
	  "messages":[{"from":"+16505551234","id":"wamid.9","type":"text","text":{"body":"hi"}}]}}]}]}`)
	batch, err = New(testCreds(), Options{}).ParseWebhook(hook(body, Sign(testAppSecret, body)), body, hookURL)
	if err != nil {
		t.Fatal(err)
	}
	checkBatch(t, batch, []wantMsg{{From: customer, To: testPhoneID, ID: "wamid.9", Text: "hi", Meta: map[string]any{"kind": "text"}}}, nil, nil, nil)
}
