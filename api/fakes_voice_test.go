package api

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/url"
	"strings"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/voicebot"
	"github.com/switchboardhq/switchboard/voicebot/runtime"
)

// Fixed values for flows and calls in the fakes below.
const (
	fakeFlow         = "0193f6a2-7100-7000-8000-000000000f01"
	fakeFlow2        = "0193f6a2-7100-7000-8000-000000000f02"
	fakeCall         = "0193f6a2-7200-7000-8000-000000000e01" // a sandbox call; its bot waits for input
	fakeTwilioCall   = "0193f6a2-7200-7000-8000-000000000e02" // a completed call Twilio carried
	fakeAgentLeg     = "0193f6a2-7200-7000-8000-000000000e03" // a callback's agent leg
	fakeCustomerLeg  = "0193f6a2-7200-7000-8000-000000000e04" // the same callback's customer leg
	fakeCallback     = "0193f6a2-7400-7000-8000-000000000cb1"
	fakeSession      = "0193f6a2-7300-7000-8000-000000000b01"
	fakeInboundTo    = "+15005550006" // the voice sender whose inbound_flow_id answers calls
	fakeFailedSTTLng = "xx"           // the fake speech-to-text engine fails for this language
)

const fakeFlowDef = `{"name":"Greeting","steps":[{"id":"hello","type":"say","text":"Hello","language":"en-US"},` +
	`{"id":"menu","type":"gather","prompt":"Press 1","max_digits":1,"timeout":"5s","save_as":"choice"},{"id":"bye","type":"hangup"}]}`

func fakeFlowRecord(version int) *sb.FlowRecord {
	return &sb.FlowRecord{ID: fakeFlow, AccountID: fakeAccount, Name: "Greeting", Version: version,
		Definition: json.RawMessage(fakeFlowDef), CreatedAt: fakeTime}
}

func (fakeStore) CreateFlow(_ context.Context, f *sb.FlowRecord) (*sb.FlowRecord, error) {
	f.ID, f.Version, f.CreatedAt = fakeFlow, 1, fakeTime
	return f, nil
}

func (fakeStore) AddFlowVersion(_ context.Context, acct, id, name string, def json.RawMessage) (*sb.FlowRecord, error) {
	if id != fakeFlow {
		return nil, sb.ErrNotFound
	}
	return &sb.FlowRecord{ID: id, AccountID: acct, Name: name, Version: 3, Definition: def, CreatedAt: fakeTime}, nil
}

// GetFlow knows versions 1 and 2 of fakeFlow; 0 asks for the latest.
func (fakeStore) GetFlow(_ context.Context, _, id string, version int) (*sb.FlowRecord, error) {
	if id != fakeFlow || version > 2 {
		return nil, sb.ErrNotFound
	}
	if version == 0 {
		version = 2
	}
	return fakeFlowRecord(version), nil
}

func (fakeStore) ListFlows(context.Context, string, string, int) ([]*sb.FlowRecord, string, error) {
	other := &sb.FlowRecord{ID: fakeFlow2, AccountID: fakeAccount, Name: "Support IVR", Version: 1, CreatedAt: fakeTime,
		Definition: json.RawMessage(`{"name":"Support IVR","start":"ask","resume_on":["sms","telegram"],"steps":[` +
			`{"id":"ask","type":"gather","input":"dtmf speech","timeout":10,"no_input":"ask"},` +
			`{"id":"route","type":"branch","on":"{{input}}","cases":[{"in":["1","sales"],"next":"sales"},{"matches":"^2","next":"bye"}],"default":"bye"},` +
			`{"id":"sales","type":"transfer","to":"+79990000007"},{"id":"bye","type":"hangup"}]}`)}
	return []*sb.FlowRecord{fakeFlowRecord(2), other}, "b3BhcXVl", nil
}

