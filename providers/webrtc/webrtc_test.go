package webrtc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchboardhq/switchboard/voicebot/media"
)

// Generous: the tests run on a loaded 2-core machine.
const testTimeout = 30 * time.Second

// rawTrack is the test browser's microphone: a TrackLocal that writes RTP
// packets as given, so the test can mix G.711 and RFC 4733 payload types
// on one SSRC the way browsers do.
type rawTrack struct {
	mime string

	mu      sync.Mutex
	w       webrtc.TrackLocalWriter
	ssrc    uint32
	ptAudio uint8
	ptEvent uint8
	seq     uint16
	bound   chan struct{}
}

func newRawTrack(mime string) *rawTrack { return &rawTrack{mime: mime, bound: make(chan struct{})} }

func (r *rawTrack) Bind(c webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var audio webrtc.RTPCodecParameters
	for _, p := range c.CodecParameters() {
		switch {
		case strings.EqualFold(p.MimeType, r.mime):
			audio = p
			r.ptAudio = uint8(p.PayloadType)
		case strings.EqualFold(p.MimeType, mimeTelephoneEvent):
			r.ptEvent = uint8(p.PayloadType)
		}
	}
	if audio.MimeType == "" {
		return audio, webrtc.ErrUnsupportedCodec
	}
	r.w, r.ssrc = c.WriteStream(), uint32(c.SSRC())
	close(r.bound)
	return audio, nil
}

func (r *rawTrack) Unbind(webrtc.TrackLocalContext) error { return nil }
func (r *rawTrack) ID() string                            { return "mic" }
func (r *rawTrack) RID() string                           { return "" }
func (r *rawTrack) StreamID() string                      { return "browser" }
func (r *rawTrack) Kind() webrtc.RTPCodecType             { return webrtc.RTPCodecTypeAudio }

func (r *rawTrack) write(event bool, marker bool, ts uint32, payload []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	pt := r.ptAudio
	if event {
		pt = r.ptEvent
	}
	r.seq++
	h := &rtp.Header{Version: 2, Marker: marker, PayloadType: pt, SequenceNumber: r.seq, Timestamp: ts, SSRC: r.ssrc}
	if _, err := r.w.WriteRTP(h, payload); err != nil {
		return fmt.Errorf("client write rtp: %w", err)
	}
	return nil
}

// browser is the test's stand-in for a browser: a pion PeerConnection
// offering one codec, a "dtmf" data channel and a microphone track.
type browser struct {
	pc   *webrtc.PeerConnection
	mic  *rawTrack
	dc   *webrtc.DataChannel
	open chan struct{}

	mu      sync.Mutex
	packets []*rtp.Packet // what the bot sent
}

func (b *browser) received() []*rtp.Packet {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*rtp.Packet(nil), b.packets...)
}

// connect builds a browser offering mime and answers it with a loopback
// Server; it returns when media can flow both ways.
func connect(t *testing.T, mime string) (*browser, *Peer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	srv, err := New(Config{Loopback: true})
	if err != nil {
		t.Fatal(err)
	}

	m := &webrtc.MediaEngine{}
	pt, capability := webrtc.PayloadType(ptPCMU), webrtc.RTPCodecCapability{MimeType: mime, ClockRate: 8000}
	switch mime {
	case webrtc.MimeTypePCMA:
		pt = ptPCMA
	case webrtc.MimeTypeOpus:
		pt, capability = ptOpus, opusCapability
	}
	for _, c := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: capability, PayloadType: pt},
		// A browser-like dynamic number, not ours, to prove the answer's
		// payload types are honoured.
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeTelephoneEvent, ClockRate: 8000, SDPFmtpLine: "0-16"}, PayloadType: 126},
	} {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			t.Fatal(err)
		}
	}
	var se webrtc.SettingEngine
	Loopback(&se)
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	b := &browser{pc: pc, mic: newRawTrack(mime), open: make(chan struct{})}
	if _, err := pc.AddTrack(b.mic); err != nil {
		t.Fatal(err)
	}
	if b.dc, err = pc.CreateDataChannel("dtmf", nil); err != nil {
		t.Fatal(err)
	}
	b.dc.OnOpen(func() { close(b.open) })
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.packets = append(b.packets, p)
			b.mu.Unlock()
		}
	})

	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	peer, answer, err := srv.Answer(ctx, pc.LocalDescription().SDP)
	if err != nil {
		t.Fatalf("Answer: %v", err)
	}
	t.Cleanup(peer.Close)
	if !strings.Contains(answer, "a=candidate:") || !strings.Contains(answer, "127.0.0.1") {
		t.Fatalf("answer lacks loopback candidates:\n%s", answer)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	for name, ch := range map[string]<-chan struct{}{"peer ready": peer.Ready(), "data channel open": b.open, "mic bound": b.mic.bound} {
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", name, ctx.Err())
		}
	}
	return b, peer
}

