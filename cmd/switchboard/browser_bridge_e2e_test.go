package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/providers/webrtc/webrtctest"
)

// postSDP posts an SDP offer with a bearer credential (an API key or a
// browser token) and returns the status, the body and the call id.
func postSDP(t *testing.T, url, bearer, offer string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(offer))
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Content-Type", "application/sdp")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("X-Call-Id")
}

// goBrowser is a connected Go peer (webrtctest) that called url with
// bearer; it returns the peer and the call id.
func goBrowser(t *testing.T, url, bearer string, want int) (*webrtctest.Browser, string) {
	t.Helper()
	b, err := webrtctest.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	code, answer, id := postSDP(t, url, bearer, b.Offer())
	if code != want {
		t.Fatalf("POST %s: %d %s, want %d", url, code, answer, want)
	}
	if err := b.Accept(answer); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := b.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	return b, id
}

// hears waits for b to hear n more frames with sound.
func hears(t *testing.T, who string, b *webrtctest.Browser, n int) {
	t.Helper()
	_, before := b.Heard()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.WaitLoud(ctx, before, n); err != nil {
		t.Fatalf("%s: %v", who, err)
	}
}

// ringing polls GET path (a list of calls) until it has one.
func ringing(t *testing.T, get func() []rcall) rcall {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if l := get(); len(l) > 0 {
			return l[0]
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("no call rang")
	return rcall{}
}

// rtcRinging is the widget's view of the calls ringing it.
func rtcRinging(t *testing.T, base, token string) []rcall {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/rtc/calls", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var l rlist[rcall]
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&l) != nil {
		t.Fatalf("GET /v1/rtc/calls: %d", resp.StatusCode)
	}
	return l.Data
}

// transferFlow greets the caller and transfers them to agent alice.
func transferFlow(c *rawClient) string {
	return c.createFlow(json.RawMessage(`{"name": "To an agent", "steps": [
    {"id": "hello", "type": "say", "text": "Connecting you to an agent."},
    {"id": "agent", "type": "transfer", "to": "agent:alice"}]}`))
}