func (fakeStore) ListFlowVersions(_ context.Context, _, id string) ([]*sb.FlowRecord, error) {
	if id != fakeFlow {
		return nil, sb.ErrNotFound
	}
	return []*sb.FlowRecord{fakeFlowRecord(1), fakeFlowRecord(2)}, nil
}

func (fakeStore) DeleteFlow(_ context.Context, _, id string) error {
	if id != fakeFlow {
		return sb.ErrNotFound
	}
	return nil
}

// fakeCallRecords are the calls the fake store holds: a sandbox call in
// progress, a finished Twilio call, and a callback's two legs.
func fakeCallRecords() []*sb.Call {
	answered, ended := fakeTime.Add(5e9), fakeTime.Add(67e9)
	return []*sb.Call{
		{ID: fakeCall, AccountID: fakeAccount, CustomerID: fakeCustomer, ConversationID: fakeConv, Direction: sb.CallInbound,
			Channel: sb.ChannelVoice, From: "+79991234567", To: fakeInboundTo, Status: sb.CallInProgress, Provider: sb.ProviderSandbox,
			FlowID: fakeFlow, FlowVersion: 2, SessionID: fakeSession, Timeout: 30, AnsweredAt: &answered, Sequence: 2,
			CreatedAt: fakeTime, UpdatedAt: answered},
		{ID: fakeTwilioCall, AccountID: fakeAccount, CustomerID: fakeCustomer, ConversationID: fakeConv, Direction: sb.CallOutbound,
			Channel: sb.ChannelVoice, From: "+15005550006", To: "+79991234567", Status: sb.CallCompleted, Provider: sb.ProviderTwilio,
			ChannelID: fakeTwilioChannel, ProviderCallID: "CA0123456789abcdef0123456789abcdef", Flow: json.RawMessage(fakeFlowDef),
			StatusCallbackURL: "https://example.com/cb", Record: true, Timeout: 20, MachineDetection: "Enable", AnsweredBy: "human",
			AnsweredAt: &answered, EndedAt: &ended, Duration: 62, HangupBy: sb.HangupBot, RecordingURL: "https://api.twilio.com/rec/RE1",
			Sequence: 4, CreatedAt: fakeTime, UpdatedAt: ended},
		{ID: fakeCustomerLeg, AccountID: fakeAccount, CustomerID: fakeCustomer, ConversationID: fakeConv, Direction: sb.CallOutbound,
			Channel: sb.ChannelVoice, From: "+15005550000", To: "+79991234567", Status: sb.CallBusy, Provider: sb.ProviderSandbox,
			ParentCallID: fakeAgentLeg, CallbackID: fakeCallback, Timeout: 30, EndedAt: &ended, HangupBy: sb.HangupCaller,
			ErrorCode: "busy", ErrorMessage: "the callee is busy", Sequence: 3, CreatedAt: fakeTime, UpdatedAt: ended},
		{ID: fakeAgentLeg, AccountID: fakeAccount, CustomerID: fakeCustomer2, Direction: sb.CallOutbound, Channel: sb.ChannelVoice,
			From: "+15005550000", To: "+79990000007", Status: sb.CallInProgress, Provider: sb.ProviderSandbox, CallbackID: fakeCallback,
			Flow:    json.RawMessage(`{"name":"callback","steps":[{"id":"bridge","type":"transfer","to":"+79991234567"}]}`),
			Timeout: 30, AnsweredAt: &answered, Sequence: 3, CreatedAt: fakeTime, UpdatedAt: answered},
	}
}

func (fakeStore) GetCall(_ context.Context, _, id string) (*sb.Call, error) {
	for _, c := range append(append(fakeCallRecords(), fakeBrowserCallRecord()), fakeRingingRecords()...) {
		if c.ID == id {
			return c, nil
		}
	}
	return nil, sb.ErrNotFound
}

