// Package media is the audio-frame side of a voice transport: it drives a
// voice-bot session over a live audio line (a SIP or WebRTC leg) that
// carries 20 ms frames of 16-bit mono PCM out and DTMF, caller audio and
// hang-up events in. The engine (package voicebot) decides what to do; the
// Driver turns its actions into paced frames (say through a TTS engine,
// play through a fetched WAV, pause as silence) and the caller's keys and
// speech back into inputs. Codecs and RTP are the transport's business:
// it hands the Driver PCM and takes PCM from it.
package media

import (
	"context"
	"errors"
	"time"

	"github.com/switchboardhq/switchboard/voicebot"
)

// FrameDuration is the length of one frame: the usual RTP packetisation
// for G.711 and Opus voice.
const FrameDuration = 20 * time.Millisecond

// FrameSamples is the number of samples in one frame at rate.
func FrameSamples(rate int) int { return rate * int(FrameDuration/time.Millisecond) / 1000 }

// Line is a live audio line: 20 ms frames of 16-bit mono PCM at
// SampleRate (8000 or 16000) out, events in.
type Line interface {
	SampleRate() int
	// WriteFrame sends one 20 ms frame (FrameSamples(SampleRate()) samples).
	// The caller paces the writes. The line must not keep or modify pcm
	// after returning: it may be shared with the TTS cache.
	WriteFrame(ctx context.Context, pcm []int16) error
	// Events delivers the caller's DTMF keys, audio frames and hang-up. A
	// closed channel counts as a hang-up.
	Events() <-chan Event
}

// Event kinds.
const (
	EventDTMF   = "dtmf"
	EventAudio  = "audio"
	EventHangup = "hangup"
)

// Event is one thing that happened on the caller's side of a Line.
type Event struct {
	Kind  string  // dtmf | audio | hangup
	Digit string  // dtmf: one of 0-9 * # A-D
	PCM   []int16 // audio: one frame of caller audio at the line's rate
}

// ErrHungUp reports a write to a line whose far end has hung up. The
// Driver treats it like a hang-up event.
var ErrHungUp = errors.New("media: the line has hung up")

// Turner advances the session: the runtime's feed (load, lock, engine,
// store) behind a func. It sees every Turn, transfers included: the
// Driver plays a turn's audio and ends the call on hangup or transfer,
// and bridging is left to whoever wraps the Turner.
type Turner func(ctx context.Context, in voicebot.Input) (voicebot.Turn, error)
