package media

import (
	"context"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/voicebot"
	"github.com/switchboardhq/switchboard/voicebot/tts"
)

// gather listens after a prompt: keys per the spec (typed: keys pressed
// during the prompt) and, when the spec allows speech and the Driver has
// STT, an utterance. Keys win over speech in progress.
func (c *call) gather(ctx context.Context, g *voicebot.GatherSpec, typed []string) (voicebot.Input, error) {
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = voicebot.DefaultGatherWait
	}
	inter := c.d.InterDigitTimeout
	if inter <= 0 {
		inter = timeout
	}
	var digits strings.Builder
	keys := func() voicebot.Input {
		if digits.Len() == 0 {
			return voicebot.Input{Kind: voicebot.InputTimeout}
		}
		return voicebot.Input{Kind: voicebot.InputDigits, Value: digits.String()}
	}
	// press adds a key and reports whether the gather is complete. The
	// finish key alone (no digits) counts as no input.
	press := func(k string) bool {
		if g.FinishOnKey != "" && k == g.FinishOnKey {
			return true
		}
		digits.WriteString(k)
		return g.MaxDigits > 0 && digits.Len() >= g.MaxDigits
	}
	for _, k := range typed {
		if press(k) {
			return keys(), nil
		}
	}
	deadline := c.now().Add(timeout)
	if digits.Len() > 0 {
		deadline = c.now().Add(inter)
	}

	var v *vad
	var speechStart time.Time
	if g.Speech && c.d.STT != nil {
		v = c.newVAD()
	}
	endOfSpeech, maxSpeech := c.speechLimits()
	for {
		ev, ok, err := c.recv(ctx, deadline)
		if err != nil {
			return voicebot.Input{}, err
		}
		if !ok {
			if v != nil && v.started {
				return c.transcribe(ctx, v, g.Language)
			}
			return keys(), nil
		}
		switch ev.Kind {
		case EventDTMF:
			if !g.DTMF {
				continue
			}
			v = nil // a key drops speech in progress
			if press(ev.Digit) {
				return keys(), nil
			}
			deadline = c.now().Add(inter)
		case EventAudio:
			if v == nil || digits.Len() > 0 {
				continue
			}
			switch v.push(ev.PCM) {
			case vadEnd:
				return c.transcribe(ctx, v, g.Language)
			case vadVoice:
				now := c.now()
				if speechStart.IsZero() {
					speechStart = now
				}
				// The clock ends the utterance too, for lines that stop
				// sending frames in silence (Opus DTX).
				deadline = now.Add(endOfSpeech)
				if limit := speechStart.Add(maxSpeech); limit.Before(deadline) {
					deadline = limit
				}
			}
		}
	}
}

func (c *call) newVAD() *vad {
	th := c.d.SpeechThreshold
	if th <= 0 {
		th = DefaultSpeechThreshold
	}
	end, _ := c.speechLimits()
	return newVAD(th, end)
}

func (c *call) speechLimits() (endOfSpeech, maxSpeech time.Duration) {
	endOfSpeech, maxSpeech = c.d.EndOfSpeech, c.d.MaxSpeech
	if endOfSpeech <= 0 {
		endOfSpeech = DefaultEndOfSpeech
	}
	if maxSpeech <= 0 {
		maxSpeech = DefaultMaxSpeech
	}
	return endOfSpeech, maxSpeech
}

// transcribe sends the utterance to STT as a WAV file. A failure is
// logged and counted, and the flow hears no input: one bad request should
// not drop the call.
func (c *call) transcribe(ctx context.Context, v *vad, language string) (voicebot.Input, error) {
	a := tts.Audio{SampleRate: c.rate, Samples: v.speech(c.frameN)}
	text, err := c.d.STT.Transcribe(ctx, a.WAV(), language)
	if err != nil {
		if ctx.Err() != nil {
			return voicebot.Input{}, ctx.Err()
		}
		c.d.stats.add(&c.d.stats.dropped)
		c.log.WarnContext(ctx, "speech to text failed", "err", err, "speech", a.Duration())
		return voicebot.Input{Kind: voicebot.InputTimeout}, nil
	}
	if text = strings.TrimSpace(text); text == "" {
		return voicebot.Input{Kind: voicebot.InputTimeout}, nil
	}
	return voicebot.Input{Kind: voicebot.InputSpeech, Value: text}, nil
}

// record collects caller audio until the finish key, the maximum length,
// Timeout of silence or a hang-up (hungUp: the recording is still
// delivered). A recording with no voice in it is no input.
func (c *call) record(ctx context.Context, r *voicebot.RecordSpec) (in voicebot.Input, hungUp bool, err error) {
	maxLen, silence := r.MaxLength, r.Timeout
	if maxLen <= 0 {
		maxLen = voicebot.DefaultRecordMax
	}
	if silence <= 0 {
		silence = voicebot.DefaultGatherWait
	}
	th := c.d.SpeechThreshold
	if th <= 0 {
		th = DefaultSpeechThreshold
	}
	maxSamples := int(maxLen * time.Duration(c.rate) / time.Second)
	hang := max(1, int(silence/FrameDuration))
	start := c.now()
	lastVoice := start
	var pcm []int16
	voicedEnd, silent := 0, 0
	heard := false
listen:
	for len(pcm) < maxSamples && silent < hang {
		deadline := start.Add(maxLen)
		if d := lastVoice.Add(silence); d.Before(deadline) {
			deadline = d
		}
		ev, ok, err := c.recv(ctx, deadline)
		switch {
		case err == errHangup:
			hungUp = true
			break listen
		case err != nil:
			return voicebot.Input{}, false, err
		case !ok:
			break listen
		}
		switch ev.Kind {
		case EventDTMF:
			if r.FinishOnKey != "" && ev.Digit == r.FinishOnKey {
				break listen
			}
		case EventAudio:
			pcm = append(pcm, ev.PCM...)
			if RMS(ev.PCM) >= th {
				heard, silent, voicedEnd, lastVoice = true, 0, len(pcm), c.now()
			} else {
				silent++
			}
		}
	}
	if !heard {
		if hungUp {
			return voicebot.Input{}, false, errHangup
		}
		return voicebot.Input{Kind: voicebot.InputTimeout}, false, nil
	}
	// Keep a little of the trailing silence, not all of it.
	pcm = pcm[:min(len(pcm), voicedEnd+vadKeepFrames*c.frameN, maxSamples)]
	a := tts.Audio{SampleRate: c.rate, Samples: pcm}
	if c.d.Record == nil {
		c.d.stats.add(&c.d.stats.dropped)
		c.log.WarnContext(ctx, "recording dropped: the driver has no Record func", "length", a.Duration())
		return voicebot.Input{Kind: voicebot.InputTimeout}, hungUp, nil
	}
	url, err := c.d.Record(ctx, a)
	if err != nil {
		if ctx.Err() != nil {
			return voicebot.Input{}, false, ctx.Err()
		}
		c.d.stats.add(&c.d.stats.dropped)
		c.log.WarnContext(ctx, "recording dropped", "err", err, "length", a.Duration())
		return voicebot.Input{Kind: voicebot.InputTimeout}, hungUp, nil
	}
	return voicebot.Input{Kind: voicebot.InputRecording, Value: url}, hungUp, nil
}