func tone(freq float64, frames int) [][]int16 {
	out := make([][]int16, frames)
	for f := range out {
		out[f] = make([]int16, frameSamples)
		for i := range out[f] {
			n := f*frameSamples + i
			out[f][i] = int16(8000 * math.Sin(2*math.Pi*freq*float64(n)/sampleRate))
		}
	}
	return out
}

// crossings counts sign changes: a tone of f Hz has 2f per second.
func crossings(pcm []int16) int {
	n := 0
	for i := 1; i < len(pcm); i++ {
		if (pcm[i-1] < 0) != (pcm[i] < 0) {
			n++
		}
	}
	return n
}

func rms(pcm []int16) float64 {
	var s float64
	for _, v := range pcm {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(max(len(pcm), 1)))
}

func TestBotToBrowser(t *testing.T) {
	for _, mime := range []string{webrtc.MimeTypePCMU, webrtc.MimeTypePCMA} {
		t.Run(mime, func(t *testing.T) {
			b, peer := connect(t, mime)
			if want := strings.TrimPrefix(mime, "audio/"); peer.Codec() != want {
				t.Fatalf("Codec() = %q, want %q", peer.Codec(), want)
			}
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			frames := tone(440, 50) // 1 s
			tick := time.NewTicker(media.FrameDuration)
			defer tick.Stop()
			for _, f := range frames {
				if err := peer.WriteFrame(ctx, f); err != nil {
					t.Fatalf("WriteFrame: %v", err)
				}
				<-tick.C
			}
			if st := peer.Stats(); st.PacketsSent != 50 || st.BytesSent != 50*160 {
				t.Errorf("Stats = %+v, want 50 packets, 8000 bytes sent", st)
			}
			var got []*rtp.Packet
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				if got = b.received(); len(got) >= 50 {
					break
				}
			}
			// Loopback loses nothing in practice; leave room for a stray drop.
			if len(got) < 45 || len(got) > 50 {
				t.Fatalf("browser got %d packets, want ~50", len(got))
			}
			dec, pt := ulawDecode, uint8(ptPCMU)
			if mime == webrtc.MimeTypePCMA {
				dec, pt = alawDecode, ptPCMA
			}
			var pcm []int16
			for i, p := range got {
				if p.PayloadType != pt || len(p.Payload) != 160 {
					t.Fatalf("packet %d: payload type %d, %d bytes; want %d, 160", i, p.PayloadType, len(p.Payload), pt)
				}
				if i > 0 && p.Timestamp-got[i-1].Timestamp != 160*uint32(p.SequenceNumber-got[i-1].SequenceNumber) {
					t.Errorf("packet %d: timestamp step %d over %d packets", i, p.Timestamp-got[i-1].Timestamp, p.SequenceNumber-got[i-1].SequenceNumber)
				}
				for _, c := range p.Payload {
					pcm = append(pcm, dec(c))
				}
			}
			seconds := float64(len(pcm)) / sampleRate
			hz := float64(crossings(pcm)) / 2 / seconds
			if hz < 420 || hz > 460 {
				t.Errorf("decoded tone at %.0f Hz, want ~440", hz)
			}
			if r := rms(pcm); r < 4000 {
				t.Errorf("decoded rms %.0f, want a loud tone (~5600)", r)
			}
		})
	}
}

func TestBrowserToBot(t *testing.T) {
	for _, mime := range []string{webrtc.MimeTypePCMU, webrtc.MimeTypePCMA} {
		t.Run(mime, func(t *testing.T) {
			b, peer := connect(t, mime)
			enc := ulawEncode
			if mime == webrtc.MimeTypePCMA {
				enc = alawEncode
			}
			frames := tone(300, 50)
			sent := make(chan error, 1)
			go func() {
				tick := time.NewTicker(media.FrameDuration)
				defer tick.Stop()
				for i, f := range frames {
					payload := make([]byte, len(f))
					for j, s := range f {
						payload[j] = enc(s)
					}
					if err := b.mic.write(false, i == 0, uint32(1000+i*frameSamples), payload); err != nil {
						sent <- err
						return
					}
					<-tick.C
				}
				sent <- nil
			}()
			defer func() {
				if err := <-sent; err != nil {
					t.Error(err)
				}
			}()
			var pcm []int16
			timeout := time.After(testTimeout)
			for n := 0; n < 45; {
				select {
				case ev := <-peer.Events():
					if ev.Kind != media.EventAudio {
						t.Fatalf("unexpected event %+v", ev)
					}
					if len(ev.PCM) != frameSamples {
						t.Fatalf("audio frame of %d samples, want %d", len(ev.PCM), frameSamples)
					}
					pcm = append(pcm, ev.PCM...)
					n++
				case <-timeout:
					t.Fatalf("got %d audio frames, want 45+", n)
				}
			}
			if r := rms(pcm); r < 4000 {
				t.Errorf("caller audio rms %.0f, want a loud tone", r)
			}
			if hz := float64(crossings(pcm)) / 2 / (float64(len(pcm)) / sampleRate); hz < 280 || hz > 320 {
				t.Errorf("caller tone at %.0f Hz, want ~300", hz)
			}
			if st := peer.Stats(); st.PacketsReceived < 45 || st.BytesReceived < 45*160 {
				t.Errorf("Stats = %+v, want 45+ packets received", st)
			}
		})
	}
}

