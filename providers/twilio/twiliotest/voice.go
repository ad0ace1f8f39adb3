package twiliotest

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Voice: the fake plays Twilio's part in a call. POST .../Calls.json places
// a call to a simulated phone that, as Twilio does, posts the status
// callbacks asked for (signed), fetches the call's Url once answered and
// executes the TwiML it gets: Say and Play are recorded, Gather and Record
// wait for the test (Press, Speak, Timeout, FinishRecording, HangUp), Dial
// records the number and posts its action, Redirect is followed, Hangup or
// the end of a document ends the call. IncomingCall rings an application
// as a call to one of the account's numbers.

// Outcome is how the simulated phone at a number answers a call placed to it.
type Outcome string

// Outcomes for SetCallOutcome.
const (
	Answer        Outcome = "answer"    // picks up at once (the default)
	AnswerMachine Outcome = "machine"   // a voicemail picks up: AnsweredBy=machine_start when detection is on
	Busy          Outcome = "busy"      // the call ends busy
	NoAnswer      Outcome = "no-answer" // rings out
	Failed        Outcome = "failed"    // the carrier refuses the call
	Ring          Outcome = "ring"      // rings until Call.Answer, or a hangup or cancel from the API
)

// defaultCallDelay is how long a placed call waits before it starts
// ringing: long enough for the application to record the SID it got back,
// as Twilio's own latency gives it time to.
const defaultCallDelay = 20 * time.Millisecond

// voiceState is the Server's voice part; its zero value is ready.
type voiceState struct {
	calls           []*Call
	outcomes        map[string]Outcome
	failures        []Failure
	delay           time.Duration
	delaySet        bool
	statusCallbacks map[string]string // number → status callback of calls to it
}

// SetCallOutcome makes calls placed to number end as o.
func (s *Server) SetCallOutcome(number string, o Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.voice.outcomes == nil {
		s.voice.outcomes = map[string]Outcome{}
	}
	s.voice.outcomes[number] = o
}

// SetCallDelay sets how long a placed call waits before its first status
// callback (20 ms unless set).
func (s *Server) SetCallDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.voice.delay, s.voice.delaySet = d, true
}

// SetIncomingStatusCallback configures number's status callback URL, as on
// a Twilio number: IncomingCall posts its completed event there.
func (s *Server) SetIncomingStatusCallback(number, u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.voice.statusCallbacks == nil {
		s.voice.statusCallbacks = map[string]string{}
	}
	s.voice.statusCallbacks[number] = u
}

// FailNextCalls answers the next n call create requests with f.
func (s *Server) FailNextCalls(n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.voice.failures = append(s.voice.failures, f)
	}
}

// Calls returns every call, placed or incoming, in order.
func (s *Server) Calls() []*Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Call(nil), s.voice.calls...)
}

// Call returns call sid.
func (s *Server) Call(sid string) (*Call, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.voice.calls {
		if c.Sid == sid {
			return c, true
		}
	}
	return nil, false
}

// IncomingCall rings hookURL (a number's voice webhook) as a call from
// from to the account's number to, and follows the TwiML answered until the
// call waits for the caller or ends. The error is the first request's
// failure; the call is recorded (and over) even then.
func (s *Server) IncomingCall(hookURL, from, to string) (*Call, error) {
	c := s.newCall("inbound", from, to, Answer)
	c.url, c.method = hookURL, http.MethodPost
	s.mu.Lock()
	if cb := s.voice.statusCallbacks[to]; cb != "" {
		c.statusCallback, c.statusCallbackMethod = cb, http.MethodPost
	}
	s.voice.calls = append(s.voice.calls, c)
	s.mu.Unlock()
	c.setStatus("ringing")

	c.drive.Lock()
	defer c.drive.Unlock()
	verbs, base, err := c.fetch(http.MethodPost, hookURL, nil)
	if err != nil {
		c.end("completed")
		return c, err
	}
	c.mu.Lock()
	c.status, c.answeredAt = "in-progress", time.Now()
	c.mu.Unlock()
	c.notify()
	c.run(verbs, base)
	return c, nil
}

