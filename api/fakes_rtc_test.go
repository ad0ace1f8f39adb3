package api

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/voicebot/media"
	"github.com/switchboardhq/switchboard/voicebot/runtime"
)

// Fixed values for the browser (WebRTC) routes in the fakes below.
const (
	fakeRTCKey        = "rtc-token-key-for-tests-0123456789"
	fakeBrowser       = "user-42"                              // the browser's webrtc identity
	fakeWebRTCSender  = "support"                              // our webrtc address, the account's default
	fakeWebRTCChannel = "0193f6a2-6a00-7000-8000-000000000a03" // the webrtc channel carrying it
	fakeBrowserCall   = "0193f6a2-7200-7000-8000-000000000e05" // fakeBrowser's call in progress
	fakeBrowserCallID = "0193f6a2-7200-7000-8000-000000000e06" // the call AnswerLive answers
	fakeAccount2      = "0193f6a2-0000-7000-8000-000000000002" // an account with no webrtc channel
	fakeSDPOffer      = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" +
		"c=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n"
	fakeSDPAnswer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n"
)

func init() {
	// SDP, pages and scripts are text: validate them as plain strings.
	for _, ct := range []string{"application/sdp", "application/trickle-ice-sdpfrag", "text/html", "application/javascript", "text/javascript", "text/css"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
	}
}

// browserToken mints a token for fakeBrowser of fakeCustomer on account,
// valid for ttl (expired when ttl is negative), signed with key.
func browserToken(key, account, customer string, ttl time.Duration) string {
	return mintToken([]byte(key), rtcClaims{Account: account, Identity: fakeBrowser, Customer: customer,
		Expires: time.Now().Add(ttl).Unix()})
}

// fakeRTC answers offers that look like SDP with fakeSDPAnswer.
type fakeRTC struct{}

var _ RTC = fakeRTC{}

func (fakeRTC) Answer(_ context.Context, offer string) (runtime.LiveLine, string, error) {
	if !strings.HasPrefix(offer, "v=0") {
		return nil, "", errors.New("not an SDP offer")
	}
	return &fakeLine{events: make(chan media.Event)}, fakeSDPAnswer, nil
}

func (fakeRTC) ICEServers() []map[string]any {
	return []map[string]any{{"urls": []string{"stun:stun.example.com:3478"}},
		{"urls": "turn:turn.example.com:3478", "username": "u", "credential": "p"}}
}

// fakeLine is a silent line that never hears anything.
type fakeLine struct{ events chan media.Event }

func (*fakeLine) SampleRate() int                           { return 16000 }
func (*fakeLine) WriteFrame(context.Context, []int16) error { return nil }
func (l *fakeLine) Events() <-chan media.Event              { return l.events }
func (*fakeLine) Close() error                              { return nil }
func (*fakeLine) Done() <-chan struct{}                     { return nil } // open for the test's life

// AddCandidates takes fragments with a candidate or the end of them.
func (*fakeLine) AddCandidates(frag string) error {
	if !strings.Contains(frag, "a=candidate:") && !strings.Contains(frag, "a=end-of-candidates") {
		return errors.New("the fragment has no a=candidate line")
	}
	return nil
}

var _ LiveCalls = fakeCalls{}

// AnswerLive answers a browser's call to fakeWebRTCSender, the one address
// with an inbound flow, as the runtime would.
func (f fakeCalls) AnswerLive(_ context.Context, req runtime.InboundCallRequest, line runtime.LiveLine) (*sb.Call, error) {
	if line == nil {
		return nil, sb.Errorf(sb.EINTERNAL, "no line")
	}
	if req.To != fakeWebRTCSender {
		return nil, sb.Invalid(sb.FieldError{Field: "to", Message: "webrtc:" + req.To + " names no inbound_flow_id"})
	}
	c := fakeBrowserCallRecord()
	c.ID, c.From, c.To, c.Provider, c.ProviderCallID = fakeBrowserCallID, req.From, req.To, req.Provider, req.ProviderCallID
	return c, nil
}

// fakeBrowserCallRecord is fakeBrowser's call to our webrtc address.
func fakeBrowserCallRecord() *sb.Call {
	answered := fakeTime.Add(1e9)
	return &sb.Call{ID: fakeBrowserCall, AccountID: fakeAccount, CustomerID: fakeCustomer, ConversationID: fakeConv,
		Direction: sb.CallInbound, Channel: sb.ChannelWebRTC, From: fakeBrowser, To: fakeWebRTCSender, Status: sb.CallInProgress,
		Provider: sb.ProviderWebRTC, ChannelID: fakeWebRTCChannel, ProviderCallID: "rtc-1", FlowID: fakeFlow, FlowVersion: 2,
		SessionID: fakeSession, Timeout: 30, AnsweredAt: &answered, Sequence: 2, CreatedAt: fakeTime, UpdatedAt: answered}
}