// nextDTMF returns the next DTMF event, skipping audio.
func nextDTMF(t *testing.T, peer *Peer, wait time.Duration) (string, bool) {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case ev, ok := <-peer.Events():
			if !ok || ev.Kind == media.EventHangup {
				t.Fatal("hung up while waiting for dtmf")
			}
			if ev.Kind == media.EventDTMF {
				return ev.Digit, true
			}
		case <-timeout:
			return "", false
		}
	}
}

func TestDTMF(t *testing.T) {
	b, peer := connect(t, webrtc.MimeTypePCMU)

	// RFC 4733 key press: packets sharing the event's timestamp with a
	// growing duration, the end bit set on the last three (retransmits).
	press := func(event byte, ts uint32) {
		for i := range 7 {
			end := i >= 4
			dur := uint16(160 * (i + 1))
			if end {
				dur = 160 * 5
			}
			flags := byte(10) // volume -10 dBm0
			if end {
				flags |= 0x80
			}
			if err := b.mic.write(true, i == 0, ts, []byte{event, flags, byte(dur >> 8), byte(dur)}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(media.FrameDuration)
		}
	}
	press(5, 48000)
	if d, ok := nextDTMF(t, peer, testTimeout); !ok || d != "5" {
		t.Fatalf("first dtmf = %q, %v; want 5", d, ok)
	}
	if d, ok := nextDTMF(t, peer, 500*time.Millisecond); ok {
		t.Fatalf("second dtmf %q from one key press", d)
	}
	press(11, 52000) // a new press is a new event, even for the same key
	if d, ok := nextDTMF(t, peer, testTimeout); !ok || d != "#" {
		t.Fatalf("dtmf = %q, %v; want #", d, ok)
	}

	if err := b.dc.SendText("#"); err != nil {
		t.Fatal(err)
	}
	if d, ok := nextDTMF(t, peer, testTimeout); !ok || d != "#" {
		t.Fatalf("data channel dtmf = %q, %v; want #", d, ok)
	}
	if err := b.dc.SendText("1x*"); err != nil { // non-keys are ignored
		t.Fatal(err)
	}
	for _, want := range []string{"1", "*"} {
		if d, ok := nextDTMF(t, peer, testTimeout); !ok || d != want {
			t.Fatalf("data channel dtmf = %q, %v; want %s", d, ok, want)
		}
	}
}

// waitHangup reads events until a hang-up, then expects Done and a closed
// channel.
func waitHangup(t *testing.T, peer *Peer) {
	t.Helper()
	timeout := time.After(testTimeout)
	for hung := false; !hung; {
		select {
		case ev, ok := <-peer.Events():
			if !ok {
				t.Fatal("events closed before a hangup event")
			}
			hung = ev.Kind == media.EventHangup
		case <-timeout:
			t.Fatal("no hangup event")
		}
	}
	select {
	case <-peer.Done():
	case <-timeout:
		t.Fatal("Done not closed")
	}
	select {
	case _, ok := <-peer.Events():
		if ok {
			t.Fatal("event after hangup")
		}
	case <-timeout:
		t.Fatal("events not closed after hangup")
	}
	err := peer.WriteFrame(context.Background(), make([]int16, frameSamples))
	if !errors.Is(err, media.ErrHungUp) {
		t.Fatalf("WriteFrame after hangup = %v, want ErrHungUp", err)
	}
}

func TestHangup(t *testing.T) {
	t.Run("browser closes", func(t *testing.T) {
		b, peer := connect(t, webrtc.MimeTypePCMU)
		if err := b.pc.Close(); err != nil {
			t.Fatal(err)
		}
		waitHangup(t, peer)
	})
	t.Run("bot closes", func(t *testing.T) {
		b, peer := connect(t, webrtc.MimeTypePCMU)
		gone := make(chan struct{})
		var once sync.Once
		b.pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
			if s == webrtc.PeerConnectionStateClosed || s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateDisconnected {
				once.Do(func() { close(gone) })
			}
		})
		peer.Close()
		peer.Close() // idempotent
		waitHangup(t, peer)
		select {
		case <-gone:
		case <-time.After(testTimeout):
			t.Fatal("the browser did not notice the bot hanging up")
		}
	})
}

