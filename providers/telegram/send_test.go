package telegram

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	sb "github.com/switchboardhq/switchboard"
)

func testMessage(to, text string, media ...string) *sb.Message {
	return &sb.Message{
		ID: "msg_1", AccountID: "acc_1", Channel: sb.ChannelTelegram, Direction: sb.Outbound,
		From: "test_example_bot", To: to, Text: text, MediaURLs: media,
	}
}

func delivered(pmid string) *sb.Receipt {
	return &sb.Receipt{AccountID: "acc_1", MessageID: "msg_1", Provider: sb.ProviderTelegram,
		ProviderMessageID: pmid, Status: sb.StatusDelivered}
}

func TestSend(t *testing.T) {
	for _, tc := range []struct {
		name    string
		msg     *sb.Message
		replies map[string][]reply
		calls   [][2]string
		want    sb.SendResult
	}{
		{
			name:    "text",
			msg:     testMessage("1111111", "Hello from the bot"),
			replies: map[string][]reply{"sendMessage": {{fixture: "sendMessage_response.json"}}},
			calls:   [][2]string{{"sendMessage", `{"chat_id":1111111,"text":"Hello from the bot"}`}},
			want:    sb.SendResult{ProviderMessageID: "1111111:1366", Receipt: delivered("1111111:1366")},
		},
		{
			name: "text to a channel by username",
			msg:  testMessage("@example_news", "Breaking"),
			replies: map[string][]reply{"sendMessage": {{raw: `{"ok":true,"result":{"message_id":9,` +
				`"chat":{"id":-1009876543210,"title":"Example News","type":"channel"},"date":1441645540,"text":"Breaking"}}`}}},
			calls: [][2]string{{"sendMessage", `{"chat_id":"@example_news","text":"Breaking"}`}},
			want:  sb.SendResult{ProviderMessageID: "-1009876543210:9", Receipt: delivered("-1009876543210:9")},
		},
		{
			name:    "photo with caption",
			msg:     testMessage("1111111", "Your receipt", "https://cdn.example.com/r/receipt.JPG?sig=abc"),
			replies: map[string][]reply{"sendPhoto": {{fixture: "sendPhoto_response.json"}}},
			calls: [][2]string{{"sendPhoto",
				`{"chat_id":1111111,"photo":"https://cdn.example.com/r/receipt.JPG?sig=abc","caption":"Your receipt"}`}},
			want: sb.SendResult{ProviderMessageID: "1111111:1370", Receipt: delivered("1111111:1370")},
		},
		{
			name:    "photo without text",
			msg:     testMessage("1111111", "", "https://cdn.example.com/cat.webp"),
			replies: map[string][]reply{"sendPhoto": {{fixture: "sendPhoto_response.json"}}},
			calls:   [][2]string{{"sendPhoto", `{"chat_id":1111111,"photo":"https://cdn.example.com/cat.webp"}`}},
			want:    sb.SendResult{ProviderMessageID: "1111111:1370", Receipt: delivered("1111111:1370")},
		},
		{
			name:    "document",
			msg:     testMessage("1111111", "Your invoice", "https://cdn.example.com/invoice.pdf"),
			replies: map[string][]reply{"sendDocument": {{fixture: "sendDocument_response.json"}}},
			calls: [][2]string{{"sendDocument",
				`{"chat_id":1111111,"document":"https://cdn.example.com/invoice.pdf","caption":"Your invoice"}`}},
			want: sb.SendResult{ProviderMessageID: "1111111:1371", Receipt: delivered("1111111:1371")},
		},
		{
			name: "several attachments",
			msg: testMessage("1111111", "Your files",
				"https://cdn.example.com/a.png", "https://cdn.example.com/b.pdf", "https://cdn.example.com/c.gif"),
			replies: map[string][]reply{
				"sendPhoto":    {{fixture: "sendPhoto_response.json"}, {fixture: "sendPhoto_response.json"}},
				"sendDocument": {{fixture: "sendDocument_response.json"}},
			},
			calls: [][2]string{
				{"sendPhoto", `{"chat_id":1111111,"photo":"https://cdn.example.com/a.png","caption":"Your files"}`},
				{"sendDocument", `{"chat_id":1111111,"document":"https://cdn.example.com/b.pdf"}`},
				{"sendPhoto", `{"chat_id":1111111,"photo":"https://cdn.example.com/c.gif"}`},
			},
			want: sb.SendResult{ProviderMessageID: "1111111:1370", Receipt: delivered("1111111:1370")},
		},
		{
			name: "later attachment refused",
			msg:  testMessage("1111111", "Your files", "https://cdn.example.com/a.png", "https://cdn.example.com/b.pdf"),
			replies: map[string][]reply{
				"sendPhoto":    {{fixture: "sendPhoto_response.json"}},
				"sendDocument": {{status: 429, fixture: "error_429_too_many_requests.json"}},
			},
			calls: [][2]string{
				{"sendPhoto", `{"chat_id":1111111,"photo":"https://cdn.example.com/a.png","caption":"Your files"}`},
				{"sendDocument", `{"chat_id":1111111,"document":"https://cdn.example.com/b.pdf"}`},
			},
			want: sb.SendResult{ProviderMessageID: "1111111:1370", Receipt: &sb.Receipt{
				AccountID: "acc_1", MessageID: "msg_1", Provider: sb.ProviderTelegram, ProviderMessageID: "1111111:1370",
				Status: sb.StatusDelivered, ErrorCode: "429",
				ErrorMessage: "attachment 2 of 2 not sent: Too Many Requests: retry after 5"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAPI(t)
			for method, rs := range tc.replies {
				f.on(method, rs...)
			}
			got, err := f.client(Options{}).Send(context.Background(), tc.msg)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			checkCalls(t, f.recorded(), tc.calls...)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Send = %+v (receipt %+v), want %+v (receipt %+v)", got, got.Receipt, tc.want, tc.want.Receipt)
			}
			assertNoToken(t, got, got.Receipt)
		})
	}
}

