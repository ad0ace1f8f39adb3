package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/providers/twilio/twiliotest"
)

// twilioVoice connects the Twilio fake with a voice number whose inbound
// flow is the IVR.
func twilioVoice(t *testing.T) (*rawClient, *twiliotest.Server, rchannel, string) {
	fake := twiliotest.NewServer(twilioE2ESID, twilioE2EToken)
	t.Cleanup(fake.Close)
	cfg := testConfig(t)
	cfg.ProviderBaseURLs[sb.ProviderTwilio] = fake.URL
	s := startStack(t, cfg, RoleAll)
	c := s.raw("twilio-voice")
	flow := c.loadFlow("ivr.json")
	var ch rchannel
	c.must(http.StatusCreated, "POST", "/v1/channels", map[string]any{"type": "twilio",
		"credentials": map[string]string{"account_sid": twilioE2ESID, "auth_token": twilioE2EToken},
		"senders": []map[string]any{
			{"channel": "sms", "address": twilioE2ENumber, "default": true},
			{"channel": "voice", "address": twilioE2ENumber, "default": true, "inbound_flow_id": flow}}}, &ch)
	return c, fake, ch, flow
}

func TestTwilioVoiceOutbound(t *testing.T) {
	c, fake, ch, flow := twilioVoice(t)
	var call rcall
	c.must(http.StatusCreated, "POST", "/v1/calls", map[string]any{"to": "+79991110001", "flow_id": flow, "record": true, "timeout": 25}, &call)
	if call.Provider != "twilio" || call.From != twilioE2ENumber {
		t.Fatalf("call %+v", call)
	}
	var tc *twiliotest.Call
	waitFor(t, "Twilio to be asked for the call", 10*time.Second, func() bool {
		calls := fake.Calls()
		if len(calls) == 1 {
			tc = calls[0]
		}
		return tc != nil
	})
	// What we sent Twilio: the voice URL and status callback on our hook.
	if !strings.HasPrefix(tc.Form.Get("Url"), ch.WebhookURL+"/voice?call="+call.ID) ||
		!strings.HasPrefix(tc.Form.Get("StatusCallback"), ch.WebhookURL+"/voice?call="+call.ID) ||
		tc.Form.Get("Timeout") != "25" || tc.Form.Get("Record") != "true" || tc.To != "+79991110001" {
		t.Fatalf("create call form %v", tc.Form)
	}
	if err := tc.WaitGather(10 * time.Second); err != nil {
		t.Fatalf("no Gather: %v (docs %v, errors %v)", err, tc.Documents(), tc.Errors())
	}
	if got := strings.Join(tc.Said(), "|"); got != "Welcome to Switchboard.|Press 1 for sales, 2 for support" {
		t.Fatalf("said %q", got)
	}
	call = c.waitCall(call.ID, "in-progress", 5*time.Second, func(x rcall) bool { return x.Status == "in-progress" })
	if call.ProviderCallID == nil || *call.ProviderCallID != tc.Sid {
		t.Fatalf("call %+v, sid %s", call, tc.Sid)
	}
	if err := tc.Press("2"); err != nil {
		t.Fatal(err)
	}
	if err := tc.Speak("The line is dead"); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.WaitEnded(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if got := tc.Said(); got[len(got)-1] != "Thanks, we got: The line is dead" {
		t.Fatalf("said %q", got)
	}
	call = c.waitCall(call.ID, "completed", 10*time.Second, func(x rcall) bool { return x.Status == "completed" })
	if call.HangupBy == nil || *call.HangupBy != "bot" || call.Duration < 0 {
		t.Fatalf("completed call %+v", call)
	}
	tr := lines(c.transcript(call.ID))
	if !contains(tr, "caller:dtmf:2") || !contains(tr, "caller:speech:The line is dead") {
		t.Fatalf("transcript %v", tr)
	}
	if errs := tc.Errors(); len(errs) > 0 {
		t.Fatalf("the fake saw errors: %v", errs)
	}
}

func TestTwilioVoiceInboundAndHangup(t *testing.T) {
	c, fake, ch, _ := twilioVoice(t)
	tc, err := fake.IncomingCall(ch.WebhookURL+"/voice", "+79991110002", twilioE2ENumber)
	if err != nil {
		t.Fatalf("incoming call: %v (errors %v)", err, tc.Errors())
	}
	if err := tc.WaitGather(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	var list rlist[rcall]
	c.must(http.StatusOK, "GET", "/v1/calls?direction=inbound", nil, &list)
	if len(list.Data) != 1 || list.Data[0].From != "+79991110002" || list.Data[0].Status != "in-progress" {
		t.Fatalf("inbound calls %+v", list.Data)
	}
	call := list.Data[0]
	// Hanging up from the API goes through Twilio, whose status callback
	// completes the call.
	c.must(http.StatusOK, "POST", "/v1/calls/"+call.ID+"/hangup", nil, nil)
	call = c.waitCall(call.ID, "completed", 10*time.Second, func(x rcall) bool { return x.Status == "completed" })
	if call.HangupBy == nil || *call.HangupBy != "api" {
		t.Fatalf("hung up %+v", call)
	}
	// A forged voice webhook is refused and changes nothing.
	req, _ := http.NewRequest("POST", ch.WebhookURL+"/voice?call="+call.ID+"&event=status", strings.NewReader("CallSid=CAforged&CallStatus=failed"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", "bm90IGEgc2lnbmF0dXJl")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || c.call(call.ID).Status != "completed" {
		t.Fatalf("forged webhook answered %d", resp.StatusCode)
	}
}

func TestTwilioVoiceBusy(t *testing.T) {
	c, fake, _, flow := twilioVoice(t)
	fake.SetCallOutcome("+79991110003", twiliotest.Busy)
	var call rcall
	c.must(http.StatusCreated, "POST", "/v1/calls", map[string]any{"to": "+79991110003", "flow_id": flow}, &call)
	call = c.waitCall(call.ID, "busy", 10*time.Second, func(x rcall) bool { return x.Status == "busy" })
	if len(c.transcript(call.ID)) != 0 {
		t.Fatal("a busy call has a transcript")
	}
}