// Call is one simulated call. Its methods are safe for concurrent use.
type Call struct {
	Sid       string
	Direction string // outbound-api or inbound
	From, To  string
	// Form is the create request of a placed call (nil for an incoming one).
	Form url.Values

	s       *Server
	outcome Outcome

	// drive is held by whoever walks the call's TwiML: the call's own
	// goroutine, a test driving it (Press…), an API redirect.
	drive sync.Mutex

	mu                   sync.Mutex
	url, method, twiml   string
	statusCallback       string
	statusCallbackMethod string
	events               map[string]bool
	machineDetection     string
	status               string
	settled              bool // over, and the completed callback posted
	answerReq            bool
	created, answeredAt  time.Time
	endedAt              time.Time
	seq                  int
	said, played         []string
	dialled              []string
	docs                 []string
	callbacks            []url.Values
	errs                 []error
	wait                 *pending
	changed              chan struct{}
}

// pending is a Gather or Record waiting for the caller.
type pending struct {
	verb   Verb
	action string // absolute
	method string
	rest   []Verb // the verbs after it, where a timeout falls through
	base   string
}

func (s *Server) newCall(direction, from, to string, o Outcome) *Call {
	return &Call{Sid: newSid("CA"), Direction: direction, From: from, To: to, s: s, outcome: o,
		status: "queued", created: time.Now(), events: map[string]bool{"completed": true}, changed: make(chan struct{})}
}

// createCall answers POST .../Calls.json and starts the call's phone.
func (s *Server) createCall(w http.ResponseWriter, r *http.Request, form url.Values) int {
	s.mu.Lock()
	var f *Failure
	if len(s.voice.failures) > 0 {
		f = &s.voice.failures[0]
		s.voice.failures = s.voice.failures[1:]
	}
	s.mu.Unlock()
	if f != nil {
		return s.fail(w, r, *f)
	}
	to, from := form.Get("To"), form.Get("From")
	switch {
	case to == "":
		return writeError(w, http.StatusBadRequest, 21201, "No 'To' number is specified")
	case !e164.MatchString(to) && !strings.HasPrefix(to, "sip:") && !strings.HasPrefix(to, "client:"):
		return writeError(w, http.StatusBadRequest, 21211, "Invalid 'To' Phone Number: "+to)
	case from == "":
		return writeError(w, http.StatusBadRequest, 21213, "No 'From' number is specified")
	case form.Get("Url") == "" && form.Get("Twiml") == "" && form.Get("ApplicationSid") == "":
		return writeError(w, http.StatusBadRequest, 21205, "Url parameter is required.")
	}
	for _, k := range []string{"Url", "StatusCallback"} {
		if v := form.Get(k); v != "" {
			if u, err := url.Parse(v); err != nil || !u.IsAbs() {
				return writeError(w, http.StatusBadRequest, 21205, k+" is not a valid URL: "+v)
			}
		}
	}
	if t := form.Get("Timeout"); t != "" {
		if n, err := strconv.Atoi(t); err != nil || n < 0 {
			return writeError(w, http.StatusBadRequest, 21216, "Timeout must be a number of seconds")
		}
	}
	s.mu.Lock()
	o, ok := s.voice.outcomes[to]
	if !ok {
		o = Answer
	}
	delay := defaultCallDelay
	if s.voice.delaySet {
		delay = s.voice.delay
	}
	c := s.newCall("outbound-api", from, to, o)
	c.Form = form
	c.url, c.method, c.twiml = form.Get("Url"), methodOr(form.Get("Method")), form.Get("Twiml")
	c.statusCallback, c.statusCallbackMethod = form.Get("StatusCallback"), methodOr(form.Get("StatusCallbackMethod"))
	if evs := form["StatusCallbackEvent"]; len(evs) > 0 {
		c.events = map[string]bool{"completed": true} // Twilio always posts the final one
		for _, e := range evs {
			c.events[e] = true
		}
	}
	c.machineDetection = form.Get("MachineDetection")
	s.voice.calls = append(s.voice.calls, c)
	s.mu.Unlock()
	status := writeJSON(w, http.StatusCreated, c.resource())
	go c.ring(delay)
	return status
}