func TestAnswerRejectsBadOffers(t *testing.T) {
	srv, err := New(Config{Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	dataOnly := func() string { // a well-formed offer with no audio
		pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		if _, err := pc.CreateDataChannel("chat", nil); err != nil {
			t.Fatal(err)
		}
		o, err := pc.CreateOffer(nil)
		if err != nil {
			t.Fatal(err)
		}
		return o.SDP
	}()
	offers := []struct{ name, sdp string }{
		{"empty", ""},
		{"garbage", "hello, I am an offer"},
		{"forged", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:0 PCMU/8000\r\n"},
		{"no audio", dataOnly},
		{"iLBC only", strings.Replace(strings.Replace(dataOnly, "m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "m=audio 9 UDP/TLS/RTP/SAVPF 97", 1), "a=sctp-port:5000", "a=rtpmap:97 iLBC/8000\r\na=sendrecv", 1)},
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	_, _, _ = srv.Answer(ctx, "warm-up") // let pion start its lazy globals
	before := runtime.NumGoroutine()
	for _, o := range offers {
		peer, answer, err := srv.Answer(ctx, o.sdp)
		t.Logf("%s: %v", o.name, err)
		if err == nil {
			peer.Close()
			t.Errorf("%s: answered %q", o.name, answer)
		}
		if peer != nil || answer != "" {
			t.Errorf("%s: returned a peer or an answer with the error %v", o.name, err)
		}
	}
	// Failed answers tear their peer connection down: no goroutines left.
	var now int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if now = runtime.NumGoroutine(); now <= before {
			return
		}
	}
	buf := make([]byte, 1<<20)
	t.Fatalf("goroutines %d → %d after rejected offers\n%s", before, now, buf[:runtime.Stack(buf, true)])
}

func TestAnswerCanceled(t *testing.T) {
	// A STUN server that never answers keeps gathering going until ctx ends.
	srv, err := New(Config{Loopback: true, ICEServers: []ICEServer{{URLs: []string{"stun:127.0.0.1:9"}}}, GatherTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	b := func() string {
		pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio); err != nil {
			t.Fatal(err)
		}
		o, err := pc.CreateOffer(nil)
		if err != nil {
			t.Fatal(err)
		}
		return o.SDP
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	peer, _, err := srv.Answer(ctx, b)
	if err == nil {
		// Gathering may legitimately finish first when the STUN probe
		// fails fast; then there is nothing to cancel.
		peer.Close()
		t.Skip("gathering completed before the deadline")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Answer = %v, want deadline exceeded", err)
	}
}

func TestConfig(t *testing.T) {
	srv, err := New(Config{
		ICEServers: []ICEServer{{URLs: []string{"stun:stun.example.org:3478"}}, {URLs: []string{"turn:turn.example.org"}, Username: "u", Credential: "p"}},
		UDPPortMin: 40000, UDPPortMax: 40100,
		NAT1To1IPs: []string{"203.0.113.7"},
	})
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(srv.ICEServers())
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"urls":["stun:stun.example.org:3478"]},{"urls":["turn:turn.example.org"],"username":"u","credential":"p"}]`
	if string(js) != want {
		t.Errorf("ICEServers JSON = %s, want %s", js, want)
	}
	bad := []Config{
		{UDPPortMin: 50000, UDPPortMax: 40000},
		{ICEServers: []ICEServer{{}}},
	}
	for _, c := range bad {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
}

func TestAddCandidates(t *testing.T) {
	_, peer := connect(t, webrtc.MimeTypePCMU)
	cases := []struct {
		name, frag string
		ok         bool
	}{
		{"one host candidate", "a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host\r\n", true},
		{"with session lines and the end", "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdef012345\r\na=mid:0\r\n" +
			"a=candidate:2 1 udp 2130706431 127.0.0.1 50001 typ host\r\na=end-of-candidates\r\n", true},
		{"end only", "a=end-of-candidates\r\n", true},
		{"nothing", "a=mid:0\r\n", false},
		{"garbage candidate", "a=candidate:not a candidate\r\n", false},
	}
	for _, tc := range cases {
		err := peer.AddCandidates(tc.frag)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
