package media

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/voicebot"
)

// TestIVR calls the support IVR over a fake phone: the caller hears the
// welcome, presses 2, describes the problem aloud, hears it read back and
// the bot hangs up.
func TestIVR(t *testing.T) {
	flowJSON, err := os.ReadFile("../testdata/ivr.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, rate := range []int{8000, 16000} {
		t.Run(fmt.Sprintf("%dHz", rate), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			engine, name := sayEngine(t)
			t.Logf("say through %s at %d Hz", name, rate)
			const problem = "my printer is on fire"
			stt := &fakeSTT{t: t, rate: rate, text: problem}
			turner := newEngineTurner(t, flowJSON)
			d := &Driver{TTS: engine, STT: stt}
			line, caller := Pipe(rate)
			done := runAsync(ctx, d, line, turner.advance)

			// The welcome and the menu prompt, one after the other, exactly
			// as rendered (the last frame of each padded with silence).
			n1, err := caller.WaitQuiet(ctx, 0, 400*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			welcome := render(t, engine, rate, "Welcome to Switchboard.")
			menu := render(t, engine, rate, "Press 1 for sales, 2 for support")
			wantFrames := frames(rate, len(welcome.Samples)) + frames(rate, len(menu.Samples))
			heard := caller.Frames()[:n1]
			if n1 != wantFrames {
				t.Errorf("heard %d frames, want %d (%v + %v rendered)", n1, wantFrames, welcome.Duration(), menu.Duration())
			}
			all := Join(rate, heard)
			if !slices.Equal(all.Samples[:len(welcome.Samples)], welcome.Samples) {
				t.Error("the first frames are not the rendered welcome")
			}
			if r := RMS(all.Samples); r < 300 {
				t.Errorf("welcome rms %.0f: silent", r)
			}
			span := heard[len(heard)-1].At.Sub(heard[0].At)
			if min := time.Duration(n1-1)*FrameDuration - time.Millisecond; span < min || span > min+300*time.Millisecond {
				t.Errorf("prompt took %v to send, want about %v", span, min)
			}

			if err := caller.SendDTMF(ctx, "2"); err != nil {
				t.Fatal(err)
			}
			n2, err := caller.WaitQuiet(ctx, n1, 400*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			support := render(t, engine, rate, "You reached support.")
			describe := render(t, engine, rate, "Describe your problem")
			if want := frames(rate, len(support.Samples)) + frames(rate, len(describe.Samples)); n2-n1 != want {
				t.Errorf("second prompt: %d frames, want %d", n2-n1, want)
			}

			// The caller speaks (in the bot's own voice), then keeps the
			// line open with silence as a phone does.
			spoken := render(t, engine, rate, problem)
			if err := caller.Speak(ctx, spoken); err != nil {
				t.Fatal(err)
			}
			if err := caller.Silence(ctx, 1500*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			waitRun(t, done, 30*time.Second)

			want := []voicebot.Input{
				{Kind: voicebot.InputStart},
				{Kind: voicebot.InputDigits, Value: "2"},
				{Kind: voicebot.InputSpeech, Value: problem},
			}
			if got := kinds(turner.got()); !reflect.DeepEqual(got, want) {
				t.Errorf("inputs = %+v, want %+v", got, want)
			}
			if len(stt.heard) != 1 {
				t.Fatalf("stt called %d times", len(stt.heard))
			}
			// What STT got: the utterance with up to 200 ms either side.
			if got, sp := stt.heard[0].Duration(), spoken.Duration(); got < sp-300*time.Millisecond || got > sp+500*time.Millisecond {
				t.Errorf("stt heard %v of audio, the caller spoke %v", got, sp)
			}
			thanks := render(t, engine, rate, "Thanks, we got: "+problem)
			if got, want := len(caller.Frames())-n2, frames(rate, len(thanks.Samples)); got != want {
				t.Errorf("answer: %d frames, want %d", got, want)
			}
			if !turner.s.Done || turner.s.Vars["problem"] != problem {
				t.Errorf("session done %v, vars %v", turner.s.Done, turner.s.Vars)
			}
			st := d.Stats()
			t.Logf("stats: %+v", st)
			if st.Frames != int64(len(caller.Frames())) {
				t.Errorf("stats count %d frames, the line got %d", st.Frames, len(caller.Frames()))
			}
		})
	}
}
