// Package webrtc carries browser calls on pion: it answers a browser's SDP
// offer (WHIP-style: our candidates in the answer, the browser's trickled
// in later through Peer.AddCandidates) and turns the resulting peer connection
// into a media.Line of 20 ms, 8 kHz PCM frames.
//
// Codecs: Opus (payload 111, when built with the opus tag against libopus:
// there is no Opus codec in pure Go), PCMU (0) and PCMA (8), in the order
// the browser prefers them, plus telephone-event/8000 (RFC 4733) for keypad
// digits. The line is 8 kHz PCM whichever is negotiated; Opus codes it as
// narrowband voice. A build without the tag answers every browser in G.711,
// which they all speak.
package webrtc

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// ICEServer is a STUN or TURN server, in the JSON shape of the browser's
// RTCIceServer so the pages can use ICEServers() as is.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Config configures a Server.
type Config struct {
	// ICEServers are the STUN/TURN servers for both ends.
	ICEServers []ICEServer
	// UDPPortMin and UDPPortMax bound the local UDP ports; 0 means any.
	UDPPortMin, UDPPortMax uint16
	// Loopback gathers loopback host candidates (tests, single-box demos).
	// It also turns mDNS off and restricts ICE to UDP over IPv4, which
	// makes loopback pairing deterministic.
	Loopback bool
	// NAT1To1IPs are public IPs advertised in place of the local host
	// addresses, for a server behind 1:1 NAT.
	NAT1To1IPs []string
	// GatherTimeout bounds how long Answer waits for ICE gathering; the
	// answer then carries the candidates found so far. Default 5 s.
	GatherTimeout time.Duration
}

// Payload types we offer; browsers' own numbers win in an answer.
const (
	ptPCMU           = 0
	ptPCMA           = 8
	ptOpus           = 111
	ptTelephoneEvent = 101
	sampleRate       = 8000
	opusClock        = 48000 // Opus's RTP clock, whatever the audio's rate

	mimeTelephoneEvent = "audio/telephone-event"
)

// opusCapability is Opus as browsers offer it (RFC 7587): 48 kHz clock,
// "2" channels (we send mono, which every decoder takes).
var opusCapability = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: opusClock, Channels: 2,
	SDPFmtpLine: "minptime=10;useinbandfec=1"}

// Server answers browsers' offers. It is safe for concurrent use.
type Server struct {
	api           *webrtc.API
	iceServers    []ICEServer
	gatherTimeout time.Duration
}

// New builds a Server from cfg.
func New(cfg Config) (*Server, error) {
	m := &webrtc.MediaEngine{}
	codecs := []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: sampleRate}, PayloadType: ptPCMU},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: sampleRate}, PayloadType: ptPCMA},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeTelephoneEvent, ClockRate: sampleRate, SDPFmtpLine: "0-16"}, PayloadType: ptTelephoneEvent},
	}
	if OpusSupported {
		codecs = append([]webrtc.RTPCodecParameters{{RTPCodecCapability: opusCapability, PayloadType: ptOpus}}, codecs...)
	}
	for _, c := range codecs {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, fmt.Errorf("webrtc: register %s: %w", c.MimeType, err)
		}
	}
	// Sender and receiver reports only: NACK and congestion control buy
	// nothing for 64 kbit/s G.711.
	ir := &interceptor.Registry{}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, fmt.Errorf("webrtc: rtcp reports: %w", err)
	}

	var se webrtc.SettingEngine
	if cfg.UDPPortMin != 0 || cfg.UDPPortMax != 0 {
		hi := cfg.UDPPortMax
		if hi == 0 {
			hi = 65535
		}
		if err := se.SetEphemeralUDPPortRange(cfg.UDPPortMin, hi); err != nil {
			return nil, fmt.Errorf("webrtc: udp ports %d-%d: %w", cfg.UDPPortMin, hi, err)
		}
	}
	if cfg.Loopback {
		Loopback(&se)
	}
	if len(cfg.NAT1To1IPs) > 0 {
		err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External:        append([]string(nil), cfg.NAT1To1IPs...),
			AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode:            webrtc.ICEAddressRewriteReplace,
		})
		if err != nil {
			return nil, fmt.Errorf("webrtc: nat ips %v: %w", cfg.NAT1To1IPs, err)
		}
	}
	for _, s := range cfg.ICEServers {
		if len(s.URLs) == 0 {
			return nil, errors.New("webrtc: ice server without urls")
		}
	}
	timeout := cfg.GatherTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	return &Server{
		api:           webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(ir)),
		iceServers:    append([]ICEServer(nil), cfg.ICEServers...),
		gatherTimeout: timeout,
	}, nil
}

