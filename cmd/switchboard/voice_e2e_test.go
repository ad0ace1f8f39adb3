package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// The voice end-to-end tests run the whole app against the sandbox
// telephone: a flow answers a call, the test plays the caller through
// /v1/sandbox/calls/…, and the same flow answers chats.

type rcall struct {
	ID             string  `json:"id"`
	Status         string  `json:"status"`
	Direction      string  `json:"direction"`
	Channel        string  `json:"channel"`
	From           string  `json:"from"`
	To             string  `json:"to"`
	Provider       string  `json:"provider"`
	CustomerID     string  `json:"customer_id"`
	ConversationID string  `json:"conversation_id"`
	SessionID      *string `json:"session_id"`
	ParentCallID   *string `json:"parent_call_id"`
	CallbackID     *string `json:"callback_id"`
	HangupBy       *string `json:"hangup_by"`
	AnsweredAt     *string `json:"answered_at"`
	EndedAt        *string `json:"ended_at"`
	Duration       int     `json:"duration"`
	ErrorCode      *string `json:"error_code"`
	ProviderCallID *string `json:"provider_call_id"`
	TranscriptURL  string  `json:"transcript_url"`
}

type rturn struct {
	Call rcall `json:"call"`
	Turn struct {
		Actions []struct {
			Type string `json:"type"`
			Text string `json:"text"`
			To   string `json:"to"`
		} `json:"actions"`
		Waiting   bool `json:"waiting"`
		Ended     bool `json:"ended"`
		Suspended bool `json:"suspended"`
	} `json:"turn"`
}

// said is what the bot said in a turn.
func (t rturn) said() []string {
	var out []string
	for _, a := range t.Turn.Actions {
		if a.Type == "say" {
			out = append(out, a.Text)
		}
	}
	return out
}

type rline struct {
	Role   string `json:"role"`
	Kind   string `json:"kind"`
	Text   string `json:"text"`
	CallID string `json:"call_id"`
}

func (c *rawClient) call(id string) rcall {
	c.t.Helper()
	var call rcall
	c.must(http.StatusOK, "GET", "/v1/calls/"+id, nil, &call)
	return call
}

func (c *rawClient) waitCall(id, what string, timeout time.Duration, cond func(rcall) bool) rcall {
	c.t.Helper()
	var call rcall
	waitFor(c.t, what, timeout, func() bool { call = c.call(id); return cond(call) })
	return call
}

func (c *rawClient) transcript(callID string) []rline {
	c.t.Helper()
	var l rlist[rline]
	c.must(http.StatusOK, "GET", "/v1/calls/"+callID+"/transcript", nil, &l)
	return l.Data
}

// waitWaiting waits until the bot on a call waits for the caller, with
// wantSaid the last thing it said.
func (c *rawClient) waitWaiting(callID, wantSaid string) {
	c.t.Helper()
	waitFor(c.t, "the bot to say "+wantSaid, 10*time.Second, func() bool {
		l := c.transcript(callID)
		return len(l) > 0 && l[len(l)-1].Role == "bot" && l[len(l)-1].Text == wantSaid
	})
}

// loadFlow reads a flow from voicebot's testdata and stores it.
func (c *rawClient) loadFlow(name string) string {
	c.t.Helper()
	raw, err := os.ReadFile("../../voicebot/testdata/" + name)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.createFlow(json.RawMessage(raw))
}

func (c *rawClient) createFlow(def any) string {
	c.t.Helper()
	var f struct {
		ID      string `json:"id"`
		Version int    `json:"version"`
	}
	c.must(http.StatusCreated, "POST", "/v1/flows", def, &f)
	if f.ID == "" || f.Version != 1 {
		c.t.Fatalf("created flow %+v", f)
	}
	return f.ID
}

func lines(l []rline) []string {
	out := make([]string, 0, len(l))
	for _, x := range l {
		out = append(out, x.Role+":"+x.Kind+":"+x.Text)
	}
	return out
}

