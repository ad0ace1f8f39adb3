package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchboardhq/switchboard/providers/webrtc"
)

// widgetFlow answers the widget's calls: a prompt, a keypad menu, a chat
// message sent from inside the call, goodbye.
func widgetFlow(c *rawClient) string {
	return c.createFlow(json.RawMessage(`{
  "name": "Widget IVR",
  "steps": [
    {"id": "welcome", "type": "say", "text": "Welcome to Switchboard."},
    {"id": "menu", "type": "gather", "prompt": "Press 1 for a text message", "max_digits": 1, "timeout": "15s", "save_as": "choice", "no_input": "bye"},
    {"id": "route", "type": "branch", "on": "{{choice}}", "cases": [{"in": ["1"], "next": "link"}], "default": "bye"},
    {"id": "link", "type": "send_message", "channel": "webrtc", "text": "Here is your link"},
    {"id": "bye", "type": "say", "text": "Goodbye."},
    {"id": "end", "type": "hangup"}
  ]
}`))
}

const (
	widgetThread = "#thread"
	inboxThread  = "#timeline"
	widgetState  = `JSON.stringify({state: window.sbWidget.state, error: window.sbWidget.error, callId: window.sbWidget.callId, stats: window.sbWidget.lastStats, thread: Array.from(document.querySelectorAll("#thread .entry")).map(e => e.textContent)})`
)