// Loopback makes se gather loopback host candidates, with mDNS off and
// ICE over UDP on IPv4 only, which makes pairing on one box deterministic:
// the server's Config.Loopback, and the Go "browsers" of tests and sbbench.
func Loopback(se *webrtc.SettingEngine) {
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
}

// ICEServers returns the configured servers in the browser's RTCIceServer
// JSON shape, for the pages' RTCPeerConnection configuration.
func (s *Server) ICEServers() []ICEServer {
	out := make([]ICEServer, len(s.iceServers))
	for i, v := range s.iceServers {
		v.URLs = append([]string(nil), v.URLs...)
		out[i] = v
	}
	return out
}

func (s *Server) pionICEServers() []webrtc.ICEServer {
	out := make([]webrtc.ICEServer, 0, len(s.iceServers))
	for _, v := range s.iceServers {
		is := webrtc.ICEServer{URLs: v.URLs, Username: v.Username}
		if v.Credential != "" {
			is.Credential = v.Credential
		}
		out = append(out, is)
	}
	return out
}

// Answer takes a browser's SDP offer and returns the Peer and the SDP
// answer. Our side does not trickle: the answer comes after our ICE
// gathering has completed (or GatherTimeout passed), so it carries all our
// candidates. The browser's may be in the offer or trickle in afterwards
// (Peer.AddCandidates). The offer must offer Opus (in an Opus build), PCMU
// or PCMA.
func (s *Server) Answer(ctx context.Context, offer string) (peer *Peer, answer string, err error) {
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{ICEServers: s.pionICEServers()})
	if err != nil {
		return nil, "", fmt.Errorf("webrtc: new peer connection: %w", err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		_ = pc.Close()
		return nil, "", fmt.Errorf("webrtc: set offer: %w", err)
	}
	// Parse our own copy: pion caches the parse in the description it
	// keeps, and its goroutines read that concurrently.
	mime, err := sendCodec(&webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer})
	if err != nil {
		_ = pc.Close()
		return nil, "", err
	}
	p, err := newPeer(pc, mime)
	if err != nil {
		_ = pc.Close()
		return nil, "", err
	}
	desc, err := pc.CreateAnswer(nil)
	if err != nil {
		p.Close()
		return nil, "", fmt.Errorf("webrtc: create answer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(desc); err != nil {
		p.Close()
		return nil, "", fmt.Errorf("webrtc: set answer: %w", err)
	}
	timer := time.NewTimer(s.gatherTimeout)
	defer timer.Stop()
	select {
	case <-gathered:
	case <-timer.C: // answer with what was gathered: host candidates come first
	case <-ctx.Done():
		p.Close()
		return nil, "", fmt.Errorf("webrtc: gather candidates: %w", ctx.Err())
	}
	return p, pc.LocalDescription().SDP, nil
}

// sendCodec picks the codec we send: the first of Opus (when built in),
// PCMU and PCMA in the offer's audio section, in the browser's order of
// preference.
func sendCodec(offer *webrtc.SessionDescription) (string, error) {
	parsed, err := offer.Unmarshal()
	if err != nil {
		return "", fmt.Errorf("webrtc: parse offer: %w", err)
	}
	for _, md := range parsed.MediaDescriptions {
		if md.MediaName.Media != "audio" {
			continue
		}
		names := map[string]string{"0": "PCMU", "8": "PCMA"} // static payload types
		for _, a := range md.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			pt, enc, ok := strings.Cut(a.Value, " ")
			if !ok {
				continue
			}
			name, rate, _ := strings.Cut(enc, "/")
			name = strings.ToUpper(name)
			r, _ := strconv.Atoi(strings.SplitN(rate, "/", 2)[0])
			if (name == "OPUS" && r != opusClock) || (name != "OPUS" && r != sampleRate) {
				name = ""
			}
			names[pt] = name
		}
		for _, pt := range md.MediaName.Formats {
			switch names[pt] {
			case "OPUS":
				if OpusSupported {
					return webrtc.MimeTypeOpus, nil
				}
			case "PCMU":
				return webrtc.MimeTypePCMU, nil
			case "PCMA":
				return webrtc.MimeTypePCMA, nil
			}
		}
	}
	if OpusSupported {
		return "", errors.New("webrtc: the offer has no audio section with Opus, PCMU or PCMA")
	}
	return "", errors.New("webrtc: the offer has no audio section with PCMU or PCMA")
}
