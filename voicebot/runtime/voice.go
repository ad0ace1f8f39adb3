package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/routing"
	"github.com/switchboardhq/switchboard/voicebot"
	"github.com/switchboardhq/switchboard/webhook"
)

// The sandbox telephone's magic numbers (documented in the README): the
// message ones keep their meaning where it carries over.
const (
	SandboxCallFailed   = "+15005550001" // the number does not exist: failed
	SandboxCallBusy     = "+15005550003" // busy
	SandboxCallNoAnswer = "+15005550004" // rings out: no-answer
)

// DefaultRingTimeout is how long a call rings before no-answer, in seconds.
const DefaultRingTimeout = 30

// PlaceRequest is an outbound call to place.
type PlaceRequest struct {
	AccountID         string
	Channel           sb.Channel // voice (default) | webrtc
	To                string     // an address on Channel, or
	CustomerID        string     // a customer
	From              string
	FlowID            string          // a stored flow (its latest version), or
	Flow              json.RawMessage // an inline flow
	StatusCallbackURL string
	Record            bool
	Timeout           int
	MachineDetection  string
	ParentCallID      string
	CallbackID        string
	// ringHere: the caller rings the call itself, after registering who
	// waits for it (browser calls bridged in this process); no dial task.
	ringHere bool
}

// Place stores an outbound call, attached to its customer and
// conversation, and hands it to the workers to dial.
func (r *Runtime) Place(ctx context.Context, req PlaceRequest) (*sb.Call, error) {
	c := &sb.Call{AccountID: req.AccountID, Direction: sb.CallOutbound, Channel: req.Channel, StatusCallbackURL: req.StatusCallbackURL,
		Record: req.Record, Timeout: req.Timeout, MachineDetection: req.MachineDetection, ParentCallID: req.ParentCallID, CallbackID: req.CallbackID}
	if c.Channel == "" {
		c.Channel = sb.ChannelVoice
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultRingTimeout
	}
	switch {
	case req.FlowID != "":
		rec, err := r.store.GetFlow(ctx, req.AccountID, req.FlowID, 0)
		if sb.ErrorCode(err) == sb.ENOTFOUND {
			return nil, sb.Invalid(sb.FieldError{Field: "flow_id", Message: "no flow " + req.FlowID + " in this account"})
		}
		if err != nil {
			return nil, err
		}
		c.FlowID, c.FlowVersion = rec.ID, rec.Version
	case len(req.Flow) > 0:
		if _, err := ParseFlow(req.Flow, "flow"); err != nil {
			return nil, err
		}
		c.Flow = req.Flow
	}
	var created *sb.Call
	err := routing.Retry(ctx, func() error {
		route, err := r.router.Call(ctx, routing.CallRequest{AccountID: req.AccountID, Channel: c.Channel, Address: req.To,
			CustomerID: req.CustomerID, Ours: req.From, Direction: sb.Outbound})
		if err != nil {
			return err
		}
		r.enqueueWebhooks(ctx, route.Deliveries)
		c.To, c.From, c.CustomerID, c.ConversationID = route.Address, route.From, route.CustomerID, route.ConversationID
		c.Provider, c.ChannelID = route.Provider, route.ChannelID
		if c.Provider != sb.ProviderSandbox && c.From == "" {
			return sb.Invalid(sb.FieldError{Field: "from", Message: "is required: the account has no default voice number"})
		}
		var hooks []string
		created, hooks, err = r.store.CreateCall(ctx, c)
		r.enqueueWebhooks(ctx, hooks)
		return err
	})
	if err != nil {
		return nil, err
	}
	if req.ringHere {
		return created, nil
	}
	if err := r.queue.EnqueueDial(ctx, created.AccountID, created.ID); err != nil {
		// Accepted is accepted: the sweeper dials calls whose task was lost.
		r.log.WarnContext(ctx, "enqueue dial; the sweeper will dial the call", "call_id", created.ID, "err", err)
	}
	return created, nil
}

// update applies u to c and announces a status change; c is replaced by
// the stored call.
func (r *Runtime) update(ctx context.Context, c *sb.Call, u sb.CallUpdate) (*sb.Call, bool, error) {
	if u.At.IsZero() {
		u.At = r.now()
	}
	nc, changed, hooks, err := r.store.UpdateCall(ctx, c.AccountID, c.ID, u)
	r.enqueueWebhooks(ctx, hooks)
	if err != nil {
		return c, false, err
	}
	return nc, changed, nil
}