func (fakeStore) ListCalls(_ context.Context, _ string, f sb.CallFilter) ([]*sb.Call, string, error) {
	calls := fakeCallRecords()
	switch {
	case f.CallbackID == fakeCallback:
		return []*sb.Call{calls[2], calls[3]}, "", nil // newest (the customer's leg) first
	case f.CallbackID != "":
		return nil, "", nil
	case f.To != "":
		var out []*sb.Call
		for _, c := range fakeRingingRecords() {
			if c.To == f.To && (f.Status == "" || c.Status == f.Status) {
				out = append(out, c)
			}
		}
		return out, "", nil
	}
	return calls, "b3BhcXVl", nil
}

func (s fakeStore) CallEvents(ctx context.Context, acct, id string) ([]sb.CallEvent, error) {
	if _, err := s.GetCall(ctx, acct, id); err != nil {
		return nil, err
	}
	return []sb.CallEvent{
		{CallID: id, Sequence: 1, Status: sb.CallQueued, CreatedAt: fakeTime},
		{CallID: id, Sequence: 2, Status: sb.CallRinging, CreatedAt: fakeTime.Add(1e9)},
		{CallID: id, Sequence: 3, Status: sb.CallInProgress, CreatedAt: fakeTime.Add(5e9)},
		{CallID: id, Sequence: 4, Status: sb.CallNoAnswer, CreatedAt: fakeTime.Add(9e9)},
	}, nil
}

// CallTranscript has lines for fakeCall only; other calls ran no bot.
func (fakeStore) CallTranscript(_ context.Context, _, callID string) ([]sb.TranscriptEntry, error) {
	if callID != fakeCall {
		return nil, nil
	}
	e := func(n, role, kind, text, step string) sb.TranscriptEntry {
		return sb.TranscriptEntry{ID: "0193f6a2-7500-7000-8000-00000000000" + n, AccountID: fakeAccount, SessionID: fakeSession, CallID: callID,
			CustomerID: fakeCustomer, ConversationID: fakeConv, Channel: sb.ChannelVoice, Role: role, Kind: kind, Text: text, StepID: step,
			CreatedAt: fakeTime}
	}
	return []sb.TranscriptEntry{
		e("1", sb.RoleBot, "say", "Hello", "hello"),
		e("2", sb.RoleBot, "say", "Press 1", "menu"),
		e("3", sb.RoleCaller, "dtmf", "1", ""),
		e("4", sb.RoleSystem, "event", "caller hung up", ""),
	}, nil
}

func (fakeQueue) EnqueueBotMessage(context.Context, string, string) error { return nil }

// fakeCalls stands in for voicebot/runtime over the fake store: it checks
// what the runtime checks before it touches a telephone, and answers with
// calls and turns shaped like the runtime's.
type fakeCalls struct{ store fakeStore }

var _ Calls = fakeCalls{}

func (f fakeCalls) Place(ctx context.Context, req runtime.PlaceRequest) (*sb.Call, error) {
	c := &sb.Call{ID: "0193f6a2-7200-7000-8000-0000000000f1", AccountID: req.AccountID, Direction: sb.CallOutbound, Channel: req.Channel,
		From: req.From, To: req.To, Status: sb.CallQueued, Provider: sb.ProviderSandbox, StatusCallbackURL: req.StatusCallbackURL,
		Record: req.Record, Timeout: req.Timeout, MachineDetection: req.MachineDetection, ParentCallID: req.ParentCallID,
		CallbackID: req.CallbackID, Sequence: 1, CreatedAt: fakeTime, UpdatedAt: fakeTime}
	if c.Channel == "" {
		c.Channel = sb.ChannelVoice
	}
	if c.Timeout == 0 {
		c.Timeout = runtime.DefaultRingTimeout
	}
	if c.From == "" {
		c.From = "+15005550000"
	}
	switch {
	case req.FlowID != "":
		rec, err := f.store.GetFlow(ctx, req.AccountID, req.FlowID, 0)
		if errors.Is(err, sb.ErrNotFound) {
			return nil, sb.Invalid(sb.FieldError{Field: "flow_id", Message: "no flow " + req.FlowID + " in this account"})
		}
		c.FlowID, c.FlowVersion = rec.ID, rec.Version
	case len(req.Flow) > 0:
		if _, err := runtime.ParseFlow(req.Flow, "flow"); err != nil {
			return nil, err
		}
		c.Flow = req.Flow
	}
	if req.CustomerID != "" {
		cu, err := f.store.GetCustomer(ctx, req.AccountID, req.CustomerID)
		if err != nil {
			return nil, err
		}
		c.To = cu.Identities[0].Address
	}
	c.CustomerID, c.ConversationID = fakeCustomer, fakeConv
	return c, nil
}

