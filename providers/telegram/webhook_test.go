package telegram

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"

	sb "github.com/switchboardhq/switchboard"
)

// fixtureSecret is the secret token webhook_request_headers.txt carries.
const fixtureSecret = "s3cr3t_T0ken-example"

const hookURL = "https://hooks.example.com/hooks/ch_1/abc"

func TestSetWebhook(t *testing.T) {
	f := newFakeAPI(t)
	f.on("setWebhook", reply{fixture: "setWebhook_response.json"})
	if err := f.client(Options{}).SetWebhook(context.Background(), hookURL, fixtureSecret); err != nil {
		t.Fatalf("SetWebhook: %v", err)
	}
	calls := f.recorded()
	checkCalls(t, calls, [2]string{"setWebhook", `{"url":"` + hookURL + `","secret_token":"` + fixtureSecret +
		`","allowed_updates":["message","edited_message","my_chat_member"],"drop_pending_updates":false}`})
	checkShape(t, calls[0].body, "setWebhook_request.json")
}

func TestSetWebhookErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		secret   string
		reply    *reply
		wantCode string
		wantMsg  string
	}{
		{"bad url", fixtureSecret, &reply{status: 400,
			raw: `{"ok":false,"error_code":400,"description":"Bad Request: bad webhook: HTTPS url must be provided for webhook"}`},
			sb.EINVALID, "telegram refused the webhook: Bad Request: bad webhook: HTTPS url must be provided for webhook"},
		{"token revoked", fixtureSecret, &reply{status: 401, fixture: "error_401_unauthorized.json"},
			sb.EREFUSED, "telegram refused the credentials: Unauthorized"},
		{"server error", fixtureSecret, &reply{status: 500, fixture: "error_500_internal.json"},
			sb.EINTERNAL, "set telegram webhook: telegram error 500: Internal Server Error: restart"},
		{"secret with a space", "not allowed", nil, sb.EINVALID, "secret_token"},
		{"empty secret", "", nil, sb.EINVALID, "secret_token"},
		{"secret too long", strings.Repeat("a", 257), nil, sb.EINVALID, "secret_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAPI(t)
			if tc.reply != nil {
				f.on("setWebhook", *tc.reply)
			}
			err := f.client(Options{}).SetWebhook(context.Background(), hookURL, tc.secret)
			if code := sb.ErrorCode(err); code != tc.wantCode {
				t.Fatalf("SetWebhook = %v (code %q), want code %q", err, code, tc.wantCode)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not say %q", err, tc.wantMsg)
			}
			if n := len(f.recorded()); (tc.reply == nil) != (n == 0) {
				t.Errorf("%d calls made", n)
			}
			assertNoToken(t, err)
		})
	}
}

func TestDeleteWebhook(t *testing.T) {
	f := newFakeAPI(t)
	f.on("deleteWebhook", reply{fixture: "deleteWebhook_response.json"})
	if err := f.client(Options{}).DeleteWebhook(context.Background()); err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}
	checkCalls(t, f.recorded(), [2]string{"deleteWebhook", `{"drop_pending_updates":false}`})
}

// webhookRequest replays webhook_request_headers.txt, the request Telegram
// makes, with body; secret, when not nil, replaces its secret header ("" removes it).
func webhookRequest(t *testing.T, body []byte, secret *string) *http.Request {
	t.Helper()
	head, _, ok := strings.Cut(string(fixture(t, "webhook_request_headers.txt")), "\n\n")
	if !ok {
		t.Fatal("webhook_request_headers.txt: no blank line")
	}
	head = strings.Replace(head, "<len>", strconv.Itoa(len(body)), 1)
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head + "\n\n" + string(body))))
	if err != nil {
		t.Fatal(err)
	}
	if secret != nil {
		r.Header.Del(SecretHeader)
		if *secret != "" {
			r.Header.Set(SecretHeader, *secret)
		}
	}
	return r
}

func hookClient() *Client {
	return New(Credentials{BotToken: testToken}, Options{WebhookSecret: fixtureSecret, BotUsername: "test_example_bot"})
}

// inbound is the part of an inbound message a case checks; Metadata is
// compared as JSON.
type inbound struct {
	From, Text, ProviderMessageID, Metadata string
}

const fromUser = `"from":{"id":1111111,"username":"Testusername","first_name":"Test Firstname"}`