func TestVoiceSandboxIVR(t *testing.T) {
	s := newStack(t)
	c := s.raw("voice-ivr")
	rcv := newReceiver(t)
	c.must(http.StatusOK, "PATCH", "/v1/account/settings", map[string]any{"senders": map[string]string{"sms": "+15005550000"}}, nil)
	flow := c.loadFlow("ivr.json")

	var call rcall
	c.must(http.StatusCreated, "POST", "/v1/calls", map[string]any{"to": "+79990001111", "flow_id": flow,
		"status_callback_url": rcv.srv.URL}, &call)
	if call.Status != "queued" || call.Direction != "outbound" || call.CustomerID == "" || call.ConversationID == "" {
		t.Fatalf("created call %+v", call)
	}
	c.waitWaiting(call.ID, "Press 1 for sales, 2 for support")

	var turn rturn
	c.must(http.StatusOK, "POST", "/v1/sandbox/calls/"+call.ID+"/dtmf", map[string]string{"digits": "2"}, &turn)
	if got := strings.Join(turn.said(), "|"); got != "You reached support.|Describe your problem" || !turn.Turn.Waiting {
		t.Fatalf("after 2: %q waiting=%v", got, turn.Turn.Waiting)
	}
	c.must(http.StatusOK, "POST", "/v1/sandbox/calls/"+call.ID+"/speech", map[string]string{"text": "My router is broken"}, &turn)
	if got := strings.Join(turn.said(), "|"); got != "Thanks, we got: My router is broken" || !turn.Turn.Ended {
		t.Fatalf("after speech: %q ended=%v", got, turn.Turn.Ended)
	}
	call = c.waitCall(call.ID, "the call to complete", 5*time.Second, func(x rcall) bool { return x.Status == "completed" })
	if call.HangupBy == nil || *call.HangupBy != "bot" || call.AnsweredAt == nil || call.EndedAt == nil {
		t.Fatalf("completed call %+v", call)
	}
	want := []string{"bot:say:Welcome to Switchboard.", "bot:say:Press 1 for sales, 2 for support", "caller:dtmf:2",
		"bot:say:You reached support.", "bot:say:Describe your problem", "caller:speech:My router is broken",
		"bot:say:Thanks, we got: My router is broken"}
	var got []string
	for _, l := range lines(c.transcript(call.ID)) {
		if !strings.HasPrefix(l, "system:") {
			got = append(got, l)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("transcript:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Every status was announced to the call's status_callback_url.
	waitFor(t, "call webhooks", 10*time.Second, func() bool { return contains(rcv.types(call.ID), "call.completed") })
	// Deliveries run in parallel: the set matters, and each event's data
	// carries its sequence for ordering.
	ty := rcv.types(call.ID)
	slices.Sort(ty)
	if strings.Join(ty, ",") != "call.completed,call.in-progress,call.queued,call.ringing" {
		t.Fatalf("call webhooks %v", ty)
	}
	for _, g := range rcv.all() {
		if g.header.Get("webhook-signature") == "" {
			t.Fatalf("unsigned call webhook %s", g.body)
		}
	}
	// The call and its turns are on the customer's timeline.
	var tl rlist[struct {
		Type string `json:"type"`
	}]
	c.must(http.StatusOK, "GET", "/v1/customers/"+call.CustomerID+"/timeline?limit=100", nil, &tl)
	kinds := map[string]int{}
	for _, e := range tl.Data {
		kinds[e.Type]++
	}
	if kinds["call"] != 1 || kinds["transcript"] < len(want) {
		t.Fatalf("timeline kinds %v", kinds)
	}
	var conv rconv
	c.must(http.StatusOK, "GET", "/v1/conversations/"+call.ConversationID, nil, &conv)
	if !contains(conv.Channels, "voice") {
		t.Fatalf("conversation %+v", conv)
	}
}

func TestVoiceMessageAndMagicNumbers(t *testing.T) {
	s := newStack(t)
	c := s.raw("voice-message")
	var call rcall
	c.must(http.StatusCreated, "POST", "/v1/calls", map[string]any{"to": "+79990002222",
		"flow": map[string]any{"name": "reminder", "steps": []map[string]string{{"id": "read", "type": "say", "text": "Your order ships today."}}}}, &call)
	call = c.waitCall(call.ID, "the voice message to complete", 10*time.Second, func(x rcall) bool { return x.Status == "completed" })
	tr := c.transcript(call.ID)
	if len(tr) == 0 || tr[0].Text != "Your order ships today." || tr[0].Role != "bot" {
		t.Fatalf("voice message transcript %+v", tr)
	}
	for to, status := range map[string]string{"+15005550001": "failed", "+15005550003": "busy", "+15005550004": "no-answer"} {
		var x rcall
		c.must(http.StatusCreated, "POST", "/v1/calls", map[string]any{"to": to,
			"flow": map[string]any{"name": "m", "steps": []map[string]string{{"id": "a", "type": "say", "text": "hi"}}}}, &x)
		x = c.waitCall(x.ID, to+" to end", 10*time.Second, func(y rcall) bool { return y.Status != "queued" && y.Status != "ringing" })
		if x.Status != status || len(c.transcript(x.ID)) != 0 {
			t.Fatalf("%s: %+v, want %s and nothing said", to, x, status)
		}
	}
	// Hanging up from the API while the bot waits.
	flow := c.loadFlow("ivr.json")
	c.must(http.StatusCreated, "POST", "/v1/calls", map[string]any{"to": "+79990002223", "flow_id": flow}, &call)
	c.waitWaiting(call.ID, "Press 1 for sales, 2 for support")
	c.must(http.StatusOK, "POST", "/v1/calls/"+call.ID+"/hangup", nil, &call)
	if call.Status != "completed" || call.HangupBy == nil || *call.HangupBy != "api" {
		t.Fatalf("hung up %+v", call)
	}
	c.problem("POST", "/v1/sandbox/calls/"+call.ID+"/dtmf", map[string]string{"digits": "1"}, 409, "conflict")
	// The gather's timeout runs on the queue's clock: no input → sorry → menu.
	c.must(http.StatusCreated, "POST", "/v1/calls", map[string]any{"to": "+79990002224", "flow": map[string]any{"name": "t", "steps": []map[string]any{
		{"id": "ask", "type": "gather", "prompt": "Press a key", "timeout": "1s", "no_input": "bye"},
		{"id": "got", "type": "say", "text": "Got {{input}}", "next": "end"},
		{"id": "bye", "type": "say", "text": "No input, goodbye"},
		{"id": "end", "type": "hangup"}}}}, &call)
	call = c.waitCall(call.ID, "the timed-out call to end", 15*time.Second, func(x rcall) bool { return x.Status == "completed" })
	if got := strings.Join(lines(c.transcript(call.ID)), "|"); got != "bot:say:Press a key|system:event:no input (timeout)|bot:say:No input, goodbye|system:event:bot hung up" {
		t.Fatalf("after the timeout: %s", got)
	}
}

func TestVoiceFlowValidation(t *testing.T) {
	s := newStack(t)
	c := s.raw("voice-flows")
	code, body := c.do("POST", "/v1/flows", map[string]any{"name": "broken", "steps": []map[string]any{
		{"id": "a", "type": "say", "text": "Hi {{nobody}}", "next": "missing"},
		{"id": "b", "type": "dance"},
		{"id": "c", "type": "say", "text": "loop", "next": "d"},
		{"id": "d", "type": "say", "text": "loop", "next": "c"}}}, nil)
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("broken flow: %d %s", code, body)
	}
	var p struct {
		Errors []struct {
			Field  string `json:"field"`
			Detail string `json:"detail"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	fields := map[string]bool{}
	for _, e := range p.Errors {
		fields[e.Field] = true
	}
	for _, f := range []string{"steps[0].next", "steps[0].text", "steps[1].type"} {
		if !fields[f] {
			t.Errorf("no problem reported for %s: %s", f, body)
		}
	}
	// Versions: PUT adds one; a call pins the version it started with.
	id := c.createFlow(map[string]any{"name": "v", "steps": []map[string]string{{"id": "a", "type": "say", "text": "one"}}})
	var f struct {
		Version int `json:"version"`
	}
	c.must(http.StatusOK, "PUT", "/v1/flows/"+id, map[string]any{"name": "v", "steps": []map[string]string{{"id": "a", "type": "say", "text": "two"}}}, &f)
	if f.Version != 2 {
		t.Fatalf("version %d", f.Version)
	}
	var versions rlist[struct {
		Version int `json:"version"`
	}]
	c.must(http.StatusOK, "GET", "/v1/flows/"+id+"/versions", nil, &versions)
	if len(versions.Data) != 2 {
		t.Fatalf("versions %+v", versions)
	}
	var call rcall
	c.must(http.StatusCreated, "POST", "/v1/calls", map[string]any{"to": "+79990003333", "flow_id": id}, &call)
	c.waitCall(call.ID, "the call to complete", 10*time.Second, func(x rcall) bool { return x.Status == "completed" })
	if tr := c.transcript(call.ID); len(tr) == 0 || tr[0].Text != "two" {
		t.Fatalf("transcript %+v", tr)
	}
	c.problem("POST", "/v1/calls", map[string]any{"to": "+79990003333", "flow_id": "01890000-0000-7000-8000-000000000000"}, 422, "validation")
	c.must(http.StatusNoContent, "DELETE", "/v1/flows/"+id, nil, nil)
	c.must(http.StatusNotFound, "GET", "/v1/flows/"+id, nil, nil)
}

// A call hands over to a chat: the caller hangs up while the bot waits,
// writes in by SMS, and the same session carries on at the same step, in
// the same conversation, for the same customer.
func TestVoiceCallContinuesInChat(t *testing.T) {
	s := newStack(t)
	c := s.raw("voice-resume")
	const number = "+79990004444"
	c.must(http.StatusOK, "PATCH", "/v1/account/settings", map[string]any{"senders": map[string]string{"sms": "+15005550000"}}, nil)
	flow := c.loadFlow("ivr.json")
	var call rcall
	c.must(http.StatusCreated, "POST", "/v1/calls", map[string]any{"to": number, "from": "+15005550000", "flow_id": flow}, &call)
	c.waitWaiting(call.ID, "Press 1 for sales, 2 for support")
	c.must(http.StatusOK, "POST", "/v1/sandbox/calls/"+call.ID+"/dtmf", map[string]string{"digits": "2"}, nil)
	c.must(http.StatusOK, "POST", "/v1/sandbox/calls/"+call.ID+"/hangup", nil, &call)
	if call.Status != "completed" || *call.HangupBy != "caller" {
		t.Fatalf("caller hangup %+v", call)
	}
	in := c.inbound("sms", number, "+15005550000", "The router blinks red")
	if in.CustomerID != call.CustomerID || in.ConversationID != call.ConversationID {
		t.Fatalf("the SMS is customer %s conversation %s; the call was %s %s", in.CustomerID, in.ConversationID, call.CustomerID, call.ConversationID)
	}
	var reply rmsg
	waitFor(t, "the bot's answer by SMS", 10*time.Second, func() bool {
		var l rlist[rmsg]
		c.must(http.StatusOK, "GET", "/v1/messages?direction=outbound&to="+url.QueryEscape(number), nil, &l)
		for _, m := range l.Data {
			if m.Text == "Thanks, we got: The router blinks red" {
				reply = m
				return true
			}
		}
		return false
	})
	if reply.Channel != "sms" || reply.ConversationID != call.ConversationID || reply.CustomerID != call.CustomerID {
		t.Fatalf("reply %+v", reply)
	}
}

// The flow's send_message step carries a call on in a chat.
func TestVoiceSendMessageFromCall(t *testing.T) {
	s := newStack(t)
	c := s.raw("voice-send")
	c.must(http.StatusOK, "PATCH", "/v1/account/settings", map[string]any{"senders": map[string]string{"sms": "+15005550000"}}, nil)
	flow := c.loadFlow("ivr.json")
	var call rcall
	c.must(http.StatusCreated, "POST", "/v1/calls", map[string]any{"to": "+79990005555", "flow_id": flow}, &call)
	c.waitWaiting(call.ID, "Press 1 for sales, 2 for support")
	var turn rturn
	c.must(http.StatusOK, "POST", "/v1/sandbox/calls/"+call.ID+"/dtmf", map[string]string{"digits": "1"}, &turn)
	if !turn.Turn.Ended {
		t.Fatalf("turn %+v", turn)
	}
	var l rlist[rmsg]
	c.must(http.StatusOK, "GET", "/v1/messages?direction=outbound", nil, &l)
	if len(l.Data) != 1 || l.Data[0].Text != "Sales will call you" || l.Data[0].Channel != "sms" ||
		l.Data[0].CustomerID != call.CustomerID || l.Data[0].ConversationID != call.ConversationID {
		t.Fatalf("messages %+v; transcript %v", l.Data, lines(c.transcript(call.ID)))
	}
	c.waitDelivered(l.Data[0].ID)
}

// A call accepted while Redis is down is dialled once a worker can reach
// it: the sweeper finds calls whose dial task was never queued.
func TestVoiceCallAcceptedWithRedisDown(t *testing.T) {
	cfg := testConfig(t)
	down := cfg
	down.RedisURL = "redis://127.0.0.1:1/0" // nothing listens there
	api := startStack(t, down, RoleAPI)
	c := api.raw("call-redis-down")
	var call rcall
	c.must(http.StatusCreated, "POST", "/v1/calls", map[string]any{"to": "+79990001212",
		"flow": map[string]any{"name": "m", "steps": []map[string]string{{"id": "a", "type": "say", "text": "Still here."}}}}, &call)
	time.Sleep(300 * time.Millisecond)
	if got := c.call(call.ID); got.Status != "queued" {
		t.Fatalf("call moved to %s without Redis", got.Status)
	}
	startStack(t, cfg, RoleWorker)
	call = c.waitCall(call.ID, "the swept call to complete", 15*time.Second, func(x rcall) bool { return x.Status == "completed" })
	if tr := c.transcript(call.ID); len(tr) == 0 || tr[0].Text != "Still here." {
		t.Fatalf("transcript %+v", tr)
	}
}
