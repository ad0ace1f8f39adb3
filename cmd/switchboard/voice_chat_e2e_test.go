package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/voicebot/openaitest"
	"github.com/switchboardhq/switchboard/voicebot/tts"
	"github.com/switchboardhq/switchboard/webhook"
)

// outTexts lists the texts of outbound messages to an address, oldest first.
func (c *rawClient) outTexts(to string) []string {
	c.t.Helper()
	var l rlist[rmsg]
	c.must(http.StatusOK, "GET", "/v1/messages?limit=100&direction=outbound&to="+url.QueryEscape(to), nil, &l)
	var out []string
	for i := len(l.Data) - 1; i >= 0; i-- {
		out = append(out, l.Data[i].Text)
	}
	return out
}

func (c *rawClient) waitTexts(to string, want ...string) {
	c.t.Helper()
	var got []string
	waitFor(c.t, "the bot to write "+strings.Join(want, " | "), 10*time.Second, func() bool {
		got = c.outTexts(to)
		return strings.Join(got, "\n") == strings.Join(want, "\n")
	})
}

// The IVR that answers the phone answers SMS too: say is a message,
// gather is the customer's next reply.
func TestVoiceFlowOverSMS(t *testing.T) {
	s := newStack(t)
	c := s.raw("flow-sms")
	flow := c.loadFlow("ivr.json")
	const ours, customer = "+15005550100", "+79990006666"
	c.must(http.StatusCreated, "POST", "/v1/channels", map[string]any{"type": "sandbox", "name": "bot line", "senders": []map[string]any{
		{"channel": "sms", "address": ours, "default": true, "inbound_flow_id": flow},
		{"channel": "voice", "address": ours, "inbound_flow_id": flow}}}, nil)

	first := c.inbound("sms", customer, ours, "hello")
	// One message per turn: what the bot says in a turn arrives in order.
	c.waitTexts(customer, "Welcome to Switchboard.\nPress 1 for sales, 2 for support")
	c.inbound("sms", customer, ours, "2")
	c.waitTexts(customer, "Welcome to Switchboard.\nPress 1 for sales, 2 for support", "You reached support.\nDescribe your problem")
	c.inbound("sms", customer, ours, "No dial tone")
	c.waitTexts(customer, "Welcome to Switchboard.\nPress 1 for sales, 2 for support", "You reached support.\nDescribe your problem",
		"Thanks, we got: No dial tone")
	var l rlist[rmsg]
	c.must(http.StatusOK, "GET", "/v1/messages?limit=100&direction=outbound&to="+url.QueryEscape(customer), nil, &l)
	for _, m := range l.Data {
		if m.From != ours || m.ConversationID != first.ConversationID || m.Channel != "sms" {
			t.Fatalf("bot reply %+v; the customer wrote to %s in %s", m, ours, first.ConversationID)
		}
	}
	// The flow ended: the next message starts it again.
	c.inbound("sms", customer, ours, "hi again")
	waitFor(t, "the flow to start again", 10*time.Second, func() bool { return len(c.outTexts(customer)) == 4 })

	// The same number answers calls with the same flow.
	var turn rturn
	c.must(http.StatusCreated, "POST", "/v1/sandbox/calls/inbound", map[string]string{"from": "+79990006667", "to": ours}, &turn)
	if strings.Join(turn.said(), "|") != "Welcome to Switchboard.|Press 1 for sales, 2 for support" || !turn.Turn.Waiting ||
		turn.Call.Direction != "inbound" || turn.Call.Status != "in-progress" {
		t.Fatalf("inbound call %+v", turn)
	}
	c.must(http.StatusOK, "POST", "/v1/sandbox/calls/"+turn.Call.ID+"/dtmf", map[string]string{"digits": "9"}, &turn)
	if strings.Join(turn.said(), "|") != "Sorry, I did not get that.|Press 1 for sales, 2 for support" {
		t.Fatalf("after 9: %v", turn.said())
	}
	c.problem("POST", "/v1/sandbox/calls/inbound", map[string]string{"from": "+79990006667", "to": "+15005550199"}, 422, "validation")
}

