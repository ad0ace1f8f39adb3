package main

import (
	"fmt"
	"net/url"
	"testing"
	"time"
)

const inboxCall = `JSON.stringify({call: window.sbInbox.call && {state: window.sbInbox.call.state, id: window.sbInbox.call.id}, incoming: window.sbInbox.incoming && window.sbInbox.incoming.id, bar: document.querySelector("#callbar").innerText, error: document.querySelector("#error").innerText})`

// heardJS is true once a page's call has received audio with energy in it
// (getStats: packets, and an audio level or energy above zero). Chromium's
// fake microphone plays a beep, so each side hears the other.
func heardJS(hook string) string {
	return fmt.Sprintf(`window.%s.stats().then(s => !!s && s.packetsReceived > 25 && (s.audioLevel > 0 || s.totalAudioEnergy > 0))`, hook)
}

// 4. The bot transfers the widget's call to agent:agent; the inbox rings,
// the agent answers, each hears the other, and the customer hanging up
// ends the agent's call too. Then the agent calls the customer back from
// the inbox and the widget answers.
func TestBrowserInboxCalls(t *testing.T) {
	s, c := widgetStack(t, "inbox-calls", func(c *rawClient) string {
		return c.createFlow(map[string]any{"name": "To an agent", "steps": []map[string]any{
			{"id": "hello", "type": "say", "text": "Connecting you to an agent."},
			{"id": "agent", "type": "transfer", "to": "agent:agent"}}})
	})
	tok := c.rtcToken(map[string]any{"identity": "visitor-ivan"})
	customer := newBrowser(t)
	customer.open(s.url+"/widget?token="+url.QueryEscape(tok.Token), "sbWidget", phoneW, phoneH)
	agent := newBrowser(t)
	agent.open(s.url+"/inbox", "sbInbox", desktopW, desktopH)
	agent.do("log in", 10*time.Second, typeIn("#api-key", c.key), click("#login button[type=submit]"))
	agent.waitJS("the inbox", 10*time.Second, `!document.querySelector("#panes").hidden`, `document.body.innerText`)

	customer.do("press Call", 5*time.Second, click("#call-btn"))
	customer.waitJS("the call to connect", 15*time.Second, `window.sbWidget.state === "in-call" && !!window.sbWidget.callId`, widgetState)
	callID := eval[string](customer, `window.sbWidget.callId`)

	agent.waitJS("the transfer to ring", 20*time.Second, `!!window.sbInbox.incoming && !document.querySelector("#answer-btn").hidden`, inboxCall)
	agent.screenshot("inbox-incoming-call.png", desktopW, desktopH)
	agent.do("answer", 5*time.Second, click("#answer-btn"))
	agent.waitJS("the agent's call to connect", 15*time.Second, `!!window.sbInbox.call && window.sbInbox.call.state === "in-call"`, inboxCall)
	legID := eval[string](agent, `window.sbInbox.call.id`)
	leg := c.call(legID)
	if deref(leg.ParentCallID) != callID || leg.To != "agent:agent" || leg.Status != "in-progress" {
		t.Fatalf("agent's leg %+v; the customer's call is %s", leg, callID)
	}
	agent.waitJS("the agent to hear the customer", 15*time.Second, heardJS("sbInbox"), inboxCall)
	customer.waitJS("the customer to hear the agent", 15*time.Second, heardJS("sbWidget"), widgetState)

	customer.do("hang up", 5*time.Second, click("#hangup-btn"))
	agent.waitJS("the agent's call to end", 20*time.Second, `!window.sbInbox.call && document.querySelector("#callbar").hidden`, inboxCall)
	c.waitCall(callID, "the customer's call to complete", 10*time.Second, func(x rcall) bool { return x.Status == "completed" })
	c.waitCall(legID, "the agent's leg to complete", 10*time.Second, func(x rcall) bool { return x.Status == "completed" })

	// The agent calls back from the conversation.
	var convs rlist[rconv]
	waitFor(t, "the conversation", 10*time.Second, func() bool {
		c.must(200, "GET", "/v1/conversations?status=open&customer_id="+tok.CustomerID, nil, &convs)
		return len(convs.Data) == 1
	})
	agent.waitJS("the conversation in the list", 10*time.Second,
		fmt.Sprintf(`!!document.querySelector('#conversations button[data-id=%s]')`, jsString(convs.Data[0].ID)), `document.body.innerText`)
	agent.do("open it and call", 5*time.Second, click(fmt.Sprintf(`#conversations button[data-id=%q]`, convs.Data[0].ID)), click("#call-customer"))
	customer.waitJS("the widget to ring", 20*time.Second, `window.sbWidget.state === "ringing" && document.querySelector("#call-btn").textContent === "Answer"`, widgetState)
	customer.screenshot("widget-incoming-call.png", phoneW, phoneH)
	customer.do("answer", 5*time.Second, click("#call-btn"))
	customer.waitJS("the customer's call to connect", 15*time.Second, `window.sbWidget.state === "in-call"`, widgetState)
	agent.waitJS("the agent to hear the customer", 20*time.Second, `window.sbInbox.call && window.sbInbox.call.state === "in-call"`, inboxCall)
	agent.waitJS("audio at the agent", 15*time.Second, heardJS("sbInbox"), inboxCall)
	customer.waitJS("audio at the customer", 15*time.Second, heardJS("sbWidget"), widgetState)
	backID := eval[string](agent, `window.sbInbox.call.id`)
	agent.do("hang up", 5*time.Second, click("#agent-hangup"))
	customer.waitJS("the widget to notice", 20*time.Second, `window.sbWidget.state === "ended"`, widgetState)
	back := c.waitCall(backID, "the call back to complete", 10*time.Second, func(x rcall) bool { return x.Status == "completed" })
	if back.Direction != "outbound" || back.To != tok.Identity || back.CustomerID != tok.CustomerID || deref(back.HangupBy) != "agent" {
		t.Fatalf("call back %+v, hung up by %s (want agent)", back, deref(back.HangupBy))
	}
}
