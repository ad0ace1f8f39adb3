package media

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/switchboardhq/switchboard/voicebot/tts"
)

// Frame is one frame the bot wrote to a PipeLine, stamped when it arrived.
type Frame struct {
	At  time.Time
	PCM []int16
}

// PipeLine is the bot's end of an in-memory line made by Pipe: a fake
// phone for tests and the sandbox.
type PipeLine struct {
	rate   int
	events chan Event

	mu      sync.Mutex
	frames  []Frame
	changed chan struct{} // closed and replaced when a frame arrives

	callerGone, botGone chan struct{}
	callerOnce, botOnce sync.Once
}

// Caller is the caller's end of an in-memory line made by Pipe: it presses
// keys, speaks, hangs up and hears what the bot sent.
type Caller struct{ p *PipeLine }

var _ Line = (*PipeLine)(nil)

// pipeBuffer is how many caller events may wait unread: 2 s of audio.
const pipeBuffer = 100

// Pipe returns the two ends of an in-memory line at rate (8000 or 16000).
func Pipe(rate int) (*PipeLine, *Caller) {
	p := &PipeLine{
		rate:       rate,
		events:     make(chan Event, pipeBuffer),
		changed:    make(chan struct{}),
		callerGone: make(chan struct{}),
		botGone:    make(chan struct{}),
	}
	return p, &Caller{p}
}

// SampleRate is the line's rate.
func (p *PipeLine) SampleRate() int { return p.rate }

// Events delivers what the Caller does.
func (p *PipeLine) Events() <-chan Event { return p.events }

// WriteFrame records a copy of the frame for the Caller. It fails with
// ErrHungUp once either end has hung up.
func (p *PipeLine) WriteFrame(ctx context.Context, pcm []int16) error {
	if n := FrameSamples(p.rate); len(pcm) != n {
		return fmt.Errorf("media: frame of %d samples, want %d at %d Hz", len(pcm), n, p.rate)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-p.callerGone:
		return ErrHungUp
	case <-p.botGone:
		return ErrHungUp
	default:
	}
	f := Frame{At: time.Now(), PCM: append([]int16(nil), pcm...)}
	p.mu.Lock()
	p.frames = append(p.frames, f)
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
	return nil
}

// Close hangs up the bot's end: the Caller's Done channel closes and its
// sends fail with ErrHungUp.
func (p *PipeLine) Close() {
	p.botOnce.Do(func() { close(p.botGone) })
}

// send delivers one event unless an end has hung up or ctx ends.
func (p *PipeLine) send(ctx context.Context, ev Event) error {
	select {
	case <-p.callerGone:
		return ErrHungUp
	case <-p.botGone:
		return ErrHungUp
	default:
	}
	select {
	case p.events <- ev:
		return nil
	case <-p.botGone:
		return ErrHungUp
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SampleRate is the line's rate.
func (c *Caller) SampleRate() int { return c.p.rate }

// Done is closed when the bot hangs up (PipeLine.Close).
func (c *Caller) Done() <-chan struct{} { return c.p.botGone }

// SendDTMF presses the keys in digits, one event each.
func (c *Caller) SendDTMF(ctx context.Context, digits string) error {
	for _, d := range digits {
		if err := c.p.send(ctx, Event{Kind: EventDTMF, Digit: string(d)}); err != nil {
			return fmt.Errorf("send dtmf %q: %w", d, err)
		}
	}
	return nil
}

// SendFrame sends one frame of caller audio as is (no pacing).
func (c *Caller) SendFrame(ctx context.Context, pcm []int16) error {
	if n := FrameSamples(c.p.rate); len(pcm) != n {
		return fmt.Errorf("media: frame of %d samples, want %d at %d Hz", len(pcm), n, c.p.rate)
	}
	return c.p.send(ctx, Event{Kind: EventAudio, PCM: append([]int16(nil), pcm...)})
}

// Speak sends the audio (resampled to the line's rate) as the caller
// speaking: frames on a real-time 20 ms schedule, the last one padded
// with silence.
func (c *Caller) Speak(ctx context.Context, a tts.Audio) error {
	a = tts.Resample(a, c.p.rate)
	n := FrameSamples(c.p.rate)
	start := time.Now()
	for i, off := 0, 0; off < len(a.Samples); i, off = i+1, off+n {
		frame := make([]int16, n)
		copy(frame, a.Samples[off:min(off+n, len(a.Samples))])
		if err := sleepUntil(ctx, start.Add(time.Duration(i)*FrameDuration)); err != nil {
			return err
		}
		if err := c.p.send(ctx, Event{Kind: EventAudio, PCM: frame}); err != nil {
			return fmt.Errorf("speak: %w", err)
		}
	}
	return nil
}

// Silence sends d of silent frames in real time, as a line does between
// the caller's words.
func (c *Caller) Silence(ctx context.Context, d time.Duration) error {
	return c.Speak(ctx, tts.Audio{SampleRate: c.p.rate, Samples: make([]int16, int(d*time.Duration(c.p.rate)/time.Second))})
}

// Hangup hangs up the caller's end: the bot gets a hangup event and its
// writes fail with ErrHungUp. It waits for the event to be queued (or for
// the bot to hang up, or ctx).
func (c *Caller) Hangup(ctx context.Context) error {
	first := false
	c.p.callerOnce.Do(func() { first = true; close(c.p.callerGone) })
	if !first {
		return nil
	}
	select {
	case c.p.events <- Event{Kind: EventHangup}:
		return nil
	case <-c.p.botGone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Frames returns the frames the bot has sent so far.
func (c *Caller) Frames() []Frame {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	return append([]Frame(nil), c.p.frames...)
}

// WaitFrames blocks until the bot has sent at least n frames in all.
func (c *Caller) WaitFrames(ctx context.Context, n int) error {
	for {
		c.p.mu.Lock()
		got, changed := len(c.p.frames), c.p.changed
		c.p.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("wait for %d frames (have %d): %w", n, got, ctx.Err())
		}
	}
}

// WaitQuiet blocks until the bot has sent at least one frame more than
// after frames in all and then nothing for quiet: the bot has said
// something and stopped talking. It returns the frame count.
func (c *Caller) WaitQuiet(ctx context.Context, after int, quiet time.Duration) (int, error) {
	if err := c.WaitFrames(ctx, after+1); err != nil {
		return 0, err
	}
	t := time.NewTimer(quiet)
	defer t.Stop()
	for {
		c.p.mu.Lock()
		got, changed := len(c.p.frames), c.p.changed
		c.p.mu.Unlock()
		t.Reset(quiet)
		select {
		case <-changed:
		case <-t.C:
			return got, nil
		case <-ctx.Done():
			return got, fmt.Errorf("wait for quiet: %w", ctx.Err())
		}
	}
}

// Join concatenates frames into one clip at rate.
func Join(rate int, frames []Frame) tts.Audio {
	a := tts.Audio{SampleRate: rate}
	for _, f := range frames {
		a.Samples = append(a.Samples, f.PCM...)
	}
	return a
}

// sleepUntil waits for the wall clock to reach t.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
