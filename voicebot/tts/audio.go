// Package tts renders text to speech: an Engine interface, an offline
// espeak-ng engine, an OpenAI-compatible HTTP engine, a byte-bounded LRU
// cache in front of either, and the PCM helpers they share (WAV encoding
// and parsing, band-limited resampling).
package tts

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Audio is mono 16-bit PCM. Samples returned by a Cache are shared with
// it: treat them as read-only.
type Audio struct {
	SampleRate int
	Samples    []int16
}

// Duration is the audio's playing time.
func (a Audio) Duration() time.Duration {
	if a.SampleRate <= 0 {
		return 0
	}
	return time.Duration(len(a.Samples)) * time.Second / time.Duration(a.SampleRate)
}

const wavHeaderSize = 44

// WAV encodes the audio as a canonical RIFF/WAVE file: PCM, 16-bit, mono.
func (a Audio) WAV() []byte {
	dataLen := len(a.Samples) * 2
	b := make([]byte, wavHeaderSize+dataLen)
	le := binary.LittleEndian
	copy(b[0:], "RIFF")
	le.PutUint32(b[4:], uint32(36+dataLen))
	copy(b[8:], "WAVE")
	copy(b[12:], "fmt ")
	le.PutUint32(b[16:], 16)                     // fmt chunk size
	le.PutUint16(b[20:], 1)                      // PCM
	le.PutUint16(b[22:], 1)                      // channels
	le.PutUint32(b[24:], uint32(a.SampleRate))   // sample rate
	le.PutUint32(b[28:], uint32(a.SampleRate*2)) // byte rate
	le.PutUint16(b[32:], 2)                      // block align
	le.PutUint16(b[34:], 16)                     // bits per sample
	copy(b[36:], "data")
	le.PutUint32(b[40:], uint32(dataLen))
	for i, s := range a.Samples {
		le.PutUint16(b[wavHeaderSize+2*i:], uint16(s))
	}
	return b
}

// ErrNotWAV reports input that is not a RIFF/WAVE file.
var ErrNotWAV = errors.New("not a RIFF/WAVE file")

const (
	formatPCM        = 1
	formatExtensible = 0xFFFE
)

// ParseWAV decodes a 16-bit PCM WAV file of any sample rate. Multichannel
// audio is downmixed to mono by averaging. A data chunk whose declared size
// runs past the end of the input is read up to the end: streaming writers
// such as `espeak-ng --stdout` cannot know the size and write a huge one.
func ParseWAV(b []byte) (Audio, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return Audio{}, ErrNotWAV
	}
	le := binary.LittleEndian
	var (
		haveFmt  bool
		channels int
		rate     int
	)
	for off := 12; off+8 <= len(b); {
		id := string(b[off : off+4])
		size := int(le.Uint32(b[off+4:]))
		body := off + 8
		if size < 0 || size > len(b)-body {
			size = len(b) - body
		}
		switch id {
		case "fmt ":
			if size < 16 {
				return Audio{}, fmt.Errorf("wav: fmt chunk too short (%d bytes)", size)
			}
			f := b[body : body+size]
			format := le.Uint16(f[0:])
			if format == formatExtensible && size >= 26 {
				format = le.Uint16(f[24:]) // first two bytes of the sub-format GUID
			}
			bits := le.Uint16(f[14:])
			if format != formatPCM || bits != 16 {
				return Audio{}, fmt.Errorf("wav: unsupported encoding (format %d, %d bits): want 16-bit PCM", format, bits)
			}
			channels = int(le.Uint16(f[2:]))
			rate = int(le.Uint32(f[4:]))
			if channels < 1 || rate < 1 {
				return Audio{}, fmt.Errorf("wav: bad format (%d channels, %d Hz)", channels, rate)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return Audio{}, errors.New("wav: data chunk before fmt chunk")
			}
			return Audio{SampleRate: rate, Samples: decodePCM(b[body:body+size], channels)}, nil
		}
		off = body + size + size&1 // chunks are padded to an even size
	}
	if !haveFmt {
		return Audio{}, errors.New("wav: no fmt chunk")
	}
	return Audio{}, errors.New("wav: no data chunk")
}

// decodePCM turns little-endian interleaved PCM16 frames into mono
// samples; a trailing partial frame is dropped.
func decodePCM(data []byte, channels int) []int16 {
	frame := 2 * channels
	n := len(data) / frame
	out := make([]int16, n)
	le := binary.LittleEndian
	if channels == 1 {
		for i := range out {
			out[i] = int16(le.Uint16(data[2*i:]))
		}
		return out
	}
	for i := range out {
		sum := 0
		for c := 0; c < channels; c++ {
			sum += int(int16(le.Uint16(data[i*frame+2*c:])))
		}
		out[i] = int16(sum / channels)
	}
	return out
}
