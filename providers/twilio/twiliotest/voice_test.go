package twiliotest_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/providers/twilio"
	"github.com/switchboardhq/switchboard/providers/twilio/twiliotest"
	"github.com/switchboardhq/switchboard/voicebot"
)

const wait = 5 * time.Second

// ivr is an application answering calls with providers/twilio: every
// request it gets is verified with ParseVoiceRequest (a forgery is
// answered 403, which the fake records as an error) and answered with
// RenderTwiML.
type ivr struct {
	t   *testing.T
	srv *httptest.Server
	tw  *twilio.Client

	mu       sync.Mutex
	requests []twilio.VoiceRequest // to /voice, with Step set in steps
	steps    []string
	statuses []twilio.VoiceRequest // to /status
}

func newIVR(t *testing.T, fake *twiliotest.Server, token string) *ivr {
	a := &ivr{t: t}
	a.srv = httptest.NewServer(a)
	t.Cleanup(a.srv.Close)
	a.tw = twilio.New(twilio.Credentials{AccountSID: fake.AccountSID, AuthToken: token}, twilio.Options{BaseURL: fake.URL})
	return a
}

func (a *ivr) url(step string) string { return a.srv.URL + "/voice?call=c1&step=" + step }

func (a *ivr) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, err := a.tw.ParseVoiceRequest(r, body, "http://"+r.Host+r.URL.RequestURI())
	if err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	a.mu.Lock()
	if r.URL.Path == "/status" {
		a.statuses = append(a.statuses, req)
		a.mu.Unlock()
		return
	}
	step := r.URL.Query().Get("step")
	a.requests = append(a.requests, req)
	a.steps = append(a.steps, step)
	a.mu.Unlock()

	urls := twilio.TwiMLURLs{Gather: a.url("menu"), Record: a.url("recorded"), Dial: a.url("dialled")}
	sayA := func(s string) voicebot.Action { return voicebot.Action{Type: voicebot.ActSay, Text: s} }
	var doc []byte
	switch step {
	case "start":
		doc = twilio.RenderTwiML([]voicebot.Action{sayA("Welcome & hello."), sayA("Press 1 for sales, 2 to talk."),
			{Type: voicebot.ActGather, Gather: &voicebot.GatherSpec{DTMF: true, MaxDigits: 1, Timeout: 5 * time.Second}}}, urls, false)
	case "menu":
		switch req.Digits {
		case "1":
			doc = twilio.RenderTwiML([]voicebot.Action{sayA("Connecting you."), {Type: voicebot.ActTransfer, To: "+15550001111"}}, urls, true)
		case "2":
			urls.Gather = a.url("heard")
			doc = twilio.RenderTwiML([]voicebot.Action{sayA("What do you need?"),
				{Type: voicebot.ActGather, Gather: &voicebot.GatherSpec{Speech: true, Language: "en-US"}}}, urls, false)
		case "3":
			doc = twilio.RenderTwiML([]voicebot.Action{sayA("Leave a message."),
				{Type: voicebot.ActRecord, Record: &voicebot.RecordSpec{MaxLength: time.Minute}}}, urls, false)
		case "4":
			doc = twilio.RenderRedirect(a.url("bye"))
		case "5":
			doc = []byte(`<?xml version="1.0" encoding="UTF-8"?><Response><Redirect method="GET">/voice?call=c1&amp;step=bye</Redirect></Response>`)
		case "6":
			urls.Gather = a.url("pin")
			doc = twilio.RenderTwiML([]voicebot.Action{sayA("Your PIN?"),
				{Type: voicebot.ActGather, Gather: &voicebot.GatherSpec{DTMF: true, MaxDigits: 4, FinishOnKey: "#"}}}, urls, false)
		case "7":
			doc = []byte(`<Response><Dance/></Response>`)
		case "":
			doc = twilio.RenderTwiML([]voicebot.Action{sayA("No input.")}, urls, true)
		default:
			doc = twilio.RenderTwiML([]voicebot.Action{sayA("Sorry.")}, urls, true)
		}
	case "heard":
		doc = twilio.RenderTwiML([]voicebot.Action{sayA("You said: " + req.SpeechResult)}, urls, true)
	case "pin":
		doc = twilio.RenderTwiML([]voicebot.Action{sayA("PIN " + req.Digits)}, urls, true)
	case "recorded":
		doc = twilio.RenderTwiML([]voicebot.Action{sayA("Thanks, " + req.RecordingDuration + " seconds.")}, urls, true)
	case "dialled":
		doc = twilio.RenderTwiML([]voicebot.Action{sayA("Transfer " + req.DialCallStatus + ".")}, urls, true)
	case "bye":
		doc = twilio.RenderTwiML([]voicebot.Action{sayA("Goodbye."), {Type: voicebot.ActHangup}}, urls, false)
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", twilio.TwiMLContentType)
	w.Write(doc)
}

