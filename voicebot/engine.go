package voicebot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Errors Advance returns.
var (
	// ErrNotWaiting: an input arrived while the session was not waiting
	// for one (or was over). The session is unchanged.
	ErrNotWaiting = errors.New("voicebot: session is not waiting for input")
	// ErrUnexpectedInput: the input cannot answer the waiting step (a
	// recording at a gather, or an unknown kind). The session is unchanged.
	ErrUnexpectedInput = errors.New("voicebot: unexpected input")
	// ErrTooManySteps: a turn ran more than Engine.MaxSteps steps; the
	// session is ended.
	ErrTooManySteps = errors.New("voicebot: too many steps in one turn")
)

// DefaultMaxSteps bounds the steps one Advance runs.
const DefaultMaxSteps = 200

// Session is the state of one run of a flow, persisted by the caller as
// JSON between turns.
type Session struct {
	FlowID      string            `json:"flow_id,omitempty"`      // set by the caller; changed by a transfer to another flow
	FlowVersion int               `json:"flow_version,omitempty"` // likewise
	Step        string            `json:"step"`                   // the step to run next, or the one waiting
	Waiting     bool              `json:"waiting"`
	Done        bool              `json:"done"`
	Vars        map[string]string `json:"vars"`
	Extra       []Step            `json:"extra,omitempty"` // steps an http answer returned, run in order, then Return
	ExtraPos    int               `json:"extra_pos,omitempty"`
	Return      string            `json:"return,omitempty"`
	LastInput   string            `json:"last_input,omitempty"`
	Steps       int               `json:"steps_run"` // total steps executed (stats)
}

// NewSession returns a session at the flow's start.
func NewSession(f *Flow) *Session {
	return &Session{Step: f.StartStep(), Vars: make(map[string]string)}
}

// Env is the context of a run: who the customer is and where the session
// happens. Its values fill the built-in variables; it is not persisted.
type Env struct {
	AccountID, SessionID, CallID, ConversationID string
	Channel                                      string // "voice", "webrtc" or a message channel
	CustomerID, CustomerName                     string
	CustomerEmail, CustomerLocale                string
	From, To                                     string // the customer's address, ours
}

// Signer signs http steps' requests (Standard Webhooks headers).
type Signer interface {
	Sign(msgID string, at time.Time, body []byte) http.Header
}

// Messenger sends send_message steps' messages to the session's customer.
type Messenger interface {
	SendMessage(ctx context.Context, env Env, req MessageRequest) (messageID string, err error)
}

// MessageRequest is one send_message step, its templates filled.
type MessageRequest struct {
	StepID   string
	Channel  string // a message channel, or "auto": the customer's preferred one
	From     string
	Text     string
	MediaURL string
}

// History gives llm steps the customer's recent cross-channel timeline.
type History interface {
	History(ctx context.Context, env Env, limit int) ([]HistoryItem, error)
}

// HistoryItem is one message or transcript line of the customer's
// timeline, oldest first.
type HistoryItem struct {
	At        time.Time
	Channel   string
	Direction string // inbound | outbound
	Text      string
}

// FlowLoader loads the latest version of one of the account's flows, for
// transfer steps with a flow_id.
type FlowLoader interface {
	LoadFlow(ctx context.Context, id string) (*Flow, int, error)
}

// Engine runs flows. Its dependencies are optional: a step whose
// dependency is missing fails the way it would on an error.
type Engine struct {
	HTTP      *http.Client // http steps; default http.DefaultClient
	Signer    Signer
	Model     ChatModel
	Messenger Messenger
	History   History
	Flows     FlowLoader
	MaxSteps  int              // per Advance, default DefaultMaxSteps
	Now       func() time.Time // default time.Now
}

// Line roles and kinds the engine writes.
const (
	roleBot    = "bot"
	roleCaller = "caller"
	roleSystem = "system"
	kindEvent  = "event"
)

// run is one Advance in progress.
type run struct {
	e    *Engine
	f    *Flow
	s    *Session
	env  Env
	t    *Turn
	stop bool
	look func(string) string
}

