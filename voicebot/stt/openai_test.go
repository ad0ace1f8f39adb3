package stt

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/voicebot/openaitest"
	"github.com/switchboardhq/switchboard/voicebot/tts"
)

func testWAV() []byte {
	a := tts.Audio{SampleRate: 8000, Samples: make([]int16, 8000)}
	for i := range a.Samples {
		a.Samples[i] = int16(i%200*100 - 10000)
	}
	return a.WAV()
}

func TestOpenAITranscribe(t *testing.T) {
	srv := openaitest.New(t, "sk-test")
	wav := testWAV()
	tests := []struct {
		name         string
		engine       OpenAI
		language     string
		transcript   string
		wantModel    string
		wantLanguage string
		want         string
	}{
		{"defaults", OpenAI{BaseURL: srv.URL(), APIKey: "sk-test"}, "", "hello", "whisper-1", "", "hello"},
		{"BCP 47 language becomes ISO 639-1", OpenAI{BaseURL: srv.URL() + "/", APIKey: "sk-test", Model: "gpt-4o-transcribe"},
			"en-US", " two please ", "gpt-4o-transcribe", "en", "two please"},
		{"plain code kept", OpenAI{BaseURL: srv.URL(), APIKey: "sk-test"}, "de", "zwei", "whisper-1", "de", "zwei"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.Transcript(tt.transcript)
			got, err := tt.engine.Transcribe(context.Background(), wav, tt.language)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("text = %q, want %q", got, tt.want)
			}
			req := srv.TranscriptionRequests()[i]
			if req.Model != tt.wantModel || req.Language != tt.wantLanguage || req.ResponseFormat != "json" {
				t.Errorf("server got model %q language %q format %q", req.Model, req.Language, req.ResponseFormat)
			}
			if req.Filename != "audio.wav" || req.ContentType != "audio/wav" || !bytes.Equal(req.Audio, wav) {
				t.Errorf("file %q (%s), %d bytes", req.Filename, req.ContentType, len(req.Audio))
			}
		})
	}
}

func TestOpenAIErrors(t *testing.T) {
	srv := openaitest.New(t, "sk-test")
	ok := &OpenAI{BaseURL: srv.URL(), APIKey: "sk-test"}
	var apiErr *APIError

	_, err := (&OpenAI{BaseURL: srv.URL()}).Transcribe(context.Background(), testWAV(), "")
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || !strings.Contains(err.Error(), "didn't provide an API key") {
		t.Errorf("no key: %v", err)
	}

	_, err = ok.Transcribe(context.Background(), []byte("not audio"), "")
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || !strings.Contains(apiErr.Message, "Invalid file format") {
		t.Errorf("bad file: %v", err)
	}

	srv.FailNext(http.StatusServiceUnavailable, "The engine is currently overloaded")
	_, err = ok.Transcribe(context.Background(), testWAV(), "")
	if !errors.As(err, &apiErr) || !apiErr.Temporary() || apiErr.Type != "server_error" || !strings.Contains(err.Error(), "overloaded") {
		t.Errorf("503: %v", err)
	}

	srv.SetDelay(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := ok.Transcribe(ctx, testWAV(), ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout: %v", err)
	}
}

func TestPrimaryLanguage(t *testing.T) {
	for in, want := range map[string]string{"": "", "en": "en", "en-US": "en", "pt_BR": "pt", " FR ": "fr"} {
		if got := primaryLanguage(in); got != want {
			t.Errorf("primaryLanguage(%q) = %q, want %q", in, got, want)
		}
	}
}
