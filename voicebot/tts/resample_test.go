package tts

import (
	"math"
	"testing"
	"time"
)

// zeroCrossings counts sign changes: twice the frequency per second.
func countCrossings(s []int16) int {
	n := 0
	for i := 1; i < len(s); i++ {
		if (s[i-1] < 0) != (s[i] < 0) {
			n++
		}
	}
	return n
}

// interior drops the filter's edge transients.
func interior(a Audio) []int16 {
	edge := a.SampleRate / 20 // 50 ms
	return a.Samples[edge : len(a.Samples)-edge]
}

func TestResampleKeepsTone(t *testing.T) {
	tests := []struct {
		name     string
		from, to int
		freq     float64
	}{
		{"espeak to narrowband", 22050, 8000, 1000},
		{"espeak to wideband", 22050, 16000, 1000},
		{"openai pcm to narrowband", 24000, 8000, 1000},
		{"upsample narrowband", 8000, 16000, 1000},
		{"odd ratio", 44100, 8000, 3000},
	}
	const amp = 10000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := sine(tt.from, tt.freq, amp, time.Second)
			out := Resample(in, tt.to)
			if out.SampleRate != tt.to {
				t.Fatalf("rate = %d, want %d", out.SampleRate, tt.to)
			}
			if got, want := len(out.Samples), tt.to; got < want-1 || got > want+1 {
				t.Fatalf("len = %d samples, want about %d", got, want)
			}
			mid := interior(out)
			secs := float64(len(mid)) / float64(tt.to)
			freq := float64(countCrossings(mid)) / 2 / secs
			if math.Abs(freq-tt.freq) > tt.freq*0.01 {
				t.Errorf("frequency = %.1f Hz, want %.0f", freq, tt.freq)
			}
			if r, want := rms(mid), amp/math.Sqrt2; math.Abs(r-want) > want*0.02 {
				t.Errorf("rms = %.0f, want %.0f ±2%%", r, want)
			}
		})
	}
}

func TestResampleAttenuatesAboveNyquist(t *testing.T) {
	tests := []struct {
		from, to int
		freq     float64
	}{
		{22050, 8000, 6000}, // would alias to 2 kHz
		{22050, 8000, 4500},
		{24000, 8000, 5000},
		{22050, 16000, 9500},
	}
	for _, tt := range tests {
		in := sine(tt.from, tt.freq, 10000, time.Second)
		out := Resample(in, tt.to)
		ratio := rms(interior(out)) / rms(in.Samples)
		if db := 20 * math.Log10(ratio); db > -40 {
			t.Errorf("%.0f Hz tone %d→%d Hz: attenuated %.1f dB, want at least 40 dB", tt.freq, tt.from, tt.to, -db)
		}
	}
}

func TestResampleEdgeCases(t *testing.T) {
	a := Audio{SampleRate: 8000, Samples: []int16{1, 2, 3}}
	if got := Resample(a, 8000); &got.Samples[0] != &a.Samples[0] {
		t.Error("same rate should return the input")
	}
	if got := Resample(Audio{SampleRate: 22050}, 8000); got.SampleRate != 8000 || len(got.Samples) != 0 {
		t.Errorf("empty: %+v", got)
	}
	// Full-scale square wave: overshoot must clip, not wrap around.
	sq := Audio{SampleRate: 22050, Samples: make([]int16, 2205)}
	for i := range sq.Samples {
		sq.Samples[i] = math.MaxInt16
		if i/20%2 == 1 {
			sq.Samples[i] = math.MinInt16
		}
	}
	out := Resample(sq, 8000)
	checked := 0
	for i, v := range out.Samples {
		c := int(math.Round(float64(i) * 22050 / 8000))
		if c < 3 || c+3 >= len(sq.Samples) || sq.Samples[c-3] != sq.Samples[c+3] || sq.Samples[c] != sq.Samples[c-3] {
			continue // near an edge of the square wave
		}
		checked++
		if (v < 0) != (sq.Samples[c] < 0) || math.Abs(float64(v)) < 25000 {
			t.Fatalf("sample %d = %d inside a plateau of %d: wrapped around or lost level", i, v, sq.Samples[c])
		}
	}
	if checked < len(out.Samples)/4 {
		t.Fatalf("only %d plateau samples checked", checked)
	}
	for _, tt := range []struct {
		in   float32
		want int16
	}{{40000, math.MaxInt16}, {-40000, math.MinInt16}, {1.5, 2}, {-1.5, -2}, {0.4, 0}} {
		if got := clamp16(tt.in); got != tt.want {
			t.Errorf("clamp16(%v) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func BenchmarkResample(b *testing.B) {
	in := sine(22050, 1000, 10000, 2*time.Second)
	for b.Loop() {
		Resample(in, 8000)
	}
}