// Advance feeds one input to the session and runs steps until the flow
// waits for the customer, ends or is suspended. f must be the flow (and
// version) the session runs: after a transfer to another flow the caller
// loads s.FlowID for later turns. On ErrNotWaiting and ErrUnexpectedInput
// the session is unchanged; on other errors the turn so far is returned.
func (e *Engine) Advance(ctx context.Context, f *Flow, s *Session, env Env, in Input) (Turn, error) {
	var t Turn
	if s.Done {
		return t, ErrNotWaiting
	}
	r := &run{e: e, f: f, s: s, env: env, t: &t}
	r.look = r.lookup

	switch in.Kind {
	case InputStart:
		if s.Waiting {
			return t, ErrNotWaiting
		}
		if s.Step == "" && len(s.Extra) == 0 {
			s.Step = f.StartStep()
		}
		r.ensureVars()
	case InputHangup:
		r.line(roleSystem, kindEvent, "caller hung up", s.Step)
		if s.Waiting && len(f.ResumeOn) > 0 {
			t.Suspended = true
			return t, nil
		}
		r.end()
		return t, nil
	case InputDigits, InputSpeech, InputText, InputTimeout, InputRecording:
		if !s.Waiting {
			return t, ErrNotWaiting
		}
		st := r.current()
		if st == nil {
			r.end()
			return t, fmt.Errorf("voicebot: waiting step %q not found in the flow", s.Step)
		}
		if err := r.input(st, in); err != nil {
			return t, err
		}
	default:
		return t, fmt.Errorf("%w: kind %q", ErrUnexpectedInput, in.Kind)
	}
	return t, r.loop(ctx)
}

func (r *run) ensureVars() {
	if r.s.Vars == nil {
		r.s.Vars = make(map[string]string)
	}
}

