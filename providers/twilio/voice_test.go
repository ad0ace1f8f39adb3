package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/providers/twilio/twiliotest"
)

const testCallSID = "CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"

// TestPlaceCall checks the exact form sent: calls_create_request.txt (the
// documented field names) plus the fields our options add.
func TestPlaceCall(t *testing.T) {
	base := fixtureForm(t, "calls_create_request.txt")
	base.Set("Method", "POST")
	full := url.Values{}
	for k, v := range base {
		full[k] = v
	}
	full.Set("Timeout", "25")
	full.Set("Record", "true")
	full.Set("MachineDetection", "Enable")
	bare := url.Values{"To": base["To"], "From": base["From"], "Url": base["Url"], "Method": {"POST"}}

	tests := []struct {
		name string
		req  CallRequest
		form url.Values
	}{
		{name: "documented fields", form: base, req: CallRequest{To: "+15558675310", From: "+15017122661",
			URL: "http://demo.twilio.com/docs/voice.xml", StatusCallback: "https://www.myapp.com/events"}},
		{name: "all options", form: full, req: CallRequest{To: "+15558675310", From: "+15017122661",
			URL: "http://demo.twilio.com/docs/voice.xml", StatusCallback: "https://www.myapp.com/events",
			Timeout: 25, Record: true, MachineDetection: "Enable"}},
		{name: "no status callback", form: bare, req: CallRequest{To: "+15558675310", From: "+15017122661",
			URL: "http://demo.twilio.com/docs/voice.xml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeTwilio{t: t, method: http.MethodPost, path: "/2010-04-01/Accounts/" + testAccountSID + "/Calls.json",
				user: testAccountSID, pass: testAuthToken, form: tt.form,
				status: http.StatusCreated, body: fixture(t, "call_create_response_queued.json")}
			c := f.start(testCreds, Options{})
			sid, err := c.PlaceCall(context.Background(), tt.req)
			if err != nil || sid != testCallSID || f.calls != 1 {
				t.Fatalf("PlaceCall = %q, %v (%d calls)", sid, err, f.calls)
			}
		})
	}
}

func TestPlaceCallErrors(t *testing.T) {
	req := CallRequest{To: "+15558675310", From: "+15017122661", URL: "https://hooks.example.com/voice"}
	tests := []struct {
		name      string
		status    int
		body      string
		code      string
		permanent bool
	}{
		{name: "invalid To", status: 400, body: "error_21211_invalid_to.json", code: "21211", permanent: true},
		{name: "rate limited", status: 429, body: "error_20429_too_many_requests.json", code: "20429"},
		{name: "bad credentials", status: 401, body: "error_20003_auth.json", code: "20003", permanent: true},
		{name: "no sid", status: 201, body: "", code: "bad_response", permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(`{"status":"queued"}`)
			if tt.body != "" {
				body = fixture(t, tt.body)
			}
			f := &fakeTwilio{t: t, method: http.MethodPost, path: "/2010-04-01/Accounts/" + testAccountSID + "/Calls.json",
				user: testAccountSID, pass: testAuthToken, status: tt.status, body: body}
			_, err := f.start(testCreds, Options{}).PlaceCall(context.Background(), req)
			var pe *sb.ProviderError
			if !errors.As(err, &pe) || pe.Code != tt.code || pe.Permanent != tt.permanent {
				t.Fatalf("PlaceCall: %#v", err)
			}
		})
	}

	// Refused before any request.
	c := New(testCreds, Options{BaseURL: "http://127.0.0.1:1"})
	for _, r := range []CallRequest{{From: req.From, URL: req.URL}, {To: req.To, URL: req.URL}, {To: req.To, From: req.From}} {
		var pe *sb.ProviderError
		if _, err := c.PlaceCall(context.Background(), r); !errors.As(err, &pe) || pe.Code != "invalid_request" || !pe.Permanent {
			t.Errorf("PlaceCall(%+v): %v", r, err)
		}
	}
	if _, err := New(testCreds, Options{BaseURL: "::"}).PlaceCall(context.Background(), req); err == nil {
		t.Error("PlaceCall with a broken base URL succeeded")
	}
}

