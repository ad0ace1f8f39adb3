package media

import (
	"math"
	"time"
)

// vad is a simple energy voice-activity detector over frames: a frame is
// voiced when its RMS passes the threshold; speech starts after onset
// voiced frames in a row (a click is not speech) and ends after hang
// unvoiced ones. It keeps the speech, with a little audio before its start
// so the first syllable is not clipped.
type vad struct {
	threshold         float64
	onset, hang, keep int // frames
	pre               [][]int16
	buf               []int16
	voicedRun, silent int
	started           bool
	lastVoicedEnd     int // samples in buf up to the end of the last voiced frame
}

type vadState int

const (
	vadQuiet vadState = iota // no speech yet
	vadVoice                 // a voiced frame of speech
	vadPause                 // an unvoiced frame within speech
	vadEnd                   // the speech is over
)

// Defaults of the VAD's settings.
const (
	DefaultSpeechThreshold = 500 // RMS of 16-bit samples, about -36 dBFS
	DefaultEndOfSpeech     = time.Second
	DefaultMaxSpeech       = 30 * time.Second
	vadOnsetFrames         = 2
	vadKeepFrames          = 10 // 200 ms kept before speech starts and after it ends
)

func newVAD(threshold float64, endOfSpeech time.Duration) *vad {
	return &vad{
		threshold: threshold,
		onset:     vadOnsetFrames,
		hang:      max(1, int(endOfSpeech/FrameDuration)),
		keep:      vadKeepFrames,
	}
}

// RMS is the root-mean-square level of a frame.
func RMS(pcm []int16) float64 {
	if len(pcm) == 0 {
		return 0
	}
	var sum float64
	for _, s := range pcm {
		sum += float64(s) * float64(s)
	}
	return math.Sqrt(sum / float64(len(pcm)))
}

// push takes the next frame of caller audio.
func (v *vad) push(pcm []int16) vadState {
	voiced := RMS(pcm) >= v.threshold
	if !v.started {
		v.pre = append(v.pre, append([]int16(nil), pcm...))
		if len(v.pre) > v.keep {
			v.pre = v.pre[1:]
		}
		if !voiced {
			v.voicedRun = 0
			return vadQuiet
		}
		if v.voicedRun++; v.voicedRun < v.onset {
			return vadQuiet
		}
		v.started = true
		for _, f := range v.pre {
			v.buf = append(v.buf, f...)
		}
		v.pre = nil
		v.lastVoicedEnd = len(v.buf)
		return vadVoice
	}
	v.buf = append(v.buf, pcm...)
	if voiced {
		v.silent = 0
		v.lastVoicedEnd = len(v.buf)
		return vadVoice
	}
	if v.silent++; v.silent >= v.hang {
		return vadEnd
	}
	return vadPause
}

// speech returns what was said, with at most keep frames of the silence
// that followed.
func (v *vad) speech(frameN int) []int16 {
	return v.buf[:min(len(v.buf), v.lastVoicedEnd+v.keep*frameN)]
}
