package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/switchboardhq/switchboard/voicebot"
	"github.com/switchboardhq/switchboard/voicebot/stt"
	"github.com/switchboardhq/switchboard/voicebot/tts"
)

// Driver runs voice-bot sessions over audio lines. Its fields are
// settings, read by Run; one Driver serves many calls at once and sums
// their Stats.
type Driver struct {
	TTS tts.Engine // renders say actions (wrap it in a tts.Cache)
	STT stt.Engine // optional: caller speech at a speech gather → text
	// Fetch loads play actions' audio; default FetchWAV(nil).
	Fetch func(ctx context.Context, url string) (tts.Audio, error)
	// Record keeps a record step's audio and returns its URL; without it
	// a recording is dropped and the flow gets InputTimeout.
	Record func(ctx context.Context, a tts.Audio) (url string, err error)
	Clock  func() time.Time // default time.Now; waits use real timers against it
	// BargeIn: a key pressed during the prompt of a DTMF gather stops the
	// prompt and counts as the gather's first key. Without it the prompt
	// plays to the end and the keys are kept as type-ahead.
	BargeIn bool
	// InterDigitTimeout is the wait for the next key once one was pressed;
	// 0 means the gather's Timeout (as Twilio does).
	InterDigitTimeout time.Duration
	SpeechThreshold   float64       // VAD: frame RMS that counts as voice; default DefaultSpeechThreshold
	EndOfSpeech       time.Duration // VAD: silence that ends an utterance; default DefaultEndOfSpeech
	MaxSpeech         time.Duration // longest utterance sent to STT; default DefaultMaxSpeech
	Log               *slog.Logger  // default: discard

	stats recorder
}

// Stats returns the pacing figures of every call run so far.
func (d *Driver) Stats() Stats { return d.stats.stats() }

// errHangup unwinds a call when the caller hangs up; errBargeIn stops a
// prompt when a key barges in.
var (
	errHangup  = errors.New("caller hung up")
	errBargeIn = errors.New("barge-in")
)

// call is one Run in progress.
type call struct {
	d      *Driver
	line   Line
	rate   int
	frameN int
	events <-chan Event
	timer  *time.Timer
	now    func() time.Time
	log    *slog.Logger
	zero   []int16 // a silent frame, shared by every pause
}

// Run drives one call until the flow ends or the caller hangs up:
// advance(start), play the turn's actions as paced frames (say → TTS at
// the line's rate, play → fetched audio resampled, pause → silence), then
// for a gather collect DTMF per the GatherSpec (max digits, finish key,
// timeout from the end of the prompt, inter-digit timeout) or speech
// (frames until EndOfSpeech of silence by an energy VAD, wrapped as WAV and
// sent to STT) and advance with the input or InputTimeout; a record step
// collects caller audio until its finish key, max length or silence and
// advances with InputRecording. A hang-up while the session waits
// advances with InputHangup, once, and Run returns nil; so does the end of
// the flow (hangup, transfer, last step). Run returns TTS and Fetch errors
// (a call that cannot speak should fail loudly), advance's errors and
// ctx's; it does not hang the line up: that is the caller's job.
func (d *Driver) Run(ctx context.Context, line Line, advance Turner) error {
	rate := line.SampleRate()
	if rate <= 0 || FrameSamples(rate)*int(time.Second/FrameDuration) != rate {
		return fmt.Errorf("media: unsupported line rate %d Hz", rate)
	}
	c := &call{
		d: d, line: line, rate: rate, frameN: FrameSamples(rate), events: line.Events(),
		timer: time.NewTimer(time.Hour), now: d.Clock, log: d.Log,
	}
	c.timer.Stop()
	defer c.timer.Stop()
	c.zero = make([]int16, c.frameN)
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}

	in := voicebot.Input{Kind: voicebot.InputStart}
	for {
		t, err := advance(ctx, in)
		if err != nil {
			return fmt.Errorf("media: advance (%s): %w", in.Kind, err)
		}
		next, hungUp, err := c.perform(ctx, t)
		switch {
		case errors.Is(err, errHangup):
			if !alive(t) {
				return nil // the flow was over anyway
			}
			return c.hangup(ctx, advance)
		case err != nil:
			return err
		case next == nil:
			return nil
		}
		if hungUp {
			// The caller hung up to end a recording: deliver it, then
			// the hang-up if the flow still waits.
			t, err := advance(ctx, *next)
			if err != nil {
				return fmt.Errorf("media: advance (%s): %w", next.Kind, err)
			}
			if !alive(t) {
				return nil
			}
			return c.hangup(ctx, advance)
		}
		in = *next
	}
}

// alive reports whether the session still waits for the caller after t.
func alive(t voicebot.Turn) bool { return t.Waiting && !t.Ended && !t.Suspended }