func (a *ivr) last() (twilio.VoiceRequest, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.requests[len(a.requests)-1], a.steps[len(a.steps)-1]
}

// statusList is the statuses the app heard, mapped to ours.
func (a *ivr) statusList() []sb.CallStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []sb.CallStatus
	for _, r := range a.statuses {
		s, _ := twilio.CallStatus(r.CallStatus)
		out = append(out, s)
	}
	return out
}

// place places a call to to through the app's client.
func (a *ivr) place(t *testing.T, fake *twiliotest.Server, to string) *twiliotest.Call {
	t.Helper()
	sid, err := a.tw.PlaceCall(context.Background(), twilio.CallRequest{To: to, From: "+15017122661", URL: a.url("start"),
		StatusCallback: a.srv.URL + "/status?call=c1"})
	if err != nil {
		t.Fatal(err)
	}
	c, ok := fake.Call(sid)
	if !ok {
		t.Fatalf("no call %s", sid)
	}
	return c
}

func noErrors(t *testing.T, c *twiliotest.Call) {
	t.Helper()
	if errs := c.Errors(); len(errs) > 0 {
		t.Fatalf("call errors: %v", errs)
	}
}

func ended(t *testing.T, c *twiliotest.Call, want string) {
	t.Helper()
	if st, err := c.WaitEnded(wait); err != nil || st != want {
		t.Fatalf("ended %s, %v; want %s", st, err, want)
	}
}

func TestVoiceOutboundIVR(t *testing.T) {
	menu := []string{"Welcome & hello.", "Press 1 for sales, 2 to talk."}
	tests := []struct {
		name    string
		drive   func(c *twiliotest.Call) error
		said    []string
		dialled []string
		check   func(t *testing.T, a *ivr)
	}{
		{name: "speech", drive: func(c *twiliotest.Call) error {
			if err := c.Press("2"); err != nil {
				return err
			}
			if err := c.Press("9"); err == nil {
				t.Error("Press on a speech-only Gather succeeded")
			}
			return c.Speak("billing please")
		}, said: append(slices.Clone(menu), "What do you need?", "You said: billing please"),
			check: func(t *testing.T, a *ivr) {
				if r, step := a.last(); step != "heard" || r.Confidence == "" || r.CallStatus != "in-progress" || r.Direction != "outbound-api" {
					t.Errorf("last request %s %+v", step, r)
				}
			}},
		{name: "transfer", drive: func(c *twiliotest.Call) error { return c.Press("1") },
			said: append(slices.Clone(menu), "Connecting you.", "Transfer completed."), dialled: []string{"+15550001111"}},
		{name: "timeout posts an empty result", drive: func(c *twiliotest.Call) error { return c.Timeout() },
			said: append(slices.Clone(menu), "No input.")},
		{name: "record", drive: func(c *twiliotest.Call) error {
			if err := c.Press("3"); err != nil {
				return err
			}
			if err := c.WaitRecord(wait); err != nil {
				return err
			}
			return c.FinishRecording(7)
		}, said: append(slices.Clone(menu), "Leave a message.", "Thanks, 7 seconds."),
			check: func(t *testing.T, a *ivr) {
				a.mu.Lock()
				defer a.mu.Unlock()
				if r := a.requests[len(a.requests)-1]; !strings.Contains(r.RecordingURL, "/Recordings/RE") {
					t.Errorf("recording request %+v", r)
				}
			}},
		{name: "TwiML redirect", drive: func(c *twiliotest.Call) error { return c.Press("4") },
			said: append(slices.Clone(menu), "Goodbye.")},
		{name: "relative GET redirect", drive: func(c *twiliotest.Call) error { return c.Press("5") },
			said: append(slices.Clone(menu), "Goodbye.")},
		{name: "digits stop at the finish key", drive: func(c *twiliotest.Call) error {
			if err := c.Press("6"); err != nil {
				return err
			}
			return c.Press("12#9")
		}, said: append(slices.Clone(menu), "Your PIN?", "PIN 12")},
		{name: "numDigits caps the digits", drive: func(c *twiliotest.Call) error { return c.Press("29") },
			said: append(slices.Clone(menu), "What do you need?")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := twiliotest.NewServer(accountSID, authToken)
			defer fake.Close()
			a := newIVR(t, fake, authToken)
			c := a.place(t, fake, "+15558675310")
			if err := c.WaitGather(wait); err != nil {
				t.Fatal(err)
			}
			if got := c.Said(); !slices.Equal(got, menu) {
				t.Fatalf("said %q", got)
			}
			if err := tt.drive(c); err != nil {
				t.Fatal(err)
			}
			if tt.name == "numDigits caps the digits" {
				// Pressed 2 then 9: the one-digit Gather took "2" and the
				// call now waits on the speech Gather.
				if c.Waiting() != "Gather" {
					t.Fatalf("waiting on %q", c.Waiting())
				}
				if err := c.HangUp(); err != nil {
					t.Fatal(err)
				}
			}
			ended(t, c, "completed")
			noErrors(t, c)
			if got := c.Said(); !slices.Equal(got, tt.said) {
				t.Errorf("said %q\nwant %q", got, tt.said)
			}
			if got := c.Dialled(); !slices.Equal(got, tt.dialled) {
				t.Errorf("dialled %q, want %q", got, tt.dialled)
			}
			if tt.check != nil {
				tt.check(t, a)
			}
			// Callbacks are posted in order; the completed one carries the duration.
			want := []sb.CallStatus{sb.CallQueued, sb.CallRinging, sb.CallInProgress, sb.CallCompleted}
			if got := a.statusList(); !slices.Equal(got, want) {
				t.Errorf("statuses %v, want %v", got, want)
			}
			cbs := c.StatusCallbacks()
			if last := cbs[len(cbs)-1]; last.Get("CallDuration") == "" || last.Get("CallbackSource") != "call-progress-events" ||
				last.Get("SequenceNumber") != "3" || last.Get("SipResponseCode") != "200" {
				t.Errorf("completed callback %v", last)
			}
		})
	}
}