// Dial places a queued call: on the sandbox telephone, or through the
// provider of the connected channel carrying it. A provider's transient
// error is returned for the queue to retry; a permanent one fails the call.
func (r *Runtime) Dial(ctx context.Context, accountID, callID string) error {
	c, err := r.store.GetCall(ctx, accountID, callID)
	if err != nil {
		return err
	}
	if c.Status != sb.CallQueued || c.ProviderCallID != "" {
		return nil // dialled already (a retried task)
	}
	switch c.Provider {
	case sb.ProviderSandbox:
		_, err := r.dialSandbox(ctx, c)
		return err
	case sb.ProviderWebRTC:
		_, err := r.ring(ctx, c) // the browser answers by itself
		return err
	}
	ch, err := r.store.LoadChannel(ctx, c.ChannelID)
	if err != nil {
		return err
	}
	pid, err := r.phones.PlaceCall(ctx, ch, c, r.urls(ch, c.ID))
	var pe *sb.ProviderError
	if errors.As(err, &pe) && pe.Permanent {
		_, _, err = r.update(ctx, c, sb.CallUpdate{Status: sb.CallFailed, ErrorCode: pe.Code, ErrorMessage: pe.Message, HangupBy: sb.HangupSystem})
		return err
	}
	if err != nil {
		return err
	}
	_, _, err = r.update(ctx, c, sb.CallUpdate{ProviderCallID: pid})
	return err
}

// urls are the provider's webhooks for call id on channel ch.
func (r *Runtime) urls(ch *sb.ConnectedChannel, callID string) CallURLs {
	base := strings.TrimRight(r.cfg.PublicURL, "/") + "/hooks/" + ch.ID + "/" + ch.HookSecret + "/voice"
	q := "?call=" + url.QueryEscape(callID)
	return CallURLs{Voice: base + q + "&event=answer", Status: base + q + "&event=status"}
}

// dialSandbox plays the far end of a sandbox call: the magic numbers
// fail, are busy or ring out; anyone else answers at once.
func (r *Runtime) dialSandbox(ctx context.Context, c *sb.Call) (*Outcome, error) {
	if c.To == SandboxCallFailed {
		c, _, err := r.update(ctx, c, sb.CallUpdate{Status: sb.CallFailed, ErrorCode: "invalid-number",
			ErrorMessage: "the sandbox telephone knows no such number", HangupBy: sb.HangupSystem})
		return &Outcome{Call: c}, err
	}
	c, _, err := r.update(ctx, c, sb.CallUpdate{Status: sb.CallRinging})
	if err != nil {
		return nil, err
	}
	switch c.To {
	case SandboxCallBusy:
		c, _, err = r.update(ctx, c, sb.CallUpdate{Status: sb.CallBusy})
		return &Outcome{Call: c}, err
	case SandboxCallNoAnswer:
		c, _, err = r.update(ctx, c, sb.CallUpdate{Status: sb.CallNoAnswer})
		return &Outcome{Call: c}, err
	}
	u := sb.CallUpdate{Status: sb.CallInProgress}
	if c.MachineDetection != "" {
		u.AnsweredBy = "human"
	}
	if c, _, err = r.update(ctx, c, u); err != nil {
		return nil, err
	}
	return r.start(ctx, c)
}

// start runs the call's flow from its first step, in a new session. A
// call without a flow (a bridged leg) just stays up.
func (r *Runtime) start(ctx context.Context, c *sb.Call) (*Outcome, error) {
	bs, err := r.openSession(ctx, c)
	if err != nil || bs == nil {
		return &Outcome{Call: c}, err
	}
	if c, _, err = r.update(ctx, c, sb.CallUpdate{SessionID: bs.ID}); err != nil {
		return nil, err
	}
	out, err := r.advance(ctx, c.AccountID, bs.ID, voicebot.Input{Kind: voicebot.InputStart}, turnOpts{})
	if out != nil && out.Call == nil {
		out.Call = c
	}
	return out, err
}

