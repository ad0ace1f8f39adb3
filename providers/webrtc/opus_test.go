//go:build opus && cgo

package webrtc

import (
	"context"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/switchboardhq/switchboard/voicebot/media"
)

// Opus both ways: the bot's 8 kHz frames reach the browser as Opus that
// decodes to the same tone, and the browser's Opus becomes 20 ms frames.
func TestOpus(t *testing.T) {
	b, peer := connect(t, webrtc.MimeTypeOpus)
	if peer.Codec() != "OPUS" {
		t.Fatalf("Codec() = %q, want OPUS", peer.Codec())
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	// Bot to browser.
	tick := time.NewTicker(media.FrameDuration)
	for _, f := range tone(440, 50) {
		if err := peer.WriteFrame(ctx, f); err != nil {
			t.Fatalf("WriteFrame: %v", err)
		}
		<-tick.C
	}
	tick.Stop()
	dec, err := newOpusDecoder()
	if err != nil {
		t.Fatal(err)
	}
	var got []int16
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && len(b.received()) < 50; time.Sleep(50 * time.Millisecond) {
	}
	pkts := b.received()
	if len(pkts) < 45 {
		t.Fatalf("browser got %d Opus packets, want ~50", len(pkts))
	}
	for i, p := range pkts {
		if p.PayloadType != ptOpus {
			t.Fatalf("packet %d: payload type %d, want %d", i, p.PayloadType, ptOpus)
		}
		if i > 0 && p.Timestamp-pkts[i-1].Timestamp != 960*uint32(p.SequenceNumber-pkts[i-1].SequenceNumber) {
			t.Errorf("packet %d: timestamp step %d, want 960 per 20 ms at Opus's 48 kHz clock", i, p.Timestamp-pkts[i-1].Timestamp)
		}
		if got, err = dec.decode(got, p.Payload); err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
	}
	tail := got[len(got)/2:] // past the codec's start-up
	if hz := float64(crossings(tail)) / 2 / (float64(len(tail)) / sampleRate); hz < 420 || hz > 460 {
		t.Errorf("decoded tone at %.0f Hz, want ~440", hz)
	}
	if r := rms(tail); r < 3000 {
		t.Errorf("decoded rms %.0f, want a loud tone", r)
	}

	// Browser to bot.
	enc, err := newOpusEncoder()
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	sent := make(chan error, 1)
	go func() {
		tick := time.NewTicker(media.FrameDuration)
		defer tick.Stop()
		for i, f := range tone(300, 50) {
			payload, err := enc.encode(nil, f)
			if err == nil {
				err = b.mic.write(false, i == 0, uint32(1000+i*960), payload)
			}
			if err != nil {
				sent <- err
				return
			}
			select {
			case <-tick.C:
			case <-stop:
				sent <- nil
				return
			}
		}
		sent <- nil
	}()
	defer func() {
		close(stop)
		if err := <-sent; err != nil {
			t.Errorf("sending Opus: %v", err)
		}
	}()
	var pcm []int16
	for n := 0; n < 45; {
		select {
		case ev := <-peer.Events():
			if ev.Kind != media.EventAudio || len(ev.PCM) != frameSamples {
				t.Fatalf("event %s with %d samples, want audio frames of %d", ev.Kind, len(ev.PCM), frameSamples)
			}
			pcm = append(pcm, ev.PCM...)
			n++
		case <-ctx.Done():
			t.Fatalf("got %d audio frames, want 45+", n)
		}
	}
	tail = pcm[len(pcm)/2:]
	if hz := float64(crossings(tail)) / 2 / (float64(len(tail)) / sampleRate); hz < 280 || hz > 320 {
		t.Errorf("caller tone at %.0f Hz, want ~300", hz)
	}
}

// A browser offering Opus first gets Opus; one preferring PCMU gets PCMU.
func TestOpusFollowsTheBrowsersOrder(t *testing.T) {
	for _, tc := range []struct{ formats, want string }{
		{"111 0 8", webrtc.MimeTypeOpus},
		{"0 111", webrtc.MimeTypePCMU},
	} {
		offer := "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF " + tc.formats + "\r\n" +
			"a=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
		got, err := sendCodec(&webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer})
		if err != nil || got != tc.want {
			t.Errorf("formats %s: %s, %v; want %s", tc.formats, got, err, tc.want)
		}
	}
}