func (f fakeCalls) Hangup(ctx context.Context, acct, callID, by string) (*sb.Call, error) {
	c, err := f.store.GetCall(ctx, acct, callID)
	if err != nil || c.Status.Final() {
		return c, err
	}
	ended := fakeTime.Add(60e9)
	c.Status, c.HangupBy, c.EndedAt, c.Duration, c.Sequence = sb.CallCompleted, by, &ended, 55, c.Sequence+1
	return c, nil
}

// Feed answers digits "1" by saying goodbye and hanging up, anything else
// by asking again.
func (f fakeCalls) Feed(ctx context.Context, acct, callID string, in voicebot.Input) (*runtime.Outcome, error) {
	c, err := f.store.GetCall(ctx, acct, callID)
	if err != nil {
		return nil, err
	}
	if c.Provider != sb.ProviderSandbox {
		return nil, sb.Errorf(sb.ECONFLICT, "call %s is carried by %s: only its real caller can answer", c.ID, c.Provider)
	}
	if c.Status != sb.CallInProgress {
		return nil, sb.Errorf(sb.ECONFLICT, "call %s is %s, not in-progress", c.ID, c.Status)
	}
	if in.Kind == voicebot.InputDigits && in.Value == "1" {
		return &runtime.Outcome{Call: c, Turn: voicebot.Turn{Ended: true, Actions: []voicebot.Action{
			{Type: voicebot.ActSay, StepID: "bye_say", Text: "Goodbye", Voice: "alice", Language: "en-US"},
			{Type: voicebot.ActHangup, StepID: "bye"}}}}, nil
	}
	return &runtime.Outcome{Call: c, Turn: voicebot.Turn{Waiting: true, Actions: []voicebot.Action{
		{Type: voicebot.ActPlay, StepID: "sorry", URL: "https://example.com/sorry.wav"},
		{Type: voicebot.ActGather, StepID: "menu", Gather: &voicebot.GatherSpec{DTMF: true, MaxDigits: 1}}}}}, nil
}

func (f fakeCalls) InboundCall(ctx context.Context, req runtime.InboundCallRequest) (*runtime.Outcome, error) {
	if req.To != fakeInboundTo {
		return nil, sb.Invalid(sb.FieldError{Field: "to", Message: "voice:" + req.To + " names no inbound_flow_id"})
	}
	c, _ := f.store.GetCall(ctx, req.AccountID, fakeCall)
	c.From, c.Provider, c.ChannelID, c.ProviderCallID = req.From, req.Provider, req.ChannelID, req.ProviderCallID
	return &runtime.Outcome{Call: c, Turn: voicebot.Turn{Waiting: true, Actions: []voicebot.Action{
		{Type: voicebot.ActSay, StepID: "hello", Text: "Hello", Language: "en-US"},
		{Type: voicebot.ActGather, StepID: "menu", Gather: &voicebot.GatherSpec{DTMF: true, MaxDigits: 1}}}}}, nil
}