func TestParseWebhook(t *testing.T) {
	optIn := func(keyword string) sb.OptOut {
		return sb.OptOut{Channel: sb.ChannelTelegram, Address: "1111111", Source: "provider", Keyword: keyword}
	}
	for _, tc := range []struct {
		fixture  string
		messages []inbound
		optOuts  []sb.OptOut
		optIns   []sb.OptOut
	}{
		{fixture: "update_text_message.json", messages: []inbound{{"1111111", "Hello, I need help with my order", "1111111:1367",
			`{"telegram":{"update_id":10001,` + fromUser + `,"chat_type":"private","date":1441645600}}`}}},
		{fixture: "update_text_message_official_example.json", messages: []inbound{{"1111111", "Bold and italics", "1111111:1365",
			`{"telegram":{"update_id":10000,` + fromUser + `,"chat_type":"private","date":1441645532}}`}}},
		{fixture: "update_start_command.json", messages: []inbound{{"1111111", "/start", "1111111:1365",
			`{"telegram":{"update_id":10000,` + fromUser + `,"chat_type":"private","date":1441645532}}`}},
			optIns: []sb.OptOut{optIn("start")}},
		{fixture: "update_start_command_deeplink.json", messages: []inbound{{"1111111", "/start ref_campaign42", "1111111:1368",
			`{"telegram":{"update_id":10002,` + fromUser + `,"chat_type":"private","date":1441645700}}`}},
			optIns: []sb.OptOut{optIn("start")}},
		{fixture: "update_start_command_official_example.json", messages: []inbound{{"1111111", "/start", "1111111:1365",
			`{"telegram":{"update_id":10000,` + fromUser + `,"chat_type":"private","date":1441645532}}`}},
			optIns: []sb.OptOut{optIn("start")}},
		{fixture: "update_photo.json", messages: []inbound{{"1111111", "The parcel arrived damaged", "1111111:1372",
			`{"telegram":{"update_id":10004,` + fromUser + `,"chat_type":"private","date":1441645900,` +
				`"file":{"file_unique_id":"AQADlg","file_size":102311}},"telegram_file_id":"AgACAgIAAxkBAAIBXGZ0bGFyZ2U","kind":"photo"}`}}},
		{fixture: "update_document.json", messages: []inbound{{"1111111", "", "1111111:1373",
			`{"telegram":{"update_id":10005,` + fromUser + `,"chat_type":"private","date":1441645910,` +
				`"file":{"file_unique_id":"AgADdc","file_name":"order-4711.pdf","mime_type":"application/pdf","file_size":53122}},` +
				`"telegram_file_id":"BQACAgIAAxkBAAIBXWZ0ZG9jdW1lbnQ","kind":"document"}`}}},
		{fixture: "update_voice.json", messages: []inbound{{"1111111", "", "1111111:1374",
			`{"telegram":{"update_id":10006,` + fromUser + `,"chat_type":"private","date":1441645920,` +
				`"file":{"file_unique_id":"AgADvc","mime_type":"audio/ogg","file_size":9871}},` +
				`"telegram_file_id":"AwACAgIAAxkBAAIBXmZ0dm9pY2U","kind":"voice"}`}}},
		{fixture: "update_edited_message.json", messages: []inbound{{"1111111", "Hello, I need help with my order 4711", "1111111:1367",
			`{"telegram":{"update_id":10007,` + fromUser + `,"chat_type":"private","date":1441645600,"edited":true,"edit_date":1441645650}}`}}},
		{fixture: "update_group_text_message.json", messages: []inbound{{"-1001234567890", "/help@test_example_bot", "-1001234567890:77",
			`{"telegram":{"update_id":10008,"from":{"id":2222222,"username":"groupmember","first_name":"Group Member"},` +
				`"chat_type":"supergroup","chat_title":"Support Group","date":1441646100}}`}}},
		{fixture: "update_my_chat_member_blocked.json", optOuts: []sb.OptOut{optIn("bot_blocked")}},
		{fixture: "update_my_chat_member_unblocked.json", optIns: []sb.OptOut{optIn("bot_unblocked")}},
		{fixture: "update_callback_query.json"},
	} {
		t.Run(strings.TrimSuffix(tc.fixture, ".json"), func(t *testing.T) {
			body := fixture(t, tc.fixture)
			b, err := hookClient().ParseWebhook(webhookRequest(t, body, nil), body, hookURL)
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			if len(b.Messages) != len(tc.messages) {
				t.Fatalf("%d messages, want %d", len(b.Messages), len(tc.messages))
			}
			for i, m := range b.Messages {
				w := tc.messages[i]
				if m.Channel != sb.ChannelTelegram || m.Direction != sb.Inbound || m.Status != sb.StatusReceived ||
					m.Provider != sb.ProviderTelegram || m.To != "test_example_bot" || len(m.MediaURLs) != 0 {
					t.Errorf("message %d: %+v", i, m)
				}
				if m.From != w.From || m.Text != w.Text || m.ProviderMessageID != w.ProviderMessageID {
					t.Errorf("message %d: from %q text %q id %q, want %q %q %q",
						i, m.From, m.Text, m.ProviderMessageID, w.From, w.Text, w.ProviderMessageID)
				}
				if !sameJSON(t, m.Metadata, []byte(w.Metadata)) {
					t.Errorf("message %d metadata %s, want %s", i, m.Metadata, w.Metadata)
				}
			}
			if !reflect.DeepEqual(b.OptOuts, tc.optOuts) {
				t.Errorf("opt-outs %+v, want %+v", b.OptOuts, tc.optOuts)
			}
			if !reflect.DeepEqual(b.OptIns, tc.optIns) {
				t.Errorf("opt-ins %+v, want %+v", b.OptIns, tc.optIns)
			}
			if len(b.Receipts) != 0 || b.Response != nil {
				t.Errorf("receipts %v response %q, want none", b.Receipts, b.Response)
			}
		})
	}
}

