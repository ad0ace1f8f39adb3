package sdk_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"

	"github.com/switchboardhq/switchboard/sdk"
)

// fakeSwitchboard stands in for a Switchboard server so that the examples
// run without one.
func fakeSwitchboard() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "POST" && r.URL.Path == "/v1/messages":
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, `{"id":"0193f6a2-8c1e-7b3a-9d1e-4f2a6b7c8d9e","channel":"sms","direction":"outbound",
				"from":"+15005550000","to":"+79991234567","text":"Hello","media_urls":[],"metadata":{},
				"status":"accepted","encoding":"GSM-7","segments":1,"provider":"sandbox","attempts":0,"sequence":1,
				"created_at":"2026-11-23T06:00:00Z","updated_at":"2026-11-23T06:00:00Z"}`)
		case r.Method == "GET" && r.URL.Path == "/v1/messages" && r.URL.Query().Get("cursor") == "":
			io.WriteString(w, `{"data":[{"id":"m3","status":"failed"},{"id":"m2","status":"failed"}],
				"has_more":true,"next_cursor":"page2"}`)
		case r.Method == "GET" && r.URL.Path == "/v1/messages":
			io.WriteString(w, `{"data":[{"id":"m1","status":"failed"}],"has_more":false,"next_cursor":null}`)
		default:
			w.Header().Set("Content-Type", "application/problem+json")
			w.Header().Set("X-Request-Id", "req_42")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"type":"https://switchboard.dev/problems/not-found","title":"Not found","status":404,
				"detail":"no message with this id"}`)
		}
	}))
}

func Example() {
	srv := fakeSwitchboard()
	defer srv.Close()
	ctx := context.Background()

	client := sdk.New("sk_test_123", sdk.WithBaseURL(srv.URL))
	msg, err := client.Messages.Send(ctx, &sdk.SendMessageParams{
		Channel: sdk.ChannelSMS,
		From:    "+15005550000",
		To:      "+79991234567",
		Text:    "Hello",
	})
	if err != nil {
		fmt.Println("send:", err)
		return
	}
	fmt.Println(msg.ID, msg.Status, *msg.Segments)
	// Output: 0193f6a2-8c1e-7b3a-9d1e-4f2a6b7c8d9e accepted 1
}

func ExampleMessagesService_List() {
	srv := fakeSwitchboard()
	defer srv.Close()
	client := sdk.New("sk_test_123", sdk.WithBaseURL(srv.URL))

	// The iterator fetches the second page when the first is used up.
	params := &sdk.ListMessagesParams{Status: sdk.StatusFailed, Limit: 2}
	for m, err := range client.Messages.List(context.Background(), params) {
		if err != nil {
			fmt.Println("list:", err)
			return
		}
		fmt.Println(m.ID, m.Status)
	}
	// Output:
	// m3 failed
	// m2 failed
	// m1 failed
}

func ExampleError() {
	srv := fakeSwitchboard()
	defer srv.Close()
	client := sdk.New("sk_test_123", sdk.WithBaseURL(srv.URL))

	_, err := client.Messages.Get(context.Background(), "no-such-id")
	var apiErr *sdk.Error
	if errors.As(err, &apiErr) && apiErr.Code() == sdk.ProblemNotFound {
		fmt.Println(apiErr.HTTPStatusCode, apiErr.RequestID)
	}
	fmt.Println(err)
	// Output:
	// 404 req_42
	// switchboard: 404 Not found: no message with this id (request_id req_42)
}

func ExampleVerifyWebhook() {
	// secret is what WebhookEndpoints.Create returned.
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if err := sdk.VerifyWebhook(secret, r.Header, body); err != nil {
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		ev, err := sdk.ParseWebhookEvent(body)
		if err != nil {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		// Deduplicate on webhook-id; order by ev.Data.Sequence.
		fmt.Println(r.Header.Get("webhook-id"), ev.Type, ev.Data.ID, ev.Data.Status, ev.Data.Sequence)
	})

	// A delivery as the server would send it, signed with SignWebhook.
	body := []byte(`{"type":"message.delivered","timestamp":"2026-11-23T06:00:05Z",
		"data":{"id":"m1","status":"delivered","sequence":4,"media_urls":[],"metadata":{}}}`)
	sentAt := time.Now()
	sig, err := sdk.SignWebhook(secret, "msg_2Kx", sentAt, body)
	if err != nil {
		fmt.Println(err)
		return
	}
	deliver := func(body []byte) int {
		req := httptest.NewRequest("POST", "/webhooks/switchboard", bytes.NewReader(body))
		req.Header.Set("webhook-id", "msg_2Kx")
		req.Header.Set("webhook-timestamp", strconv.FormatInt(sentAt.Unix(), 10))
		req.Header.Set("webhook-signature", sig)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		return rec.Code
	}
	fmt.Println(deliver(body))
	// The same delivery with a tampered body is refused.
	fmt.Println(deliver(bytes.Replace(body, []byte("delivered"), []byte("failed"), 2)))
	// Output:
	// msg_2Kx message.delivered m1 delivered 4
	// 200
	// 400
}