// TestSendRequestShape checks a text send against the documented request.
func TestSendRequestShape(t *testing.T) {
	f := newFakeAPI(t)
	f.on("sendMessage", reply{fixture: "sendMessage_response.json"})
	if _, err := f.client(Options{}).Send(context.Background(), testMessage("1111111", "Hello from the bot")); err != nil {
		t.Fatal(err)
	}
	checkShape(t, f.recorded()[0].body, "sendMessage_request.json")
}

func TestSendErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply reply
		opts  Options
		ctx   time.Duration // a deadline for the call, when set
		want  sb.ProviderError
	}{
		{"bot blocked", reply{status: 403, fixture: "error_403_bot_blocked.json"}, Options{}, 0,
			sb.ProviderError{Code: "403", Message: "Forbidden: bot was blocked by the user", Permanent: true, OptOut: true}},
		{"kicked from group", reply{status: 403, raw: `{"ok":false,"error_code":403,"description":"Forbidden: bot was kicked from the supergroup chat"}`}, Options{}, 0,
			sb.ProviderError{Code: "403", Message: "Forbidden: bot was kicked from the supergroup chat", Permanent: true, OptOut: true}},
		{"user deactivated", reply{status: 403, fixture: "error_403_user_deactivated.json"}, Options{}, 0,
			sb.ProviderError{Code: "403", Message: "Forbidden: user is deactivated", Permanent: true}},
		{"too many requests", reply{status: 429, fixture: "error_429_too_many_requests.json"}, Options{}, 0,
			sb.ProviderError{Code: "429", Message: "Too Many Requests: retry after 5", RetryAfter: 5 * time.Second}},
		{"too many requests, recorded response", reply{httpFixture: "error_429_too_many_requests.headers.txt"}, Options{}, 0,
			sb.ProviderError{Code: "429", Message: "Too Many Requests: retry after 5", RetryAfter: 5 * time.Second}},
		{"too many requests, header only", reply{status: 429, header: http.Header{"Retry-After": {"7"}},
			raw: `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7"}`}, Options{}, 0,
			sb.ProviderError{Code: "429", Message: "Too Many Requests: retry after 7", RetryAfter: 7 * time.Second}},
		{"chat not found", reply{status: 400, fixture: "error_400_chat_not_found.json"}, Options{}, 0,
			sb.ProviderError{Code: "400", Message: "Bad Request: chat not found", Permanent: true}},
		{"text empty", reply{status: 400, fixture: "error_400_message_text_empty.json"}, Options{}, 0,
			sb.ProviderError{Code: "400", Message: "Bad Request: message text is empty", Permanent: true}},
		{"group upgraded", reply{status: 400, fixture: "error_400_migrate_to_chat_id.json"}, Options{}, 0,
			sb.ProviderError{Code: "400", Permanent: true,
				Message: "Bad Request: group chat was upgraded to a supergroup chat; the chat is now -1001234567890 (migrate_to_chat_id)"}},
		{"token revoked", reply{status: 401, fixture: "error_401_unauthorized.json"}, Options{}, 0,
			sb.ProviderError{Code: "401", Message: "Unauthorized", Permanent: true}},
		{"internal error", reply{status: 500, fixture: "error_500_internal.json"}, Options{}, 0,
			sb.ProviderError{Code: "500", Message: "Internal Server Error: restart"}},
		{"description names the token", reply{status: 400,
			raw: `{"ok":false,"error_code":400,"description":"Bad Request: token ` + testToken + ` is odd"}`}, Options{}, 0,
			sb.ProviderError{Code: "400", Message: "Bad Request: token 123456789:<redacted> is odd", Permanent: true}},
		{"proxy page", reply{status: 502, raw: "<html><body>502 Bad Gateway</body></html>"}, Options{}, 0,
			sb.ProviderError{Code: "502", Message: "unexpected sendMessage answer (HTTP 502) from the Bot API"}},
		{"context deadline", reply{hang: true}, Options{}, 50 * time.Millisecond,
			sb.ProviderError{Code: "timeout"}},
		{"client timeout", reply{hang: true}, Options{HTTPClient: &http.Client{Timeout: 50 * time.Millisecond}}, 0,
			sb.ProviderError{Code: "timeout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAPI(t)
			f.on("sendMessage", tc.reply)
			ctx := context.Background()
			if tc.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctx)
				defer cancel()
			}
			got, err := f.client(tc.opts).Send(ctx, testMessage("1111111", "Hello from the bot"))
			assertNoToken(t, got, err)
			var pe *sb.ProviderError
			if !errors.As(err, &pe) {
				t.Fatalf("Send = %+v, %v; want a *sb.ProviderError", got, err)
			}
			if tc.want.Message == "" { // the transport's wording is not ours to pin
				if !strings.HasPrefix(pe.Message, "telegram sendMessage: ") {
					t.Errorf("message %q does not name the call", pe.Message)
				}
				tc.want.Message = pe.Message
			}
			if *pe != tc.want {
				t.Errorf("error %+v, want %+v", *pe, tc.want)
			}
			checkCalls(t, f.recorded(), [2]string{"sendMessage", `{"chat_id":1111111,"text":"Hello from the bot"}`})
		})
	}
}