// loop runs steps until the session waits or ends.
func (r *run) loop(ctx context.Context) error {
	limit := r.e.MaxSteps
	if limit <= 0 {
		limit = DefaultMaxSteps
	}
	for n := 0; !r.stop; n++ {
		if n >= limit {
			stepID := r.s.Step
			r.line(roleSystem, kindEvent, fmt.Sprintf("flow stopped: more than %d steps in one turn", limit), stepID)
			r.end()
			return fmt.Errorf("%w: more than %d (at step %q)", ErrTooManySteps, limit, stepID)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		st := r.current()
		if st == nil {
			id := r.s.Step
			r.end()
			return fmt.Errorf("voicebot: step %q not found in the flow", id)
		}
		r.s.Steps++
		if err := r.exec(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

// current returns the step the cursor is at, or nil.
func (r *run) current() *Step {
	s := r.s
	if len(s.Extra) > 0 {
		if s.ExtraPos >= 0 && s.ExtraPos < len(s.Extra) {
			return &s.Extra[s.ExtraPos]
		}
		return nil
	}
	if i := r.f.stepIndex(s.Step); i >= 0 {
		return &r.f.Steps[i]
	}
	return nil
}

// continuation returns the id of the step after st when it does not
// jump: its next, else the following step ("" = the end).
func (r *run) continuation(st *Step) string {
	if st.Next != "" {
		return st.Next
	}
	s := r.s
	if len(s.Extra) > 0 {
		if s.ExtraPos+1 < len(s.Extra) {
			return s.Extra[s.ExtraPos+1].ID
		}
		return s.Return
	}
	if i := r.f.stepIndex(st.ID); i >= 0 && i+1 < len(r.f.Steps) {
		return r.f.Steps[i+1].ID
	}
	return ""
}

// extraIndex returns the position of id among the session's extra steps.
func (r *run) extraIndex(id string) int {
	for i := range r.s.Extra {
		if r.s.Extra[i].ID == id {
			return i
		}
	}
	return -1
}

// jump moves the cursor to the step id ("" ends the flow).
func (r *run) jump(id string) {
	s := r.s
	if id == "" {
		r.end()
		return
	}
	if len(s.Extra) > 0 {
		if i := r.extraIndex(id); i >= 0 {
			s.ExtraPos, s.Step = i, id
			return
		}
		r.clearExtra()
	}
	s.Step = id
}

func (r *run) follow(st *Step) { r.jump(r.continuation(st)) }

func (r *run) clearExtra() {
	r.s.Extra, r.s.ExtraPos, r.s.Return = nil, 0, ""
}

// end finishes the session.
func (r *run) end() {
	s := r.s
	s.Done, s.Waiting, s.Step = true, false, ""
	r.clearExtra()
	r.t.Ended, r.t.Waiting = true, false
	r.stop = true
}

// wait leaves the session waiting at the current step.
func (r *run) wait() {
	r.s.Waiting, r.t.Waiting = true, true
	r.stop = true
}

func (r *run) act(a Action) { r.t.Actions = append(r.t.Actions, a) }

func (r *run) line(role, kind, text, stepID string) {
	r.t.Transcript = append(r.t.Transcript, Line{Role: role, Kind: kind, Text: text, StepID: stepID})
}

func (r *run) fill(tpl string) string { return fill(tpl, r.look) }

// lookup returns a variable's value: built-ins from Env first.
func (r *run) lookup(name string) string {
	switch name {
	case "customer.id":
		return r.env.CustomerID
	case "customer.name":
		return r.env.CustomerName
	case "customer.email":
		return r.env.CustomerEmail
	case "customer.locale":
		return r.env.CustomerLocale
	case "channel":
		return r.env.Channel
	case "from":
		return r.env.From
	case "to":
		return r.env.To
	case "call.id":
		return r.env.CallID
	case "session.id":
		return r.env.SessionID
	case "conversation.id":
		return r.env.ConversationID
	}
	return r.s.Vars[name]
}

// input applies the customer's input to the waiting step st and moves on.
func (r *run) input(st *Step, in Input) error {
	s := r.s
	switch st.Type {
	case StepGather:
		if in.Kind == InputRecording {
			return fmt.Errorf("%w: a recording at gather step %q", ErrUnexpectedInput, st.ID)
		}
		r.ensureVars()
		s.Waiting = false
		saveAs := orDefault(st.SaveAs, "input")
		if in.Kind == InputTimeout {
			r.line(roleSystem, kindEvent, "no input (timeout)", st.ID)
			s.Vars[saveAs], s.Vars["input"], s.Vars["input_kind"] = "", "", ""
			s.LastInput = ""
			if st.NoInput != "" {
				r.jump(st.NoInput)
			} else {
				r.follow(st)
			}
			return nil
		}
		v := strings.TrimSpace(in.Value)
		if in.Kind == InputDigits {
			if i := strings.Index(v, orDefault(st.FinishOnKey, "#")); i >= 0 {
				v = v[:i]
			}
			if st.MaxDigits > 0 && len(v) > st.MaxDigits {
				v = v[:st.MaxDigits]
			}
		}
		r.line(roleCaller, in.Kind, v, st.ID)
		s.Vars[saveAs], s.Vars["input"], s.Vars["input_kind"] = v, v, in.Kind
		s.LastInput = v
		r.follow(st)
		return nil
	case StepRecord:
		r.ensureVars()
		s.Waiting = false
		saveAs := orDefault(st.SaveAs, "recording_url")
		switch in.Kind {
		case InputRecording:
			v := strings.TrimSpace(in.Value)
			r.line(roleCaller, InputRecording, v, st.ID)
			s.Vars[saveAs] = v
		case InputTimeout:
			r.line(roleSystem, kindEvent, "no recording (timeout)", st.ID)
			s.Vars[saveAs] = ""
		default:
			// A chat customer cannot record: take the reply as the
			// transcript and move on with no recording.
			v := strings.TrimSpace(in.Value)
			r.line(roleCaller, in.Kind, v, st.ID)
			s.Vars[saveAs] = ""
			s.LastInput = v
		}
		r.follow(st)
		return nil
	}
	return fmt.Errorf("%w: session waits at %s step %q", ErrUnexpectedInput, st.Type, st.ID)
}

// exec runs one step.
func (r *run) exec(ctx context.Context, st *Step) error {
	s := r.s
	switch st.Type {
	case StepSay:
		text := r.fill(st.Text)
		r.act(Action{Type: ActSay, StepID: st.ID, Text: text, Language: st.Language, Voice: st.Voice})
		r.line(roleBot, ActSay, text, st.ID)
		r.follow(st)
	case StepPlay:
		u := r.fill(st.URL)
		r.act(Action{Type: ActPlay, StepID: st.ID, URL: u})
		r.line(roleBot, ActPlay, u, st.ID)
		r.follow(st)
	case StepPause:
		r.act(Action{Type: ActPause, StepID: st.ID, Length: st.Length.D()})
		r.follow(st)
	case StepGather:
		if st.Prompt != "" {
			text := r.fill(st.Prompt)
			r.act(Action{Type: ActSay, StepID: st.ID, Text: text, Language: st.Language, Voice: st.Voice})
			r.line(roleBot, ActSay, text, st.ID)
		}
		spec := &GatherSpec{
			MaxDigits:   st.MaxDigits,
			FinishOnKey: orDefault(st.FinishOnKey, "#"),
			Timeout:     orDuration(st.Timeout, DefaultGatherWait),
			Language:    st.Language,
		}
		switch st.Input {
		case "speech":
			spec.Speech = true
		case "dtmf speech", "speech dtmf":
			spec.DTMF, spec.Speech = true, true
		default:
			spec.DTMF = true
		}
		r.act(Action{Type: ActGather, StepID: st.ID, Language: st.Language, Gather: spec})
		r.wait()
	case StepRecord:
		r.act(Action{Type: ActRecord, StepID: st.ID, Record: &RecordSpec{
			MaxLength:   orDuration(st.MaxLength, DefaultRecordMax),
			FinishOnKey: orDefault(st.FinishOnKey, "#"),
			Timeout:     orDuration(st.Timeout, DefaultGatherWait),
		}})
		r.wait()
	case StepSet:
		r.ensureVars()
		// Fill every value before assigning any, so the result does not
		// depend on map order.
		vals := make(map[string]string, len(st.Vars))
		for k, v := range st.Vars {
			vals[k] = r.fill(v)
		}
		for k, v := range vals {
			if !envVars[k] {
				s.Vars[k] = v
			}
		}
		r.follow(st)
	case StepBranch:
		r.jump(r.branch(st))
	case StepHTTP:
		return r.http(ctx, st)
	case StepLLM:
		return r.llm(ctx, st)
	case StepSendMessage:
		r.sendMessage(ctx, st)
	case StepTransfer:
		return r.transfer(ctx, st)
	case StepHangup:
		r.act(Action{Type: ActHangup, StepID: st.ID})
		r.line(roleSystem, kindEvent, "bot hung up", st.ID)
		r.end()
	default:
		r.end()
		return fmt.Errorf("voicebot: step %q has unknown type %q", st.ID, st.Type)
	}
	return nil
}

// branch returns the target of the first matching case, else Default.
func (r *run) branch(st *Step) string {
	val := strings.TrimSpace(r.fill(st.On))
	for _, c := range st.Cases {
		if caseMatches(c, val) {
			return c.Next
		}
	}
	return st.Default
}

func caseMatches(c Case, val string) bool {
	switch {
	case c.Equals != "":
		return strings.EqualFold(val, strings.TrimSpace(c.Equals))
	case c.In != nil:
		for _, x := range c.In {
			if strings.EqualFold(val, strings.TrimSpace(x)) {
				return true
			}
		}
	case c.Contains != "":
		return strings.Contains(strings.ToLower(val), strings.ToLower(strings.TrimSpace(c.Contains)))
	case c.Matches != "":
		re, err := caseRegexp(c.Matches)
		return err == nil && re.MatchString(val)
	}
	return false
}

func (r *run) sendMessage(ctx context.Context, st *Step) {
	ch := orDefault(st.Channel, "auto")
	req := MessageRequest{StepID: st.ID, Channel: ch, From: st.From, Text: r.fill(st.Text), MediaURL: r.fill(st.MediaURL)}
	sm := SentMessage{StepID: st.ID, Channel: ch}
	if r.e.Messenger == nil {
		sm.Error = "no messenger configured"
	} else if id, err := r.e.Messenger.SendMessage(ctx, r.env, req); err != nil {
		sm.Error = err.Error()
	} else {
		sm.MessageID = id
	}
	r.t.Messages = append(r.t.Messages, sm)
	if sm.Error != "" {
		r.line(roleSystem, kindEvent, fmt.Sprintf("message on %s failed: %s", ch, sm.Error), st.ID)
	} else {
		r.line(roleSystem, kindEvent, fmt.Sprintf("message sent on %s: %s", ch, req.Text), st.ID)
	}
	r.follow(st)
}

func (r *run) transfer(ctx context.Context, st *Step) error {
	s := r.s
	if st.FlowID == "" {
		to := r.fill(st.To)
		r.act(Action{Type: ActTransfer, StepID: st.ID, To: to})
		r.line(roleSystem, kindEvent, "transfer to "+to, st.ID)
		r.end()
		return nil
	}
	if r.e.Flows == nil {
		r.line(roleSystem, kindEvent, "transfer to flow "+st.FlowID+" failed: no flow loader", st.ID)
		r.end()
		return fmt.Errorf("voicebot: transfer to flow %q: no flow loader configured", st.FlowID)
	}
	nf, ver, err := r.e.Flows.LoadFlow(ctx, st.FlowID)
	if err == nil && (nf == nil || len(nf.Steps) == 0) {
		err = errors.New("flow has no steps")
	}
	if err != nil {
		r.line(roleSystem, kindEvent, "transfer to flow "+st.FlowID+" failed", st.ID)
		r.end()
		return fmt.Errorf("voicebot: transfer to flow %q: %w", st.FlowID, err)
	}
	r.line(roleSystem, kindEvent, "transfer to flow "+st.FlowID, st.ID)
	r.f = nf
	s.FlowID, s.FlowVersion = st.FlowID, ver
	r.clearExtra()
	s.Step = nf.StartStep()
	return nil
}

func orDuration(d Duration, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d.D()
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}