// openSession stores a session at the start of the call's flow; nil when
// the call runs none.
func (r *Runtime) openSession(ctx context.Context, c *sb.Call) (*sb.BotSession, error) {
	var flow *voicebot.Flow
	var err error
	switch {
	case c.FlowID != "":
		flow, err = r.storedFlow(ctx, c.AccountID, c.FlowID, c.FlowVersion)
	case len(c.Flow) > 0:
		flow, err = ParseFlow(c.Flow, "flow")
	default:
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("call %s flow: %w", c.ID, err)
	}
	customer, ours := c.To, c.From
	if c.Direction == sb.CallInbound {
		customer, ours = c.From, c.To
	}
	return r.newSession(ctx, &sb.BotSession{AccountID: c.AccountID, CustomerID: c.CustomerID, ConversationID: c.ConversationID,
		FlowID: c.FlowID, FlowVersion: c.FlowVersion, CallID: c.ID, Channel: c.Channel, ChannelID: c.ChannelID,
		Address: customer, Sender: ours}, flow, c.Flow)
}

// performVoice carries out a turn on a call. A provider's call gets the
// turn rendered into its webhook's answer by the caller; the sandbox
// telephone is driven here: prompts are rendered to audio, waits get a
// timer, and the end of the flow hangs up.
func (r *Runtime) performVoice(ctx context.Context, out *Outcome, st *state) error {
	bs := out.Session
	c, err := r.store.GetCall(ctx, bs.AccountID, bs.CallID)
	if err != nil {
		return err
	}
	out.Call = c
	if c.Status.Final() || out.Turn.Suspended {
		return nil
	}
	if c.Provider != sb.ProviderSandbox {
		// The provider performs the turn from its webhook's answer; a turn
		// that ends the flow ends in a hangup, so the call's end is ours.
		if out.Turn.Ended && out.Input.Kind != voicebot.InputHangup && !transfers(out.Turn, c.Provider) {
			out.Call, _, err = r.update(ctx, c, sb.CallUpdate{HangupBy: sb.HangupBot})
		}
		return err
	}
	bridged := false
	for _, a := range out.Turn.Actions {
		switch a.Type {
		case voicebot.ActSay:
			if r.cfg.Speaker != nil {
				if _, err := r.cfg.Speaker.Speak(ctx, a.Text, a.Voice, a.Language); err != nil {
					r.log.WarnContext(ctx, "render prompt", "call_id", c.ID, "err", err)
				}
			}
		case voicebot.ActTransfer:
			if err := r.bridge(ctx, c, a.To); err != nil {
				return err
			}
			bridged = true
		}
	}
	switch {
	case out.Turn.Waiting:
		at := r.now().Add(st.Timeout)
		if err := r.queue.EnqueueBotTimeout(ctx, bs.AccountID, bs.ID, bs.Seq, at); err != nil {
			r.log.WarnContext(ctx, "schedule the bot's timeout", "session_id", bs.ID, "err", err)
		}
	case out.Turn.Ended && !bridged:
		out.Call, _, err = r.update(ctx, c, sb.CallUpdate{Status: sb.CallCompleted, HangupBy: sb.HangupBot})
		return err
	}
	return nil
}

// transfers reports whether a turn hands a call carried by provider to
// someone else: the call goes on, bridged, and whoever hangs up later ends
// it. Only browser calls bridge to browsers; a phone call's transfer to one
// is the bot hanging up.
func transfers(t voicebot.Turn, provider string) bool {
	for _, a := range t.Actions {
		if a.Type == voicebot.ActTransfer && (provider == sb.ProviderWebRTC || !voicebot.BrowserTarget(a.To)) {
			return true
		}
	}
	return false
}

// bridge dials the transfer target from a sandbox call: a second leg,
// linked to the first, that the sandbox telephone answers (or not, for
// the magic numbers). The first leg stays up, bridged, until either
// hangs up.
func (r *Runtime) bridge(ctx context.Context, c *sb.Call, to string) error {
	if strings.HasPrefix(to, "sip:") || voicebot.BrowserTarget(to) {
		// No SIP on the sandbox telephone, and no media path from it to a
		// browser: the flow ends there.
		_, _, err := r.update(ctx, c, sb.CallUpdate{Status: sb.CallCompleted, HangupBy: sb.HangupBot})
		return err
	}
	leg, err := r.Place(ctx, PlaceRequest{AccountID: c.AccountID, Channel: c.Channel, To: to, From: c.From,
		ParentCallID: c.ID, CallbackID: c.CallbackID, StatusCallbackURL: c.StatusCallbackURL})
	if err != nil {
		return fmt.Errorf("transfer %s to %s: %w", c.ID, to, err)
	}
	r.log.InfoContext(ctx, "bridging", "call_id", c.ID, "leg_id", leg.ID, "to", to)
	return nil
}

