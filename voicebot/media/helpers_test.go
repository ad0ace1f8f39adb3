package media

import (
	"context"
	"errors"
	"hash/fnv"
	"math"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/voicebot"
	"github.com/switchboardhq/switchboard/voicebot/tts"
)

// toneTTS is a deterministic stand-in for a TTS engine: a tone whose pitch
// depends on the text, 40 ms per character.
type toneTTS struct{}

func (toneTTS) Name() string { return "tone" }

func (toneTTS) Synthesize(ctx context.Context, r tts.Request) (tts.Audio, error) {
	rate := r.SampleRate
	if rate <= 0 {
		rate = tts.DefaultSampleRate
	}
	return tone(rate, 40*time.Millisecond*time.Duration(len(r.Text)), 300+float64(hash(r.Text)%500)), ctx.Err()
}

func hash(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

func tone(rate int, d time.Duration, hz float64) tts.Audio {
	a := tts.Audio{SampleRate: rate, Samples: make([]int16, int(d*time.Duration(rate)/time.Second))}
	for i := range a.Samples {
		a.Samples[i] = int16(8000 * math.Sin(2*math.Pi*hz*float64(i)/float64(rate)))
	}
	return a
}

// sayEngine is espeak-ng where it is installed (required where CI says
// so), else the tone engine.
func sayEngine(t testing.TB) (tts.Engine, string) {
	t.Helper()
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		if strings.Contains(os.Getenv("SWITCHBOARD_TEST_REQUIRE"), "espeak-ng") {
			t.Fatalf("espeak-ng is required (SWITCHBOARD_TEST_REQUIRE) but missing: %v", err)
		}
		return toneTTS{}, "tones"
	}
	return tts.NewCache(&tts.Espeak{}, 0), "espeak-ng"
}

// fakeSTT checks that it gets a WAV recording at the line's rate and
// answers with a fixed text.
type fakeSTT struct {
	t    testing.TB
	rate int
	text string
	err  error

	mu    sync.Mutex
	heard []tts.Audio
	langs []string
}

func (f *fakeSTT) Transcribe(_ context.Context, wav []byte, language string) (string, error) {
	a, err := tts.ParseWAV(wav)
	if err != nil {
		f.t.Errorf("stt got no WAV: %v", err)
		return "", err
	}
	if a.SampleRate != f.rate {
		f.t.Errorf("stt got %d Hz, want %d", a.SampleRate, f.rate)
	}
	f.mu.Lock()
	f.heard = append(f.heard, a)
	f.langs = append(f.langs, language)
	f.mu.Unlock()
	return f.text, f.err
}

// stamped is an input the Turner got, and when.
type stamped struct {
	voicebot.Input
	at time.Time
}

// engineTurner runs a real engine over a session held in memory, the way
// the runtime's feed does over its store.
type engineTurner struct {
	eng  voicebot.Engine
	flow *voicebot.Flow
	env  voicebot.Env

	mu     sync.Mutex
	s      *voicebot.Session
	inputs []stamped
}

func newEngineTurner(t testing.TB, flowJSON []byte) *engineTurner {
	t.Helper()
	f, ps := voicebot.Parse(flowJSON)
	if len(ps) > 0 {
		t.Fatalf("flow: %v", ps)
	}
	return &engineTurner{flow: f, s: voicebot.NewSession(f), env: voicebot.Env{Channel: "voice", From: "+14155550100"}}
}

func (e *engineTurner) advance(ctx context.Context, in voicebot.Input) (voicebot.Turn, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.inputs = append(e.inputs, stamped{in, time.Now()})
	return e.eng.Advance(ctx, e.flow, e.s, e.env, in)
}

func (e *engineTurner) got() []stamped {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]stamped(nil), e.inputs...)
}

// scriptTurner answers with scripted turns in order, then ends the flow.
type scriptTurner struct {
	mu     sync.Mutex
	turns  []voicebot.Turn
	inputs []stamped
}

func (s *scriptTurner) advance(ctx context.Context, in voicebot.Input) (voicebot.Turn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inputs = append(s.inputs, stamped{in, time.Now()})
	if in.Kind == voicebot.InputHangup {
		return voicebot.Turn{Ended: true}, nil
	}
	if len(s.turns) == 0 {
		return voicebot.Turn{}, errors.New("script: no more turns")
	}
	t := s.turns[0]
	s.turns = s.turns[1:]
	return t, ctx.Err()
}

func (s *scriptTurner) got() []stamped {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]stamped(nil), s.inputs...)
}

func kinds(in []stamped) []voicebot.Input {
	out := make([]voicebot.Input, len(in))
	for i, s := range in {
		out[i] = s.Input
	}
	return out
}

// runAsync starts d.Run and returns its result channel.
func runAsync(ctx context.Context, d *Driver, line Line, advance Turner) <-chan error {
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, line, advance) }()
	return done
}

func waitRun(t testing.TB, done <-chan error, within time.Duration) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(within):
		t.Fatalf("Run did not return within %v", within)
	}
}

// frames is the number of frames a clip of n samples takes at rate.
func frames(rate, n int) int { f := FrameSamples(rate); return (n + f - 1) / f }

func render(t testing.TB, e tts.Engine, rate int, text string) tts.Audio {
	t.Helper()
	a, err := e.Synthesize(context.Background(), tts.Request{Text: text, SampleRate: rate})
	if err != nil {
		t.Fatal(err)
	}
	return tts.Resample(a, rate)
}

// say, gather and friends build scripted actions.
func say(text string) voicebot.Action { return voicebot.Action{Type: voicebot.ActSay, Text: text} }

func gatherTurn(prompt string, g voicebot.GatherSpec) voicebot.Turn {
	return voicebot.Turn{Waiting: true, Actions: []voicebot.Action{say(prompt), {Type: voicebot.ActGather, Gather: &g}}}
}

func sayBye() voicebot.Turn {
	return voicebot.Turn{Ended: true, Actions: []voicebot.Action{{Type: voicebot.ActHangup}}}
}
