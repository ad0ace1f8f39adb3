package webrtc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	pionmedia "github.com/pion/webrtc/v4/pkg/media"

	"github.com/switchboardhq/switchboard/voicebot/media"
)

// Peer is one browser call: a media.Line at 8000 Hz over a pion
// PeerConnection. The bot's frames go out as G.711 on a local audio track;
// the browser's audio, DTMF and hang-up come back through Events.
type Peer struct {
	pc    *webrtc.PeerConnection
	track *webrtc.TrackLocalStaticSample
	codec string // PCMU, PCMA or OPUS
	encMu sync.Mutex
	enc   encoder

	events chan media.Event
	// evMu is held shared while an event is being sent and exclusively
	// while the channel is closed, so no send races the close.
	evMu       sync.RWMutex
	done       chan struct{}
	finishOnce sync.Once
	ready      chan struct{}
	readyOnce  sync.Once

	mu        sync.Mutex
	discTimer *time.Timer // running while the connection is disconnected

	packetsSent, bytesSent         atomic.Uint64
	packetsReceived, bytesReceived atomic.Uint64
	framesDropped                  atomic.Uint64
}

var _ media.Line = (*Peer)(nil)

const (
	// eventBuffer is how many events may wait unread: 2 s of audio.
	eventBuffer = 100
	// disconnectGrace is how long a disconnected (not failed) connection
	// may take to come back before the call counts as hung up.
	disconnectGrace = 10 * time.Second
	frameSamples    = sampleRate / 50 // 20 ms
	// rtpBuffer is a receive buffer comfortably above the MTU.
	rtpBuffer = 1500
)

// Stats counts the RTP traffic of a Peer. Bytes are payload bytes.
type Stats struct {
	PacketsSent, BytesSent         uint64
	PacketsReceived, BytesReceived uint64
	// FramesDropped counts caller audio frames dropped because Events
	// was not read fast enough.
	FramesDropped uint64
}

func newPeer(pc *webrtc.PeerConnection, mime string) (*Peer, error) {
	p := &Peer{
		pc:     pc,
		codec:  strings.ToUpper(strings.TrimPrefix(mime, "audio/")),
		events: make(chan media.Event, eventBuffer),
		done:   make(chan struct{}),
		ready:  make(chan struct{}),
	}
	capability := webrtc.RTPCodecCapability{MimeType: mime, ClockRate: sampleRate}
	switch mime {
	case webrtc.MimeTypePCMU:
		p.enc = pcmu
	case webrtc.MimeTypePCMA:
		p.enc = pcma
	case webrtc.MimeTypeOpus:
		enc, err := newOpusEncoder()
		if err != nil {
			return nil, err
		}
		p.enc, capability = enc, opusCapability
	default:
		return nil, fmt.Errorf("webrtc: no encoder for %s", mime)
	}
	track, err := webrtc.NewTrackLocalStaticSample(capability, "audio", "switchboard")
	if err != nil {
		return nil, fmt.Errorf("webrtc: local track: %w", err)
	}
	p.track = track
	sender, err := pc.AddTrack(track)
	if err != nil {
		return nil, fmt.Errorf("webrtc: add track: %w", err)
	}
	// Read RTCP so the report interceptors run; it ends when pc closes.
	go func() {
		buf := make([]byte, rtpBuffer)
		for {
			if _, _, err := sender.Read(buf); err != nil {
				return
			}
		}
	}()
	pc.OnTrack(p.onTrack)
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		if dc.Label() != "dtmf" {
			return
		}
		dc.OnMessage(func(msg webrtc.DataChannelMessage) {
			for _, r := range string(msg.Data) {
				if d := string(r); strings.Contains("0123456789*#ABCD", d) {
					p.emit(media.Event{Kind: media.EventDTMF, Digit: d}, true)
				}
			}
		})
	})
	pc.OnConnectionStateChange(p.onState)
	return p, nil
}

// SampleRate is 8000: G.711's rate.
func (p *Peer) SampleRate() int { return sampleRate }

// Codec is the G.711 flavour we send: "PCMU" or "PCMA".
func (p *Peer) Codec() string { return p.codec }

// Events delivers the caller's audio (one frame per 20 ms), DTMF keys and
// finally a hang-up, after which it is closed.
func (p *Peer) Events() <-chan media.Event { return p.events }