func TestHangupAndRedirect(t *testing.T) {
	path := "/2010-04-01/Accounts/" + testAccountSID + "/Calls/" + testCallSID + ".json"
	answer := fixture(t, "call_create_response_sdk_fixture.json")
	t.Run("hangup", func(t *testing.T) {
		f := &fakeTwilio{t: t, method: http.MethodPost, path: path, user: testAccountSID, pass: testAuthToken,
			form: url.Values{"Status": {"completed"}}, status: http.StatusOK, body: answer}
		if err := f.start(testCreds, Options{}).HangupCall(context.Background(), testCallSID); err != nil || f.calls != 1 {
			t.Fatalf("HangupCall: %v (%d calls)", err, f.calls)
		}
	})
	t.Run("redirect", func(t *testing.T) {
		f := &fakeTwilio{t: t, method: http.MethodPost, path: path, user: testAccountSID, pass: testAuthToken,
			form: url.Values{"Url": {"https://hooks.example.com/voice?call=c1&step=hangup"}, "Method": {"POST"}}, status: http.StatusOK, body: answer}
		if err := f.start(testCreds, Options{}).RedirectCall(context.Background(), testCallSID, "https://hooks.example.com/voice?call=c1&step=hangup"); err != nil {
			t.Fatalf("RedirectCall: %v", err)
		}
	})
	t.Run("not found", func(t *testing.T) {
		f := &fakeTwilio{t: t, method: http.MethodPost, path: path, user: testAccountSID, pass: testAuthToken,
			status: http.StatusNotFound, body: []byte(`{"code":20404,"message":"not found","status":404}`)}
		var pe *sb.ProviderError
		if err := f.start(testCreds, Options{}).HangupCall(context.Background(), testCallSID); !errors.As(err, &pe) || pe.Code != "20404" || !pe.Permanent {
			t.Fatalf("HangupCall: %v", err)
		}
	})
	c := New(testCreds, Options{BaseURL: "http://127.0.0.1:1"})
	if err := c.HangupCall(context.Background(), ""); err == nil {
		t.Error("HangupCall without a sid succeeded")
	}
	if err := c.RedirectCall(context.Background(), testCallSID, ""); err == nil {
		t.Error("RedirectCall without a URL succeeded")
	}
}