// callPath answers GET and POST .../Calls/{Sid}.json; ok is false when
// rest does not name a call.
func (s *Server) callPath(w http.ResponseWriter, r *http.Request, rest string, form url.Values) (int, bool) {
	sid, ok := strings.CutPrefix(rest, s.AccountSID+"/Calls/")
	if !ok || !strings.HasSuffix(sid, ".json") || strings.Contains(sid, "/") {
		return 0, false
	}
	c, found := s.Call(strings.TrimSuffix(sid, ".json"))
	if !found {
		return writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found"), true
	}
	if r.Method == http.MethodGet {
		return writeJSON(w, http.StatusOK, c.resource()), true
	}
	return c.update(w, form), true
}

// update answers a call update: a hangup (Status), or new TwiML (Url or
// Twiml) executed at once by a live call.
func (c *Call) update(w http.ResponseWriter, form url.Values) int {
	status, u, twiml := form.Get("Status"), form.Get("Url"), form.Get("Twiml")
	switch {
	case status != "" && status != "completed" && status != "canceled":
		return writeError(w, http.StatusBadRequest, 20001, "Status must be completed or canceled")
	case status != "":
		cur := c.Status()
		switch {
		case final(cur):
			// Nothing to end.
		case cur == "in-progress" && status == "canceled":
			// canceled only withdraws a call not yet answered.
		case cur == "in-progress":
			c.endAsync("completed")
		default:
			c.endAsync("canceled")
		}
	case u != "" || twiml != "":
		if u != "" {
			if p, err := url.Parse(u); err != nil || !p.IsAbs() {
				return writeError(w, http.StatusBadRequest, 21205, "Url is not a valid URL: "+u)
			}
		}
		method := methodOr(form.Get("Method"))
		c.mu.Lock()
		cur := c.status
		if final(cur) {
			c.mu.Unlock()
			return writeError(w, http.StatusBadRequest, 21220, "Call is not in-progress. Cannot redirect.")
		}
		if cur != "in-progress" {
			// Not answered yet: the new instructions run when it is.
			c.url, c.method, c.twiml = u, method, twiml
			c.mu.Unlock()
			break
		}
		c.mu.Unlock()
		go c.redirect(method, u, twiml)
	}
	return writeJSON(w, http.StatusOK, c.resource())
}

// resource is the call as the REST API shows it.
func (c *Call) resource() map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	acct := c.s.AccountSID
	uri := apiPrefix + acct + "/Calls/" + c.Sid
	var start, end, duration any
	if !c.answeredAt.IsZero() {
		start = c.answeredAt.UTC().Format(time.RFC1123Z)
	}
	if !c.endedAt.IsZero() {
		end = c.endedAt.UTC().Format(time.RFC1123Z)
		duration = strconv.Itoa(c.durationLocked())
	}
	var answeredBy any
	if c.machineDetection != "" && !c.answeredAt.IsZero() {
		answeredBy = c.answeredByLocked()
	}
	created := c.created.UTC().Format(time.RFC1123Z)
	return map[string]any{
		"account_sid": acct, "annotation": nil, "answered_by": answeredBy, "api_version": "2010-04-01",
		"caller_name": nil, "date_created": created, "date_updated": time.Now().UTC().Format(time.RFC1123Z),
		"direction": c.Direction, "duration": duration, "end_time": end, "forwarded_from": nil,
		"from": c.From, "from_formatted": c.From, "group_sid": nil, "parent_call_sid": nil,
		"phone_number_sid": "PN" + strings.Repeat("0", 32), "price": nil, "price_unit": "USD", "queue_time": "0",
		"sid": c.Sid, "start_time": start, "status": c.status, "to": c.To, "to_formatted": c.To, "trunk_sid": nil,
		"uri": uri + ".json",
		"subresource_uris": map[string]string{
			"notifications": uri + "/Notifications.json", "recordings": uri + "/Recordings.json", "events": uri + "/Events.json",
		},
	}
}