func TestVoiceHangups(t *testing.T) {
	fake := twiliotest.NewServer(accountSID, authToken)
	defer fake.Close()
	a := newIVR(t, fake, authToken)
	ctx := context.Background()

	t.Run("caller hangs up", func(t *testing.T) {
		c := a.place(t, fake, "+15558675310")
		if err := c.WaitGather(wait); err != nil {
			t.Fatal(err)
		}
		if err := c.HangUp(); err != nil {
			t.Fatal(err)
		}
		ended(t, c, "completed")
		if err := c.Press("1"); err == nil {
			t.Error("Press after the hangup succeeded")
		}
		if err := c.HangUp(); err == nil {
			t.Error("second HangUp succeeded")
		}
		noErrors(t, c)
	})
	t.Run("API hangup", func(t *testing.T) {
		c := a.place(t, fake, "+15558675310")
		if err := c.WaitGather(wait); err != nil {
			t.Fatal(err)
		}
		if err := a.tw.HangupCall(ctx, c.Sid); err != nil {
			t.Fatal(err)
		}
		ended(t, c, "completed")
		if c.Waiting() != "" {
			t.Error("an ended call still waits")
		}
		noErrors(t, c)
	})
	t.Run("API redirect", func(t *testing.T) {
		c := a.place(t, fake, "+15558675310")
		if err := c.WaitGather(wait); err != nil {
			t.Fatal(err)
		}
		if err := a.tw.RedirectCall(ctx, c.Sid, a.url("bye")); err != nil {
			t.Fatal(err)
		}
		ended(t, c, "completed")
		if said := c.Said(); said[len(said)-1] != "Goodbye." {
			t.Errorf("said %q", said)
		}
		noErrors(t, c)
	})
	t.Run("hangup while recording posts the recording", func(t *testing.T) {
		c := a.place(t, fake, "+15558675310")
		if err := c.WaitGather(wait); err != nil {
			t.Fatal(err)
		}
		if err := c.Press("3"); err != nil {
			t.Fatal(err)
		}
		if err := c.HangUp(); err != nil {
			t.Fatal(err)
		}
		ended(t, c, "completed")
		if r, step := a.last(); step != "recorded" || r.Digits != "hangup" || r.RecordingURL == "" {
			t.Errorf("last request %s %+v", step, r)
		}
		noErrors(t, c)
	})
	t.Run("answered by the test", func(t *testing.T) {
		fake.SetCallOutcome("+15558675399", twiliotest.Ring)
		c := a.place(t, fake, "+15558675399")
		if err := c.WaitStatus("ringing", wait); err != nil {
			t.Fatal(err)
		}
		if c.Waiting() != "" || len(c.Said()) != 0 {
			t.Fatal("a ringing call ran TwiML")
		}
		if err := c.Answer(); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitGather(wait); err != nil {
			t.Fatal(err)
		}
		if err := c.Answer(); err == nil {
			t.Error("second Answer succeeded")
		}
		c.HangUp()
		ended(t, c, "completed")
	})
}