// TestVoiceAgainstFake drives PlaceCall, HangupCall and RedirectCall
// against twiliotest: what the fake recorded is what we meant to send, and
// its errors classify as Twilio's.
func TestVoiceAgainstFake(t *testing.T) {
	fake := twiliotest.NewServer(testAccountSID, testAuthToken)
	defer fake.Close()
	fake.SetCallOutcome("+15558675310", twiliotest.Ring) // keep it ringing: no app is listening
	c := New(testCreds, Options{BaseURL: fake.URL})
	ctx := context.Background()
	req := CallRequest{To: "+15558675310", From: "+15017122661", URL: "https://hooks.example.com/voice?call=c1",
		StatusCallback: "https://hooks.example.com/voice/status?call=c1", Timeout: 30, Record: true, MachineDetection: "DetectMessageEnd"}
	sid, err := c.PlaceCall(ctx, req)
	if err != nil || !strings.HasPrefix(sid, "CA") || len(sid) != 34 {
		t.Fatalf("PlaceCall = %q, %v", sid, err)
	}
	call, ok := fake.Call(sid)
	if !ok {
		t.Fatalf("fake has no call %s", sid)
	}
	f := call.Form
	if f.Get("Url") != req.URL || f.Get("Method") != "POST" || f.Get("StatusCallback") != req.StatusCallback ||
		strings.Join(f["StatusCallbackEvent"], " ") != "initiated ringing answered completed" || f.Get("StatusCallbackMethod") != "POST" ||
		f.Get("Timeout") != "30" || f.Get("Record") != "true" || f.Get("MachineDetection") != "DetectMessageEnd" {
		t.Fatalf("fake received %v", f)
	}

	if err := c.RedirectCall(ctx, sid, "https://hooks.example.com/voice?call=c1&step=2"); err != nil {
		t.Fatalf("RedirectCall before the answer: %v", err)
	}
	if err := c.HangupCall(ctx, sid); err != nil {
		t.Fatalf("HangupCall: %v", err)
	}
	if st := call.Status(); st != "canceled" {
		t.Fatalf("status after hanging up a ringing call: %s", st)
	}
	var pe *sb.ProviderError
	if err := c.RedirectCall(ctx, sid, "https://hooks.example.com/voice"); !errors.As(err, &pe) || pe.Code != "21220" || !pe.Permanent {
		t.Fatalf("RedirectCall on an ended call: %v", err)
	}
	if err := c.HangupCall(ctx, "CA"+strings.Repeat("0", 32)); !errors.As(err, &pe) || pe.Code != "20404" {
		t.Fatalf("HangupCall on an unknown call: %v", err)
	}

	for _, tt := range []struct {
		name      string
		f         twiliotest.Failure
		code      string
		permanent bool
	}{
		{name: "invalid To", f: twiliotest.InvalidTo, code: "21211", permanent: true},
		{name: "rate limited", f: twiliotest.TooManyRequests, code: "20429"},
		{name: "server error", f: twiliotest.ServerError, code: "20500"},
	} {
		fake.FailNextCalls(1, tt.f)
		if _, err := c.PlaceCall(ctx, req); !errors.As(err, &pe) || pe.Code != tt.code || pe.Permanent != tt.permanent {
			t.Errorf("%s: %#v", tt.name, err)
		}
	}
	bad := req
	bad.To = "555-CALL-ME"
	if _, err := c.PlaceCall(ctx, bad); !errors.As(err, &pe) || pe.Code != "21211" || !pe.Permanent {
		t.Errorf("invalid number: %#v", err)
	}
	wrong := New(Credentials{AccountSID: testAccountSID, AuthToken: strings.Repeat("f", 32)}, Options{BaseURL: fake.URL})
	if _, err := wrong.PlaceCall(ctx, req); !errors.As(err, &pe) || pe.Code != "20003" || !pe.Permanent {
		t.Errorf("wrong credentials: %#v", err)
	}
}

func TestParseVoiceRequest(t *testing.T) {
	c := New(testCreds, Options{})
	tests := []struct {
		fixture string
		want    VoiceRequest
	}{
		{fixture: "voice_webhook_incoming_call.txt", want: VoiceRequest{CallSid: testCallSID, AccountSid: "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
			From: "+15558675310", To: "+15017122661", Direction: "inbound", CallStatus: "ringing"}},
		{fixture: "voice_webhook_gather_digits.txt", want: VoiceRequest{CallSid: testCallSID, AccountSid: "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
			From: "+15558675310", To: "+15017122661", Direction: "inbound", CallStatus: "in-progress", Digits: "1234"}},
		{fixture: "voice_webhook_gather_speech.txt", want: VoiceRequest{CallSid: testCallSID, AccountSid: "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
			From: "+15558675310", To: "+15017122661", Direction: "inbound", CallStatus: "in-progress",
			SpeechResult: "I would like to check my order status", Confidence: "0.9335543"}},
		{fixture: "voice_status_callback_completed.txt", want: VoiceRequest{CallSid: testCallSID, AccountSid: "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
			From: "+15017122661", To: "+15558675310", Direction: "outbound-api", CallStatus: "completed", CallDuration: "42"}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			body := fixture(t, tt.fixture)
			form := fixtureForm(t, tt.fixture)
			got, err := c.ParseVoiceRequest(post(hookURL, body, sign(testAuthToken, hookURL, form)), body, hookURL)
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v\nwant %+v", got, err, tt.want)
			}

			// Forgeries: another token, another URL (the query string is
			// signed), a changed parameter, no signature.
			other := strings.Replace(hookURL, "v=1", "v=2", 1)
			tampered := []byte(strings.Replace(string(body), "CallStatus=", "CallStatus=x", 1))
			for name, r := range map[string]struct {
				sig  string
				body []byte
			}{
				"wrong token":   {sign(strings.Repeat("f", 32), hookURL, form), body},
				"other query":   {sign(testAuthToken, other, form), body},
				"tampered body": {sign(testAuthToken, hookURL, form), tampered},
				"no signature":  {"", body},
			} {
				if _, err := c.ParseVoiceRequest(post(hookURL, r.body, r.sig), r.body, hookURL); !errors.Is(err, sb.ErrForged) {
					t.Errorf("%s: %v", name, err)
				}
			}
		})
	}
}

