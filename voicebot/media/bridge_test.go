package media

import (
	"context"
	"testing"
	"time"
)

func TestBridge(t *testing.T) {
	cases := []struct {
		name     string
		hangup   string // which caller hangs up: "a" | "b" | "" (context ends)
		wantSide int
	}{
		{"a hangs up", "a", SideA},
		{"b hangs up", "b", SideB},
		{"context ends", "", SideNone},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			la, ca := Pipe(8000)
			lb, cb := Pipe(8000)
			bctx, stop := context.WithCancel(ctx)
			done := make(chan int, 1)
			go func() {
				side, err := Bridge(bctx, la, lb)
				if err != nil {
					t.Error(err)
				}
				done <- side
			}()
			frame := func(v int16) []int16 {
				pcm := make([]int16, FrameSamples(8000))
				for i := range pcm {
					pcm[i] = v
				}
				return pcm
			}
			// Each side's audio reaches the other, and only the other.
			for i := range 3 {
				if err := ca.SendFrame(ctx, frame(int16(100+i))); err != nil {
					t.Fatal(err)
				}
				if err := cb.SendFrame(ctx, frame(int16(-200-i))); err != nil {
					t.Fatal(err)
				}
			}
			if err := cb.WaitFrames(ctx, 3); err != nil {
				t.Fatal(err)
			}
			if err := ca.WaitFrames(ctx, 3); err != nil {
				t.Fatal(err)
			}
			for i, f := range cb.Frames() {
				if f.PCM[0] != int16(100+i) {
					t.Fatalf("b heard frame %d = %d, want a's %d", i, f.PCM[0], 100+i)
				}
			}
			for i, f := range ca.Frames() {
				if f.PCM[0] != int16(-200-i) {
					t.Fatalf("a heard frame %d = %d, want b's %d", i, f.PCM[0], -200-i)
				}
			}
			// DTMF is not relayed.
			if err := ca.SendDTMF(ctx, "5"); err != nil {
				t.Fatal(err)
			}
			switch tc.hangup {
			case "a":
				_ = ca.Hangup(ctx)
			case "b":
				_ = cb.Hangup(ctx)
			default:
				stop()
			}
			select {
			case side := <-done:
				if side != tc.wantSide {
					t.Fatalf("side = %d, want %d", side, tc.wantSide)
				}
			case <-ctx.Done():
				t.Fatal("the bridge did not end")
			}
			stop()
			if n := len(cb.Frames()); n != 3 {
				t.Fatalf("b heard %d frames, want 3 (a key press is not audio)", n)
			}
		})
	}
}

func TestBridgeRefusesMixedRates(t *testing.T) {
	la, _ := Pipe(8000)
	lb, _ := Pipe(16000)
	if _, err := Bridge(context.Background(), la, lb); err == nil {
		t.Fatal("bridged an 8 kHz line to a 16 kHz one")
	}
}