// ring is a placed call's life up to the answer: the progress callbacks,
// then the first TwiML.
func (c *Call) ring(delay time.Duration) {
	select {
	case <-time.After(delay):
	case <-c.s.closed:
		return
	}
	if c.Status() != "queued" {
		return // canceled before it rang
	}
	c.progress("initiated", "initiated")
	if !c.setStatusIf("queued", "ringing") {
		return
	}
	c.progress("ringing", "ringing")
	switch c.outcome {
	case Busy, NoAnswer, Failed:
		c.end(string(c.outcome))
		return
	case Ring:
		if !c.waitFor(0, func() bool { return c.answerReq || final(c.status) }) || final(c.Status()) {
			return
		}
	}
	c.drive.Lock()
	defer c.drive.Unlock()
	c.mu.Lock()
	if c.status != "ringing" {
		c.mu.Unlock()
		return
	}
	c.status, c.answeredAt = "in-progress", time.Now()
	u, method, twiml := c.url, c.method, c.twiml
	c.mu.Unlock()
	c.notify()
	c.progress("answered", "in-progress")
	if twiml != "" {
		verbs, err := c.parse(twiml)
		if err != nil {
			c.appError(err)
			return
		}
		c.run(verbs, u)
		return
	}
	verbs, base, err := c.fetch(method, u, nil)
	if err != nil {
		return // fetch recorded it and ended the call
	}
	c.run(verbs, base)
}

// Answer picks up a call whose outcome is Ring.
func (c *Call) Answer() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.outcome != Ring || final(c.status) || c.answerReq {
		return fmt.Errorf("twiliotest: call %s is not ringing for the test to answer (status %s)", c.Sid, c.status)
	}
	c.answerReq = true
	c.notifyLocked()
	return nil
}

// redirect executes new TwiML in a live call, as an API update does: what
// the call was doing is abandoned.
func (c *Call) redirect(method, u, twiml string) {
	c.drive.Lock()
	defer c.drive.Unlock()
	c.mu.Lock()
	if c.status != "in-progress" {
		c.mu.Unlock()
		return
	}
	c.wait = nil
	c.mu.Unlock()
	c.notify()
	if twiml != "" {
		verbs, err := c.parse(twiml)
		if err != nil {
			c.appError(err)
			return
		}
		c.run(verbs, u)
		return
	}
	if verbs, base, err := c.fetch(method, u, nil); err == nil {
		c.run(verbs, base)
	}
}

// progress posts a status callback for event, if the call asked for it.
func (c *Call) progress(event, status string) {
	c.mu.Lock()
	if !c.events[event] || c.statusCallback == "" {
		c.mu.Unlock()
		return
	}
	p := c.paramsLocked(status)
	c.seq++
	p.Set("CallbackSource", "call-progress-events")
	p.Set("SequenceNumber", strconv.Itoa(c.seq-1))
	p.Set("Timestamp", time.Now().UTC().Format(time.RFC1123Z))
	if final(status) {
		d := c.durationLocked()
		p.Set("CallDuration", strconv.Itoa(d))
		p.Set("Duration", strconv.Itoa((d+59)/60))
		p.Set("SipResponseCode", sipCodes[status])
	}
	u, method := c.statusCallback, c.statusCallbackMethod
	c.callbacks = append(c.callbacks, p)
	c.mu.Unlock()
	resp, err := c.s.send(method, u, p)
	switch {
	case err != nil:
		c.addError(fmt.Errorf("status callback %s: %w", status, err))
	case resp.Status/100 != 2:
		c.addError(fmt.Errorf("status callback %s: answered %d", status, resp.Status))
	}
}

var sipCodes = map[string]string{"completed": "200", "busy": "486", "no-answer": "487", "canceled": "487", "failed": "500"}

// end finishes the call with status and posts the completed callback; a
// call already over is left as it is.
func (c *Call) end(status string) {
	if c.finish(status) {
		c.progress("completed", status)
		c.settle()
	}
}

// endAsync finishes the call at once and posts the completed callback in
// the background: an API hangup answers before Twilio's callback comes.
func (c *Call) endAsync(status string) {
	if c.finish(status) {
		go func() {
			c.progress("completed", status)
			c.settle()
		}()
	}
}

// settle marks the call over for the waits: final, and its completed
// callback answered.
func (c *Call) settle() {
	c.mu.Lock()
	c.settled = true
	c.notifyLocked()
	c.mu.Unlock()
}

