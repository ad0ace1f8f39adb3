package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/switchboardhq/switchboard/providers/webrtc"
	"github.com/switchboardhq/switchboard/voicebot/runtime"
)

// rtcServer adapts providers/webrtc to the API's RTC interface.
type rtcServer struct{ s *webrtc.Server }

// rtcLine is a browser's peer as the runtime's live line.
type rtcLine struct{ *webrtc.Peer }

func (l rtcLine) Close() error { l.Peer.Close(); return nil }

// Ready closes once the browser's connection is up: prompts written
// before that would be lost.
func (l rtcLine) Ready() <-chan struct{} { return l.Peer.Ready() }

func (r rtcServer) Answer(ctx context.Context, offer string) (runtime.LiveLine, string, error) {
	p, answer, err := r.s.Answer(ctx, offer)
	if err != nil {
		return nil, "", err
	}
	return rtcLine{p}, answer, nil
}

func (r rtcServer) ICEServers() []map[string]any {
	var out []map[string]any
	b, _ := json.Marshal(r.s.ICEServers())
	_ = json.Unmarshal(b, &out)
	return out
}

// newRTC builds the browser-call server from the configuration.
func newRTC(cfg Config) (rtcServer, error) {
	rc := webrtc.Config{Loopback: cfg.RTCLoopback}
	if v := strings.TrimSpace(cfg.RTCICEServers); v != "" {
		if strings.HasPrefix(v, "[") {
			if err := json.Unmarshal([]byte(v), &rc.ICEServers); err != nil {
				return rtcServer{}, fmt.Errorf("SWITCHBOARD_RTC_ICE_SERVERS: %w", err)
			}
		} else {
			rc.ICEServers = []webrtc.ICEServer{{URLs: strings.Split(v, ",")}}
		}
	}
	if v := strings.TrimSpace(cfg.RTCUDPPorts); v != "" {
		lo, hi, ok := strings.Cut(v, "-")
		a, err1 := strconv.ParseUint(lo, 10, 16)
		b, err2 := strconv.ParseUint(hi, 10, 16)
		if !ok || err1 != nil || err2 != nil || a > b {
			return rtcServer{}, fmt.Errorf("SWITCHBOARD_RTC_UDP_PORTS=%q: want a range like 50000-50200", v)
		}
		rc.UDPPortMin, rc.UDPPortMax = uint16(a), uint16(b)
	}
	if v := strings.TrimSpace(cfg.RTCNATIPs); v != "" {
		rc.NAT1To1IPs = strings.Split(v, ",")
	}
	s, err := webrtc.New(rc)
	return rtcServer{s}, err
}

// rtcTokenKey is the key that signs browser tokens: the configured secret,
// else one derived from the master key (so every API process agrees).
func rtcTokenKey(cfg Config) []byte {
	switch {
	case cfg.RTCTokenSecret != "":
		k := sha256.Sum256([]byte("switchboard/rtc-token/v1\x00" + cfg.RTCTokenSecret))
		return k[:]
	case cfg.MasterKey != "":
		k := sha256.Sum256([]byte("switchboard/rtc-token/v1\x00" + cfg.MasterKey))
		return k[:]
	}
	return nil
}
