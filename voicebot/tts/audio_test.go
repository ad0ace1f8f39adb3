package tts

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func sine(rate int, freq, amp float64, d time.Duration) Audio {
	n := int(d * time.Duration(rate) / time.Second)
	a := Audio{SampleRate: rate, Samples: make([]int16, n)}
	for i := range a.Samples {
		a.Samples[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return a
}

func rms(s []int16) float64 {
	if len(s) == 0 {
		return 0
	}
	sum := 0.0
	for _, v := range s {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(len(s)))
}

func TestDuration(t *testing.T) {
	tests := []struct {
		name string
		a    Audio
		want time.Duration
	}{
		{"one second at 8k", Audio{SampleRate: 8000, Samples: make([]int16, 8000)}, time.Second},
		{"half second at 16k", Audio{SampleRate: 16000, Samples: make([]int16, 8000)}, 500 * time.Millisecond},
		{"no rate", Audio{Samples: make([]int16, 10)}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Duration(); got != tt.want {
				t.Errorf("Duration() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWAVRoundTrip(t *testing.T) {
	for _, a := range []Audio{
		sine(8000, 440, 12000, 250*time.Millisecond),
		{SampleRate: 16000, Samples: []int16{0, 1, -1, math.MaxInt16, math.MinInt16}},
		{SampleRate: 22050, Samples: []int16{}},
	} {
		b := a.WAV()
		if len(b) != 44+2*len(a.Samples) {
			t.Fatalf("WAV() is %d bytes, want %d", len(b), 44+2*len(a.Samples))
		}
		got, err := ParseWAV(b)
		if err != nil {
			t.Fatalf("ParseWAV: %v", err)
		}
		if got.SampleRate != a.SampleRate || !slices.Equal(got.Samples, a.Samples) {
			t.Errorf("round trip at %d Hz: got %d samples at %d Hz", a.SampleRate, len(got.Samples), got.SampleRate)
		}
	}
}

// wavFile builds a WAV from chunks, for the parser's corner cases.
func wavFile(chunks ...[]byte) []byte {
	b := []byte("RIFF\x00\x00\x00\x00WAVE")
	for _, c := range chunks {
		b = append(b, c...)
	}
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8))
	return b
}

func chunk(id string, body []byte) []byte {
	c := append([]byte(id), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(c[4:], uint32(len(body)))
	c = append(c, body...)
	if len(body)%2 == 1 {
		c = append(c, 0)
	}
	return c
}

func fmtChunk(format, channels uint16, rate uint32, bits uint16, extensible bool) []byte {
	le := binary.LittleEndian
	size := 16
	if extensible {
		size = 40
	}
	f := make([]byte, size)
	le.PutUint16(f[0:], format)
	le.PutUint16(f[2:], channels)
	le.PutUint32(f[4:], rate)
	le.PutUint32(f[8:], rate*uint32(channels)*uint32(bits/8))
	le.PutUint16(f[12:], channels*bits/8)
	le.PutUint16(f[14:], bits)
	if extensible {
		le.PutUint16(f[16:], 22)
		le.PutUint16(f[18:], bits)
		le.PutUint16(f[24:], formatPCM) // KSDATAFORMAT_SUBTYPE_PCM starts 01 00
	}
	return chunk("fmt ", f)
}

func pcm(samples ...int16) []byte {
	b := make([]byte, 2*len(samples))
	for i, s := range samples {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	return b
}

func TestParseWAV(t *testing.T) {
	streaming := wavFile(fmtChunk(1, 1, 22050, 16, false), []byte("data\xff\xff\xff\x7f"), pcm(5, 6, 7))
	tests := []struct {
		name    string
		in      []byte
		want    Audio
		wantErr string
	}{
		{"stereo is downmixed", wavFile(fmtChunk(1, 2, 44100, 16, false), chunk("data", pcm(100, 300, -100, -300, 7, 7))),
			Audio{44100, []int16{200, -200, 7}}, ""},
		{"extensible PCM", wavFile(fmtChunk(formatExtensible, 1, 16000, 16, true), chunk("data", pcm(1, 2))),
			Audio{16000, []int16{1, 2}}, ""},
		{"odd chunk before data is padded", wavFile(fmtChunk(1, 1, 8000, 16, false), chunk("LIST", []byte("abc")), chunk("data", pcm(9))),
			Audio{8000, []int16{9}}, ""},
		{"streaming size is clamped", streaming, Audio{22050, []int16{5, 6, 7}}, ""},
		{"trailing partial frame dropped", wavFile(fmtChunk(1, 1, 8000, 16, false), chunk("data", []byte{1, 0, 2})),
			Audio{8000, []int16{1}}, ""},
		{"not riff", []byte("OggS...."), Audio{}, ErrNotWAV.Error()},
		{"8-bit", wavFile(fmtChunk(1, 1, 8000, 8, false), chunk("data", []byte{1, 2})), Audio{}, "unsupported encoding"},
		{"float", wavFile(fmtChunk(3, 1, 8000, 32, false), chunk("data", []byte{1, 2, 3, 4})), Audio{}, "unsupported encoding"},
		{"no data", wavFile(fmtChunk(1, 1, 8000, 16, false)), Audio{}, "no data chunk"},
		{"data before fmt", wavFile(chunk("data", pcm(1)), fmtChunk(1, 1, 8000, 16, false)), Audio{}, "before fmt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseWAV(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if tt.wantErr == ErrNotWAV.Error() && !errors.Is(err, ErrNotWAV) {
					t.Errorf("err is not ErrNotWAV")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.SampleRate != tt.want.SampleRate || !slices.Equal(got.Samples, tt.want.Samples) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