// finish moves the call to final status unless it is over already.
func (c *Call) finish(status string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if final(c.status) {
		return false
	}
	c.status, c.endedAt, c.wait = status, time.Now(), nil
	c.notifyLocked()
	return true
}

// fetch requests TwiML from u and parses it. A failure (network, non-2xx,
// not TwiML) is what Twilio reports as an application error: it is
// recorded and the call ends.
func (c *Call) fetch(method, u string, extra url.Values) ([]Verb, string, error) {
	c.mu.Lock()
	p := c.paramsLocked(c.status)
	if c.machineDetection != "" && c.Direction != "inbound" {
		p.Set("AnsweredBy", c.answeredByLocked())
	}
	c.mu.Unlock()
	for k, vs := range extra {
		p[k] = vs
	}
	resp, err := c.s.send(method, u, p)
	if err == nil && resp.Status/100 != 2 {
		err = fmt.Errorf("answered %d: %s", resp.Status, resp.Body)
	}
	if err != nil {
		err = fmt.Errorf("twiliotest: %s %s: %w", method, u, err)
		c.appError(err)
		return nil, "", err
	}
	verbs, err := c.parse(string(resp.Body))
	if err != nil {
		err = fmt.Errorf("twiliotest: TwiML from %s: %w", u, err)
		c.appError(err)
		return nil, "", err
	}
	return verbs, u, nil
}

// parse reads a TwiML document and records it.
func (c *Call) parse(doc string) ([]Verb, error) {
	c.mu.Lock()
	c.docs = append(c.docs, doc)
	c.mu.Unlock()
	return ParseTwiML([]byte(doc))
}

// appError records err and ends the call, as Twilio hangs up on a
// document it cannot fetch or read.
func (c *Call) appError(err error) {
	c.addError(err)
	c.end("completed")
}

func (c *Call) addError(err error) {
	c.mu.Lock()
	c.errs = append(c.errs, err)
	c.notifyLocked()
	c.mu.Unlock()
}

// run executes verbs (from the document at base) until the call waits for
// the caller or is over. The caller holds c.drive.
func (c *Call) run(verbs []Verb, base string) {
	for {
		if final(c.Status()) {
			return
		}
		if len(verbs) == 0 {
			c.end("completed") // the end of a document hangs up
			return
		}
		v := verbs[0]
		verbs = verbs[1:]
		switch v.XMLName.Local {
		case "Say", "Play", "Pause":
			c.prompt(v)
		case "Gather", "Record":
			if v.XMLName.Local == "Gather" {
				for _, p := range v.Children {
					c.prompt(p)
				}
			}
			action, err := resolve(base, v.Attr("action"))
			if err != nil {
				c.appError(err)
				return
			}
			c.mu.Lock()
			c.wait = &pending{verb: v, action: action, method: methodOr(v.Attr("method")), rest: verbs, base: base}
			c.notifyLocked()
			c.mu.Unlock()
			return
		case "Dial":
			var next []Verb
			if next, base = c.dial(v, base); next == nil {
				if final(c.Status()) {
					return
				}
				continue // no action: carry on after the Dial
			}
			verbs = next
		case "Redirect":
			target, err := resolve(base, strings.TrimSpace(v.Text))
			if err != nil {
				c.appError(err)
				return
			}
			next, nbase, err := c.fetch(methodOr(v.Attr("method")), target, nil)
			if err != nil {
				return
			}
			verbs, base = next, nbase
		case "Hangup", "Reject":
			c.end("completed")
			return
		default:
			c.appError(fmt.Errorf("twiliotest: unsupported TwiML verb <%s>", v.XMLName.Local))
			return
		}
	}
}

// prompt records what a Say or Play in the call made the caller hear.
func (c *Call) prompt(v Verb) {
	text := strings.TrimSpace(v.Text)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch v.XMLName.Local {
	case "Say":
		c.said = append(c.said, text)
	case "Play":
		if text != "" {
			c.played = append(c.played, text)
		}
	}
	c.notifyLocked()
}

