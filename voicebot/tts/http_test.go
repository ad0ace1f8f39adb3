package tts

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/voicebot/openaitest"
)

func TestHTTPEngineSynthesize(t *testing.T) {
	srv := openaitest.New(t, "sk-test")
	tests := []struct {
		name      string
		engine    HTTPEngine
		req       Request
		wantModel string
		wantVoice string
	}{
		{"defaults at 8 kHz", HTTPEngine{BaseURL: srv.URL(), APIKey: "sk-test"}, Request{Text: "Hello there"}, "tts-1", "alloy"},
		{"configured at 16 kHz", HTTPEngine{BaseURL: srv.URL() + "/", APIKey: "sk-test", Model: "gpt-4o-mini-tts", DefaultVoice: "nova"},
			Request{Text: "Hi", SampleRate: 16000}, "gpt-4o-mini-tts", "nova"},
		{"request voice wins", HTTPEngine{BaseURL: srv.URL(), APIKey: "sk-test", DefaultVoice: "nova"},
			Request{Text: "Hi", Voice: "echo"}, "tts-1", "echo"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := tt.engine.Synthesize(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if a.SampleRate != tt.req.rate() {
				t.Errorf("rate %d, want %d", a.SampleRate, tt.req.rate())
			}
			want := openaitest.ToneDuration(tt.req.Text)
			if d := a.Duration(); d < want-5*time.Millisecond || d > want+5*time.Millisecond {
				t.Errorf("duration %v, want %v", d, want)
			}
			if r := rms(a.Samples[len(a.Samples)/10 : len(a.Samples)*9/10]); r < 10000 || r > 13000 {
				t.Errorf("rms %.0f, want about 11585 (half-scale sine)", r)
			}
			got := srv.SpeechRequests()[i]
			if got.Model != tt.wantModel || got.Voice != tt.wantVoice || got.Input != tt.req.Text || got.ResponseFormat != "pcm" {
				t.Errorf("server got %+v", got)
			}
		})
	}
}

func TestHTTPEngineErrors(t *testing.T) {
	srv := openaitest.New(t, "sk-test")
	ok := &HTTPEngine{BaseURL: srv.URL(), APIKey: "sk-test"}

	_, err := (&HTTPEngine{BaseURL: srv.URL(), APIKey: "wrong"}).Synthesize(context.Background(), Request{Text: "Hi"})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || apiErr.Code != "invalid_api_key" || !strings.Contains(err.Error(), "Incorrect API key") {
		t.Errorf("bad key: %v", err)
	}

	srv.FailNext(http.StatusTooManyRequests, "Rate limit reached for tts-1")
	_, err = ok.Synthesize(context.Background(), Request{Text: "Hi"})
	if !errors.As(err, &apiErr) || !apiErr.Temporary() || !strings.Contains(err.Error(), "Rate limit reached") {
		t.Errorf("429: %v", err)
	}

	srv.FailNext(http.StatusBadRequest, "voice is invalid")
	_, err = ok.Synthesize(context.Background(), Request{Text: "Hi"})
	if !errors.As(err, &apiErr) || apiErr.Temporary() || apiErr.Message != "voice is invalid" {
		t.Errorf("400: %v", err)
	}

	srv.SetDelay(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err = ok.Synthesize(ctx, Request{Text: "Hi"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout: %v", err)
	}
}

func TestHTTPEngineAcceptsWAVAndPlainErrors(t *testing.T) {
	wav := sine(16000, 1000, 8000, 500*time.Millisecond).WAV()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Authorization") {
		case "Bearer wav":
			w.Header().Set("Content-Type", "audio/wav")
			w.Write(wav)
		case "Bearer octet":
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(wav)
		default:
			http.Error(w, "upstream exploded", http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	for _, key := range []string{"wav", "octet"} {
		a, err := (&HTTPEngine{BaseURL: srv.URL, APIKey: key}).Synthesize(context.Background(), Request{Text: "Hi"})
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if a.SampleRate != 8000 || a.Duration() != 500*time.Millisecond {
			t.Errorf("%s: got %v at %d Hz", key, a.Duration(), a.SampleRate)
		}
	}
	_, err := (&HTTPEngine{BaseURL: srv.URL}).Synthesize(context.Background(), Request{Text: "Hi"})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 502 || apiErr.Message != "upstream exploded" {
		t.Errorf("502: %v", err)
	}
}

func TestHTTPEngineName(t *testing.T) {
	a := &HTTPEngine{BaseURL: "https://a.example/v1/"}
	b := &HTTPEngine{BaseURL: "https://b.example/v1", Model: "tts-1-hd"}
	if a.Name() == b.Name() || a.Name() != "http:tts-1@https://a.example/v1" {
		t.Errorf("names %q %q", a.Name(), b.Name())
	}
}
