// Package runtime runs voice-bot flows for an account's calls and chats.
// It owns the life of a bot session: it starts one when a call is answered
// or a customer writes to an address with an inbound flow, feeds it the
// customer's input under a row lock (one turn at a time), stores the
// engine's state and the transcript, and performs the turn's actions over
// the session's transport — the sandbox telephone, a provider's call
// (whose webhook renders the turn, as Twilio's TwiML), or chat messages.
//
// A session outlives its call: when the caller hangs up while the flow
// waits, and the flow lists resume_on channels, the session is suspended,
// and the customer's next message on one of those channels continues it at
// the same step, in the same conversation.
package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/routing"
	"github.com/switchboardhq/switchboard/voicebot"
	"github.com/switchboardhq/switchboard/voicebot/media"
)

// Store is the persistence the runtime needs.
type Store interface {
	GetFlow(ctx context.Context, accountID, id string, version int) (*sb.FlowRecord, error)
	CreateCall(ctx context.Context, c *sb.Call) (*sb.Call, []string, error)
	GetCall(ctx context.Context, accountID, id string) (*sb.Call, error)
	FindCallByProviderID(ctx context.Context, channelID, providerCallID string) (*sb.Call, error)
	ListCalls(ctx context.Context, accountID string, f sb.CallFilter) ([]*sb.Call, string, error)
	UpdateCall(ctx context.Context, accountID, id string, u sb.CallUpdate) (*sb.Call, bool, []string, error)
	TouchCalls(ctx context.Context, ids []string) (ended []string, err error)
	CreateSession(ctx context.Context, s *sb.BotSession) (*sb.BotSession, error)
	GetSession(ctx context.Context, accountID, id string) (*sb.BotSession, error)
	UpdateSession(ctx context.Context, accountID, id string, fn func(s *sb.BotSession) error) (*sb.BotSession, error)
	OpenSession(ctx context.Context, accountID, conversationID string) (*sb.BotSession, error)
	AppendTranscript(ctx context.Context, entries []sb.TranscriptEntry) error
	GetCustomer(ctx context.Context, accountID, id string) (*sb.Customer, error)
	GetConversation(ctx context.Context, accountID, id string) (*sb.Conversation, error)
	GetMessage(ctx context.Context, accountID, id string) (*sb.Message, error)
	Timeline(ctx context.Context, accountID, customerID, cursor string, limit int) ([]sb.TimelineEntry, string, error)
	CallbackSecret(ctx context.Context, accountID string) (string, error)
	ChannelForSender(ctx context.Context, accountID string, ch sb.Channel, from string) (*sb.ConnectedChannel, error)
	LoadChannel(ctx context.Context, id string) (*sb.ConnectedChannel, error)
}

// Router attaches calls to customers and conversations (routing.Service).
type Router interface {
	Call(ctx context.Context, r routing.CallRequest) (*routing.CallRoute, error)
}

// Outbox sends a message the way POST /v1/messages does: routed, stored,
// queued.
type Outbox interface {
	SendMessage(ctx context.Context, r routing.OutboundRequest, text string, media []string) (*sb.Message, error)
}

// Queue hands work to the workers.
type Queue interface {
	EnqueueWebhooks(ctx context.Context, ids []string) error
	EnqueueDial(ctx context.Context, accountID, callID string) error
	EnqueueBotTimeout(ctx context.Context, accountID, sessionID string, seq int, at time.Time) error
	// EnqueueRingTimeout asks for RingTimeout of a ringing browser call at at.
	EnqueueRingTimeout(ctx context.Context, accountID, callID string, at time.Time) error
}

// Telephony places and ends calls on a connected provider account.
type Telephony interface {
	PlaceCall(ctx context.Context, ch *sb.ConnectedChannel, c *sb.Call, urls CallURLs) (providerCallID string, err error)
	HangupCall(ctx context.Context, ch *sb.ConnectedChannel, c *sb.Call) error
}

// Speaker renders what a bot says on a telephone line it drives itself
// (the sandbox), so prompts are real audio with a real length.
type Speaker interface {
	Speak(ctx context.Context, text, voice, language string) (time.Duration, error)
}