// dial records who a Dial calls; the dialled party picks up and hangs up
// at once. With an action it returns the TwiML the action answers (nil
// after an error), else nil and the call carries on after the Dial.
func (c *Call) dial(v Verb, base string) ([]Verb, string) {
	var targets []string
	for _, n := range v.Children {
		switch n.XMLName.Local {
		case "Number", "Sip", "Client":
			targets = append(targets, strings.TrimSpace(n.Text))
		}
	}
	if t := strings.TrimSpace(v.Text); t != "" {
		targets = append(targets, t)
	}
	c.mu.Lock()
	c.dialled = append(c.dialled, targets...)
	c.notifyLocked()
	c.mu.Unlock()
	if v.Attr("action") == "" {
		return nil, base
	}
	action, err := resolve(base, v.Attr("action"))
	if err != nil {
		c.appError(err)
		return nil, base
	}
	verbs, nbase, err := c.fetch(methodOr(v.Attr("method")), action, url.Values{
		"DialCallStatus": {"completed"}, "DialCallSid": {newSid("CA")}, "DialCallDuration": {"1"},
	})
	if err != nil {
		return nil, base
	}
	if verbs == nil {
		verbs = []Verb{} // an empty document: the call ends
	}
	return verbs, nbase
}

// Press answers the waiting Gather with DTMF digits, as Twilio collects
// them: up to numDigits, stopping at finishOnKey (# unless set), then
// follows the TwiML the action answers until the call waits again or ends.
func (c *Call) Press(digits string) error {
	return c.answerGather("dtmf", func(g Verb) url.Values {
		finish := "#"
		if g.HasAttr("finishOnKey") {
			finish = g.Attr("finishOnKey")
		}
		max, _ := strconv.Atoi(g.Attr("numDigits"))
		var got strings.Builder
		p := url.Values{}
		for _, d := range digits {
			if finish != "" && strings.ContainsRune(finish, d) {
				p.Set("FinishedOnKey", string(d))
				break
			}
			got.WriteRune(d)
			if max > 0 && got.Len() == max {
				break
			}
		}
		p.Set("Digits", got.String())
		return p
	})
}

// Speak answers the waiting Gather with recognised speech.
func (c *Call) Speak(text string) error {
	return c.answerGather("speech", func(Verb) url.Values {
		return url.Values{"SpeechResult": {text}, "Confidence": {"0.9335543"}}
	})
}

func (c *Call) answerGather(input string, params func(Verb) url.Values) error {
	c.drive.Lock()
	defer c.drive.Unlock()
	w, err := c.take("Gather")
	if err != nil {
		return err
	}
	inputs := strings.Fields(w.verb.Attr("input"))
	if len(inputs) == 0 {
		inputs = []string{"dtmf"}
	}
	if !slices.Contains(inputs, input) {
		c.restore(w)
		return fmt.Errorf("twiliotest: call %s: the Gather listens for %v, not %s", c.Sid, inputs, input)
	}
	verbs, base, err := c.fetch(w.method, w.action, params(w.verb))
	if err != nil {
		return err
	}
	c.run(verbs, base)
	return nil
}

// Timeout lets the waiting Gather or Record time out with no input: a
// Gather with actionOnEmptyResult posts an empty result to its action, any
// other falls through to the verbs after it, as Twilio does.
func (c *Call) Timeout() error {
	c.drive.Lock()
	defer c.drive.Unlock()
	w, err := c.take("")
	if err != nil {
		return err
	}
	if w.verb.XMLName.Local == "Gather" && w.verb.Attr("actionOnEmptyResult") == "true" {
		verbs, base, err := c.fetch(w.method, w.action, nil)
		if err != nil {
			return err
		}
		c.run(verbs, base)
		return nil
	}
	c.run(w.rest, w.base)
	return nil
}

// FinishRecording ends the waiting Record with a recording of seconds and
// posts it to the Record's action.
func (c *Call) FinishRecording(seconds int) error {
	c.drive.Lock()
	defer c.drive.Unlock()
	w, err := c.take("Record")
	if err != nil {
		return err
	}
	verbs, base, err := c.fetch(w.method, w.action, c.recording(seconds, w.verb.Attr("finishOnKey")))
	if err != nil {
		return err
	}
	c.run(verbs, base)
	return nil
}

