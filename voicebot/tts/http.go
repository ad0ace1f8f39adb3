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

	"github.com/switchboardhq/switchboard/voicebot/openaiapi"
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

// APIError is a non-2xx answer from the endpoint; Temporary reports a
// rate limit or a server error.
type APIError = openaiapi.Error

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

// apiError reads an error answer (openaiapi.Parse).
func apiError(status int, body []byte) error { return openaiapi.Parse("tts", status, body) }