// CallURLs are where a provider asks what a call should do, and reports
// its status.
type CallURLs struct {
	Voice  string
	Status string
}

// Config wires the runtime.
type Config struct {
	PublicURL string
	// HTTP makes http steps' requests (guarded against private addresses).
	HTTP *http.Client
	// Model answers llm steps; nil makes them take their on_error path.
	Model   voicebot.ChatModel
	Speaker Speaker
	// MaxSteps bounds the steps of one turn.
	MaxSteps int
	// MaxTurns bounds the turns running at once (default 8). A turn holds
	// its session's row lock, and so one database connection, while its
	// steps take others (the flow, the customer, messages it sends): more
	// turns than the pool can serve twice over would starve each other.
	MaxTurns int
	// Driver returns the media driver for a live line (browser calls):
	// its TTS renders the prompts, its STT hears speech. Nil: no live calls.
	Driver func() *media.Driver
}

// Runtime runs flows.
type Runtime struct {
	cfg    Config
	store  Store
	router Router
	outbox Outbox
	queue  Queue
	phones Telephony
	log    *slog.Logger
	now    func() time.Time
	turns  chan struct{}
	live   live

	flowMu sync.Mutex
	flows  map[flowKey]*voicebot.Flow // parsed stored flows: a version never changes
}

type flowKey struct {
	account, id string
	version     int
}

// New returns a runtime.
func New(cfg Config, store Store, router Router, outbox Outbox, queue Queue, phones Telephony, log *slog.Logger) *Runtime {
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.MaxTurns <= 0 {
		cfg.MaxTurns = 8
	}
	return &Runtime{cfg: cfg, store: store, router: router, outbox: outbox, queue: queue, phones: phones, log: log, now: time.Now,
		turns: make(chan struct{}, cfg.MaxTurns), flows: map[flowKey]*voicebot.Flow{}}
}

// Outcome is what one step of a call or session produced.
type Outcome struct {
	Call    *sb.Call
	Session *sb.BotSession
	Turn    voicebot.Turn
	Input   voicebot.Input // what the turn answered
}

// state is what a session row stores: the engine's state, the inline flow
// it runs (a flow given with the call rather than stored), and what it
// waits for.
type state struct {
	Engine *voicebot.Session `json:"engine"`
	Inline json.RawMessage   `json:"inline,omitempty"`
	Wait   string            `json:"wait,omitempty"` // gather | record
	// Timeout is the waiting step's timeout (the sandbox's clock runs it).
	Timeout time.Duration `json:"timeout,omitempty"`
	// Consumed is the last inbound message fed to the session, so a
	// retried bot:message task does not feed it twice.
	Consumed string `json:"consumed,omitempty"`
}

func (r *Runtime) enqueueWebhooks(ctx context.Context, ids []string) {
	if len(ids) == 0 {
		return
	}
	if err := r.queue.EnqueueWebhooks(ctx, ids); err != nil {
		r.log.WarnContext(ctx, "enqueue webhooks; the sweeper will send them", "err", err)
	}
}

// ParseFlow decodes and validates a flow, reporting problems as field
// errors under prefix.
func ParseFlow(raw json.RawMessage, prefix string) (*voicebot.Flow, error) {
	f, problems := voicebot.Parse(raw)
	if len(problems) > 0 {
		fields := make([]sb.FieldError, 0, len(problems))
		for _, p := range problems {
			name := prefix
			if p.Field != "" {
				if name != "" {
					name += "."
				}
				name += p.Field
			}
			fields = append(fields, sb.FieldError{Field: name, Message: p.Detail})
		}
		return nil, sb.Invalid(fields...)
	}
	return f, nil
}

// loadFlow returns the flow a session runs.
func (r *Runtime) loadFlow(ctx context.Context, accountID string, st *state) (*voicebot.Flow, error) {
	if st.Engine.FlowID == "" {
		if len(st.Inline) == 0 {
			return nil, fmt.Errorf("session has neither a flow id nor an inline flow")
		}
		return ParseFlow(st.Inline, "flow")
	}
	return r.storedFlow(ctx, accountID, st.Engine.FlowID, st.Engine.FlowVersion)
}