func TestVoiceOutcomes(t *testing.T) {
	for _, tt := range []struct {
		outcome twiliotest.Outcome
		status  sb.CallStatus
		sip     string
	}{
		{twiliotest.Busy, sb.CallBusy, "486"},
		{twiliotest.NoAnswer, sb.CallNoAnswer, "487"},
		{twiliotest.Failed, sb.CallFailed, "500"},
	} {
		t.Run(string(tt.outcome), func(t *testing.T) {
			fake := twiliotest.NewServer(accountSID, authToken)
			defer fake.Close()
			fake.SetCallOutcome("+15558675310", tt.outcome)
			a := newIVR(t, fake, authToken)
			c := a.place(t, fake, "+15558675310")
			ended(t, c, string(tt.status))
			noErrors(t, c)
			if got := a.statusList(); !slices.Equal(got, []sb.CallStatus{sb.CallQueued, sb.CallRinging, tt.status}) {
				t.Errorf("statuses %v", got)
			}
			cbs := c.StatusCallbacks()
			if last := cbs[len(cbs)-1]; last.Get("CallDuration") != "0" || last.Get("SipResponseCode") != tt.sip {
				t.Errorf("final callback %v", last)
			}
			if len(c.Documents()) != 0 {
				t.Errorf("unanswered call fetched TwiML")
			}
		})
	}
}

func TestVoiceMachineDetection(t *testing.T) {
	fake := twiliotest.NewServer(accountSID, authToken)
	defer fake.Close()
	fake.SetCallOutcome("+15558675311", twiliotest.AnswerMachine)
	a := newIVR(t, fake, authToken)
	for to, want := range map[string]string{"+15558675310": "human", "+15558675311": "machine_start"} {
		sid, err := a.tw.PlaceCall(context.Background(), twilio.CallRequest{To: to, From: "+15017122661", URL: a.url("start"), MachineDetection: "Enable"})
		if err != nil {
			t.Fatal(err)
		}
		c, _ := fake.Call(sid)
		if err := c.WaitGather(wait); err != nil {
			t.Fatal(err)
		}
		if r, _ := a.last(); r.AnsweredBy != want {
			t.Errorf("%s: AnsweredBy %q, want %q", to, r.AnsweredBy, want)
		}
		c.HangUp()
	}
}

func TestVoiceIncoming(t *testing.T) {
	fake := twiliotest.NewServer(accountSID, authToken)
	defer fake.Close()
	a := newIVR(t, fake, authToken)
	fake.SetIncomingStatusCallback("+15017122661", a.srv.URL+"/status")
	c, err := fake.IncomingCall(a.url("start"), "+15558675310", "+15017122661")
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := a.last(); r.CallSid != c.Sid || r.Direction != "inbound" || r.CallStatus != "ringing" || r.From != "+15558675310" || r.To != "+15017122661" {
		t.Fatalf("first request %+v", r)
	}
	if c.Waiting() != "Gather" || c.Status() != "in-progress" {
		t.Fatalf("incoming call %s waiting on %q", c.Status(), c.Waiting())
	}
	if err := c.Press("2"); err != nil {
		t.Fatal(err)
	}
	if r, _ := a.last(); r.Digits != "2" || r.CallStatus != "in-progress" {
		t.Fatalf("gather request %+v", r)
	}
	c.HangUp()
	ended(t, c, "completed")
	noErrors(t, c)
	if got := a.statusList(); !slices.Equal(got, []sb.CallStatus{sb.CallCompleted}) {
		t.Errorf("statuses %v", got)
	}
	if calls := fake.Calls(); len(calls) != 1 || calls[0] != c {
		t.Errorf("Calls() = %v", calls)
	}
}