// A bot's transfer to agent:alice rings her inbox; she answers from her
// browser and the two browsers hear each other until one hangs up, which
// ends both legs.
func TestBrowserTransferToAgent(t *testing.T) {
	s, c := rtcStack(t, "rtc-transfer", transferFlow)
	tok := c.rtcToken(map[string]any{})
	customer, callID := goBrowser(t, s.url+"/v1/rtc/calls", tok.Token, http.StatusCreated)
	hears(t, "the customer hears the greeting", customer, 10)

	leg := agentRinging(t, c, "alice")
	if deref(leg.ParentCallID) != callID || leg.CustomerID != tok.CustomerID || leg.Channel != "webrtc" || leg.Direction != "outbound" {
		t.Fatalf("agent leg %+v: want a webrtc leg of call %s for customer %s", leg, callID, tok.CustomerID)
	}
	// Another browser cannot take it; a second answer finds it taken.
	other := c.rtcToken(map[string]any{})
	if code, _, _ := postSDP(t, s.url+"/v1/rtc/calls/"+leg.ID+"/answer", other.Token, "v=0\r\n"); code != http.StatusNotFound {
		t.Fatalf("a customer's browser answering the agent's leg: %d, want 404", code)
	}
	agent, _ := goBrowser(t, s.url+"/v1/calls/"+leg.ID+"/answer", c.key, http.StatusOK)
	if code, _, _ := postSDP(t, s.url+"/v1/calls/"+leg.ID+"/answer", c.key, agent.Offer()); code != http.StatusConflict {
		t.Fatalf("answering an answered call: %d, want 409", code)
	}
	if got := c.call(leg.ID); got.Status != "in-progress" {
		t.Fatalf("leg after answer: %s", got.Status)
	}

	customer.Tone(440)
	hears(t, "the agent hears the customer", agent, 25)
	customer.Tone(0)
	agent.Tone(660)
	hears(t, "the customer hears the agent", customer, 25)

	customer.Close() // the customer hangs up
	parent := c.waitCall(callID, "customer's call completed", 20*time.Second, func(r rcall) bool { return r.Status == "completed" })
	if deref(parent.HangupBy) != "caller" {
		t.Fatalf("customer's call hung up by %s, want caller", deref(parent.HangupBy))
	}
	l := c.waitCall(leg.ID, "agent leg completed", 20*time.Second, func(r rcall) bool { return r.Status == "completed" })
	if l.AnsweredAt == nil || l.EndedAt == nil {
		t.Fatalf("agent leg %+v lacks answer or end", l)
	}
	waitGone(t, agent, "the agent's browser was not hung up")
	// Both legs are on the customer's timeline.
	calls := 0
	for _, e := range c.timeline(tok.CustomerID) {
		if e.Type == "call" && (e.ID == callID || e.ID == leg.ID) {
			calls++
		}
	}
	if calls != 2 {
		t.Fatalf("timeline has %d of the 2 legs", calls)
	}
	// The API's timeline has the call's system notes; the browser's does not.
	note := func(entries []rentry) bool {
		for _, e := range entries {
			if e.Transcript != nil && e.Transcript.Role == "system" && strings.Contains(e.Transcript.Text, "agent:alice") {
				return true
			}
		}
		return false
	}
	req, _ := http.NewRequest(http.MethodGet, s.url+"/v1/rtc/messages?limit=100", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var mine rlist[rentry]
	if err := json.NewDecoder(resp.Body).Decode(&mine); err != nil || len(mine.Data) == 0 {
		t.Fatalf("GET /v1/rtc/messages: %v, %d entries", err, len(mine.Data))
	}
	if !note(c.timeline(tok.CustomerID)) || note(mine.Data) {
		t.Fatalf("the transfer note should be in the API's timeline only")
	}
}

// A transfer nobody answers rings out: the leg is no-answer and the
// customer's call ends.
func TestBrowserTransferNoAnswer(t *testing.T) {
	s, c := rtcStack(t, "rtc-transfer-noanswer", func(c *rawClient) string {
		return c.createFlow(json.RawMessage(`{"name": "To bob", "steps": [
    {"id": "agent", "type": "transfer", "to": "agent:bob"}]}`))
	})
	tok := c.rtcToken(map[string]any{})
	customer, callID := goBrowser(t, s.url+"/v1/rtc/calls", tok.Token, http.StatusCreated)
	defer customer.Close()
	leg := agentRinging(t, c, "bob")
	// Declining is hanging up the ringing leg: the customer's call ends too.
	c.must(http.StatusOK, "POST", "/v1/calls/"+leg.ID+"/hangup", nil, nil)
	c.waitCall(leg.ID, "leg canceled", 10*time.Second, func(r rcall) bool { return r.Status == "canceled" })
	c.waitCall(callID, "customer's call ended", 10*time.Second, func(r rcall) bool { return r.Status == "completed" })
	waitGone(t, customer, "the customer's browser was not hung up")
}

// An agent calls a customer's browser from the inbox: the widget sees it
// ring, answers, and the two are bridged; the agent hanging up ends it.
func TestBrowserAgentCallsCustomer(t *testing.T) {
	s, c := rtcStack(t, "rtc-agent-call", nil)
	tok := c.rtcToken(map[string]any{})
	if code, body, _ := postSDP(t, s.url+"/v1/agents/alice/calls?to=webrtc:nobody-here", c.key, "v=0\r\n"); code != http.StatusUnprocessableEntity {
		t.Fatalf("a call to an unknown identity's offer: %d %s", code, body)
	}
	agent, callID := goBrowser(t, s.url+"/v1/agents/alice/calls?customer_id="+tok.CustomerID, c.key, http.StatusCreated)
	ring := ringing(t, func() []rcall { return rtcRinging(t, s.url, tok.Token) })
	if ring.ID != callID || ring.To != tok.Identity || ring.Direction != "outbound" {
		t.Fatalf("ringing %+v, want call %s to %s", ring, callID, tok.Identity)
	}
	customer, _ := goBrowser(t, s.url+"/v1/rtc/calls/"+callID+"/answer", tok.Token, http.StatusOK)
	if got := c.call(callID); got.Status != "in-progress" || got.CustomerID != tok.CustomerID {
		t.Fatalf("call after answer: %+v", got)
	}
	agent.Tone(500)
	hears(t, "the customer hears the agent", customer, 25)
	agent.Tone(0)
	customer.Tone(700)
	hears(t, "the agent hears the customer", agent, 25)
	agent.Close()
	ended := c.waitCall(callID, "call completed", 20*time.Second, func(r rcall) bool { return r.Status == "completed" })
	if deref(ended.HangupBy) != "agent" {
		t.Fatalf("hung up by %s, want agent", deref(ended.HangupBy))
	}
	waitGone(t, customer, "the customer's browser was not hung up")
}

// A call placed through the API to a browser identity rings the widget;
// answered, its flow runs over the browser's audio.
func TestBrowserAPICallRingsWidget(t *testing.T) {
	s, c := rtcStack(t, "rtc-api-call", nil)
	tok := c.rtcToken(map[string]any{})
	var placed rcall
	c.must(http.StatusCreated, "POST", "/v1/calls", map[string]any{"to": "webrtc:" + tok.Identity,
		"flow": json.RawMessage(`{"name": "Parcel", "steps": [{"id": "hi", "type": "say", "text": "Your parcel has arrived."}]}`)}, &placed)
	ring := ringing(t, func() []rcall { return rtcRinging(t, s.url, tok.Token) })
	if ring.ID != placed.ID {
		t.Fatalf("ringing %s, want %s", ring.ID, placed.ID)
	}
	customer, _ := goBrowser(t, s.url+"/v1/rtc/calls/"+placed.ID+"/answer", tok.Token, http.StatusOK)
	hears(t, "the customer hears the message", customer, 10)
	done := c.waitCall(placed.ID, "call completed", 30*time.Second, func(r rcall) bool { return r.Status == "completed" })
	if deref(done.HangupBy) != "bot" || done.AnsweredAt == nil {
		t.Fatalf("call %+v: want answered, ended by the bot", done)
	}

	// Unanswered, it rings out after its timeout (a worker's timer).
	var unanswered rcall
	c.must(http.StatusCreated, "POST", "/v1/calls", map[string]any{"to": "webrtc:" + tok.Identity, "timeout": 1,
		"flow": json.RawMessage(`{"name": "Parcel", "steps": [{"id": "hi", "type": "say", "text": "Your parcel has arrived."}]}`)}, &unanswered)
	out := c.waitCall(unanswered.ID, "no-answer", 15*time.Second, func(r rcall) bool { return r.Status == "no-answer" })
	if out.AnsweredAt != nil {
		t.Fatalf("rang out but answered: %+v", out)
	}
	if l := rtcRinging(t, s.url, tok.Token); len(l) != 0 {
		t.Fatalf("still ringing: %+v", l)
	}
}

// A server shutting down hangs up the browser calls it carries, rather
// than leaving them in-progress with nobody on the line.
func TestBrowserCallsEndOnShutdown(t *testing.T) {
	s, c := rtcStack(t, "rtc-shutdown", transferFlow)
	tok := c.rtcToken(map[string]any{})
	customer, callID := goBrowser(t, s.url+"/v1/rtc/calls", tok.Token, http.StatusCreated)
	hears(t, "the customer hears the greeting", customer, 10)
	leg := agentRinging(t, c, "alice")

	s.app.Close()
	waitGone(t, customer, "the customer's browser was not hung up by the shutdown")
	// Read the calls back through another server on the same database.
	c2 := otherAPI(t, s, c)
	if got := c2.call(callID); got.Status != "completed" || deref(got.HangupBy) != "system" {
		t.Fatalf("customer's call after shutdown: %s, hung up by %s; want completed by system", got.Status, deref(got.HangupBy))
	}
	if got := c2.call(leg.ID); got.Status != "canceled" {
		t.Fatalf("ringing leg after shutdown: %s, want canceled", got.Status)
	}
}

// Browser calls hold a lease: one whose server stopped carrying it (a
// crash) is ended by the sweeper, and one hung up through another server
// closes its line on the server that carries it.
func TestBrowserCallLease(t *testing.T) {
	s, c := rtcStack(t, "rtc-lease", transferFlow)

	// A call in progress that no process carries: its server "crashed".
	tok := c.rtcToken(map[string]any{})
	var orphan rcall
	c.must(http.StatusCreated, "POST", "/v1/calls", map[string]any{"to": "webrtc:" + tok.Identity,
		"flow": json.RawMessage(`{"name": "Parcel", "steps": [{"id": "hi", "type": "say", "text": "Hello."}]}`)}, &orphan)
	ringing(t, func() []rcall { return rtcRinging(t, s.url, tok.Token) })
	pg := s.pg(t)
	if _, err := pg.Exec(context.Background(), `UPDATE calls SET status = 'in-progress', answered_at = now() WHERE id = $1`, orphan.ID); err != nil {
		t.Fatal(err)
	}
	ended := c.waitCall(orphan.ID, "the orphan to be ended", 20*time.Second, func(r rcall) bool { return r.Status == "completed" })
	if deref(ended.HangupBy) != "system" {
		t.Fatalf("orphan hung up by %s, want system", deref(ended.HangupBy))
	}

	// A live call outlives the lease while its server touches it, and a
	// hangup through another API server reaches its line.
	tok2 := c.rtcToken(map[string]any{})
	customer, callID := goBrowser(t, s.url+"/v1/rtc/calls", tok2.Token, http.StatusCreated)
	time.Sleep(3 * time.Second) // past liveStale (2 s in tests)
	if got := c.call(callID); got.Status != "in-progress" {
		t.Fatalf("a carried call after its lease period: %s", got.Status)
	}
	c2 := otherAPI(t, s, c)
	c2.must(http.StatusOK, "POST", "/v1/calls/"+callID+"/hangup", nil, nil)
	waitGone(t, customer, "the browser's line stayed open after a hangup through another server")
	if got := c.call(callID); got.Status != "completed" || deref(got.HangupBy) != "api" {
		t.Fatalf("call %s, hung up by %s; want completed by api", got.Status, deref(got.HangupBy))
	}
}

// otherAPI starts a second API server on s's database and returns c
// talking to it.
func otherAPI(t *testing.T, s *stack, c *rawClient) *rawClient {
	t.Helper()
	cfg := s.cfg
	cfg.HTTPAddr = freeAddr(t)
	cfg.PublicURL = "http://" + cfg.HTTPAddr
	other := startStack(t, cfg, RoleAPI)
	c2 := *c
	c2.base = other.url
	return &c2
}

// waitGone waits for b's connection to end (the server hung up), failing
// with what after 20 s.
func waitGone(t *testing.T, b *webrtctest.Browser, what string) {
	t.Helper()
	select {
	case <-b.Gone():
	case <-time.After(20 * time.Second):
		t.Fatal(what)
	}
}

// agentRinging waits for a call ringing agent:<agent>.
func agentRinging(t *testing.T, c *rawClient, agent string) rcall {
	t.Helper()
	return ringing(t, func() []rcall {
		var l rlist[rcall]
		c.must(http.StatusOK, "GET", "/v1/calls?to=agent:"+agent+"&status=ringing", nil, &l)
		return l.Data
	})
}
