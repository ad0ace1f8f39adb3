// Package llm is an OpenAI-compatible chat-completions client: the
// voicebot.ChatModel behind llm steps. Any server speaking the API works
// (OpenAI, Azure-style proxies, vLLM, Ollama, llama.cpp): set BaseURL.
package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/voicebot"
	"github.com/switchboardhq/switchboard/voicebot/openaiapi"
)

// Client calls POST {BaseURL}/chat/completions.
type Client struct {
	BaseURL string // with the version prefix, e.g. https://api.openai.com/v1
	APIKey  string // sent as a bearer token when set
	Model   string // used when a request names none
	HTTP    *http.Client
}

var _ voicebot.ChatModel = (*Client)(nil)

var defaultHTTPClient = &http.Client{Timeout: 2 * time.Minute}

// maxAnswerBytes bounds the JSON answer read back.
const maxAnswerBytes = 4 << 20

// ErrNoModel reports a request with no model while the client has none.
var ErrNoModel = errors.New("llm: no model configured")

// APIError is a non-2xx answer from the endpoint; Temporary reports a
// rate limit or a server error.
type APIError = openaiapi.Error

type chatRequest struct {
	Model       string                 `json:"model"`
	Messages    []voicebot.ChatMessage `json:"messages"`
	Temperature *float64               `json:"temperature,omitempty"`
	MaxTokens   int                    `json:"max_tokens,omitempty"`
}

type chatResponse struct {
	Choices []struct {
		Message struct {
			Content *string `json:"content"`
			Refusal *string `json:"refusal"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
}

// Complete sends the conversation and returns the first choice's content.
func (c *Client) Complete(ctx context.Context, req voicebot.ChatRequest) (string, error) {
	model := req.Model
	if model == "" {
		model = c.Model
	}
	if model == "" {
		return "", ErrNoModel
	}
	if len(req.Messages) == 0 {
		return "", errors.New("llm: no messages")
	}
	body, err := json.Marshal(chatRequest{
		Model:       model,
		Messages:    req.Messages,
		Temperature: req.Temperature,
		MaxTokens:   req.MaxTokens,
	})
	if err != nil {
		return "", fmt.Errorf("llm: encode request: %w", err)
	}
	url := strings.TrimRight(c.BaseURL, "/") + "/chat/completions"
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("llm: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	if c.APIKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
	client := c.HTTP
	if client == nil {
		client = defaultHTTPClient
	}
	resp, err := client.Do(hreq)
	if err != nil {
		return "", fmt.Errorf("llm: post %s: %w", url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return "", fmt.Errorf("llm: read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return "", apiError(resp.StatusCode, data)
	}
	var out chatResponse
	if err := json.Unmarshal(data, &out); err != nil {
		return "", fmt.Errorf("llm: decode answer: %w", err)
	}
	if len(out.Choices) == 0 {
		return "", errors.New("llm: answer has no choices")
	}
	msg := out.Choices[0].Message
	if msg.Content == nil {
		if msg.Refusal != nil {
			return "", fmt.Errorf("llm: model refused: %s", *msg.Refusal)
		}
		return "", fmt.Errorf("llm: answer has no content (finish_reason %q)", out.Choices[0].FinishReason)
	}
	return *msg.Content, nil
}

// apiError reads an error answer (openaiapi.Parse).
func apiError(status int, body []byte) error { return openaiapi.Parse("llm", status, body) }