// ChannelForSender knows fakeAccount's webrtc channel only.
func (fakeStore) ChannelForSender(_ context.Context, acct string, ch sb.Channel, from string) (*sb.ConnectedChannel, error) {
	if acct != fakeAccount || ch != sb.ChannelWebRTC || (from != "" && from != fakeWebRTCSender) {
		return nil, sb.ErrNotFound
	}
	return &sb.ConnectedChannel{ID: fakeWebRTCChannel, AccountID: fakeAccount, Type: sb.ProviderWebRTC, Name: "Web widget",
		Status: "active", Senders: []sb.Sender{{Channel: sb.ChannelWebRTC, Address: fakeWebRTCSender, Default: true, InboundFlowID: fakeFlow}},
		HookSecret: fakeHookSecret, WebhookStatus: "manual", CreatedAt: fakeTime, UpdatedAt: fakeTime}, nil
}

func (s fakeStore) SetConversationAgent(ctx context.Context, acct, id, agent string) (*sb.Conversation, error) {
	c, err := s.GetConversation(ctx, acct, id)
	if err != nil {
		return nil, err
	}
	c.Agent = agent
	return c, nil
}

// Calls ringing browsers in the fakes below.
const (
	fakeRingingCall = "0193f6a2-7200-7000-8000-000000000e07" // rings fakeBrowser (placed with a flow)
	fakeAgentRing   = "0193f6a2-7200-7000-8000-000000000e08" // a transfer of fakeBrowserCall ringing agent:alice
	fakePlacedCall  = "0193f6a2-7200-7000-8000-000000000e09" // an agent's call to fakeBrowser
)

// fakeRingingRecords are the ringing browser calls: one to fakeBrowser,
// one to an agent.
func fakeRingingRecords() []*sb.Call {
	ring := func(id, to, parent string) *sb.Call {
		return &sb.Call{ID: id, AccountID: fakeAccount, CustomerID: fakeCustomer, ConversationID: fakeConv,
			Direction: sb.CallOutbound, Channel: sb.ChannelWebRTC, From: fakeWebRTCSender, To: to, Status: sb.CallRinging,
			Provider: sb.ProviderWebRTC, ChannelID: fakeWebRTCChannel, ParentCallID: parent, Timeout: 30, Sequence: 2,
			CreatedAt: fakeTime, UpdatedAt: fakeTime}
	}
	return []*sb.Call{ring(fakeRingingCall, fakeBrowser, ""), ring(fakeAgentRing, "agent:alice", fakeBrowserCall)}
}

var _ BrowserCalls = fakeCalls{}

// AnswerBrowser answers the ringing fakes, as the runtime would.
func (f fakeCalls) AnswerBrowser(ctx context.Context, acct, callID, to string, line runtime.LiveLine) (*sb.Call, error) {
	c, err := f.store.GetCall(ctx, acct, callID)
	if err != nil {
		return nil, err
	}
	if to != "" && c.To != to {
		return nil, sb.ErrNotFound
	}
	if c.Status != sb.CallRinging || line == nil {
		return nil, sb.Errorf(sb.EEXISTS, "call %s is %s: only a ringing call can be answered", c.ID, c.Status)
	}
	answered := fakeTime.Add(3e9)
	c.Status, c.AnsweredAt, c.Sequence = sb.CallInProgress, &answered, c.Sequence+1
	return c, nil
}

// PlaceLive rings fakeBrowser (by identity or as fakeCustomer).
func (f fakeCalls) PlaceLive(_ context.Context, req runtime.PlaceRequest, agent string, line runtime.LiveLine) (*sb.Call, error) {
	if line == nil || agent == "" {
		return nil, sb.Errorf(sb.EINTERNAL, "no line or agent")
	}
	if req.CustomerID != "" && req.CustomerID != fakeCustomer {
		return nil, sb.ErrNotFound
	}
	if req.To != "" && req.To != fakeBrowser {
		return nil, sb.Invalid(sb.FieldError{Field: "to", Message: "names no customer's browser"})
	}
	c := fakeRingingRecords()[0]
	c.ID = fakePlacedCall
	return c, nil
}
