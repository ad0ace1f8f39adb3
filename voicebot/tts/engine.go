package tts

import (
	"context"
	"errors"
)

// DefaultSampleRate is the rate used when a Request names none: narrowband
// telephony.
const DefaultSampleRate = 8000

// Request is one text to render.
type Request struct {
	Text     string
	Voice    string // engine-specific voice name; "" means derive it from Language or use the engine's default
	Language string // BCP 47, e.g. en-US
	// SampleRate of the returned audio: 8000 or 16000 (any positive rate
	// works); 0 means DefaultSampleRate.
	SampleRate int
}

func (r Request) rate() int {
	if r.SampleRate <= 0 {
		return DefaultSampleRate
	}
	return r.SampleRate
}

// Engine renders text to mono PCM at the requested rate.
type Engine interface {
	// Name identifies the engine and the settings that change its output;
	// the Cache keys on it.
	Name() string
	Synthesize(ctx context.Context, r Request) (Audio, error)
}

// ErrNotInstalled reports an engine whose program is missing from the
// machine.
var ErrNotInstalled = errors.New("tts engine not installed")
