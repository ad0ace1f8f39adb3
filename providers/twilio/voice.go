package twilio

import (
	"context"
	"net/http"
	"net/url"

	twapi "github.com/twilio/twilio-go/rest/api/v2010"

	sb "github.com/switchboardhq/switchboard"
)

// statusCallbackEvents are the call progress events we ask Twilio to post:
// every step of the lifecycle, not only the default "completed".
var statusCallbackEvents = []string{"initiated", "ringing", "answered", "completed"}

// CallRequest places one outbound call through Twilio's Calls API.
type CallRequest struct {
	To, From string
	// URL is our voice webhook: Twilio posts to it once the call is
	// answered and executes the TwiML it answers.
	URL string
	// StatusCallback receives the call's progress events; "" asks for none.
	StatusCallback string
	// Timeout is how many seconds to let the phone ring (0: Twilio's 60).
	Timeout int
	// Record records the whole call.
	Record bool
	// MachineDetection is Twilio's answering-machine detection mode
	// ("Enable" or "DetectMessageEnd"); "" leaves it off.
	MachineDetection string
}

// PlaceCall asks Twilio to place r and returns the call's SID. Errors are
// *sb.ProviderError classed as for message sends: a bad number is
// permanent, a rate limit or an outage transient. As with messages there
// is no idempotency key: a call retried after a timeout may ring twice.
func (c *Client) PlaceCall(ctx context.Context, r CallRequest) (string, error) {
	if r.To == "" || r.From == "" || r.URL == "" {
		return "", &sb.ProviderError{Code: "invalid_request", Message: "a call needs To, From and a webhook URL", Permanent: true}
	}
	if c.baseErr != nil {
		return "", &sb.ProviderError{Code: "config", Message: c.baseErr.Error(), Permanent: true}
	}
	p := &twapi.CreateCallParams{}
	p.SetTo(r.To).SetFrom(r.From).SetUrl(r.URL).SetMethod(http.MethodPost)
	if r.StatusCallback != "" {
		p.SetStatusCallback(r.StatusCallback).SetStatusCallbackEvent(statusCallbackEvents).SetStatusCallbackMethod(http.MethodPost)
	}
	if r.Timeout > 0 {
		p.SetTimeout(r.Timeout)
	}
	if r.Record {
		p.SetRecord(true)
	}
	if r.MachineDetection != "" {
		p.SetMachineDetection(r.MachineDetection)
	}
	call := c.newCall(ctx)
	defer call.cancel()
	res, err := call.api.CreateCall(p)
	if err != nil {
		return "", sendError(err, call.exchange, c.now())
	}
	if res.Sid == nil || *res.Sid == "" {
		return "", &sb.ProviderError{Code: "bad_response", Message: "Twilio accepted the call but returned no sid", Permanent: true}
	}
	return *res.Sid, nil
}

// HangupCall ends call sid whatever its state: Twilio hangs up a live call
// and cancels one still queued or ringing.
func (c *Client) HangupCall(ctx context.Context, sid string) error {
	return c.updateCall(ctx, sid, (&twapi.UpdateCallParams{}).SetStatus("completed"))
}

// RedirectCall makes live call sid fetch its next TwiML from u (a POST):
// how we push new instructions into a call that is not waiting on us, to
// hang up from the API or to bridge it.
func (c *Client) RedirectCall(ctx context.Context, sid, u string) error {
	if u == "" {
		return &sb.ProviderError{Code: "invalid_request", Message: "a redirect needs a URL", Permanent: true}
	}
	return c.updateCall(ctx, sid, (&twapi.UpdateCallParams{}).SetUrl(u).SetMethod(http.MethodPost))
}

func (c *Client) updateCall(ctx context.Context, sid string, p *twapi.UpdateCallParams) error {
	if sid == "" {
		return &sb.ProviderError{Code: "invalid_request", Message: "no call sid", Permanent: true}
	}
	if c.baseErr != nil {
		return &sb.ProviderError{Code: "config", Message: c.baseErr.Error(), Permanent: true}
	}
	call := c.newCall(ctx)
	defer call.cancel()
	if _, err := call.api.UpdateCall(sid, p); err != nil {
		return sendError(err, call.exchange, c.now())
	}
	return nil
}