// 1. The widget calls the bot: its audio arrives, keypad digits steer the
// flow, the flow's message lands in the chat, and the chat goes on in the
// same conversation.
func TestBrowserWidgetCall(t *testing.T) {
	s, c := widgetStack(t, "widget-call", widgetFlow)
	tok := c.rtcToken(map[string]any{})
	b := newBrowser(t)
	b.open(s.url+"/widget?token="+url.QueryEscape(tok.Token), "sbWidget", phoneW, phoneH)
	b.waitJS("the widget to be ready", 5*time.Second, `window.sbWidget.state === "idle" && !window.sbWidget.error`, widgetState)

	b.do("press Call", 5*time.Second, click("#call-btn"))
	b.waitJS("the call to connect", 15*time.Second, `window.sbWidget.state === "in-call" && !!window.sbWidget.callId`, widgetState)
	callID := eval[string](b, `window.sbWidget.callId`)

	// The bot's TTS audio arrives: RTP packets with energy in them.
	b.waitJS("the bot's audio", 15*time.Second,
		`(s => s && s.packetsReceived > 0 && (s.audioLevel > 0 || s.totalAudioEnergy > 0))(window.sbWidget.lastStats)`, widgetState)
	// Its ICE candidates went to the server as they were found (WHIP PATCH).
	b.waitJS("trickled candidates", 5*time.Second, `window.sbWidget.trickled > 0`, widgetState)
	// Chromium prefers Opus: a build with it talks Opus, one without G.711.
	codec := eval[string](b, `window.sbWidget.pc.getStats().then(r => { let m = ""; r.forEach(s => { if (s.type === "codec" && s.mimeType.startsWith("audio/") && !/telephone-event/i.test(s.mimeType)) m = m || s.mimeType; }); return m; })`)
	if want := map[bool]string{true: "audio/opus", false: "audio/PCMU"}[webrtc.OpusSupported]; !strings.EqualFold(codec, want) {
		t.Fatalf("negotiated %q, want %s (OpusSupported=%v)", codec, want, webrtc.OpusSupported)
	}
	// The prompt also shows as text in the thread while the call goes on.
	b.waitJS("the prompt in the thread", 10*time.Second, threadHas(widgetThread, "Press 1 for a text message"), widgetState)
	c.waitWaiting(callID, "Press 1 for a text message")
	b.screenshot("widget-phone.png", phoneW, phoneH) // on the call, keypad out

	b.do("press 1", 5*time.Second, click(`#keypad button[data-digit="1"]`))
	// The flow sends its message, says goodbye and hangs up: the widget
	// notices the end of the call by itself.
	b.waitJS("the call to end", 20*time.Second, `window.sbWidget.state === "ended"`, widgetState)
	b.waitJS("the flow's message in the chat", 10*time.Second, threadHas(widgetThread, "Here is your link"), widgetState)

	call := c.waitCall(callID, "the call to complete", 10*time.Second, func(x rcall) bool { return x.Status == "completed" })
	if call.Channel != "webrtc" || call.Direction != "inbound" || call.From != tok.Identity || call.To != "support" || call.CustomerID != tok.CustomerID {
		t.Fatalf("call %+v; the token was for %s (%s)", call, tok.Identity, tok.CustomerID)
	}
	var gotDigit bool
	for _, l := range c.transcript(callID) {
		gotDigit = gotDigit || (l.Role == "caller" && l.Kind == "dtmf" && l.Text == "1")
	}
	if !gotDigit {
		t.Fatalf("the transcript has no keypad 1: %v", lines(c.transcript(callID)))
	}

	// The customer types a reply after the call: same conversation.
	b.do("type a reply", 10*time.Second, typeIn("#text", "Thanks, got it"), click("#compose button[type=submit]"))
	b.waitJS("the reply in the thread", 10*time.Second, threadHas(widgetThread, "Thanks, got it"), widgetState)
	var link, reply *rmsg
	waitFor(t, "the reply in the customer's timeline", 10*time.Second, func() bool {
		link, reply = nil, nil
		for _, e := range c.timeline(tok.CustomerID) {
			if e.Message == nil {
				continue
			}
			m := *e.Message
			switch {
			case m.Text == "Here is your link" && m.Direction == "outbound":
				link = &m
			case m.Text == "Thanks, got it" && m.Direction == "inbound":
				reply = &m
			}
		}
		return link != nil && reply != nil
	})
	if link.Channel != "webrtc" || reply.Channel != "webrtc" || link.ConversationID != call.ConversationID || reply.ConversationID != call.ConversationID {
		t.Fatalf("call in %s; the flow's message %+v; the reply %+v", call.ConversationID, *link, *reply)
	}
	var conv rconv
	c.must(http.StatusOK, "GET", "/v1/conversations/"+call.ConversationID, nil, &conv)
	if conv.CustomerID != tok.CustomerID || conv.Status != "open" || !contains(conv.Channels, "webrtc") {
		t.Fatalf("conversation %+v", conv)
	}

	b.screenshot("widget-desktop.png", desktopW, desktopH)

	// A second call, hung up by the customer with the Hang up button.
	b.do("call again", 5*time.Second, click("#call-btn"))
	b.waitJS("the second call to connect", 15*time.Second, `window.sbWidget.state === "in-call" && !!window.sbWidget.callId`, widgetState)
	second := eval[string](b, `window.sbWidget.callId`)
	b.do("hang up", 5*time.Second, click("#hangup-btn"))
	b.waitJS("the widget to show the end", 5*time.Second, `window.sbWidget.state === "ended"`, widgetState)
	ended := c.waitCall(second, "the second call to complete", 10*time.Second, func(x rcall) bool { return x.Status == "completed" })
	if ended.HangupBy == nil || *ended.HangupBy != "caller" {
		t.Fatalf("second call %+v (hangup_by %v): want hung up by the caller", ended, deref(ended.HangupBy))
	}
}