// Done is closed when the call ends: Close, or the connection failed,
// closed or stayed disconnected.
func (p *Peer) Done() <-chan struct{} { return p.done }

// Ready is closed once the connection is up (ICE and DTLS done): frames
// written before that are lost.
func (p *Peer) Ready() <-chan struct{} { return p.ready }

// Stats returns the traffic counters so far.
func (p *Peer) Stats() Stats {
	return Stats{
		PacketsSent:     p.packetsSent.Load(),
		BytesSent:       p.bytesSent.Load(),
		PacketsReceived: p.packetsReceived.Load(),
		BytesReceived:   p.bytesReceived.Load(),
		FramesDropped:   p.framesDropped.Load(),
	}
}

// WriteFrame encodes one 20 ms frame and sends it as one RTP packet. The
// caller paces the writes.
func (p *Peer) WriteFrame(ctx context.Context, pcm []int16) error {
	if len(pcm) != frameSamples {
		return fmt.Errorf("webrtc: frame of %d samples, want %d at %d Hz", len(pcm), frameSamples, sampleRate)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-p.done:
		return media.ErrHungUp
	default:
	}
	p.encMu.Lock()
	payload, err := p.enc.encode(make([]byte, 0, len(pcm)), pcm)
	p.encMu.Unlock()
	if err != nil {
		return err
	}
	if err := p.track.WriteSample(pionmedia.Sample{Data: payload, Duration: media.FrameDuration}); err != nil {
		select {
		case <-p.done:
			return media.ErrHungUp
		default:
		}
		return fmt.Errorf("webrtc: write frame: %w", err)
	}
	select {
	case <-p.ready: // before that the track is unbound and nothing went out
		p.packetsSent.Add(1)
		p.bytesSent.Add(uint64(len(payload)))
	default:
	}
	return nil
}

// AddCandidates takes the browser's trickled ICE candidates: an
// application/trickle-ice-sdpfrag body (RFC 8840) as WHIP clients PATCH
// it, with one "a=candidate:" line per candidate. "a=end-of-candidates"
// and the session-level lines are accepted and ignored. A fragment with no
// candidate at all, or one pion cannot parse, is an error.
func (p *Peer) AddCandidates(frag string) error {
	found := false
	for _, line := range strings.Split(frag, "\n") {
		line = strings.TrimSpace(line)
		cand, ok := strings.CutPrefix(line, "a=candidate:")
		if !ok {
			continue
		}
		found = true
		if err := p.pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: "candidate:" + cand}); err != nil {
			return fmt.Errorf("webrtc: candidate %q: %w", line, err)
		}
	}
	if !found && !strings.Contains(frag, "a=end-of-candidates") {
		return errors.New("webrtc: the fragment has no a=candidate line")
	}
	return nil
}

// Close hangs up: Events gets a hang-up, Done closes and the peer
// connection is torn down. It is safe to call more than once.
func (p *Peer) Close() {
	p.finish()
	_ = p.pc.Close()
}

// onState follows the peer connection: connected makes the peer ready,
// failed or closed hang up, and disconnected hangs up unless the
// connection recovers within disconnectGrace.
func (p *Peer) onState(s webrtc.PeerConnectionState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch s {
	case webrtc.PeerConnectionStateConnected:
		p.readyOnce.Do(func() { close(p.ready) })
		if p.discTimer != nil {
			p.discTimer.Stop()
			p.discTimer = nil
		}
	case webrtc.PeerConnectionStateDisconnected:
		if p.discTimer == nil {
			p.discTimer = time.AfterFunc(disconnectGrace, func() {
				if p.pc.ConnectionState() == webrtc.PeerConnectionStateDisconnected {
					p.finish()
					go p.pc.Close()
				}
			})
		}
	case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
		if p.discTimer != nil {
			p.discTimer.Stop()
			p.discTimer = nil
		}
		p.finish()
		// Not from inside pion's callback: Close waits for its goroutines.
		go p.pc.Close()
	}
}