func (c *call) hangup(ctx context.Context, advance Turner) error {
	if _, err := advance(ctx, voicebot.Input{Kind: voicebot.InputHangup}); err != nil {
		return fmt.Errorf("media: advance (hangup): %w", err)
	}
	return nil
}

// perform plays a turn and, when it waits, listens for the input that
// answers it. next is nil when the call is over. hungUp reports a caller
// who hung up to end a recording (next carries it).
func (c *call) perform(ctx context.Context, t voicebot.Turn) (next *voicebot.Input, hungUp bool, err error) {
	var audio []voicebot.Action
	var wait *voicebot.Action
	for i := range t.Actions {
		switch a := &t.Actions[i]; a.Type {
		case voicebot.ActSay, voicebot.ActPlay, voicebot.ActPause:
			audio = append(audio, *a)
		case voicebot.ActGather, voicebot.ActRecord:
			wait = a
		}
	}
	if !alive(t) {
		wait = nil
	}
	var gather *voicebot.GatherSpec
	if wait != nil && wait.Type == voicebot.ActGather {
		gather = wait.Gather
		if gather == nil {
			gather = &voicebot.GatherSpec{DTMF: true, FinishOnKey: "#"}
		}
	}
	var typed []string
	err = c.play(ctx, audio, func(ev Event) error {
		// Audio while the bot talks is dropped; keys are kept for a DTMF
		// gather and may cut the prompt short.
		if ev.Kind == EventDTMF && gather != nil && gather.DTMF {
			typed = append(typed, ev.Digit)
			if c.d.BargeIn {
				return errBargeIn
			}
		}
		return nil
	})
	if errors.Is(err, errBargeIn) {
		c.d.stats.add(&c.d.stats.bargeIns)
	} else if err != nil {
		return nil, false, err
	}
	switch {
	case gather != nil:
		in, err := c.gather(ctx, gather, typed)
		return &in, false, err
	case wait != nil && wait.Type == voicebot.ActRecord:
		spec := wait.Record
		if spec == nil {
			spec = &voicebot.RecordSpec{}
		}
		in, hungUp, err := c.record(ctx, spec)
		return &in, hungUp, err
	}
	return nil, false, nil
}

// clip is rendered audio: samples, then silence.
type clip struct {
	samples []int16
	silence int // samples
}

type rendered struct {
	clip clip
	err  error
}