// The same flow over Telegram, through the fake Bot API.
func TestVoiceFlowOverTelegram(t *testing.T) {
	e := newTelegramE2E(t)
	flow := e.c.loadFlow("ivr.json")
	var ch rchannel
	e.c.must(http.StatusCreated, "POST", "/v1/channels", map[string]any{"type": "telegram", "credentials": map[string]string{"bot_token": tgToken},
		"senders": []map[string]any{{"channel": "telegram", "address": tgBot, "default": true, "inbound_flow_id": flow}}}, &ch)
	u := tgUser(424242, "Olga")
	chat := "424242"
	texts := func() []string {
		var out []string
		for _, r := range e.fake.Sends(chat) {
			out = append(out, r.Param("text"))
		}
		return out
	}
	wait := func(want ...string) {
		t.Helper()
		waitFor(t, "the bot to write "+strings.Join(want, " | "), 10*time.Second, func() bool {
			return strings.Join(texts(), "\n") == strings.Join(want, "\n")
		})
	}
	e.deliver(e.fake.Text(u, "/start"))
	wait("Welcome to Switchboard.\nPress 1 for sales, 2 for support")
	e.deliver(e.fake.Text(u, "support"))
	wait("Welcome to Switchboard.\nPress 1 for sales, 2 for support", "You reached support.\nDescribe your problem")
	e.deliver(e.fake.Text(u, "The app crashes"))
	wait("Welcome to Switchboard.\nPress 1 for sales, 2 for support", "You reached support.\nDescribe your problem", "Thanks, we got: The app crashes")
}

// A caller who hangs up mid-flow carries on in Telegram (resume_on): the
// customer has both identities, so it is one customer and one thread.
func TestVoiceCallResumesOnTelegram(t *testing.T) {
	e := newTelegramE2E(t)
	flow := e.c.loadFlow("ivr.json")
	e.c.must(http.StatusCreated, "POST", "/v1/channels", map[string]any{"type": "telegram", "credentials": map[string]string{"bot_token": tgToken},
		"senders": []map[string]any{{"channel": "telegram", "address": tgBot, "default": true}}}, nil)
	var cu rcustomer
	e.c.must(http.StatusCreated, "POST", "/v1/customers", map[string]any{"name": "Ivan", "identities": []map[string]string{
		{"channel": "voice", "address": "+79990007777"}, {"channel": "telegram", "address": "777001"}}}, &cu)
	var call rcall
	e.c.must(http.StatusCreated, "POST", "/v1/calls", map[string]any{"to": map[string]string{"customer_id": cu.ID}, "flow_id": flow}, &call)
	e.c.waitWaiting(call.ID, "Press 1 for sales, 2 for support")
	e.c.must(http.StatusOK, "POST", "/v1/sandbox/calls/"+call.ID+"/hangup", nil, nil)
	e.deliver(e.fake.Text(tgUser(777001, "Ivan"), "2"))
	waitFor(t, "the bot to continue on Telegram", 10*time.Second, func() bool {
		var got []string
		for _, r := range e.fake.Sends("777001") {
			got = append(got, r.Param("text"))
		}
		return strings.Join(got, "|") == "You reached support.\nDescribe your problem"
	})
	var conv rconv
	e.c.must(http.StatusOK, "GET", "/v1/conversations/"+call.ConversationID, nil, &conv)
	if !contains(conv.Channels, "voice") || !contains(conv.Channels, "telegram") || conv.CustomerID != cu.ID {
		t.Fatalf("conversation %+v", conv)
	}
}

type callbackView struct {
	ID           string  `json:"id"`
	Status       string  `json:"status"`
	AgentCall    rcall   `json:"agent_call"`
	CustomerCall *rcall  `json:"customer_call"`
	Calls        []rcall `json:"calls"`
}