// storedFlow returns version of a stored flow, parsed once per process.
func (r *Runtime) storedFlow(ctx context.Context, accountID, id string, version int) (*voicebot.Flow, error) {
	k := flowKey{accountID, id, version}
	r.flowMu.Lock()
	f, ok := r.flows[k]
	r.flowMu.Unlock()
	if ok {
		return f, nil
	}
	rec, err := r.store.GetFlow(ctx, accountID, id, version)
	if err != nil {
		return nil, fmt.Errorf("load flow %s v%d: %w", id, version, err)
	}
	if f, err = ParseFlow(rec.Definition, "flow"); err != nil {
		return nil, err
	}
	if version > 0 {
		r.flowMu.Lock()
		if len(r.flows) >= 10000 {
			clear(r.flows)
		}
		r.flows[k] = f
		r.flowMu.Unlock()
	}
	return f, nil
}

// newSession stores a session at the start of flow (inline when flowID is
// empty) and returns it with its state.
func (r *Runtime) newSession(ctx context.Context, bs *sb.BotSession, flow *voicebot.Flow, inline json.RawMessage) (*sb.BotSession, error) {
	es := voicebot.NewSession(flow)
	es.FlowID, es.FlowVersion = bs.FlowID, bs.FlowVersion
	st := state{Engine: es}
	if bs.FlowID == "" {
		st.Inline = inline
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	bs.State, bs.Status = raw, sb.SessionActive
	bs.ResumeOn = bs.ResumeOn[:0]
	for _, c := range flow.ResumeOn {
		bs.ResumeOn = append(bs.ResumeOn, sb.Channel(c))
	}
	return r.store.CreateSession(ctx, bs)
}

// errStale marks an input that no longer applies (a timer for a turn that
// already moved on).
var errStale = errors.New("stale input")

// advance feeds one input to a session under its row lock, stores the new
// state and the transcript, and then performs the turn over the session's
// transport.
// turnOpts qualify one input: seq > 0 drops it unless the session is still
// at that save (timers); messageID drops a message the session already
// took (a retried task); prep adjusts the session first.
type turnOpts struct {
	seq       int
	messageID string
	prep      func(*sb.BotSession)
}

func (r *Runtime) advance(ctx context.Context, accountID, sessionID string, in voicebot.Input, o turnOpts) (*Outcome, error) {
	var turn voicebot.Turn
	var st state
	secret, err := r.store.CallbackSecret(ctx, accountID)
	if err != nil {
		return nil, err
	}
	select {
	case r.turns <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	bs, err := r.store.UpdateSession(ctx, accountID, sessionID, func(s *sb.BotSession) error {
		if o.seq > 0 && s.Seq != o.seq {
			return errStale
		}
		if s.Status == sb.SessionEnded {
			return sb.Errorf(sb.EEXISTS, "the bot session %s has ended", s.ID)
		}
		st = state{}
		if err := json.Unmarshal(s.State, &st); err != nil || st.Engine == nil {
			return fmt.Errorf("decode session %s state: %v", s.ID, err)
		}
		if o.messageID != "" {
			if st.Consumed == o.messageID {
				return errStale
			}
			st.Consumed = o.messageID
		}
		if o.prep != nil {
			o.prep(s)
		}
		flow, err := r.loadFlow(ctx, accountID, &st)
		if err != nil {
			return err
		}
		env, err := r.env(ctx, s)
		if err != nil {
			return err
		}
		before := st.Engine.FlowID
		turn, err = r.engine(s, secret).Advance(ctx, flow, st.Engine, env, in)
		if errors.Is(err, voicebot.ErrNotWaiting) {
			return sb.Errorf(sb.EEXISTS, "the bot is not waiting for input (session %s is %s)", s.ID, s.Status)
		}
		if err != nil {
			return err
		}
		if st.Engine.FlowID != before {
			s.FlowID, s.FlowVersion = st.Engine.FlowID, st.Engine.FlowVersion
			st.Inline = nil
		}
		st.Wait, st.Timeout = "", 0
		switch {
		case turn.Ended:
			s.Status = sb.SessionEnded
		case turn.Suspended:
			s.Status = sb.SessionSuspended
			s.CallID = ""
		case turn.Waiting:
			s.Status = sb.SessionWaiting
			last := turn.Actions[len(turn.Actions)-1]
			st.Wait = last.Type
			if last.Gather != nil {
				st.Timeout = last.Gather.Timeout
			} else if last.Record != nil {
				st.Timeout = last.Record.Timeout + last.Record.MaxLength
			}
		default:
			s.Status = sb.SessionActive
		}
		raw, err := json.Marshal(st)
		if err != nil {
			return err
		}
		s.State = raw
		return r.store.AppendTranscript(ctx, r.transcript(s, turn.Transcript))
	})
	<-r.turns
	if errors.Is(err, errStale) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := &Outcome{Session: bs, Turn: turn, Input: in}
	if err := r.perform(ctx, out, &st); err != nil {
		return out, err
	}
	return out, nil
}

func (r *Runtime) transcript(s *sb.BotSession, lines []voicebot.Line) []sb.TranscriptEntry {
	out := make([]sb.TranscriptEntry, 0, len(lines))
	for _, l := range lines {
		out = append(out, sb.TranscriptEntry{AccountID: s.AccountID, SessionID: s.ID, CallID: s.CallID, CustomerID: s.CustomerID,
			ConversationID: s.ConversationID, Channel: s.Channel, Role: l.Role, Kind: l.Kind, Text: l.Text, StepID: l.StepID})
	}
	return out
}

func (r *Runtime) env(ctx context.Context, s *sb.BotSession) (voicebot.Env, error) {
	env := voicebot.Env{AccountID: s.AccountID, SessionID: s.ID, CallID: s.CallID, ConversationID: s.ConversationID,
		Channel: string(s.Channel), CustomerID: s.CustomerID, From: s.Address, To: s.Sender}
	if s.CustomerID != "" {
		c, err := r.store.GetCustomer(ctx, s.AccountID, s.CustomerID)
		if err != nil && !errors.Is(err, sb.ErrNotFound) {
			return env, err
		}
		if c != nil {
			env.CustomerID, env.CustomerName, env.CustomerEmail, env.CustomerLocale = c.ID, c.Name, c.Email, c.Locale
		}
	}
	return env, nil
}

// perform carries out a turn over the session's transport.
func (r *Runtime) perform(ctx context.Context, out *Outcome, st *state) error {
	if out.Turn.Suspended {
		return nil // the call is over; the session waits for a message
	}
	if out.Session.CallID != "" {
		return r.performVoice(ctx, out, st)
	}
	return r.performChat(ctx, out)
}

// performChat sends what the bot says in a turn as one message on the
// session's channel, from the address the customer wrote to: separate
// messages could overtake each other on the way, and a chat reads better
// as one answer per turn.
func (r *Runtime) performChat(ctx context.Context, out *Outcome) error {
	bs := out.Session
	var text []string
	var media []string
	for _, a := range out.Turn.Actions {
		switch a.Type {
		case voicebot.ActSay:
			text = append(text, a.Text)
		case voicebot.ActPlay:
			media = append(media, a.URL)
		}
	}
	if len(text) == 0 && len(media) == 0 {
		return nil
	}
	req := routing.OutboundRequest{AccountID: bs.AccountID, Channel: bs.Channel, To: bs.Address, From: bs.Sender,
		Mode: "conversation", Reason: "bot"}
	if _, err := r.outbox.SendMessage(ctx, req, strings.Join(text, "\n"), media); err != nil {
		return fmt.Errorf("bot reply on %s: %w", bs.Channel, err)
	}
	return nil
}

// engine returns the engine for one turn of s, its http steps signed with
// the account's callback secret.
func (r *Runtime) engine(s *sb.BotSession, secret string) *voicebot.Engine {
	return &voicebot.Engine{HTTP: r.cfg.HTTP, Signer: signer{secret: secret}, Model: r.cfg.Model,
		Messenger: messenger{r}, History: history{r}, Flows: flows{r, s.AccountID}, MaxSteps: r.cfg.MaxSteps, Now: r.now}
}

// OnMessage lets the account's bot answer an inbound message: it continues
// the conversation's waiting session (or a suspended one, when the flow
// resumes on this channel), or starts the flow of the address the customer
// wrote to when nobody holds the conversation yet.
func (r *Runtime) OnMessage(ctx context.Context, accountID, messageID string) error {
	m, err := r.store.GetMessage(ctx, accountID, messageID)
	if err != nil {
		return err
	}
	if m.Direction != sb.Inbound || m.ConversationID == "" || m.Channel == sb.ChannelVoice {
		return nil
	}
	in := voicebot.Input{Kind: voicebot.InputText, Value: m.Text}
	if in.Value == "" && len(m.MediaURLs) > 0 {
		in.Value = m.MediaURLs[0]
	}
	bs, err := r.store.OpenSession(ctx, accountID, m.ConversationID)
	switch {
	case sb.ErrorCode(err) == sb.ENOTFOUND:
	case err != nil:
		return err
	default:
		onChat := bs.CallID == "" && bs.Status == sb.SessionWaiting
		switch {
		case onChat && bs.Channel == m.Channel && bs.Address == m.From:
			_, err = r.advance(ctx, accountID, bs.ID, in, turnOpts{messageID: m.ID})
		case (bs.Status == sb.SessionSuspended || onChat) && slices.Contains(bs.ResumeOn, m.Channel):
			// The customer carries on where they left off, here.
			_, err = r.advance(ctx, accountID, bs.ID, in, turnOpts{messageID: m.ID, prep: func(s *sb.BotSession) {
				s.Channel, s.ChannelID, s.Address, s.Sender, s.CallID = m.Channel, m.ChannelID, m.From, m.To, ""
			}})
		}
		// Otherwise the session is busy on a call, or does not follow the
		// customer here: the message is only history.
		return err
	}
	conv, err := r.store.GetConversation(ctx, accountID, m.ConversationID)
	if err != nil {
		return err
	}
	if conv.Agent != "" {
		return nil
	}
	flowID, err := r.inboundFlow(ctx, accountID, m.ChannelID, m.Channel, m.To)
	if err != nil || flowID == "" {
		return err
	}
	rec, err := r.store.GetFlow(ctx, accountID, flowID, 0)
	if err != nil {
		return fmt.Errorf("inbound flow %s of %s:%s: %w", flowID, m.Channel, m.To, err)
	}
	flow, err := ParseFlow(rec.Definition, "flow")
	if err != nil {
		return err
	}
	bs, err = r.newSession(ctx, &sb.BotSession{AccountID: accountID, CustomerID: m.CustomerID, ConversationID: m.ConversationID,
		FlowID: rec.ID, FlowVersion: rec.Version, Channel: m.Channel, ChannelID: m.ChannelID, Address: m.From, Sender: m.To}, flow, nil)
	if err != nil {
		return err
	}
	_, err = r.advance(ctx, accountID, bs.ID, voicebot.Input{Kind: voicebot.InputStart}, turnOpts{})
	return err
}

// inboundFlow is the flow named by our address (ch, to): a sender of the
// connected channel the interaction came through, or of any active channel
// holding that address.
func (r *Runtime) inboundFlow(ctx context.Context, accountID, channelID string, ch sb.Channel, to string) (string, error) {
	var cc *sb.ConnectedChannel
	var err error
	if channelID != "" {
		cc, err = r.store.LoadChannel(ctx, channelID)
	} else {
		cc, err = r.store.ChannelForSender(ctx, accountID, ch, to)
	}
	if sb.ErrorCode(err) == sb.ENOTFOUND {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	for _, s := range cc.Senders {
		if s.Channel == ch && s.Address == to {
			return s.InboundFlowID, nil
		}
	}
	return "", nil
}

// Timeout tells a waiting session its step's time ran out, unless the
// session moved on since the timer was set.
func (r *Runtime) Timeout(ctx context.Context, accountID, sessionID string, seq int) error {
	_, err := r.advance(ctx, accountID, sessionID, voicebot.Input{Kind: voicebot.InputTimeout}, turnOpts{seq: seq})
	if code := sb.ErrorCode(err); code == sb.EEXISTS || code == sb.ENOTFOUND {
		return nil // the session ended or went away meanwhile
	}
	return err
}