// Voice takes a provider's call webhook: an answer starts the bot, input
// advances it, a status is recorded.
func (f fakeCalls) Voice(ctx context.Context, ch *sb.ConnectedChannel, ev runtime.VoiceEvent) (*runtime.Outcome, error) {
	if ev.CallID == "" && ev.Kind == runtime.VoiceAnswer && ev.Inbound {
		return f.InboundCall(ctx, runtime.InboundCallRequest{AccountID: ch.AccountID, Channel: sb.ChannelVoice, ChannelID: ch.ID,
			Provider: ch.Type, ProviderCallID: ev.ProviderCallID, From: ev.From, To: ev.To})
	}
	c, err := f.store.GetCall(ctx, ch.AccountID, ev.CallID)
	if err != nil {
		return nil, err
	}
	switch ev.Kind {
	case runtime.VoiceStatus:
		return &runtime.Outcome{Call: c}, nil
	case runtime.VoiceInput:
		return &runtime.Outcome{Call: c, Turn: voicebot.Turn{Ended: true, Actions: []voicebot.Action{
			{Type: voicebot.ActTransfer, StepID: "sales", To: "+79990000007"}}}}, nil
	}
	return nil, sb.Errorf(sb.EINVALID, "unknown voice event %q", ev.Kind)
}

func (f fakeCalls) Callback(ctx context.Context, acct, agent, customer, customerID, from, callbackURL string) (*sb.Call, error) {
	if customerID != "" {
		if _, err := f.store.GetCustomer(ctx, acct, customerID); err != nil {
			return nil, err
		}
	}
	return f.store.GetCall(ctx, acct, fakeAgentLeg)
}

// fakeSTT hears the same words in every recording, and fails for
// fakeFailedSTTLng.
type fakeSTT struct{}

func (fakeSTT) Transcribe(_ context.Context, wav []byte, language string) (string, error) {
	if language == fakeFailedSTTLng {
		return "", errors.New("stt: 500 Internal Server Error")
	}
	return "my parcel did not arrive", nil
}

var _ VoiceProviders = fakeProviders{}

// ParseVoice reads a form like Twilio's: Digits is input, a final
// CallStatus a status callback, anything else an answer.
func (fakeProviders) ParseVoice(ch *sb.ConnectedChannel, r *http.Request, body []byte, publicURL string) (runtime.VoiceEvent, error) {
	if r.Header.Get(fakeForgedHeader) == "forged" {
		return runtime.VoiceEvent{}, sb.ErrForged
	}
	if !strings.HasPrefix(publicURL, fakePublicURL+"/hooks/"+ch.ID+"/") {
		return runtime.VoiceEvent{}, sb.Errorf(sb.EINTERNAL, "fake voice webhook called at %s", publicURL)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("CallSid") == "" {
		return runtime.VoiceEvent{}, sb.Invalid(sb.FieldError{Field: "CallSid", Message: "is required"})
	}
	ev := runtime.VoiceEvent{Kind: runtime.VoiceAnswer, CallID: r.URL.Query().Get("call"), ProviderCallID: form.Get("CallSid"),
		From: form.Get("From"), To: form.Get("To"), Inbound: form.Get("Direction") == "inbound"}
	switch st := sb.CallStatus(form.Get("CallStatus")); {
	case form.Has("Digits"):
		ev.Kind, ev.Input = runtime.VoiceInput, voicebot.Input{Kind: voicebot.InputDigits, Value: form.Get("Digits")}
	case st.Final():
		ev.Kind, ev.Status = runtime.VoiceStatus, st
	}
	return ev, nil
}

// RenderVoice writes a turn as a small TwiML document.
func (fakeProviders) RenderVoice(_ *sb.ConnectedChannel, turn voicebot.Turn, base string) ([]byte, string) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><Response>`)
	for _, a := range turn.Actions {
		switch a.Type {
		case voicebot.ActSay:
			b.WriteString("<Say>" + html.EscapeString(a.Text) + "</Say>")
		case voicebot.ActGather:
			b.WriteString(`<Gather action="` + html.EscapeString(base) + `"/>`)
		case voicebot.ActTransfer:
			b.WriteString("<Dial>" + html.EscapeString(a.To) + "</Dial>")
		case voicebot.ActHangup:
			b.WriteString("<Hangup/>")
		}
	}
	b.WriteString("</Response>")
	return []byte(b.String()), "text/xml"
}
