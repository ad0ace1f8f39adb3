package tts

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// needEspeak skips when espeak-ng is missing, unless the environment
// demands it (CI sets SWITCHBOARD_TEST_REQUIRE=espeak-ng).
func needEspeak(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		if strings.Contains(os.Getenv("SWITCHBOARD_TEST_REQUIRE"), "espeak-ng") {
			tb.Fatalf("espeak-ng is required (SWITCHBOARD_TEST_REQUIRE) but missing: %v", err)
		}
		tb.Skip("espeak-ng not installed")
	}
}

func TestEspeakRendersHello(t *testing.T) {
	needEspeak(t)
	for _, rate := range []int{8000, 16000} {
		a, err := (&Espeak{}).Synthesize(context.Background(), Request{Text: "Hello", SampleRate: rate})
		if err != nil {
			t.Fatalf("%d Hz: %v", rate, err)
		}
		if a.SampleRate != rate {
			t.Errorf("rate = %d, want %d", a.SampleRate, rate)
		}
		if d := a.Duration(); d < 200*time.Millisecond || d > 3*time.Second {
			t.Errorf("%d Hz: duration %v, want 0.2–3 s", rate, d)
		}
		if r := rms(a.Samples); r < 300 {
			t.Errorf("%d Hz: rms %.0f: silent", rate, r)
		}
	}
	// No rate means narrowband.
	a, err := (&Espeak{}).Synthesize(context.Background(), Request{Text: "Hello"})
	if err != nil || a.SampleRate != DefaultSampleRate {
		t.Errorf("default rate: %d, %v", a.SampleRate, err)
	}
}

func TestEspeakVoices(t *testing.T) {
	needEspeak(t)
	tests := []struct {
		name    string
		req     Request
		wantErr bool
	}{
		{"regional voice", Request{Text: "Hello there", Language: "en-US"}, false},
		{"region espeak lacks falls back", Request{Text: "Guten Tag", Language: "de-DE"}, false},
		{"explicit voice wins", Request{Text: "Bonjour", Voice: "fr-fr", Language: "xx"}, false},
		{"unknown voice", Request{Text: "Hello", Voice: "qqq"}, true},
		{"text looking like an option is spoken", Request{Text: "--help -v xx"}, false},
		{"unicode", Request{Text: "Привет, мир", Language: "ru"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := (&Espeak{}).Synthesize(context.Background(), tt.req)
			if tt.wantErr {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.Duration() < 200*time.Millisecond || rms(a.Samples) < 300 {
				t.Errorf("got %v of audio, rms %.0f", a.Duration(), rms(a.Samples))
			}
		})
	}
}

func TestEspeakSpeed(t *testing.T) {
	needEspeak(t)
	text := Request{Text: "The quick brown fox jumps over the lazy dog"}
	slow, err := (&Espeak{Speed: 100}).Synthesize(context.Background(), text)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := (&Espeak{Speed: 300}).Synthesize(context.Background(), text)
	if err != nil {
		t.Fatal(err)
	}
	if fast.Duration()*2 > slow.Duration() {
		t.Errorf("300 wpm took %v, 100 wpm %v", fast.Duration(), slow.Duration())
	}
	if (&Espeak{Speed: 100}).Name() == (&Espeak{}).Name() {
		t.Error("speed must change the name (the cache key)")
	}
}

func TestEspeakMissingBinary(t *testing.T) {
	e := &Espeak{Binary: "/nonexistent/espeak-ng"}
	_, err := e.Synthesize(context.Background(), Request{Text: "Hello"})
	if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "install the espeak-ng package") {
		t.Fatalf("err = %v, want ErrNotInstalled with a hint", err)
	}
}

func TestEspeakEmptyText(t *testing.T) {
	a, err := (&Espeak{Binary: "/nonexistent"}).Synthesize(context.Background(), Request{Text: "  ", SampleRate: 16000})
	if err != nil || len(a.Samples) != 0 || a.SampleRate != 16000 {
		t.Fatalf("got %+v, %v", a, err)
	}
}

func TestEspeakContextCancels(t *testing.T) {
	needEspeak(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	long := strings.Repeat("This sentence is rendered again and again. ", 400)
	start := time.Now()
	_, err := (&Espeak{}).Synthesize(ctx, Request{Text: long})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %v to give up", el)
	}
}

func BenchmarkEspeakRender(b *testing.B) {
	needEspeak(b)
	e := &Espeak{}
	req := Request{Text: "Thank you for calling. Press one for sales, two for support.", SampleRate: 8000}
	var audio time.Duration
	for b.Loop() {
		a, err := e.Synthesize(context.Background(), req)
		if err != nil {
			b.Fatal(err)
		}
		audio = a.Duration()
	}
	b.ReportMetric(audio.Seconds(), "audio-s/op")
}