func TestVoiceCallback(t *testing.T) {
	s := newStack(t)
	c := s.raw("callback")
	var cb callbackView
	c.must(http.StatusCreated, "POST", "/v1/callbacks", map[string]any{"agent": "+79990008881", "customer": "+79990008882"}, &cb)
	if cb.ID == "" || cb.AgentCall.To != "+79990008881" {
		t.Fatalf("callback %+v", cb)
	}
	waitFor(t, "the customer to be bridged", 10*time.Second, func() bool {
		c.must(http.StatusOK, "GET", "/v1/callbacks/"+cb.ID, nil, &cb)
		return cb.Status == "bridged"
	})
	if cb.CustomerCall == nil || cb.CustomerCall.To != "+79990008882" || *cb.CustomerCall.ParentCallID != cb.AgentCall.ID || cb.AgentCall.Status != "in-progress" {
		t.Fatalf("bridged callback %+v", cb)
	}
	// The agent hangs up: both legs end.
	c.must(http.StatusOK, "POST", "/v1/calls/"+cb.AgentCall.ID+"/hangup", nil, nil)
	c.must(http.StatusOK, "GET", "/v1/callbacks/"+cb.ID, nil, &cb)
	if cb.Status != "completed" || cb.AgentCall.Status != "completed" || cb.CustomerCall.Status != "completed" {
		t.Fatalf("after hangup %+v", cb)
	}
	// A busy customer is reported as such.
	c.must(http.StatusCreated, "POST", "/v1/callbacks", map[string]any{"agent": "+79990008881", "customer": "+15005550003"}, &cb)
	waitFor(t, "the busy customer", 10*time.Second, func() bool {
		c.must(http.StatusOK, "GET", "/v1/callbacks/"+cb.ID, nil, &cb)
		return cb.Status == "customer-busy"
	})
}

// hookServer answers http steps: it records what it got and answers with
// the next scripted reply.
type hookServer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	got     []*http.Request
	bodies  [][]byte
	replies []func(w http.ResponseWriter)
}

