package media

import (
	"context"
	"errors"
	"fmt"
)

// Bridge sides, as Bridge reports which one left first.
const (
	SideA = 0
	SideB = 1
	// SideNone: the context ended the bridge, not a hang-up.
	SideNone = -1
)

// Bridge connects two live lines: each side's audio frames go to the
// other as they arrive, so the far end's own packetisation paces them and
// no buffer adds delay. Keys are not relayed: they steer bots, not people.
// It returns when either side hangs up (reporting which) or ctx ends
// (SideNone). Both lines must run at the same sample rate.
func Bridge(ctx context.Context, a, b Line) (int, error) {
	if a.SampleRate() != b.SampleRate() {
		return SideNone, fmt.Errorf("media: bridge %d Hz to %d Hz lines: resampling is not supported", a.SampleRate(), b.SampleRate())
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	left := make(chan int, 2)
	go func() { left <- relay(rctx, a, b, SideA, SideB) }()
	go func() { left <- relay(rctx, b, a, SideB, SideA) }()
	side := <-left // SideNone only when ctx ended
	cancel()
	<-left
	return side, nil
}

// relay copies from's audio to to until from hangs up (from's side), to
// refuses a frame because it hung up (to's side), or ctx ends.
func relay(ctx context.Context, from, to Line, fromSide, toSide int) int {
	for {
		select {
		case <-ctx.Done():
			return SideNone
		case ev, ok := <-from.Events():
			if !ok || ev.Kind == EventHangup {
				return fromSide
			}
			if ev.Kind != EventAudio || len(ev.PCM) == 0 {
				continue
			}
			if err := to.WriteFrame(ctx, ev.PCM); err != nil {
				if errors.Is(err, ErrHungUp) {
					return toSide
				}
				if ctx.Err() != nil {
					return SideNone
				}
				// A frame the line could not take is lost audio, not
				// the end of the call.
			}
		}
	}
}