// legEnded finishes what depended on a call that reached a final status:
// its bot session hears the hangup (and suspends, if the flow resumes
// elsewhere), and the legs bridged with it hang up too.
func (r *Runtime) legEnded(ctx context.Context, c *sb.Call) error {
	if c.SessionID != "" {
		bs, err := r.store.GetSession(ctx, c.AccountID, c.SessionID)
		if err != nil {
			return err
		}
		if bs.Status != sb.SessionEnded && bs.Status != sb.SessionSuspended && bs.CallID == c.ID {
			_, err := r.advance(ctx, c.AccountID, bs.ID, voicebot.Input{Kind: voicebot.InputHangup}, turnOpts{})
			if err != nil && sb.ErrorCode(err) != sb.EEXISTS {
				return err
			}
		}
	}
	var linked []*sb.Call
	if c.ParentCallID != "" {
		if p, err := r.store.GetCall(ctx, c.AccountID, c.ParentCallID); err == nil {
			linked = append(linked, p)
		}
	}
	legs, _, err := r.store.ListCalls(ctx, c.AccountID, sb.CallFilter{ParentCallID: c.ID, Limit: 50})
	if err != nil {
		return err
	}
	linked = append(linked, legs...)
	// The linked legs lost their far end: "caller", unless an agent, the
	// API or the system (an error, a shutdown) ended the pair.
	by := sb.HangupCaller
	switch c.HangupBy {
	case sb.HangupAgent, sb.HangupAPI, sb.HangupSystem:
		by = c.HangupBy
	}
	for _, l := range linked {
		if !l.Status.Final() {
			if _, err := r.Hangup(ctx, l.AccountID, l.ID, by); err != nil {
				return err
			}
		}
	}
	return nil
}

// Hangup ends a call: at once on the sandbox telephone; through the
// provider otherwise (its status callback then completes the call).
func (r *Runtime) Hangup(ctx context.Context, accountID, callID, by string) (*sb.Call, error) {
	c, err := r.store.GetCall(ctx, accountID, callID)
	if err != nil {
		return nil, err
	}
	if c.Status.Final() {
		return c, nil
	}
	r.live.stop(c.ID) // a live line's driver stops and its line closes
	if c.Provider != sb.ProviderSandbox && c.Provider != sb.ProviderWebRTC && c.ProviderCallID != "" {
		ch, err := r.store.LoadChannel(ctx, c.ChannelID)
		if err != nil {
			return nil, err
		}
		if err := r.phones.HangupCall(ctx, ch, c); err != nil {
			return nil, sb.Errorf(sb.EUNAVAILABLE, "the provider did not hang up call %s: %v", c.ID, err)
		}
		// The provider confirmed; its status callback, if the number has
		// one, then only repeats what we record here.
	}
	status := sb.CallCompleted
	if c.Status != sb.CallInProgress {
		status = sb.CallCanceled
	}
	c, changed, err := r.update(ctx, c, sb.CallUpdate{Status: status, HangupBy: by})
	if err == nil && !changed && c.Status == sb.CallInProgress {
		// Answered between our read and the update: it ends completed.
		c, changed, err = r.update(ctx, c, sb.CallUpdate{Status: sb.CallCompleted, HangupBy: by})
	}
	if err != nil {
		return nil, err
	}
	if changed {
		if err := r.legEnded(ctx, c); err != nil {
			return c, err
		}
	}
	return r.store.GetCall(ctx, accountID, callID)
}

