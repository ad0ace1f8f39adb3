package tts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Espeak renders speech offline with the espeak-ng program (Debian package
// espeak-ng). It needs no network and no account, which makes it the
// default engine.
type Espeak struct {
	Binary string // default "espeak-ng" looked up in PATH
	Speed  int    // words per minute; 0 means espeak-ng's default (175)
}

var _ Engine = (*Espeak)(nil)

// Name is "espeak-ng", plus the speed when set, since it changes the audio.
func (e *Espeak) Name() string {
	if e.Speed > 0 {
		return "espeak-ng@" + strconv.Itoa(e.Speed) + "wpm"
	}
	return "espeak-ng"
}

func (e *Espeak) binary() string {
	if e.Binary == "" {
		return "espeak-ng"
	}
	return e.Binary
}

// Synthesize runs espeak-ng, parses the 22050 Hz WAV it writes to stdout
// and resamples it to the requested rate. The voice is r.Voice, else
// r.Language lowercased (en-US → en-us, falling back to its primary subtag
// when espeak-ng has no such regional voice), else "en". Cancelling ctx
// kills the process.
func (e *Espeak) Synthesize(ctx context.Context, r Request) (Audio, error) {
	if strings.TrimSpace(r.Text) == "" {
		return Audio{SampleRate: r.rate()}, nil
	}
	bin, err := exec.LookPath(e.binary())
	if err != nil {
		return Audio{}, fmt.Errorf("tts: %s not found (install the espeak-ng package): %w: %w", e.binary(), ErrNotInstalled, err)
	}
	voice, fallback := r.Voice, ""
	if voice == "" {
		voice = strings.ToLower(strings.ReplaceAll(r.Language, "_", "-"))
		if i := strings.IndexByte(voice, '-'); i > 0 {
			fallback = voice[:i]
		}
	}
	if voice == "" {
		voice = "en"
	}
	a, err := e.run(ctx, bin, voice, r.Text)
	if errors.Is(err, errNoVoice) && fallback != "" {
		a, err = e.run(ctx, bin, fallback, r.Text)
	}
	if err != nil {
		return Audio{}, err
	}
	return Resample(a, r.rate()), nil
}

var errNoVoice = errors.New("espeak-ng has no such voice")

func (e *Espeak) run(ctx context.Context, bin, voice, text string) (Audio, error) {
	// The text goes through stdin, never argv or a shell: a text starting
	// with "-" cannot be taken for an option. -b 1: the input is UTF-8.
	args := []string{"--stdout", "-b", "1", "-v", voice}
	if e.Speed > 0 {
		args = append(args, "-s", strconv.Itoa(e.Speed))
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(text)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return Audio{}, fmt.Errorf("tts: espeak-ng: %w", ctx.Err())
		}
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "voice does not exist") {
			return Audio{}, fmt.Errorf("tts: espeak-ng voice %q: %w", voice, errNoVoice)
		}
		return Audio{}, fmt.Errorf("tts: espeak-ng: %w: %s", err, msg)
	}
	a, err := ParseWAV(stdout.Bytes())
	if err != nil {
		return Audio{}, fmt.Errorf("tts: espeak-ng output: %w", err)
	}
	return a, nil
}