// 2. An agent in another browser takes the conversation over in the inbox
// and replies; the widget shows the reply live, and the customer's answer
// shows in the inbox.
func TestBrowserAgentTakesOver(t *testing.T) {
	s, c := widgetStack(t, "widget-agent", widgetFlow)
	tok := c.rtcToken(map[string]any{"identity": "visitor-olga"})
	customer := newBrowser(t)
	customer.open(s.url+"/widget?token="+url.QueryEscape(tok.Token), "sbWidget", phoneW, phoneH)
	customer.do("write to support", 10*time.Second, typeIn("#text", "Hello, my order is late"), click("#compose button[type=submit]"))
	// The bot answers the chat with the flow: a turn's lines are one message.
	customer.waitJS("the bot's answer", 15*time.Second, threadHas(widgetThread, "Welcome to Switchboard.\nPress 1 for a text message"), widgetState)

	var convs rlist[rconv]
	waitFor(t, "the conversation", 10*time.Second, func() bool {
		c.must(http.StatusOK, "GET", "/v1/conversations?status=open&customer_id="+tok.CustomerID, nil, &convs)
		return len(convs.Data) == 1
	})
	convID := convs.Data[0].ID

	agent := newBrowser(t)
	agent.open(s.url+"/inbox", "sbInbox", desktopW, desktopH)
	agent.do("log in", 10*time.Second, typeIn("#api-key", c.key), click("#login button[type=submit]"))
	agent.waitJS("the conversation in the list", 10*time.Second,
		fmt.Sprintf(`!!document.querySelector('#conversations button[data-id=%s]')`, jsString(convID)), `document.body.innerText`)
	// The key is remembered.
	if got := eval[string](agent, `localStorage.getItem("sb.apiKey")`); got != c.key {
		t.Fatalf("stored key %q", got)
	}
	agent.do("open it", 5*time.Second, click(fmt.Sprintf(`#conversations button[data-id=%q]`, convID)))
	agent.waitJS("the customer's message in the timeline", 10*time.Second, threadHas(inboxThread, "Hello, my order is late"), `document.body.innerText`)

	agent.do("take over", 5*time.Second, click("#take-over"))
	agent.waitJS("the agent to own it", 10*time.Second, `document.querySelector("#conv-owner").dataset.agent === "agent"`, `document.body.innerText`)
	var conv struct {
		Agent *string `json:"agent"`
	}
	c.must(http.StatusOK, "GET", "/v1/conversations/"+convID, nil, &conv)
	if conv.Agent == nil || *conv.Agent != "agent" {
		t.Fatalf("conversation agent %v after take over", conv.Agent)
	}
	botSaid := len(c.outTexts(tok.Identity))

	agent.do("reply", 10*time.Second, typeIn("#reply-text", "Hi Olga, this is Anna. Let me check."), click("#reply button[type=submit]"))
	customer.waitJS("the agent's reply in the widget", 10*time.Second, threadHas(widgetThread, "Hi Olga, this is Anna. Let me check."), widgetState)

	// The customer answers: the agent sees it live and the bot stays quiet.
	customer.do("answer", 10*time.Second, typeIn("#text", "Order 1234"), click("#compose button[type=submit]"))
	agent.waitJS("the answer in the inbox", 10*time.Second, threadHas(inboxThread, "Order 1234"), `document.body.innerText`)
	time.Sleep(time.Second)
	if got := c.outTexts(tok.Identity); len(got) != botSaid+1 || got[len(got)-1] != "Hi Olga, this is Anna. Let me check." {
		t.Fatalf("outbound after take over: %q (the bot had written %d)", got, botSaid)
	}

	agent.screenshot("inbox-desktop.png", desktopW, desktopH)
	agent.screenshot("inbox-phone.png", phoneW, phoneH)

	// Handing back gives the conversation to the bot again.
	agent.do("hand back", 5*time.Second, click("#hand-back"))
	agent.waitJS("the bot to own it", 10*time.Second, `document.querySelector("#conv-owner").dataset.agent === ""`, `document.body.innerText`)
	c.must(http.StatusOK, "GET", "/v1/conversations/"+convID, nil, &conv)
	if conv.Agent != nil {
		t.Fatalf("conversation agent %v after hand back", *conv.Agent)
	}
}