// TestVoiceSignatures: everything the fake posts verifies with the
// package's validator (the IVR above answers 403 otherwise); an app with
// another token refuses it, and the fake reports that.
func TestVoiceSignatures(t *testing.T) {
	fake := twiliotest.NewServer(accountSID, authToken)
	defer fake.Close()
	a := newIVR(t, fake, strings.Repeat("f", 32))
	c, err := fake.IncomingCall(a.url("start"), "+15558675310", "+15017122661")
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("IncomingCall to an app with another token: %v", err)
	}
	if c.Status() != "completed" || len(c.Errors()) != 1 {
		t.Fatalf("call %s, errors %v", c.Status(), c.Errors())
	}

	// A bad document: Twilio's application error hangs up.
	good := newIVR(t, fake, authToken)
	c2 := good.place(t, fake, "+15558675310")
	if err := c2.WaitGather(wait); err != nil {
		t.Fatal(err)
	}
	if err := c2.Press("7"); err != nil {
		t.Fatal(err)
	}
	if errs := c2.Errors(); len(errs) != 1 || !strings.Contains(errs[0].Error(), "<Dance>") {
		t.Fatalf("unsupported verb: errors %v", errs)
	}
	ended(t, c2, "completed")
}

func TestVoiceRESTFake(t *testing.T) {
	fake := twiliotest.NewServer(accountSID, authToken)
	defer fake.Close()
	a := newIVR(t, fake, authToken)
	// Inline Twiml and a GET of the call resource, as raw REST calls.
	form := url.Values{"To": {"+15558675310"}, "From": {"+15017122661"},
		"Twiml": {`<Response><Say>Ahoy, World!</Say></Response>`}, "StatusCallback": {a.srv.URL + "/status"}}
	req, _ := http.NewRequest(http.MethodPost, fake.URL+"/2010-04-01/Accounts/"+accountSID+"/Calls.json", strings.NewReader(form.Encode()))
	req.SetBasicAuth(accountSID, authToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %v %v", resp, err)
	}
	resp.Body.Close()
	c := fake.Calls()[0]
	ended(t, c, "completed")
	if got := c.Said(); !slices.Equal(got, []string{"Ahoy, World!"}) {
		t.Fatalf("said %q", got)
	}
	req, _ = http.NewRequest(http.MethodGet, fake.URL+"/2010-04-01/Accounts/"+accountSID+"/Calls/"+c.Sid+".json", nil)
	req.SetBasicAuth(accountSID, authToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("fetch: %v %v", resp, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"status":"completed"`) || !strings.Contains(string(body), `"sid":"`+c.Sid+`"`) {
		t.Fatalf("call resource %s", body)
	}

	// Missing Url, Twiml and ApplicationSid: 21205.
	req, _ = http.NewRequest(http.MethodPost, fake.URL+"/2010-04-01/Accounts/"+accountSID+"/Calls.json",
		strings.NewReader(url.Values{"To": {"+15558675310"}, "From": {"+15017122661"}}.Encode()))
	req.SetBasicAuth(accountSID, authToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("create without Url: %v %v", resp, err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "21205") {
		t.Fatalf("create without Url: %s", body)
	}
}

func TestParseTwiML(t *testing.T) {
	verbs, err := twiliotest.ParseTwiML([]byte(`<?xml version="1.0" encoding="UTF-8"?>
<Response>
    <Gather input="dtmf speech" action="/process_gather" method="POST" numDigits="4" finishOnKey="" timeout="5">
        <Say>Please enter &amp; confirm.</Say>
    </Gather>
    <Dial><Number>+15558675310</Number><Sip>sip:a@b.example</Sip></Dial>
    <Hangup/>
</Response>
<!-- trailing comment -->`))
	if err != nil {
		t.Fatal(err)
	}
	if len(verbs) != 3 || verbs[0].XMLName.Local != "Gather" || verbs[1].XMLName.Local != "Dial" || verbs[2].XMLName.Local != "Hangup" {
		t.Fatalf("verbs %+v", verbs)
	}
	g := verbs[0]
	if g.Attr("numDigits") != "4" || g.Attr("action") != "/process_gather" || !g.HasAttr("finishOnKey") || g.HasAttr("language") {
		t.Errorf("gather attributes %+v", g.Attrs)
	}
	if len(g.Children) != 1 || strings.TrimSpace(g.Children[0].Text) != "Please enter & confirm." {
		t.Errorf("gather children %+v", g.Children)
	}
	if d := verbs[1].Children; len(d) != 2 || d[0].Text != "+15558675310" || d[1].XMLName.Local != "Sip" {
		t.Errorf("dial children %+v", d)
	}

	for name, doc := range map[string]string{
		"empty":          "  ",
		"not XML":        "Hello",
		"wrong root":     `<Reply><Say>Hi</Say></Reply>`,
		"unclosed":       `<Response><Say>Hi</Response>`,
		"trailing verbs": `<Response/><Say>Hi</Say>`,
		"trailing text":  `<Response/>oops`,
	} {
		if _, err := twiliotest.ParseTwiML([]byte(doc)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}
