package llm

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/voicebot"
	"github.com/switchboardhq/switchboard/voicebot/openaitest"
)

func ptr[T any](v T) *T { return &v }

func TestComplete(t *testing.T) {
	srv := openaitest.New(t, "sk-test")
	conv := []voicebot.ChatMessage{
		{Role: "system", Content: "You are a helpful phone agent."},
		{Role: "user", Content: "I wrote on Telegram about my order."},
		{Role: "assistant", Content: "Which order?"},
		{Role: "user", Content: "Order 42"},
	}
	tests := []struct {
		name      string
		client    Client
		req       voicebot.ChatRequest
		reply     string
		want      string
		wantModel string
		wantTemp  *float64
		wantMax   *int
	}{
		{"echo by default", Client{BaseURL: srv.URL(), APIKey: "sk-test", Model: "gpt-4o-mini"},
			voicebot.ChatRequest{Messages: conv}, "", "You said: Order 42", "gpt-4o-mini", nil, nil},
		{"scripted reply, request model and options", Client{BaseURL: srv.URL() + "/", APIKey: "sk-test", Model: "gpt-4o-mini"},
			voicebot.ChatRequest{Model: "gpt-4.1", Messages: conv, Temperature: ptr(0.0), MaxTokens: 50},
			"Order 42 ships tomorrow.", "Order 42 ships tomorrow.", "gpt-4.1", ptr(0.0), ptr(50)},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.reply != "" {
				srv.Reply(tt.reply)
			}
			got, err := tt.client.Complete(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("reply %q, want %q", got, tt.want)
			}
			req := srv.ChatRequests()[i]
			if req.Model != tt.wantModel || len(req.Messages) != len(conv) {
				t.Fatalf("server got %+v", req)
			}
			for j, m := range req.Messages {
				if m.Role != conv[j].Role || m.Content != conv[j].Content {
					t.Errorf("message %d = %+v, want %+v", j, m, conv[j])
				}
			}
			if (req.Temperature == nil) != (tt.wantTemp == nil) || (req.Temperature != nil && *req.Temperature != *tt.wantTemp) {
				t.Errorf("temperature %v, want %v", req.Temperature, tt.wantTemp)
			}
			if (req.MaxTokens == nil) != (tt.wantMax == nil) || (req.MaxTokens != nil && *req.MaxTokens != *tt.wantMax) {
				t.Errorf("max_tokens %v, want %v", req.MaxTokens, tt.wantMax)
			}
		})
	}
}

func TestCompleteErrors(t *testing.T) {
	srv := openaitest.New(t, "sk-test")
	ok := &Client{BaseURL: srv.URL(), APIKey: "sk-test", Model: "gpt-4o-mini"}
	hello := voicebot.ChatRequest{Messages: []voicebot.ChatMessage{{Role: "user", Content: "hi"}}}
	var apiErr *APIError

	tests := []struct {
		name      string
		client    *Client
		req       voicebot.ChatRequest
		fail      int
		status    int
		temporary bool
		message   string
	}{
		{"wrong key", &Client{BaseURL: srv.URL(), APIKey: "sk-wrong-key-123", Model: "m"}, hello, 0, 401, false, "Incorrect API key provided"},
		{"rate limited", ok, hello, 429, 429, true, "Rate limit reached"},
		{"server error", ok, hello, 500, 500, true, "The server had an error"},
		{"bad role", ok, voicebot.ChatRequest{Messages: []voicebot.ChatMessage{{Role: "robot", Content: "x"}}}, 0, 400, false, "Invalid value: 'robot'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fail != 0 {
				srv.FailNext(tt.fail, tt.message+" (scripted)")
			}
			_, err := tt.client.Complete(context.Background(), tt.req)
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want *APIError", err)
			}
			if apiErr.StatusCode != tt.status || apiErr.Temporary() != tt.temporary || !strings.Contains(err.Error(), tt.message) {
				t.Errorf("err = %v (status %d temporary %v)", err, apiErr.StatusCode, apiErr.Temporary())
			}
		})
	}

	if _, err := (&Client{BaseURL: srv.URL()}).Complete(context.Background(), hello); !errors.Is(err, ErrNoModel) {
		t.Errorf("no model: %v", err)
	}
	if _, err := ok.Complete(context.Background(), voicebot.ChatRequest{}); err == nil {
		t.Error("no messages: want an error")
	}

	srv.SetDelay(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := ok.Complete(ctx, hello); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout: %v", err)
	}
}

func TestCompleteOddAnswers(t *testing.T) {
	tests := []struct {
		name, body string
		status     int
		wantErr    string
	}{
		{"no choices", `{"choices":[]}`, 200, "no choices"},
		{"null content", `{"choices":[{"message":{"role":"assistant","content":null},"finish_reason":"length"}]}`, 200, "no content"},
		{"refusal", `{"choices":[{"message":{"role":"assistant","content":null,"refusal":"I can't help"}}]}`, 200, "refused: I can't help"},
		{"not json", `<html>oops</html>`, 200, "decode answer"},
		{"plain error body", `bad gateway`, 502, "bad gateway"},
		{"empty content is fine", `{"choices":[{"message":{"role":"assistant","content":""}}]}`, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			_, err := (&Client{BaseURL: srv.URL, Model: "m"}).Complete(context.Background(),
				voicebot.ChatRequest{Messages: []voicebot.ChatMessage{{Role: "user", Content: "hi"}}})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