// play renders the actions in the background, one ahead of playback, and
// writes their frames on one 20 ms schedule. on sees the caller's events
// meanwhile; its error stops playback and is returned.
func (c *call) play(ctx context.Context, acts []voicebot.Action, on func(Event) error) error {
	if len(acts) == 0 {
		return nil
	}
	rctx, cancel := context.WithCancel(ctx)
	clips := make(chan rendered, len(acts))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(clips)
		for _, a := range acts {
			cl, err := c.render(rctx, a)
			clips <- rendered{cl, err}
			if err != nil {
				return
			}
		}
	}()
	defer func() { cancel(); wg.Wait() }()

	p := pacer{c: c}
	for {
		var r rendered
		var more bool
		// Wait for the next clip, still answering the caller.
	await:
		for {
			select {
			case r, more = <-clips:
				break await
			case ev, open := <-c.events:
				if err := c.handle(ev, open, on); err != nil {
					return err
				}
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if !more {
			return nil
		}
		if r.err != nil {
			return r.err
		}
		if err := c.playClip(ctx, &p, r.clip, on); err != nil {
			return err
		}
	}
}

// handle passes an event to on, turning a hang-up (or a closed channel)
// into errHangup.
func (c *call) handle(ev Event, open bool, on func(Event) error) error {
	if !open || ev.Kind == EventHangup {
		return errHangup
	}
	return on(ev)
}

func (c *call) render(ctx context.Context, a voicebot.Action) (clip, error) {
	switch a.Type {
	case voicebot.ActSay:
		if c.d.TTS == nil {
			return clip{}, fmt.Errorf("media: say step %q: no TTS engine", a.StepID)
		}
		au, err := c.d.TTS.Synthesize(ctx, tts.Request{Text: a.Text, Voice: a.Voice, Language: a.Language, SampleRate: c.rate})
		if err != nil {
			return clip{}, fmt.Errorf("media: say step %q: %w", a.StepID, err)
		}
		return clip{samples: tts.Resample(au, c.rate).Samples}, nil
	case voicebot.ActPlay:
		fetch := c.d.Fetch
		if fetch == nil {
			fetch = FetchWAV(nil)
		}
		au, err := fetch(ctx, a.URL)
		if err == nil && au.SampleRate <= 0 && len(au.Samples) > 0 {
			err = errors.New("audio has no sample rate")
		}
		if err != nil {
			return clip{}, fmt.Errorf("media: play step %q (%s): %w", a.StepID, a.URL, err)
		}
		return clip{samples: tts.Resample(au, c.rate).Samples}, nil
	case voicebot.ActPause:
		return clip{silence: int(a.Length * time.Duration(c.rate) / time.Second)}, nil
	}
	return clip{}, nil
}

// pacer computes frame slots: start + n×20 ms from the first frame, so
// timer jitter does not accumulate.
type pacer struct {
	c       *call
	start   time.Time
	n       int
	running bool
}

func (p *pacer) slot() time.Time {
	now := p.c.now()
	if !p.running {
		p.start, p.n, p.running = now, 0, true
		return now
	}
	s := p.start.Add(time.Duration(p.n) * FrameDuration)
	if now.Sub(s) > MaxLag {
		p.c.d.stats.add(&p.c.d.stats.resyncs)
		p.start, p.n = now, 0
		return now
	}
	return s
}

func (c *call) playClip(ctx context.Context, p *pacer, cl clip, on func(Event) error) error {
	n := c.frameN
	var partial []int16
	total := (len(cl.samples)+n-1)/n + (cl.silence+n-1)/n
	for i := 0; i < total; i++ {
		var frame []int16
		switch off := i * n; {
		case off+n <= len(cl.samples):
			frame = cl.samples[off : off+n : off+n]
		case off < len(cl.samples):
			if partial == nil {
				partial = make([]int16, n)
			}
			clear(partial)
			copy(partial, cl.samples[off:])
			frame = partial
		default:
			frame = c.zero
		}
		slot := p.slot()
		if err := c.waitUntil(ctx, slot, on); err != nil {
			return err
		}
		late := c.now().Sub(slot)
		if err := c.line.WriteFrame(ctx, frame); err != nil {
			if errors.Is(err, ErrHungUp) {
				return errHangup
			}
			return fmt.Errorf("media: write frame: %w", err)
		}
		c.d.stats.frame(late)
		p.n++
	}
	return nil
}

// waitUntil sleeps until the clock reaches t, passing the caller's
// events to on meanwhile.
func (c *call) waitUntil(ctx context.Context, t time.Time, on func(Event) error) error {
	for {
		ev, ok, err := c.recv(ctx, t)
		if err != nil || !ok {
			return err
		}
		if err := on(ev); err != nil {
			return err
		}
	}
}

// recv returns the caller's next event, or ok false once the clock
// reaches deadline. A hang-up or a closed channel is errHangup. Pending
// events are returned even when the deadline has passed, so a busy
// writer still notices keys and hang-ups.
func (c *call) recv(ctx context.Context, deadline time.Time) (ev Event, ok bool, err error) {
	select {
	case ev, open := <-c.events:
		return c.got(ev, open)
	default:
	}
	for {
		d := deadline.Sub(c.now())
		if d <= 0 {
			return Event{}, false, nil
		}
		c.timer.Reset(d)
		select {
		case ev, open := <-c.events:
			c.timer.Stop()
			return c.got(ev, open)
		case <-c.timer.C:
		case <-ctx.Done():
			c.timer.Stop()
			return Event{}, false, ctx.Err()
		}
	}
}

func (c *call) got(ev Event, open bool) (Event, bool, error) {
	if !open || ev.Kind == EventHangup {
		return Event{}, false, errHangup
	}
	return ev, true, nil
}

// maxFetchBytes bounds a played file: about 17 minutes of 16 kHz audio.
const maxFetchBytes = 32 << 20

// FetchWAV returns a Fetch func that GETs a 16-bit PCM WAV file with
// client (http.DefaultClient when nil).
func FetchWAV(client *http.Client) func(ctx context.Context, url string) (tts.Audio, error) {
	if client == nil {
		client = http.DefaultClient
	}
	return func(ctx context.Context, url string) (tts.Audio, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return tts.Audio{}, fmt.Errorf("fetch audio: %w", err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return tts.Audio{}, fmt.Errorf("fetch audio: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return tts.Audio{}, fmt.Errorf("fetch audio: %s", resp.Status)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxFetchBytes+1))
		if err != nil {
			return tts.Audio{}, fmt.Errorf("fetch audio: %w", err)
		}
		if len(b) > maxFetchBytes {
			return tts.Audio{}, fmt.Errorf("fetch audio: larger than %d bytes", maxFetchBytes)
		}
		a, err := tts.ParseWAV(b)
		if err != nil {
			return tts.Audio{}, fmt.Errorf("fetch audio (only 16-bit PCM WAV is supported): %w", err)
		}
		return a, nil
	}
}