func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

func TestParseWebhookForged(t *testing.T) {
	str := func(s string) *string { return &s }
	body := fixture(t, "update_text_message.json")
	for _, tc := range []struct {
		name   string
		client *Client
		header *string
		body   []byte
	}{
		{"wrong secret", hookClient(), str("s3cr3t_T0ken-examplf"), body},
		{"secret of another case", hookClient(), str("S3CR3T_T0KEN-EXAMPLE"), body},
		{"secret prefix", hookClient(), str("s3cr3t_T0ken"), body},
		{"missing header", hookClient(), str(""), body},
		{"no secret configured", New(Credentials{BotToken: testToken}, Options{}), str(""), body},
		{"no secret configured, header sent", New(Credentials{BotToken: testToken}, Options{}), nil, body},
		{"wrong secret, malformed body", hookClient(), str("nope"), []byte(`{"update_id":`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.client.ParseWebhook(webhookRequest(t, tc.body, tc.header), tc.body, hookURL)
			if !errors.Is(err, sb.ErrForged) || b != nil {
				t.Fatalf("ParseWebhook = %v, %v; want sb.ErrForged", b, err)
			}
		})
	}
}

func TestParseWebhookMalformed(t *testing.T) {
	for _, body := range []string{`{"update_id":`, `[1,2]`, `not json`, `{"update_id":1,"message":"text"}`} {
		b, err := hookClient().ParseWebhook(webhookRequest(t, []byte(body), nil), []byte(body), hookURL)
		if sb.ErrorCode(err) != sb.EINVALID || b != nil {
			t.Errorf("ParseWebhook(%s) = %v, %v; want invalid", body, b, err)
		}
	}
}

func TestIsStart(t *testing.T) {
	c := hookClient()
	for text, want := range map[string]bool{
		"/start":                        true,
		"/start ref_campaign42":         true,
		"  /start\tpayload":             true,
		"/start@test_example_bot":       true,
		"/start@Test_Example_Bot abc":   true,
		"/start@other_bot":              false,
		"/started":                      false,
		"/stop":                         false,
		"please /start":                 false,
		"":                              false,
		"/help@test_example_bot /start": false,
	} {
		if got := c.isStart(text); got != want {
			t.Errorf("isStart(%q) = %v, want %v", text, got, want)
		}
	}
}

// TestParseWebhookMembership covers the bot's membership changes beyond
// a private chat's block and unblock.
func TestParseWebhookMembership(t *testing.T) {
	group := func(old, new string) []byte {
		return []byte(`{"update_id":1,"my_chat_member":{"chat":{"id":-42,"title":"G","type":"group"},` +
			`"from":{"id":7,"is_bot":false,"first_name":"A"},"date":1,` +
			`"old_chat_member":{"user":{"id":123456789,"is_bot":true,"first_name":"Test Bot"},"status":"` + old + `"},` +
			`"new_chat_member":{"user":{"id":123456789,"is_bot":true,"first_name":"Test Bot"},"status":"` + new + `"}}}`)
	}
	o := func(keyword string) []sb.OptOut {
		return []sb.OptOut{{Channel: sb.ChannelTelegram, Address: "-42", Source: "provider", Keyword: keyword}}
	}
	for _, tc := range []struct {
		name            string
		body            []byte
		optOuts, optIns []sb.OptOut
	}{
		{"added to a group", group("left", "member"), nil, o("bot_added")},
		{"removed from a group", group("member", "left"), o("bot_removed"), nil},
		{"banned from a group", group("administrator", "kicked"), o("bot_blocked"), nil},
		{"promoted", group("member", "administrator"), nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := hookClient().ParseWebhook(webhookRequest(t, tc.body, nil), tc.body, hookURL)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(b.OptOuts, tc.optOuts) || !reflect.DeepEqual(b.OptIns, tc.optIns) || len(b.Messages) != 0 {
				t.Errorf("batch %+v, want opt-outs %+v opt-ins %+v", b, tc.optOuts, tc.optIns)
			}
		})
	}
}

// TestWebhookRequestFixture guards the helper: the replayed request
// carries the recorded secret header.
func TestWebhookRequestFixture(t *testing.T) {
	r := webhookRequest(t, []byte(`{}`), nil)
	if got := r.Header.Get(SecretHeader); got != fixtureSecret {
		t.Fatalf("secret header %q, want %q", got, fixtureSecret)
	}
	var buf bytes.Buffer
	buf.ReadFrom(r.Body)
	if buf.String() != `{}` {
		t.Errorf("body %q", buf.String())
	}
}
