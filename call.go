package switchboard

import (
	"encoding/json"
	"time"
)

// CallStatus is where a call is in its life: queued → ringing →
// in-progress → one of the final statuses.
type CallStatus string

// Call statuses, as Twilio names them (so its callbacks map one to one).
const (
	CallQueued     CallStatus = "queued"
	CallRinging    CallStatus = "ringing"
	CallInProgress CallStatus = "in-progress"
	CallCompleted  CallStatus = "completed"
	CallBusy       CallStatus = "busy"
	CallNoAnswer   CallStatus = "no-answer"
	CallFailed     CallStatus = "failed"
	CallCanceled   CallStatus = "canceled"
)

// CallStatuses lists every status, in lifecycle order.
var CallStatuses = []CallStatus{CallQueued, CallRinging, CallInProgress, CallCompleted, CallBusy, CallNoAnswer, CallFailed, CallCanceled}

func (s CallStatus) rank() int {
	switch s {
	case CallQueued:
		return 1
	case CallRinging:
		return 2
	case CallInProgress:
		return 3
	case CallCompleted, CallBusy, CallNoAnswer, CallFailed, CallCanceled:
		return 4
	}
	return 0
}

// Valid reports whether s is a known status.
func (s CallStatus) Valid() bool { return s.rank() > 0 }

// Final reports whether the call is over.
func (s CallStatus) Final() bool { return s.rank() == 4 }

// CallTransitionAllowed reports whether a call may move from one status to
// another: only forward, never out of a final status. busy and no-answer
// only make sense before the call was answered.
func CallTransitionAllowed(from, to CallStatus) bool {
	if !to.Valid() || from.Final() || to.rank() <= from.rank() {
		return false
	}
	if from == CallInProgress && (to == CallBusy || to == CallNoAnswer || to == CallCanceled) {
		return false
	}
	return true
}

// Call directions.
const (
	CallOutbound = "outbound"
	CallInbound  = "inbound"
)

// Who ended a call (Call.HangupBy).
const (
	HangupCaller = "caller" // the customer (or the far end) hung up
	HangupBot    = "bot"    // the flow ended or ran a hangup step
	HangupAPI    = "api"    // POST /v1/calls/{id}/hangup
	HangupSystem = "system" // an error or a timeout on our side
	HangupAgent  = "agent"  // an agent in the inbox hung up their browser call
)

// Call is one phone, SIP or browser call. Like a message it belongs to a
// customer and a conversation; a voice-bot session runs its flow.
type Call struct {
	ID                string
	AccountID         string
	CustomerID        string
	ConversationID    string
	Direction         string  // CallOutbound | CallInbound
	Channel           Channel // voice | webrtc
	From              string
	To                string
	Status            CallStatus
	Provider          string // sandbox | twilio | …
	ChannelID         string // the connected channel carrying it, "" for the sandbox
	ProviderCallID    string
	FlowID            string
	FlowVersion       int
	Flow              json.RawMessage // an inline flow given with the call
	SessionID         string          // the voice-bot session running its flow
	ParentCallID      string          // the call this leg was dialled from (callback, transfer)
	CallbackID        string
	StatusCallbackURL string
	Record            bool
	Timeout           int    // seconds to let it ring
	MachineDetection  string // "" | Enable | DetectMessageEnd
	AnsweredBy        string // human | machine_start | … when detection ran
	AnsweredAt        *time.Time
	EndedAt           *time.Time
	Duration          int    // seconds from answer to end
	HangupBy          string // Hangup* constants
	RecordingURL      string
	ErrorCode         string
	ErrorMessage      string
	Sequence          int // bumped on every status change
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// CallUpdate is a change a provider, a flow or the API makes to a call.
// Status moves only forward (CallTransitionAllowed); nil and empty fields
// leave the stored value.
type CallUpdate struct {
	Status         CallStatus
	ProviderCallID string
	SessionID      string
	AnsweredBy     string
	HangupBy       string
	RecordingURL   string
	Duration       *int
	ErrorCode      string
	ErrorMessage   string
	At             time.Time
}

// CallRef names a call for a task.
type CallRef struct {
	AccountID string
	ID        string
}

// CallEvent is one status change of a call, in order.
type CallEvent struct {
	CallID    string
	Sequence  int
	Status    CallStatus
	CreatedAt time.Time
}

// CallFilter narrows GET /v1/calls.
type CallFilter struct {
	Status       CallStatus
	CustomerID   string
	Direction    string
	FlowID       string
	To           string // the address called (a leg to agent:<name> included)
	ParentCallID string // the legs dialled from a call
	CallbackID   string // the legs of a callback
	Cursor       string
	Limit        int
}

// FlowRecord is one stored version of a voice-bot flow. Definition is the
// flow's JSON as validated by voicebot (the store does not read it).
type FlowRecord struct {
	ID         string
	AccountID  string
	Name       string
	Version    int
	Definition json.RawMessage
	CreatedAt  time.Time
}

// Bot session statuses.
const (
	SessionActive    = "active"    // running (over a call or a chat)
	SessionWaiting   = "waiting"   // waiting for the customer's input
	SessionSuspended = "suspended" // its call ended mid-flow; resume_on channels may continue it
	SessionEnded     = "ended"
)

// BotSession is one run of a flow for a customer. It outlives the call it
// started on: a suspended session continues when the customer writes in
// on a channel the flow allows.
type BotSession struct {
	ID             string
	AccountID      string
	CustomerID     string
	ConversationID string
	FlowID         string
	FlowVersion    int
	CallID         string  // the call it runs over now, "" over a chat
	Channel        Channel // the transport now: voice, sms, telegram, …
	ChannelID      string  // connected channel replies go out on, "" for the sandbox
	Address        string  // the customer's address on Channel
	Sender         string  // our address on Channel
	Status         string  // Session* constants
	ResumeOn       []Channel
	State          json.RawMessage // the engine's state, opaque to the store
	Seq            int             // bumped by every save; timers carry it to detect staleness
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Transcript roles.
const (
	RoleBot    = "bot"
	RoleCaller = "caller"
	RoleSystem = "system"
)

// TranscriptEntry is one turn of a bot session: what the bot said or
// played, what the caller pressed, said or wrote, and notable system
// events (transfer, hangup), in order.
type TranscriptEntry struct {
	ID             string
	AccountID      string
	SessionID      string
	CallID         string
	CustomerID     string
	ConversationID string
	Channel        Channel
	Role           string // Role* constants
	Kind           string // say | play | dtmf | speech | text | recording | event
	Text           string
	StepID         string
	CreatedAt      time.Time
}