// finish ends the call once: Done closes, a hang-up event is queued
// (dropping the oldest unread event if the buffer is full) and Events
// closes.
func (p *Peer) finish() {
	p.finishOnce.Do(func() {
		close(p.done) // releases senders blocked in emit
		p.evMu.Lock()
		defer p.evMu.Unlock()
		for {
			select {
			case p.events <- media.Event{Kind: media.EventHangup}:
				close(p.events)
				return
			default:
				select {
				case <-p.events:
				default:
				}
			}
		}
	})
}

// emit delivers ev unless the call has ended. With wait it blocks until
// the reader takes it; without, it drops ev when the buffer is full.
func (p *Peer) emit(ev media.Event, wait bool) bool {
	p.evMu.RLock()
	defer p.evMu.RUnlock()
	select {
	case <-p.done:
		return false
	default:
	}
	if !wait {
		select {
		case p.events <- ev:
			return true
		default:
			return false
		}
	}
	select {
	case p.events <- ev:
		return true
	case <-p.done:
		return false
	}
}

// onTrack reads the browser's audio track until it ends: G.711 and Opus
// packets become 20 ms audio frames, RFC 4733 packets become DTMF keys.
func (p *Peer) onTrack(track *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	if track.Kind() != webrtc.RTPCodecTypeAudio {
		return
	}
	// Payload type → codec, as negotiated (the browser's numbers).
	codecs := map[uint8]string{ptPCMU: webrtc.MimeTypePCMU, ptPCMA: webrtc.MimeTypePCMA}
	if OpusSupported {
		codecs[ptOpus] = webrtc.MimeTypeOpus
	}
	for _, c := range recv.GetParameters().Codecs {
		codecs[uint8(c.PayloadType)] = strings.ToLower(c.MimeType)
	}
	go p.readTrack(track, codecs)
}

func (p *Peer) readTrack(track *webrtc.TrackRemote, codecs map[uint8]string) {
	var (
		buf     = make([]byte, rtpBuffer)
		pkt     rtp.Packet
		frame   = make([]int16, 0, frameSamples)
		samples []int16
		lastTS  uint32
		haveKey bool
		opus    decoder // made on the first Opus packet: it keeps state
	)
	for {
		n, _, err := track.Read(buf)
		if err != nil {
			return // the connection is closing; onState reports the hang-up
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			continue
		}
		p.packetsReceived.Add(1)
		p.bytesReceived.Add(uint64(len(pkt.Payload)))
		var dec decoder
		switch strings.ToLower(codecs[pkt.PayloadType]) {
		case strings.ToLower(webrtc.MimeTypePCMU):
			dec = pcmu
		case strings.ToLower(webrtc.MimeTypePCMA):
			dec = pcma
		case strings.ToLower(webrtc.MimeTypeOpus):
			if opus == nil {
				if opus, err = newOpusDecoder(); err != nil {
					continue // this build has no Opus; we never offer it then
				}
			}
			dec = opus
		case mimeTelephoneEvent:
			// One key press is several packets sharing a timestamp (with
			// the last three repeated carrying the end bit): report it on
			// the first one seen.
			if haveKey && pkt.Timestamp == lastTS {
				continue
			}
			if d, ok := dtmfDigit(pkt.Payload); ok {
				haveKey, lastTS = true, pkt.Timestamp
				p.emit(media.Event{Kind: media.EventDTMF, Digit: d}, true)
			}
			continue
		default:
			continue // comfort noise, red, anything we did not offer
		}
		// Browsers send 20 ms packets, but cut frames from whatever
		// arrives so other packet times work too.
		if samples, err = dec.decode(samples[:0], pkt.Payload); err != nil {
			continue // a corrupt packet is lost audio
		}
		for _, v := range samples {
			frame = append(frame, v)
			if len(frame) == frameSamples {
				if !p.emit(media.Event{Kind: media.EventAudio, PCM: frame}, false) {
					p.framesDropped.Add(1)
				}
				frame = make([]int16, 0, frameSamples)
			}
		}
	}
}

// dtmfDigit reads the key of an RFC 4733 telephone-event payload:
// event (8 bits), E|R|volume (8), duration (16).
func dtmfDigit(payload []byte) (string, bool) {
	if len(payload) < 4 {
		return "", false
	}
	const keys = "0123456789*#ABCD"
	if e := int(payload[0]); e < len(keys) {
		return keys[e : e+1], true
	}
	return "", false // 16 is flash; other events are not keys
}