func TestSendNetworkFailure(t *testing.T) {
	srv := httptest.NewServer(nil)
	base := srv.URL
	srv.Close()
	_, err := New(Credentials{BotToken: testToken}, Options{BaseURL: base}).Send(context.Background(), testMessage("1111111", "hi"))
	var pe *sb.ProviderError
	if !errors.As(err, &pe) || pe.Permanent || pe.Code != "network" {
		t.Fatalf("Send = %#v, want a transient network error", err)
	}
	if !strings.Contains(pe.Message, "telegram sendMessage:") {
		t.Errorf("message %q does not name the call", pe.Message)
	}
	assertNoToken(t, err, pe.Message)
}

// TestSendRefusedLocally covers sends that cannot succeed and never reach
// Telegram.
func TestSendRefusedLocally(t *testing.T) {
	for _, tc := range []struct {
		name     string
		token    string
		msg      *sb.Message
		wantCode string
	}{
		{"not a chat id", testToken, testMessage("+15551234567x", "hi"), "invalid_chat_id"},
		{"empty address", testToken, testMessage("", "hi"), "invalid_chat_id"},
		{"nothing to send", testToken, testMessage("1111111", ""), "empty_message"},
		{"media not http", testToken, testMessage("1111111", "hi", "ftp://cdn.example.com/a.png"), "invalid_media_url"},
		{"malformed token", "123:short", testMessage("1111111", "hi"), "invalid_credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAPI(t)
			_, err := New(Credentials{BotToken: tc.token}, Options{BaseURL: f.srv.URL}).Send(context.Background(), tc.msg)
			var pe *sb.ProviderError
			if !errors.As(err, &pe) || !pe.Permanent || pe.Code != tc.wantCode {
				t.Fatalf("Send = %#v, want permanent %s", err, tc.wantCode)
			}
			if calls := f.recorded(); len(calls) != 0 {
				t.Errorf("calls made: %v", calls)
			}
		})
	}
}