// 3. Forged and expired tokens are refused by the API and the widget says so.
func TestBrowserWidgetRefusesBadTokens(t *testing.T) {
	s, c := widgetStack(t, "widget-tokens", nil)
	short := c.rtcToken(map[string]any{"ttl_seconds": 10})
	good := c.rtcToken(map[string]any{})
	payload, sig, _ := strings.Cut(good.Token, ".")
	forged := map[string]string{
		"signature": payload + "." + strings.Repeat("A", len(sig)),
		"payload":   strings.TrimSuffix(payload, payload[len(payload)-2:]) + "xx" + "." + sig,
		"garbage":   "not-a-token",
	}
	for name, tok := range forged {
		if code := rtcStatus(t, s.url, "GET", "/v1/rtc/session", tok); code != http.StatusUnauthorized {
			t.Errorf("%s token: GET /v1/rtc/session %d, want 401", name, code)
		}
		if code := rtcStatus(t, s.url, "GET", "/v1/rtc/messages", tok); code != http.StatusUnauthorized {
			t.Errorf("%s token: GET /v1/rtc/messages %d, want 401", name, code)
		}
	}
	if code := rtcStatus(t, s.url, "GET", "/v1/rtc/session", good.Token); code != http.StatusOK {
		t.Fatalf("good token: %d", code)
	}

	b := newBrowser(t)
	// A widget opened with a live short token works until the token expires,
	// then says so by itself.
	b.open(s.url+"/widget?token="+url.QueryEscape(short.Token), "sbWidget", phoneW, phoneH)
	b.waitJS("the widget to be ready", 5*time.Second, `window.sbWidget.state === "idle" && !window.sbWidget.error`, widgetState)

	b.open(s.url+"/widget?token="+url.QueryEscape(forged["signature"]), "sbWidget", phoneW, phoneH)
	b.waitJS("the forged token's error", 5*time.Second, `window.sbWidget.state === "error" && window.sbWidget.error.includes("not valid")`, widgetState)
	if eval[bool](b, `document.querySelector("#call-btn").disabled && document.querySelector("#text").disabled`) != true {
		t.Fatal("the widget with a forged token still offers a call or a text box")
	}

	b.open(s.url+"/widget?token="+url.QueryEscape(short.Token), "sbWidget", phoneW, phoneH)
	exp, err := time.Parse(time.RFC3339, short.ExpiresAt)
	if err != nil {
		t.Fatal(err)
	}
	b.waitJS("the expired token's error", time.Until(exp)+8*time.Second,
		`window.sbWidget.state === "error" && window.sbWidget.error.includes("expired")`, widgetState)
	if code := rtcStatus(t, s.url, "GET", "/v1/rtc/session", short.Token); code != http.StatusUnauthorized {
		t.Fatalf("expired token: GET /v1/rtc/session %d, want 401", code)
	}
	if code := rtcStatus(t, s.url, "POST", "/v1/rtc/calls", short.Token); code != http.StatusUnauthorized {
		t.Fatalf("expired token: POST /v1/rtc/calls %d, want 401", code)
	}
}

// The one-script-tag embed adds a launcher that opens the widget in a frame
// on any site.
func TestBrowserWidgetEmbed(t *testing.T) {
	s, c := widgetStack(t, "widget-embed", nil)
	tok := c.rtcToken(map[string]any{})
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>Shop</title><h1>Shop</h1><script src="%s/widget.js" data-token="%s" data-to="support"></script>`, s.url, tok.Token)
	}))
	t.Cleanup(site.Close)

	resp, err := http.Get(s.url + "/widget.js")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") || !strings.Contains(string(body), "sb-launcher") {
		t.Fatalf("GET /widget.js: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	b := newBrowser(t)
	b.do("open the site", 15*time.Second, chromedp.Navigate(site.URL))
	b.waitJS("the launcher", 10*time.Second, `!!document.querySelector("#sb-launcher")`, `document.body.innerHTML`)
	b.do("open the widget", 5*time.Second, click("#sb-launcher"))
	want := s.url + "/widget?token=" + url.QueryEscape(tok.Token) + "&to=support"
	b.waitJS("the widget frame", 10*time.Second, fmt.Sprintf(`(f => f && f.src === %s)(document.querySelector("#sb-frame"))`, jsString(want)), `document.body.innerHTML`)
	// The frame loads the widget, which reaches the API with the token.
	// Until the frame's document has loaded it has no execution context to
	// poll in, and Chromium says so (-32602): look the frame up again then.
	deadline := time.Now().Add(15 * time.Second)
	for {
		frames, err := chromedp.Run(b.ctx, chromedp.Nodes(chromedp.CSS("#sb-frame")))
		if err != nil || len(frames) != 1 {
			t.Fatalf("frame nodes %v: %v", frames, err)
		}
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		_, err = chromedp.Run(ctx, chromedp.Poll[chromedp.Void](
			`window.sbWidget && window.sbWidget.state === "idle" && !window.sbWidget.error && document.querySelector("#thread") !== null`,
			chromedp.WithPollingInFrame(frames[0]), chromedp.WithPollingTimeout(10*time.Second)))
		cancel()
		if err == nil {
			return
		}
		if !strings.Contains(err.Error(), "-32602") || time.Now().After(deadline) {
			t.Fatalf("the widget in the frame: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