func newHookServer(t *testing.T, replies ...func(w http.ResponseWriter)) *hookServer {
	h := &hookServer{replies: replies}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got, h.bodies = append(h.got, r), append(h.bodies, b)
		var reply func(http.ResponseWriter)
		if len(h.replies) > 0 {
			reply, h.replies = h.replies[0], h.replies[1:]
		}
		h.mu.Unlock()
		if reply == nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		reply(w)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func TestVoiceHTTPAndLLMSteps(t *testing.T) {
	model := openaitest.New(t, "sk-test-llm")
	cfg := testConfig(t)
	cfg.LLMBaseURL, cfg.LLMAPIKey, cfg.LLMModel = model.URL(), "sk-test-llm", "test-model"
	s := startStack(t, cfg, RoleAll)
	c := s.raw("http-llm")
	hooks := newHookServer(t,
		func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"vars":{"balance":"42.50"}}`))
		},
		func(w http.ResponseWriter) { time.Sleep(1500 * time.Millisecond); w.Write([]byte(`{}`)) })
	model.Reply("Your parcel arrives tomorrow.")

	// The customer wrote by SMS before calling: the model sees it.
	c.must(http.StatusOK, "PATCH", "/v1/account/settings", map[string]any{"senders": map[string]string{"sms": "+15005550000"}}, nil)
	c.inbound("sms", "+79990009991", "+15005550000", "Where is my parcel 77?")

	flow := map[string]any{"name": "account bot", "steps": []map[string]any{
		{"id": "lookup", "type": "http", "url": hooks.srv.URL, "sets": []string{"balance"}, "on_error": "down"},
		{"id": "tell", "type": "say", "text": "Your balance is {{balance}}."},
		{"id": "again", "type": "http", "url": hooks.srv.URL, "timeout": "1s", "on_error": "down2"},
		{"id": "never", "type": "say", "text": "unexpected", "next": "ask"},
		{"id": "down2", "type": "say", "text": "The second lookup failed: {{http.error}}"},
		{"id": "ask", "type": "gather", "input": "speech", "prompt": "What else?"},
		{"id": "think", "type": "llm", "system": "You are a helpful courier assistant.", "next": "bye"},
		{"id": "down", "type": "say", "text": "Lookup failed."},
		{"id": "bye", "type": "hangup"}}}
	id := c.createFlow(flow)
	var call rcall
	c.must(http.StatusCreated, "POST", "/v1/calls", map[string]any{"to": "+79990009991", "flow_id": id}, &call)
	c.waitWaiting(call.ID, "What else?")
	var turn rturn
	c.must(http.StatusOK, "POST", "/v1/sandbox/calls/"+call.ID+"/speech", map[string]string{"text": "When does my parcel come?"}, &turn)
	if got := strings.Join(turn.said(), "|"); got != "Your parcel arrives tomorrow." || !turn.Turn.Ended {
		t.Fatalf("llm turn %q %+v", got, turn.Turn)
	}
	var said []string
	for _, l := range c.transcript(call.ID) {
		if l.Role == "bot" {
			said = append(said, l.Text)
		}
	}
	if len(said) < 2 || said[0] != "Your balance is 42.50." || !strings.HasPrefix(said[1], "The second lookup failed") {
		t.Fatalf("bot said %q", said)
	}
	// The http step's request: signed with the account's callback secret,
	// carrying the call's state.
	hooks.mu.Lock()
	first, body := hooks.got[0], hooks.bodies[0]
	hooks.mu.Unlock()
	var state struct {
		CallID string `json:"call_id"`
		Step   string `json:"step"`
	}
	if err := json.Unmarshal(body, &state); err != nil || state.CallID != call.ID || state.Step != "lookup" {
		t.Fatalf("http step body %s: %v", body, err)
	}
	if first.Header.Get(webhook.HeaderSignature) == "" || first.Header.Get(webhook.HeaderID) == "" {
		t.Fatalf("http step request unsigned: %v", first.Header)
	}
	// The model got the system prompt, the SMS from before the call, and
	// the caller's words.
	reqs := model.ChatRequests()
	if len(reqs) != 1 || reqs[0].Model != "test-model" {
		t.Fatalf("chat requests %+v", reqs)
	}
	var all []string
	for _, m := range reqs[0].Messages {
		all = append(all, m.Role+": "+m.Content)
	}
	joined := strings.Join(all, "\n")
	for _, want := range []string{"courier assistant", "Where is my parcel 77?", "When does my parcel come?"} {
		if !strings.Contains(joined, want) {
			t.Fatalf("the model was not given %q:\n%s", want, joined)
		}
	}
}

// A sandbox caller may speak audio: the STT engine transcribes it and the
// gather hears the words.
func TestVoiceSpeechThroughSTT(t *testing.T) {
	stt := openaitest.New(t, "sk-test-stt")
	stt.Transcript("I need a new router")
	cfg := testConfig(t)
	cfg.STTBaseURL, cfg.STTAPIKey = stt.URL(), "sk-test-stt"
	s := startStack(t, cfg, RoleAll)
	c := s.raw("stt")
	id := c.createFlow(map[string]any{"name": "stt", "steps": []map[string]any{
		{"id": "ask", "type": "gather", "input": "speech", "prompt": "How can I help?", "save_as": "need"},
		{"id": "echo", "type": "say", "text": "You said: {{need}}"}}})
	var call rcall
	c.must(http.StatusCreated, "POST", "/v1/calls", map[string]any{"to": "+79990009992", "flow_id": id}, &call)
	c.waitWaiting(call.ID, "How can I help?")
	wav := tts.Audio{SampleRate: 8000, Samples: make([]int16, 8000)}
	for i := range wav.Samples {
		wav.Samples[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	var turn rturn
	c.must(http.StatusOK, "POST", "/v1/sandbox/calls/"+call.ID+"/speech", map[string]string{"audio": base64.StdEncoding.EncodeToString(wav.WAV()), "language": "en-US"}, &turn)
	if got := strings.Join(turn.said(), "|"); got != "You said: I need a new router" {
		t.Fatalf("said %q", got)
	}
	reqs := stt.TranscriptionRequests()
	if len(reqs) != 1 || reqs[0].Model != "whisper-1" || reqs[0].Language != "en" {
		t.Fatalf("transcription requests %+v", reqs)
	}
	if a, err := tts.ParseWAV(reqs[0].Audio); err != nil || len(a.Samples) != 8000 {
		t.Fatalf("the STT engine got %d samples: %v", len(a.Samples), err)
	}
	// Without an STT engine, audio is refused with a clear conflict.
	s2 := newStack(t)
	c2 := s2.raw("no-stt")
	id = c2.createFlow(map[string]any{"name": "stt", "steps": []map[string]any{{"id": "ask", "type": "gather", "input": "speech", "prompt": "Hi?"}}})
	c2.must(http.StatusCreated, "POST", "/v1/calls", map[string]any{"to": "+79990009993", "flow_id": id}, &call)
	c2.waitWaiting(call.ID, "Hi?")
	c2.problem("POST", "/v1/sandbox/calls/"+call.ID+"/speech", map[string]string{"audio": base64.StdEncoding.EncodeToString(wav.WAV())}, 409, "conflict")
}