// Feed plays the caller's part on a sandbox call: digits or speech for
// the step the bot waits on.
func (r *Runtime) Feed(ctx context.Context, accountID, callID string, in voicebot.Input) (*Outcome, error) {
	c, err := r.store.GetCall(ctx, accountID, callID)
	if err != nil {
		return nil, err
	}
	if c.Provider != sb.ProviderSandbox {
		return nil, sb.Errorf(sb.EEXISTS, "call %s is carried by %s: only its real caller can answer", c.ID, c.Provider)
	}
	if c.Status != sb.CallInProgress {
		return nil, sb.Errorf(sb.EEXISTS, "call %s is %s, not in-progress", c.ID, c.Status)
	}
	if c.SessionID == "" {
		return nil, sb.Errorf(sb.EEXISTS, "no bot runs on call %s", c.ID)
	}
	bs, err := r.store.GetSession(ctx, accountID, c.SessionID)
	if err != nil {
		return nil, err
	}
	if bs.Status != sb.SessionWaiting || bs.CallID != c.ID {
		return nil, sb.Errorf(sb.EEXISTS, "the bot on call %s is not waiting for input", c.ID)
	}
	var st state
	if json.Unmarshal(bs.State, &st) == nil && st.Wait == voicebot.ActRecord {
		// The sandbox has no microphone: what the caller "says" at a
		// record step is the recording.
		in = voicebot.Input{Kind: voicebot.InputRecording, Value: "sandbox:recording:" + strconv.Quote(in.Value)}
	}
	out, err := r.advance(ctx, accountID, bs.ID, in, turnOpts{})
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, sb.Errorf(sb.EEXISTS, "the bot on call %s moved on", c.ID)
	}
	if out.Call == nil {
		out.Call, _ = r.store.GetCall(ctx, accountID, callID)
	}
	return out, nil
}

// InboundCallRequest is a call that arrived at one of our addresses.
type InboundCallRequest struct {
	AccountID      string
	Channel        sb.Channel
	ChannelID      string // the connected channel it came through ("" on the sandbox)
	Provider       string
	ProviderCallID string
	From, To       string
}

// InboundCall answers a call to one of our addresses with the flow it
// names (inbound_flow_id).
func (r *Runtime) InboundCall(ctx context.Context, req InboundCallRequest) (*Outcome, error) {
	if req.Channel == "" {
		req.Channel = sb.ChannelVoice
	}
	return r.inbound(ctx, req, true)
}

// storeInbound stores an inbound call to flowID's address, attached to the
// caller's customer and conversation, and moves it to in-progress.
func (r *Runtime) storeInbound(ctx context.Context, req InboundCallRequest, flowID string) (*sb.Call, error) {
	rec, err := r.store.GetFlow(ctx, req.AccountID, flowID, 0)
	if sb.ErrorCode(err) == sb.ENOTFOUND {
		return nil, sb.Invalid(sb.FieldError{Field: "to", Message: fmt.Sprintf("the inbound flow %s of %s:%s was deleted", flowID, req.Channel, req.To)})
	}
	if err != nil {
		return nil, fmt.Errorf("inbound flow %s: %w", flowID, err)
	}
	c := &sb.Call{AccountID: req.AccountID, Direction: sb.CallInbound, Channel: req.Channel, From: req.From, To: req.To,
		Provider: req.Provider, ChannelID: req.ChannelID, ProviderCallID: req.ProviderCallID, FlowID: rec.ID, FlowVersion: rec.Version,
		Timeout: DefaultRingTimeout}
	err = routing.Retry(ctx, func() error {
		route, err := r.router.Call(ctx, routing.CallRequest{AccountID: req.AccountID, Channel: req.Channel, Address: req.From,
			Ours: req.To, Direction: sb.Inbound})
		if err != nil {
			return err
		}
		r.enqueueWebhooks(ctx, route.Deliveries)
		c.CustomerID, c.ConversationID = route.CustomerID, route.ConversationID
		var hooks []string
		c, hooks, err = r.store.CreateCall(ctx, c)
		r.enqueueWebhooks(ctx, hooks)
		return err
	})
	if err != nil {
		return nil, err
	}
	if c, _, err = r.update(ctx, c, sb.CallUpdate{Status: sb.CallRinging}); err != nil {
		return nil, err
	}
	c, _, err = r.update(ctx, c, sb.CallUpdate{Status: sb.CallInProgress})
	return c, err
}

// Voice event kinds a provider's call webhook reports.
const (
	VoiceAnswer = "answer" // the call was answered (or came in): what now?
	VoiceInput  = "input"  // a gather's or record's result
	VoiceStatus = "status" // a status callback
	VoiceDial   = "dial"   // a transfer's dial ended
)

