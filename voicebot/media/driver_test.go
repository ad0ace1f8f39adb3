package media

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/voicebot"
	"github.com/switchboardhq/switchboard/voicebot/tts"
)

// TestGather drives DTMF gathers with short timeouts through a scripted
// Turner: the input each one produces, and when.
func TestGather(t *testing.T) {
	const rate = 8000
	dtmf := func(v string) voicebot.Input { return voicebot.Input{Kind: voicebot.InputDigits, Value: v} }
	timeout := voicebot.Input{Kind: voicebot.InputTimeout}
	tests := []struct {
		name    string
		spec    voicebot.GatherSpec
		bargeIn bool
		inter   time.Duration // Driver.InterDigitTimeout
		prompt  string
		press   string // keys pressed once the prompt is over
		during  string // keys pressed 5 frames into the prompt
		want    voicebot.Input
		minWait time.Duration // from the prompt's last frame to the input
		maxWait time.Duration
		check   func(t *testing.T, d *Driver, heard, promptFrames int)
	}{
		{name: "timeout", spec: voicebot.GatherSpec{DTMF: true, FinishOnKey: "#", Timeout: 300 * time.Millisecond},
			prompt: "Enter", want: timeout, minWait: 300 * time.Millisecond, maxWait: 600 * time.Millisecond},
		{name: "finish key", spec: voicebot.GatherSpec{DTMF: true, FinishOnKey: "#", Timeout: 3 * time.Second},
			prompt: "Enter", press: "12#9", want: dtmf("12"), maxWait: time.Second},
		{name: "finish key alone is no input", spec: voicebot.GatherSpec{DTMF: true, FinishOnKey: "#", Timeout: 3 * time.Second},
			prompt: "Enter", press: "#", want: timeout, maxWait: time.Second},
		{name: "max digits", spec: voicebot.GatherSpec{DTMF: true, FinishOnKey: "#", MaxDigits: 3, Timeout: 3 * time.Second},
			prompt: "Enter", press: "12345", want: dtmf("123"), maxWait: time.Second},
		{name: "inter-digit timeout", spec: voicebot.GatherSpec{DTMF: true, FinishOnKey: "#", Timeout: 3 * time.Second},
			inter:  200 * time.Millisecond,
			prompt: "Enter", press: "47", want: dtmf("47"), minWait: 200 * time.Millisecond, maxWait: time.Second},
		{name: "digits then timeout", spec: voicebot.GatherSpec{DTMF: true, FinishOnKey: "#", Timeout: 300 * time.Millisecond},
			prompt: "Enter", press: "5", want: dtmf("5"), minWait: 300 * time.Millisecond, maxWait: 900 * time.Millisecond},
		{name: "speech only ignores keys", spec: voicebot.GatherSpec{Speech: true, Timeout: 300 * time.Millisecond},
			prompt: "Say it", press: "1", want: timeout, minWait: 300 * time.Millisecond, maxWait: 900 * time.Millisecond},
		{name: "barge-in stops the prompt", spec: voicebot.GatherSpec{DTMF: true, FinishOnKey: "#", MaxDigits: 1, Timeout: 3 * time.Second},
			bargeIn: true,
			prompt:  "A very long menu prompt that nobody wants to hear to the end", during: "7", want: dtmf("7"),
			check: func(t *testing.T, d *Driver, heard, promptFrames int) {
				if heard >= promptFrames/2 {
					t.Errorf("heard %d of %d prompt frames: barge-in did not stop it", heard, promptFrames)
				}
				if n := d.Stats().BargeIns; n != 1 {
					t.Errorf("stats count %d barge-ins", n)
				}
			}},
		{name: "without barge-in keys are type-ahead", spec: voicebot.GatherSpec{DTMF: true, FinishOnKey: "#", MaxDigits: 2, Timeout: 3 * time.Second},
			prompt: "A short menu prompt", during: "3", press: "4", want: dtmf("34"), maxWait: time.Second,
			check: func(t *testing.T, d *Driver, heard, promptFrames int) {
				if heard != promptFrames {
					t.Errorf("heard %d of %d prompt frames", heard, promptFrames)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			d := &Driver{TTS: toneTTS{}, STT: &fakeSTT{t: t, rate: rate, text: "unused"}, BargeIn: tt.bargeIn, InterDigitTimeout: tt.inter}
			script := &scriptTurner{turns: []voicebot.Turn{gatherTurn(tt.prompt, tt.spec), sayBye()}}
			line, caller := Pipe(rate)
			done := runAsync(ctx, d, line, script.advance)
			promptFrames := frames(rate, len(render(t, toneTTS{}, rate, tt.prompt).Samples))
			var quietAt time.Time
			if tt.during != "" {
				if err := caller.WaitFrames(ctx, 5); err != nil {
					t.Fatal(err)
				}
				if err := caller.SendDTMF(ctx, tt.during); err != nil {
					t.Fatal(err)
				}
			}
			if tt.press != "" || tt.during == "" {
				if _, err := caller.WaitQuiet(ctx, 0, 150*time.Millisecond); err != nil {
					t.Fatal(err)
				}
				if err := caller.SendDTMF(ctx, tt.press); err != nil {
					t.Fatal(err)
				}
			}
			waitRun(t, done, 10*time.Second)
			got := script.got()
			want := []voicebot.Input{{Kind: voicebot.InputStart}, tt.want}
			if !reflect.DeepEqual(kinds(got), want) {
				t.Fatalf("inputs = %+v, want %+v", kinds(got), want)
			}
			heard := caller.Frames()
			quietAt = heard[len(heard)-1].At
			if wait := got[1].at.Sub(quietAt); wait < tt.minWait || (tt.maxWait > 0 && wait > tt.maxWait) {
				t.Errorf("input came %v after the prompt, want %v–%v", wait, tt.minWait, tt.maxWait)
			}
			if tt.check != nil {
				tt.check(t, d, len(heard), promptFrames)
			}
		})
	}
}

// TestSpeechGather: a "dtmf speech" gather takes words, or keys that cut
// the words short; STT failures and silence are no input.
func TestSpeechGather(t *testing.T) {
	const rate = 16000
	spec := voicebot.GatherSpec{DTMF: true, Speech: true, FinishOnKey: "#", Timeout: time.Second, Language: "en-GB"}
	words := tone(rate, 600*time.Millisecond, 440)
	tests := []struct {
		name    string
		sttErr  error
		caller  func(ctx context.Context, c *Caller) error
		want    voicebot.Input
		stt     int // transcriptions expected
		dropped int64
	}{
		{name: "speech", caller: func(ctx context.Context, c *Caller) error {
			if err := c.Silence(ctx, 200*time.Millisecond); err != nil {
				return err
			}
			if err := c.Speak(ctx, words); err != nil {
				return err
			}
			return c.Silence(ctx, 1200*time.Millisecond)
		}, want: voicebot.Input{Kind: voicebot.InputSpeech, Value: "billing please"}, stt: 1},
		{name: "the line goes quiet after speech", caller: func(ctx context.Context, c *Caller) error {
			return c.Speak(ctx, words) // then no frames at all, as with Opus DTX
		}, want: voicebot.Input{Kind: voicebot.InputSpeech, Value: "billing please"}, stt: 1},
		{name: "a key wins over speech", caller: func(ctx context.Context, c *Caller) error {
			if err := c.Speak(ctx, words); err != nil {
				return err
			}
			return c.SendDTMF(ctx, "9#")
		}, want: voicebot.Input{Kind: voicebot.InputDigits, Value: "9"}},
		{name: "stt error is no input", sttErr: errors.New("503"), caller: func(ctx context.Context, c *Caller) error {
			return c.Speak(ctx, words)
		}, want: voicebot.Input{Kind: voicebot.InputTimeout}, stt: 1, dropped: 1},
		{name: "a click is not speech", caller: func(ctx context.Context, c *Caller) error {
			return c.Speak(ctx, tone(rate, 20*time.Millisecond, 440))
		}, want: voicebot.Input{Kind: voicebot.InputTimeout}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			stt := &fakeSTT{t: t, rate: rate, text: "billing please", err: tt.sttErr}
			d := &Driver{TTS: toneTTS{}, STT: stt}
			script := &scriptTurner{turns: []voicebot.Turn{gatherTurn("Speak", spec), sayBye()}}
			line, caller := Pipe(rate)
			done := runAsync(ctx, d, line, script.advance)
			if _, err := caller.WaitQuiet(ctx, 0, 150*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if err := tt.caller(ctx, caller); err != nil {
				t.Fatal(err)
			}
			waitRun(t, done, 10*time.Second)
			if got, want := kinds(script.got()), []voicebot.Input{{Kind: voicebot.InputStart}, tt.want}; !reflect.DeepEqual(got, want) {
				t.Fatalf("inputs = %+v, want %+v", got, want)
			}
			if len(stt.heard) != tt.stt {
				t.Fatalf("stt called %d times, want %d", len(stt.heard), tt.stt)
			}
			if tt.stt > 0 {
				if d := stt.heard[0].Duration(); d < 500*time.Millisecond || d > 1100*time.Millisecond {
					t.Errorf("stt got %v of audio for 600 ms of words", d)
				}
				if stt.langs[0] != "en-GB" {
					t.Errorf("stt language %q", stt.langs[0])
				}
			}
			if got := d.Stats().Dropped; got != tt.dropped {
				t.Errorf("dropped %d, want %d", got, tt.dropped)
			}
		})
	}
}

// TestPacing writes 5 s of audio and checks the schedule's gross
// properties; the jitter figures are logged, not asserted.
func TestPacing(t *testing.T) {
	if testing.Short() {
		t.Skip("5 s of real time")
	}
	const rate = 8000
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d := &Driver{TTS: toneTTS{}}
	script := &scriptTurner{turns: []voicebot.Turn{{Ended: true, Actions: []voicebot.Action{
		say("ten chars!"), // 400 ms of tone, then silence
		{Type: voicebot.ActPause, Length: 4600 * time.Millisecond},
		{Type: voicebot.ActHangup},
	}}}}
	line, caller := Pipe(rate)
	start := time.Now()
	if err := d.Run(ctx, line, script.advance); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	fr := caller.Frames()
	if len(fr) != 250 {
		t.Fatalf("%d frames, want 250", len(fr))
	}
	audio := time.Duration(len(fr)) * FrameDuration
	if span := fr[len(fr)-1].At.Sub(fr[0].At); span < audio-2*FrameDuration {
		t.Errorf("250 frames sent in %v: faster than real time", span)
	}
	if elapsed < audio-2*FrameDuration {
		t.Errorf("Run took %v for %v of audio", elapsed, audio)
	}
	for i, f := range fr {
		// No frame before its slot (the pipe stamps after the driver's
		// wait, so a frame can only be later).
		if early := fr[0].At.Add(time.Duration(i) * FrameDuration).Sub(f.At); early > time.Millisecond {
			t.Fatalf("frame %d is %v early", i, early)
		}
	}
	avg := fr[len(fr)-1].At.Sub(fr[0].At) / time.Duration(len(fr)-1)
	if avg < 19*time.Millisecond || avg > 22*time.Millisecond {
		t.Errorf("average interval %v, want about 20 ms", avg)
	}
	st := d.Stats()
	t.Logf("5 s of frames: elapsed %v, average interval %v, lateness avg %v p50 %v p99 %v max %v, resyncs %d",
		elapsed, avg, st.AvgLateness, st.P50Lateness, st.P99Lateness, st.MaxLateness, st.Resyncs)
	if st.Frames != 250 || st.MaxLateness < st.AvgLateness || st.P99Lateness < st.P50Lateness {
		t.Errorf("stats inconsistent: %+v", st)
	}
}

// TestHangup: a hang-up mid-prompt, while listening or during the goodbye.
func TestHangup(t *testing.T) {
	const rate = 8000
	long := "A long welcome that the caller will not wait for, going on and on"
	tests := []struct {
		name      string
		turns     []voicebot.Turn
		afterFrms int  // hang up after this many frames
		quiet     bool // or once the bot stops talking
		want      []voicebot.Input
	}{
		{name: "mid-prompt", turns: []voicebot.Turn{gatherTurn(long, voicebot.GatherSpec{DTMF: true, Timeout: 5 * time.Second})},
			afterFrms: 10, want: []voicebot.Input{{Kind: voicebot.InputStart}, {Kind: voicebot.InputHangup}}},
		{name: "while listening", turns: []voicebot.Turn{gatherTurn("Hi", voicebot.GatherSpec{DTMF: true, Timeout: 5 * time.Second})},
			quiet: true, want: []voicebot.Input{{Kind: voicebot.InputStart}, {Kind: voicebot.InputHangup}}},
		{name: "during the goodbye", turns: []voicebot.Turn{{Ended: true, Actions: []voicebot.Action{say(long), {Type: voicebot.ActHangup}}}},
			afterFrms: 10, want: []voicebot.Input{{Kind: voicebot.InputStart}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			d := &Driver{TTS: toneTTS{}}
			script := &scriptTurner{turns: tt.turns}
			line, caller := Pipe(rate)
			done := runAsync(ctx, d, line, script.advance)
			if tt.quiet {
				if _, err := caller.WaitQuiet(ctx, 0, 150*time.Millisecond); err != nil {
					t.Fatal(err)
				}
			} else if err := caller.WaitFrames(ctx, tt.afterFrms); err != nil {
				t.Fatal(err)
			}
			hungAt := time.Now()
			if err := caller.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			waitRun(t, done, 5*time.Second)
			if took := time.Since(hungAt); took > 200*time.Millisecond {
				t.Errorf("Run returned %v after the hang-up", took)
			}
			if got := kinds(script.got()); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("inputs = %+v, want %+v", got, tt.want)
			}
			if n, all := len(caller.Frames()), frames(rate, len(render(t, toneTTS{}, rate, long).Samples)); !tt.quiet && n > tt.afterFrms+5 {
				t.Errorf("%d of %d frames sent after a hang-up at %d", n, all, tt.afterFrms)
			}
		})
	}
}

