package tts

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
)

// HTTPEngine renders speech with an OpenAI-compatible /audio/speech
// endpoint (OpenAI itself or a self-hosted server speaking its API).
type HTTPEngine struct {
	BaseURL      string // with the version prefix, e.g. https://api.openai.com/v1
	APIKey       string // sent as a bearer token when set
	Model        string // default "tts-1"
	DefaultVoice string // used when the Request names none; default "alloy"
	HTTP         *http.Client
}

var _ Engine = (*HTTPEngine)(nil)

// httpPCMRate is the rate of OpenAI's "pcm" response format.
const httpPCMRate = 24000

// maxSpeechBytes bounds a response: ten minutes of 24 kHz PCM16.
const maxSpeechBytes = 10 * 60 * httpPCMRate * 2

var defaultHTTPClient = &http.Client{Timeout: 2 * time.Minute}

func (e *HTTPEngine) model() string {
	if e.Model == "" {
		return "tts-1"
	}
	return e.Model
}

// Name identifies endpoint and model, so that two configured engines never
// share cache entries.
func (e *HTTPEngine) Name() string {
	return "http:" + e.model() + "@" + strings.TrimRight(e.BaseURL, "/")
}

// APIError is a non-2xx answer from an OpenAI-compatible endpoint.
type APIError struct {
	StatusCode int
	Type       string
	Code       string
	Message    string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("tts api: %d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.Message)
}

// Temporary reports whether retrying later may succeed (rate limited or a
// server error).
func (e *APIError) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// Synthesize posts the text and reads back raw 24 kHz PCM16 (or a WAV
// when the server answers audio/wav), resampled to the requested rate.
// The Request's Language is not sent: OpenAI's voices infer it from the text.
func (e *HTTPEngine) Synthesize(ctx context.Context, r Request) (Audio, error) {
	if strings.TrimSpace(r.Text) == "" {
		return Audio{SampleRate: r.rate()}, nil
	}
	voice := r.Voice
	if voice == "" {
		voice = e.DefaultVoice
	}
	if voice == "" {
		voice = "alloy"
	}
	body, err := json.Marshal(map[string]string{
		"model":           e.model(),
		"input":           r.Text,
		"voice":           voice,
		"response_format": "pcm",
	})
	if err != nil {
		return Audio{}, fmt.Errorf("tts: encode request: %w", err)
	}
	url := strings.TrimRight(e.BaseURL, "/") + "/audio/speech"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Audio{}, fmt.Errorf("tts: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if e.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+e.APIKey)
	}
	client := e.HTTP
	if client == nil {
		client = defaultHTTPClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return Audio{}, fmt.Errorf("tts: post %s: %w", url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxSpeechBytes+1))
	if err != nil {
		return Audio{}, fmt.Errorf("tts: read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return Audio{}, apiError(resp.StatusCode, data)
	}
	if len(data) > maxSpeechBytes {
		return Audio{}, fmt.Errorf("tts: answer longer than %d bytes", maxSpeechBytes)
	}
	var a Audio
	if isWAV(resp.Header.Get("Content-Type"), data) {
		if a, err = ParseWAV(data); err != nil {
			return Audio{}, fmt.Errorf("tts: answer: %w", err)
		}
	} else {
		a = Audio{SampleRate: httpPCMRate, Samples: make([]int16, len(data)/2)}
		for i := range a.Samples {
			a.Samples[i] = int16(binary.LittleEndian.Uint16(data[2*i:]))
		}
	}
	return Resample(a, r.rate()), nil
}

func isWAV(contentType string, data []byte) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch mt {
	case "audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave":
		return true
	}
	// Some servers label everything application/octet-stream.
	return len(data) >= 12 && string(data[0:4]) == "RIFF" && string(data[8:12]) == "WAVE"
}

// apiError decodes OpenAI's {"error":{"message","type","code"}} shape,
// falling back to the raw body.
func apiError(status int, body []byte) error {
	var env struct {
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Code    any    `json:"code"`
		} `json:"error"`
	}
	e := &APIError{StatusCode: status}
	if json.Unmarshal(body, &env) == nil && env.Error.Message != "" {
		e.Message, e.Type = env.Error.Message, env.Error.Type
		if env.Error.Code != nil {
			e.Code = fmt.Sprint(env.Error.Code)
		}
		return e
	}
	e.Message = strings.ToValidUTF8(string(bytes.TrimSpace(body[:min(len(body), 200)])), "")
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}