// VoiceEvent is one request of a provider's call webhook, parsed.
type VoiceEvent struct {
	Kind           string
	CallID         string // ours, from the URL we gave the provider ("" for inbound calls)
	ProviderCallID string
	From, To       string
	Inbound        bool
	Status         sb.CallStatus
	Duration       *int
	AnsweredBy     string
	ErrorCode      string
	ErrorMessage   string
	RecordingURL   string
	Input          voicebot.Input
	DialStatus     string
}

// Voice handles a provider's call webhook for channel ch and returns the
// turn to render into its answer.
func (r *Runtime) Voice(ctx context.Context, ch *sb.ConnectedChannel, ev VoiceEvent) (*Outcome, error) {
	var c *sb.Call
	var err error
	if ev.CallID != "" {
		c, err = r.store.GetCall(ctx, ch.AccountID, ev.CallID)
		if err == nil && c.ChannelID != ch.ID {
			err = sb.ErrNotFound
		}
	} else {
		c, err = r.store.FindCallByProviderID(ctx, ch.ID, ev.ProviderCallID)
	}
	if sb.ErrorCode(err) == sb.ENOTFOUND && ev.Kind == VoiceAnswer && ev.Inbound {
		return r.InboundCall(ctx, InboundCallRequest{AccountID: ch.AccountID, Channel: sb.ChannelVoice, ChannelID: ch.ID,
			Provider: ch.Type, ProviderCallID: ev.ProviderCallID, From: ev.From, To: ev.To})
	}
	if err != nil {
		return nil, err
	}
	switch ev.Kind {
	case VoiceAnswer:
		if c.Status.Final() {
			return &Outcome{Call: c, Turn: voicebot.Turn{Ended: true}}, nil
		}
		if c, _, err = r.update(ctx, c, sb.CallUpdate{Status: sb.CallInProgress, ProviderCallID: ev.ProviderCallID, AnsweredBy: ev.AnsweredBy}); err != nil {
			return nil, err
		}
		if c.SessionID != "" {
			// The provider asked again (a redirect): nothing new to say.
			return &Outcome{Call: c}, nil
		}
		return r.start(ctx, c)
	case VoiceInput:
		if c.SessionID == "" {
			return &Outcome{Call: c, Turn: voicebot.Turn{Ended: true}}, nil
		}
		out, err := r.advance(ctx, c.AccountID, c.SessionID, ev.Input, turnOpts{})
		if err != nil {
			return nil, err
		}
		if out == nil {
			return &Outcome{Call: c}, nil
		}
		return out, nil
	case VoiceDial:
		if c.SessionID != "" {
			bs, err := r.store.GetSession(ctx, c.AccountID, c.SessionID)
			if err == nil {
				err = r.store.AppendTranscript(ctx, r.transcript(bs, []voicebot.Line{{Role: sb.RoleSystem, Kind: "event",
					Text: "transfer ended: " + ev.DialStatus}}))
			}
			if err != nil {
				return nil, err
			}
		}
		return &Outcome{Call: c, Turn: voicebot.Turn{Ended: true}}, nil
	case VoiceStatus:
		u := sb.CallUpdate{Status: ev.Status, ProviderCallID: ev.ProviderCallID, Duration: ev.Duration, AnsweredBy: ev.AnsweredBy,
			ErrorCode: ev.ErrorCode, ErrorMessage: ev.ErrorMessage, RecordingURL: ev.RecordingURL}
		if ev.Status.Final() && c.HangupBy == "" {
			u.HangupBy = sb.HangupCaller
		}
		c, changed, err := r.update(ctx, c, u)
		if err != nil {
			return nil, err
		}
		if changed && c.Status.Final() {
			if err := r.legEnded(ctx, c); err != nil {
				return nil, err
			}
		}
		return &Outcome{Call: c}, nil
	}
	return nil, sb.Errorf(sb.EINVALID, "unknown voice event %q", ev.Kind)
}