// VoiceRequest is one request Twilio made to our voice webhook: the call
// answered (or ringing in), a Gather, Record or Dial result, or a status
// callback. Fields a request does not carry are empty.
type VoiceRequest struct {
	CallSid, AccountSid, From, To string
	Direction                     string // inbound, outbound-api, outbound-dial
	CallStatus                    string // Twilio's name; map it with CallStatus
	Digits                        string // Gather: DTMF, the finish key stripped ("hangup" from Record)
	SpeechResult, Confidence      string // Gather: recognised speech
	RecordingURL                  string // Record
	RecordingDuration             string // Record, seconds
	CallDuration                  string // status callback of a finished call, seconds
	AnsweredBy                    string // machine detection: human, machine_start, fax, unknown…
	DialCallStatus                string // Dial action: the dialled leg's outcome
	ErrorCode, ErrorMessage       string
	ParentCallSid                 string
}

// ParseVoiceRequest verifies and reads one voice webhook or call status
// callback. The X-Twilio-Signature header is checked exactly as for
// messaging webhooks (publicURL as Twilio called it, query string
// included, and every form parameter): a request that does not verify
// yields sb.ErrForged.
func (c *Client) ParseVoiceRequest(r *http.Request, body []byte, publicURL string) (VoiceRequest, error) {
	var params, signed url.Values
	var perr error
	if r.Method == http.MethodGet {
		u, err := url.Parse(publicURL)
		if err != nil {
			return VoiceRequest{}, sb.ErrForged
		}
		params, perr = url.ParseQuery(u.RawQuery)
		signed = url.Values{}
	} else {
		params, perr = url.ParseQuery(string(body))
		signed = params
	}
	if !c.signatureValid(r.Header.Get("X-Twilio-Signature"), publicURL, signed) {
		return VoiceRequest{}, sb.ErrForged
	}
	if perr != nil {
		return VoiceRequest{}, sb.Errorf(sb.EINVALID, "twilio voice webhook: malformed form body: %v", perr)
	}
	v := VoiceRequest{
		CallSid:           params.Get("CallSid"),
		AccountSid:        params.Get("AccountSid"),
		From:              params.Get("From"),
		To:                params.Get("To"),
		Direction:         params.Get("Direction"),
		CallStatus:        params.Get("CallStatus"),
		Digits:            params.Get("Digits"),
		SpeechResult:      params.Get("SpeechResult"),
		Confidence:        params.Get("Confidence"),
		RecordingURL:      params.Get("RecordingUrl"),
		RecordingDuration: params.Get("RecordingDuration"),
		CallDuration:      params.Get("CallDuration"),
		AnsweredBy:        params.Get("AnsweredBy"),
		DialCallStatus:    params.Get("DialCallStatus"),
		ErrorCode:         params.Get("ErrorCode"),
		ErrorMessage:      params.Get("ErrorMessage"),
		ParentCallSid:     params.Get("ParentCallSid"),
	}
	if v.CallSid == "" {
		return VoiceRequest{}, sb.Errorf(sb.EINVALID, "twilio voice webhook: no CallSid")
	}
	return v, nil
}

// callStatuses maps Twilio's call statuses, those of the REST resource and
// those status callbacks report, to ours.
var callStatuses = map[string]sb.CallStatus{
	"queued":      sb.CallQueued,
	"initiated":   sb.CallQueued, // Twilio started dialling; not ringing yet
	"ringing":     sb.CallRinging,
	"in-progress": sb.CallInProgress,
	"answered":    sb.CallInProgress, // the event's name, in case a status carries it
	"completed":   sb.CallCompleted,
	"busy":        sb.CallBusy,
	"no-answer":   sb.CallNoAnswer,
	"failed":      sb.CallFailed,
	"canceled":    sb.CallCanceled,
}

// CallStatus maps a Twilio call status to ours; false for one we do not
// know.
func CallStatus(twilioStatus string) (sb.CallStatus, bool) {
	s, ok := callStatuses[twilioStatus]
	return s, ok
}