// TestRecord: a record step ends on silence, the finish key or a hang-up,
// and hands the audio to Record.
func TestRecord(t *testing.T) {
	const rate = 8000
	spec := voicebot.RecordSpec{MaxLength: 3 * time.Second, FinishOnKey: "#", Timeout: 400 * time.Millisecond}
	recordTurn := voicebot.Turn{Waiting: true, Actions: []voicebot.Action{say("Leave a message"), {Type: voicebot.ActRecord, Record: &spec}}}
	waitTurn := gatherTurn("Thanks", voicebot.GatherSpec{DTMF: true, Timeout: 5 * time.Second})
	message := tone(rate, 500*time.Millisecond, 300)
	rec := voicebot.Input{Kind: voicebot.InputRecording, Value: "mem://rec/1"}
	tests := []struct {
		name    string
		turns   []voicebot.Turn
		caller  func(ctx context.Context, c *Caller) error
		want    []voicebot.Input
		minLen  time.Duration
		maxLen  time.Duration
		records int
	}{
		{name: "silence ends it", turns: []voicebot.Turn{recordTurn, sayBye()}, caller: func(ctx context.Context, c *Caller) error {
			if err := c.Speak(ctx, message); err != nil {
				return err
			}
			return c.Silence(ctx, time.Second)
		}, want: []voicebot.Input{{Kind: voicebot.InputStart}, rec}, minLen: 500 * time.Millisecond, maxLen: 720 * time.Millisecond, records: 1},
		{name: "finish key", turns: []voicebot.Turn{recordTurn, sayBye()}, caller: func(ctx context.Context, c *Caller) error {
			if err := c.Speak(ctx, message); err != nil {
				return err
			}
			return c.SendDTMF(ctx, "#")
		}, want: []voicebot.Input{{Kind: voicebot.InputStart}, rec}, minLen: 500 * time.Millisecond, maxLen: 520 * time.Millisecond, records: 1},
		{name: "hang-up delivers it", turns: []voicebot.Turn{recordTurn, waitTurn}, caller: func(ctx context.Context, c *Caller) error {
			if err := c.Speak(ctx, message); err != nil {
				return err
			}
			return c.Hangup(ctx)
		}, want: []voicebot.Input{{Kind: voicebot.InputStart}, rec, {Kind: voicebot.InputHangup}}, minLen: 500 * time.Millisecond, maxLen: 520 * time.Millisecond, records: 1},
		{name: "nothing said", turns: []voicebot.Turn{recordTurn, sayBye()}, caller: func(ctx context.Context, c *Caller) error {
			return c.Silence(ctx, 600*time.Millisecond)
		}, want: []voicebot.Input{{Kind: voicebot.InputStart}, {Kind: voicebot.InputTimeout}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var mu sync.Mutex
			var kept []tts.Audio
			d := &Driver{TTS: toneTTS{}, Record: func(_ context.Context, a tts.Audio) (string, error) {
				mu.Lock()
				defer mu.Unlock()
				kept = append(kept, a)
				return "mem://rec/1", nil
			}}
			script := &scriptTurner{turns: tt.turns}
			line, caller := Pipe(rate)
			done := runAsync(ctx, d, line, script.advance)
			if _, err := caller.WaitQuiet(ctx, 0, 150*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if err := tt.caller(ctx, caller); err != nil {
				t.Fatal(err)
			}
			waitRun(t, done, 10*time.Second)
			if got := kinds(script.got()); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("inputs = %+v, want %+v", got, tt.want)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(kept) != tt.records {
				t.Fatalf("%d recordings kept, want %d", len(kept), tt.records)
			}
			if tt.records > 0 {
				if l := kept[0].Duration(); l < tt.minLen || l > tt.maxLen {
					t.Errorf("recording of %v, want %v–%v", l, tt.minLen, tt.maxLen)
				}
				if kept[0].SampleRate != rate || RMS(kept[0].Samples[:len(message.Samples)]) < 1000 {
					t.Errorf("recording is not the caller's message")
				}
			}
		})
	}
}

// TestPlay fetches a 16 kHz WAV over HTTP and plays it on an 8 kHz line;
// a missing file fails the call.
func TestPlay(t *testing.T) {
	const rate = 8000
	clip := tone(16000, 500*time.Millisecond, 500)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/hello.wav" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "audio/wav")
		w.Write(clip.WAV())
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	d := &Driver{}
	play := func(url string) *scriptTurner {
		return &scriptTurner{turns: []voicebot.Turn{{Ended: true, Actions: []voicebot.Action{{Type: voicebot.ActPlay, StepID: "p", URL: url}}}}}
	}
	line, caller := Pipe(rate)
	if err := d.Run(ctx, line, play(srv.URL+"/hello.wav").advance); err != nil {
		t.Fatal(err)
	}
	if n := len(caller.Frames()); n != 25 {
		t.Errorf("%d frames for 500 ms, want 25", n)
	}
	if r := RMS(Join(rate, caller.Frames()).Samples); r < 4000 {
		t.Errorf("played rms %.0f, want the tone's ~5600", r)
	}

	line, _ = Pipe(rate)
	if err := d.Run(ctx, line, play(srv.URL+"/missing.wav").advance); err == nil {
		t.Error("a missing file played")
	} else {
		t.Logf("missing file: %v", err)
	}
}