// Callback calls the agent and, once they answer, the customer, and
// bridges the two (as MTS Exolve's callback does). The agent's leg runs a
// two-step flow: announce, then transfer to the customer.
func (r *Runtime) Callback(ctx context.Context, accountID, agent, customer, customerID, from, callbackURL string) (*sb.Call, error) {
	if customerID != "" {
		cu, err := r.store.GetCustomer(ctx, accountID, customerID)
		if err != nil {
			return nil, err
		}
		for _, id := range cu.Identities {
			if id.Channel.UsesPhoneNumbers() {
				customer = id.Address
				if id.Channel == sb.ChannelVoice {
					break
				}
			}
		}
		if customer == "" {
			return nil, sb.Invalid(sb.FieldError{Field: "customer.customer_id", Message: "the customer has no phone number"})
		}
	}
	flow, err := json.Marshal(map[string]any{"name": "callback", "steps": []map[string]string{
		{"id": "announce", "type": "say", "text": "Connecting you to the customer."},
		{"id": "bridge", "type": "transfer", "to": customer},
	}})
	if err != nil {
		return nil, err
	}
	return r.Place(ctx, PlaceRequest{AccountID: accountID, To: agent, From: from, Flow: flow, StatusCallbackURL: callbackURL,
		CallbackID: newCallbackID()})
}

func newCallbackID() string { return uuid.Must(uuid.NewV7()).String() }

// signer signs http steps' requests as our webhooks are signed, with the
// account's callback secret.
type signer struct{ secret string }

func (s signer) Sign(msgID string, at time.Time, body []byte) http.Header {
	h := http.Header{}
	sig, err := webhook.Sign([]string{s.secret}, msgID, at, body)
	if err != nil {
		return h
	}
	h.Set(webhook.HeaderID, msgID)
	h.Set(webhook.HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	h.Set(webhook.HeaderSignature, sig)
	return h
}

// messenger sends a flow's send_message steps to the session's customer.
type messenger struct{ r *Runtime }

func (m messenger) SendMessage(ctx context.Context, env voicebot.Env, req voicebot.MessageRequest) (string, error) {
	ch := sb.Channel(req.Channel)
	mode := "explicit"
	if ch == "" || ch == routing.ChannelAuto {
		ch, mode = routing.ChannelAuto, "auto"
	}
	var media []string
	if req.MediaURL != "" {
		media = []string{req.MediaURL}
	}
	or := routing.OutboundRequest{AccountID: env.AccountID, Channel: ch, CustomerID: env.CustomerID, From: req.From, Mode: mode}
	if ch.UsesPhoneNumbers() && strings.HasPrefix(env.From, "+") && sb.Channel(env.Channel).UsesPhoneNumbers() {
		// A caller's number reaches them by SMS or WhatsApp too, and
		// resolves to the same customer, even before they ever wrote.
		or.To, or.CustomerID = env.From, ""
	}
	msg, err := m.r.outbox.SendMessage(ctx, or, req.Text, media)
	if err != nil {
		return "", err
	}
	return msg.ID, nil
}

// history gives llm steps the customer's recent cross-channel thread.
type history struct{ r *Runtime }

func (h history) History(ctx context.Context, env voicebot.Env, limit int) ([]voicebot.HistoryItem, error) {
	if env.CustomerID == "" {
		return nil, nil
	}
	entries, _, err := h.r.store.Timeline(ctx, env.AccountID, env.CustomerID, "", limit)
	if err != nil {
		return nil, err
	}
	var out []voicebot.HistoryItem
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		switch {
		case e.Message != nil && e.Message.Text != "":
			out = append(out, voicebot.HistoryItem{At: e.At, Channel: string(e.Message.Channel), Direction: string(e.Message.Direction), Text: e.Message.Text})
		case e.Transcript != nil && (e.Transcript.Role == sb.RoleBot || e.Transcript.Role == sb.RoleCaller) && e.Transcript.Text != "":
			dir := "outbound"
			if e.Transcript.Role == sb.RoleCaller {
				dir = "inbound"
			}
			out = append(out, voicebot.HistoryItem{At: e.At, Channel: string(e.Transcript.Channel), Direction: dir, Text: e.Transcript.Text})
		}
	}
	return out, nil
}

// flows loads the flows a transfer step switches to.
type flows struct {
	r         *Runtime
	accountID string
}

func (f flows) LoadFlow(ctx context.Context, id string) (*voicebot.Flow, int, error) {
	rec, err := f.r.store.GetFlow(ctx, f.accountID, id, 0)
	if err != nil {
		return nil, 0, err
	}
	flow, err := ParseFlow(rec.Definition, "flow")
	return flow, rec.Version, err
}