func (c *Call) recording(seconds int, digits string) url.Values {
	rec := newSid("RE")
	return url.Values{
		"RecordingSid":      {rec},
		"RecordingUrl":      {"https://api.twilio.com/2010-04-01/Accounts/" + c.s.AccountSID + "/Recordings/" + rec},
		"RecordingDuration": {strconv.Itoa(seconds)},
		"Digits":            {digits},
	}
}

// HangUp is the caller hanging up: a waiting Record still posts what it
// recorded (Digits=hangup), then the call completes.
func (c *Call) HangUp() error {
	c.drive.Lock()
	defer c.drive.Unlock()
	c.mu.Lock()
	if final(c.status) {
		c.mu.Unlock()
		return fmt.Errorf("twiliotest: call %s is already over (%s)", c.Sid, c.status)
	}
	w := c.wait
	c.wait = nil
	c.mu.Unlock()
	if w != nil && w.verb.XMLName.Local == "Record" {
		if resp, err := c.s.send(w.method, w.action, c.withCallParams(c.recording(1, "hangup"))); err != nil {
			c.addError(err)
		} else if resp.Status/100 != 2 {
			c.addError(fmt.Errorf("record action after hangup: answered %d", resp.Status))
		}
	}
	c.end("completed")
	return nil
}

func (c *Call) withCallParams(extra url.Values) url.Values {
	c.mu.Lock()
	p := c.paramsLocked(c.status)
	c.mu.Unlock()
	for k, vs := range extra {
		p[k] = vs
	}
	return p
}

// take removes the pending verb of kind ("" for either).
func (c *Call) take(kind string) (*pending, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.wait
	if final(c.status) {
		return nil, fmt.Errorf("twiliotest: call %s is over (%s)", c.Sid, c.status)
	}
	if w == nil || (kind != "" && w.verb.XMLName.Local != kind) {
		want := kind
		if want == "" {
			want = "Gather or Record"
		}
		return nil, fmt.Errorf("twiliotest: call %s is not waiting on a %s", c.Sid, want)
	}
	c.wait = nil
	return w, nil
}

func (c *Call) restore(w *pending) {
	c.mu.Lock()
	c.wait = w
	c.mu.Unlock()
}

// paramsLocked are the parameters of every request about the call.
func (c *Call) paramsLocked(status string) url.Values {
	return url.Values{
		"AccountSid": {c.s.AccountSID}, "ApiVersion": {"2010-04-01"}, "CallSid": {c.Sid}, "CallStatus": {status},
		"Direction": {c.Direction}, "From": {c.From}, "To": {c.To}, "Caller": {c.From}, "Called": {c.To},
	}
}

func (c *Call) answeredByLocked() string {
	if c.outcome == AnswerMachine {
		return "machine_start"
	}
	return "human"
}

func (c *Call) durationLocked() int {
	if c.answeredAt.IsZero() {
		return 0
	}
	end := c.endedAt
	if end.IsZero() {
		end = time.Now()
	}
	return int(end.Sub(c.answeredAt) / time.Second)
}

func (c *Call) setStatus(s string) {
	c.mu.Lock()
	c.status = s
	c.notifyLocked()
	c.mu.Unlock()
}

func (c *Call) setStatusIf(from, to string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status != from {
		return false
	}
	c.status = to
	c.notifyLocked()
	return true
}

func (c *Call) notify() {
	c.mu.Lock()
	c.notifyLocked()
	c.mu.Unlock()
}

func (c *Call) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// waitFor waits until cond (called with c.mu held) holds, the timeout
// passes (0: no timeout) or the server closes; it reports whether cond held.
func (c *Call) waitFor(timeout time.Duration, cond func() bool) bool {
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	for {
		c.mu.Lock()
		ok, ch := cond(), c.changed
		c.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-deadline:
			return false
		case <-c.s.closed:
			return false
		}
	}
}

// errCallOver is returned by the waits when the call ended first.
var errCallOver = errors.New("the call is over")

// WaitGather waits until the call waits on a Gather.
func (c *Call) WaitGather(timeout time.Duration) error { return c.waitVerb("Gather", timeout) }

