package stt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/voicebot/openaiapi"
)

// OpenAI transcribes with POST {BaseURL}/audio/transcriptions.
type OpenAI struct {
	BaseURL string // with the version prefix, e.g. https://api.openai.com/v1
	APIKey  string // sent as a bearer token when set
	Model   string // default "whisper-1"
	HTTP    *http.Client
}

var _ Engine = (*OpenAI)(nil)

var defaultHTTPClient = &http.Client{Timeout: 2 * time.Minute}

// maxAnswerBytes bounds the JSON answer read back.
const maxAnswerBytes = 1 << 20

// APIError is a non-2xx answer from the endpoint; Temporary reports a
// rate limit or a server error.
type APIError = openaiapi.Error

// Transcribe uploads the WAV as multipart form data and returns the text.
// A BCP 47 language is reduced to its ISO 639-1 primary subtag (en-US →
// en), the form the API accepts.
func (o *OpenAI) Transcribe(ctx context.Context, wav []byte, language string) (string, error) {
	model := o.Model
	if model == "" {
		model = "whisper-1"
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", `form-data; name="file"; filename="audio.wav"`)
	h.Set("Content-Type", "audio/wav")
	part, err := mw.CreatePart(h)
	if err != nil {
		return "", fmt.Errorf("stt: build request: %w", err)
	}
	part.Write(wav)
	fields := [][2]string{{"model", model}, {"response_format", "json"}}
	if lang := primaryLanguage(language); lang != "" {
		fields = append(fields, [2]string{"language", lang})
	}
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			return "", fmt.Errorf("stt: build request: %w", err)
		}
	}
	if err := mw.Close(); err != nil {
		return "", fmt.Errorf("stt: build request: %w", err)
	}

	url := strings.TrimRight(o.BaseURL, "/") + "/audio/transcriptions"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, &body)
	if err != nil {
		return "", fmt.Errorf("stt: %w", err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if o.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+o.APIKey)
	}
	client := o.HTTP
	if client == nil {
		client = defaultHTTPClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("stt: post %s: %w", url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return "", fmt.Errorf("stt: read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return "", apiError(resp.StatusCode, data)
	}
	var out struct {
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(data, &out); err != nil || out.Text == nil {
		return "", fmt.Errorf("stt: answer is not {\"text\": …}: %.200s", data)
	}
	return strings.TrimSpace(*out.Text), nil
}

func primaryLanguage(tag string) string {
	tag = strings.TrimSpace(tag)
	if i := strings.IndexAny(tag, "-_"); i >= 0 {
		tag = tag[:i]
	}
	return strings.ToLower(tag)
}

// apiError reads an error answer (openaiapi.Parse).
func apiError(status int, body []byte) error { return openaiapi.Parse("stt", status, body) }