// TestParseVoiceRequestVector: the SDKs' own vector is a voice request
// (CallSid, Digits), signed with token 12345.
func TestParseVoiceRequestVector(t *testing.T) {
	raw, err := os.ReadFile("testdata/signature_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Vectors []struct {
			AuthToken string            `json:"auth_token"`
			URL       string            `json:"url"`
			Params    map[string]string `json:"params"`
			Expected  string            `json:"expected_signature"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	v := file.Vectors[0]
	form := url.Values{}
	for k, val := range v.Params {
		form.Set(k, val)
	}
	body := []byte(form.Encode())
	c := New(Credentials{AccountSID: testAccountSID, AuthToken: v.AuthToken}, Options{})
	got, err := c.ParseVoiceRequest(post(v.URL, body, v.Expected), body, v.URL)
	if err != nil || got.CallSid != "CA1234567890ABCDE" || got.Digits != "1234" || got.From != "+14158675309" {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestParseVoiceRequestGETAndMalformed(t *testing.T) {
	c := New(testCreds, Options{})
	u := "https://hooks.example.com/voice?CallSid=" + testCallSID + "&CallStatus=in-progress&Digits=7"
	r := post(u, nil, sign(testAuthToken, u, nil))
	r.Method = http.MethodGet
	got, err := c.ParseVoiceRequest(r, nil, u)
	if err != nil || got.CallSid != testCallSID || got.Digits != "7" {
		t.Fatalf("GET: %+v %v", got, err)
	}

	body := []byte("CallStatus=ringing")
	form, _ := url.ParseQuery(string(body))
	if _, err := c.ParseVoiceRequest(post(hookURL, body, sign(testAuthToken, hookURL, form)), body, hookURL); sb.ErrorCode(err) != sb.EINVALID {
		t.Fatalf("no CallSid: %v", err)
	}
	bad := []byte("CallSid=CA1&x=%zz")
	badForm, _ := url.ParseQuery(string(bad))
	if _, err := c.ParseVoiceRequest(post(hookURL, bad, sign(testAuthToken, hookURL, badForm)), bad, hookURL); sb.ErrorCode(err) != sb.EINVALID {
		t.Fatalf("malformed body: %v", err)
	}
}

func TestCallStatus(t *testing.T) {
	tests := []struct {
		in   string
		want sb.CallStatus
		ok   bool
	}{
		{"queued", sb.CallQueued, true},
		{"initiated", sb.CallQueued, true},
		{"ringing", sb.CallRinging, true},
		{"in-progress", sb.CallInProgress, true},
		{"answered", sb.CallInProgress, true},
		{"completed", sb.CallCompleted, true},
		{"busy", sb.CallBusy, true},
		{"no-answer", sb.CallNoAnswer, true},
		{"failed", sb.CallFailed, true},
		{"canceled", sb.CallCanceled, true},
		{"cancelled", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := CallStatus(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("CallStatus(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	// Every status of ours is reachable.
	seen := map[sb.CallStatus]bool{}
	for _, s := range callStatuses {
		seen[s] = true
	}
	for _, s := range sb.CallStatuses {
		if !seen[s] {
			t.Errorf("no Twilio status maps to %s", s)
		}
	}
}