// WaitRecord waits until the call waits on a Record.
func (c *Call) WaitRecord(timeout time.Duration) error { return c.waitVerb("Record", timeout) }

func (c *Call) waitVerb(kind string, timeout time.Duration) error {
	c.waitFor(timeout, func() bool {
		return final(c.status) || (c.wait != nil && c.wait.verb.XMLName.Local == kind)
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.wait != nil && c.wait.verb.XMLName.Local == kind:
		return nil
	case final(c.status):
		return fmt.Errorf("twiliotest: call %s: waiting for a %s: %w (%s; errors %v)", c.Sid, kind, errCallOver, c.status, c.errs)
	}
	return fmt.Errorf("twiliotest: call %s: no %s within %v (status %s, errors %v)", c.Sid, kind, timeout, c.status, c.errs)
}

// WaitEnded waits until the call is over, its completed status callback
// answered, and returns its final status.
func (c *Call) WaitEnded(timeout time.Duration) (string, error) {
	if !c.waitFor(timeout, func() bool { return c.settled }) {
		return c.Status(), fmt.Errorf("twiliotest: call %s still %s after %v", c.Sid, c.Status(), timeout)
	}
	return c.Status(), nil
}

// WaitStatus waits until the call's status is status (for a final one,
// until its callback was answered too).
func (c *Call) WaitStatus(status string, timeout time.Duration) error {
	if !c.waitFor(timeout, func() bool { return c.status == status && (!final(status) || c.settled) }) {
		return fmt.Errorf("twiliotest: call %s is %s, not %s, after %v", c.Sid, c.Status(), status, timeout)
	}
	return nil
}

// Status is the call's status as Twilio names it.
func (c *Call) Status() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// Waiting names the verb the call waits on: "Gather", "Record" or "".
func (c *Call) Waiting() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wait == nil {
		return ""
	}
	return c.wait.verb.XMLName.Local
}

// Said returns the text of every Say the caller heard, in order.
func (c *Call) Said() []string { return c.list(func() []string { return c.said }) }

// Played returns the URL of every Play, in order.
func (c *Call) Played() []string { return c.list(func() []string { return c.played }) }

// Dialled returns every number, SIP URI or client a Dial called, in order.
func (c *Call) Dialled() []string { return c.list(func() []string { return c.dialled }) }

// Documents returns every TwiML document the call executed, as received.
func (c *Call) Documents() []string { return c.list(func() []string { return c.docs }) }

func (c *Call) list(f func() []string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), f()...)
}

// StatusCallbacks returns the status callbacks posted, in order.
func (c *Call) StatusCallbacks() []url.Values {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]url.Values(nil), c.callbacks...)
}

// Errors returns what went wrong on the application's side: requests that
// failed or were answered with an error, TwiML that does not parse.
func (c *Call) Errors() []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]error(nil), c.errs...)
}

func final(status string) bool {
	switch status {
	case "completed", "busy", "no-answer", "failed", "canceled":
		return true
	}
	return false
}

func methodOr(m string) string {
	if strings.EqualFold(m, http.MethodGet) {
		return http.MethodGet
	}
	return http.MethodPost
}

// resolve makes a verb's URL absolute against the document's, as Twilio
// does; an empty one means the document's own URL.
func resolve(base, ref string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("twiliotest: document URL %q: %w", base, err)
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("twiliotest: TwiML URL %q: %w", ref, err)
	}
	return b.ResolveReference(r).String(), nil
}

// send makes a signed request to the application: a form POST, or a GET
// with the parameters in the query string, where the signature covers the
// URL alone.
func (s *Server) send(method, u string, params url.Values) (*WebhookResponse, error) {
	if method != http.MethodGet {
		return s.Deliver(Webhook{URL: u, Params: params})
	}
	full, err := url.Parse(u)
	if err != nil {
		return nil, err
	}
	q := full.Query()
	for k, vs := range params {
		q[k] = append(q[k], vs...)
	}
	full.RawQuery = q.Encode()
	w := Webhook{URL: full.String()}
	req, err := http.NewRequest(http.MethodGet, w.URL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	req.Header.Set("X-Twilio-Signature", w.Signature(s.AuthToken))
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &WebhookResponse{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: body}, nil
}
