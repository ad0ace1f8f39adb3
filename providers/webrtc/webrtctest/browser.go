// Package webrtctest is a browser without a browser: a pion peer that
// calls Switchboard the way the web widget and the agent inbox do (SDP
// offer with PCMU and telephone-event, a "dtmf" data channel, a microphone
// track) and counts what it hears. Tests and load generators use it where
// a real Chromium would be too heavy.
package webrtctest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
	pionmedia "github.com/pion/webrtc/v4/pkg/media"

	sbrtc "github.com/switchboardhq/switchboard/providers/webrtc"
	"github.com/switchboardhq/switchboard/voicebot/media"
)

const (
	rate         = 8000
	frameSamples = rate / 50 // 20 ms
	frame        = 20 * time.Millisecond
	// loudRMS is the level above which a frame counts as sound, not
	// silence or comfort noise.
	loudRMS = 300
)

// Browser is one page's peer connection.
type Browser struct {
	pc        *webrtc.PeerConnection
	mic       *webrtc.TrackLocalStaticSample
	dc        *webrtc.DataChannel
	dcOpen    chan struct{}
	connected chan struct{}
	closed    chan struct{}
	closeOnce sync.Once
	once      sync.Once
	gone      chan struct{} // closed when the connection fails or closes
	goneOnce  sync.Once

	mu            sync.Mutex
	packets, loud int
	tone          float64 // Hz the microphone plays; 0 is silence
}

// New builds a browser whose offer, with its ICE candidates gathered
// (loopback included), is ready in Offer.
func New() (*Browser, error) {
	m := &webrtc.MediaEngine{}
	for _, c := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: rate}, PayloadType: 0},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: rate, SDPFmtpLine: "0-16"}, PayloadType: 126},
	} {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, err
		}
	}
	var se webrtc.SettingEngine
	sbrtc.Loopback(&se)
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("webrtctest: peer connection: %w", err)
	}
	b := &Browser{pc: pc, dcOpen: make(chan struct{}), connected: make(chan struct{}), closed: make(chan struct{}), gone: make(chan struct{})}
	if err := b.setup(); err != nil {
		_ = pc.Close()
		return nil, err
	}
	return b, nil
}

func (b *Browser) setup() error {
	var err error
	b.mic, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: rate}, "mic", "browser")
	if err != nil {
		return err
	}
	if _, err := b.pc.AddTrack(b.mic); err != nil {
		return err
	}
	if b.dc, err = b.pc.CreateDataChannel("dtmf", nil); err != nil {
		return err
	}
	b.dc.OnOpen(func() { close(b.dcOpen) })
	b.pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateConnected:
			b.once.Do(func() { close(b.connected) })
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed, webrtc.PeerConnectionStateDisconnected:
			b.goneOnce.Do(func() { close(b.gone) })
		}
	})
	b.pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		var pcm []int16
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			pcm = sbrtc.DecodePCMU(pcm[:0], p.Payload)
			loud := media.RMS(pcm) > loudRMS
			b.mu.Lock()
			b.packets++
			if loud {
				b.loud++
			}
			b.mu.Unlock()
		}
	})
	offer, err := b.pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(b.pc)
	if err := b.pc.SetLocalDescription(offer); err != nil {
		return err
	}
	select {
	case <-gathered:
	case <-time.After(10 * time.Second):
		return errors.New("webrtctest: ICE gathering timed out")
	}
	return nil
}

// Offer is the SDP offer to POST.
func (b *Browser) Offer() string { return b.pc.LocalDescription().SDP }

// Accept takes the server's SDP answer and starts the microphone, which
// sends 20 ms frames of silence (or the tone set by Tone) from then on.
func (b *Browser) Accept(answer string) error {
	if err := b.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return fmt.Errorf("webrtctest: set answer: %w", err)
	}
	go b.speak()
	return nil
}

// WaitConnected waits for ICE and DTLS to connect and the data channel to
// open.
func (b *Browser) WaitConnected(ctx context.Context) error {
	for _, ch := range []chan struct{}{b.connected, b.dcOpen} {
		select {
		case <-ch:
		case <-b.gone:
			return errors.New("webrtctest: the connection failed")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Tone makes the microphone play a sine at hz (0: silence).
func (b *Browser) Tone(hz float64) {
	b.mu.Lock()
	b.tone = hz
	b.mu.Unlock()
}

// speak sends one microphone frame every 20 ms, paced from the start.
func (b *Browser) speak() {
	start := time.Now()
	pcm := make([]int16, frameSamples)
	var payload []byte
	var phase float64
	for n := 1; ; n++ {
		select {
		case <-b.closed:
			return
		case <-time.After(time.Until(start.Add(time.Duration(n) * frame))):
		}
		b.mu.Lock()
		hz := b.tone
		b.mu.Unlock()
		for i := range pcm {
			pcm[i] = 0
			if hz > 0 {
				pcm[i] = int16(8000 * math.Sin(phase))
				phase += 2 * math.Pi * hz / rate
			}
		}
		payload = sbrtc.EncodePCMU(payload[:0], pcm)
		if err := b.mic.WriteSample(pionmedia.Sample{Data: payload, Duration: frame}); err != nil {
			return
		}
	}
}

// Press sends keypad digits over the "dtmf" data channel.
func (b *Browser) Press(digits string) error {
	return b.dc.SendText(digits)
}

// Heard reports the packets received and how many of them carried sound.
func (b *Browser) Heard() (packets, loud int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.packets, b.loud
}

// WaitLoud waits until at least n more frames with sound than `after`
// have arrived.
func (b *Browser) WaitLoud(ctx context.Context, after, n int) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if _, loud := b.Heard(); loud >= after+n {
			return nil
		}
		select {
		case <-ctx.Done():
			_, loud := b.Heard()
			return fmt.Errorf("webrtctest: heard %d frames with sound, waited for %d: %w", loud-after, n, ctx.Err())
		case <-b.gone:
			return errors.New("webrtctest: the connection ended while waiting for sound")
		case <-t.C:
		}
	}
}

// Gone closes when the connection has ended (the far end hung up).
func (b *Browser) Gone() <-chan struct{} { return b.gone }

// Close hangs up.
func (b *Browser) Close() {
	b.closeOnce.Do(func() {
		close(b.closed)
		_ = b.pc.Close()
	})
}
