// Package voicebot runs voice-bot flows: versioned JSON programs of steps
// (say, gather, branch, http, llm, send_message, transfer, …) that answer
// a phone call and a chat alike. The engine knows nothing of transports:
// it takes an Input (the call was answered, digits, words, a chat reply, a
// timeout), runs steps until it must wait for the customer, and returns
// the Actions the transport performs (speech or a message for say, a
// Gather verb or the next reply for gather). Its state is a plain value
// the caller persists between turns.
package voicebot

import (
	"context"
	"time"
)

// Input kinds: what the customer (or the clock) did.
const (
	InputStart     = "start"     // the call was answered or the chat session began
	InputDigits    = "dtmf"      // DTMF digits (Value), finish key stripped
	InputSpeech    = "speech"    // recognised speech (Value)
	InputText      = "text"      // a chat reply (Value)
	InputRecording = "recording" // a recording finished (Value: its URL)
	InputTimeout   = "timeout"   // the waiting step's timeout passed with no input
	InputHangup    = "hangup"    // the customer hung up (ends or suspends the session)
)

// Input is one event fed to Engine.Advance.
type Input struct {
	Kind  string
	Value string
}

// Action types the transport performs, in order.
const (
	ActSay      = "say"
	ActPlay     = "play"
	ActGather   = "gather"   // wait for input: the turn ends with it
	ActRecord   = "record"   // record the caller: the turn ends with it
	ActPause    = "pause"    // silence (voice), nothing (chat)
	ActTransfer = "transfer" // dial a number or SIP URI and bridge; the flow ends
	ActHangup   = "hangup"   // end the call or the chat session
)

// Action is one thing the transport must do.
type Action struct {
	Type     string
	StepID   string
	Text     string        // say: the words (variables already filled in)
	Language string        // say: BCP 47, e.g. en-US
	Voice    string        // say: engine-specific voice name
	URL      string        // play: audio URL
	Length   time.Duration // pause
	Gather   *GatherSpec   // gather
	Record   *RecordSpec   // record
	To       string        // transfer: E.164 number or sip: URI
}

// GatherSpec is how a gather step listens.
type GatherSpec struct {
	DTMF        bool
	Speech      bool
	MaxDigits   int
	FinishOnKey string
	Timeout     time.Duration
	Language    string // speech recognition language
}

// RecordSpec is how a record step records.
type RecordSpec struct {
	MaxLength   time.Duration
	FinishOnKey string
	Timeout     time.Duration // silence that ends the recording
}

// Turn is the result of one Advance: what to do now, and whether the
// session now waits for input or is over.
type Turn struct {
	Actions []Action
	// Waiting is true when the last action is a gather or record: the next
	// Advance should carry the customer's input (or InputTimeout).
	Waiting bool
	// Ended is true when the flow is over (hangup step, end of steps,
	// transfer away, or the caller hung up and the flow cannot resume).
	Ended bool
	// Suspended is true when the caller hung up while the flow waited and
	// the flow allows resuming on another channel (resume_on).
	Suspended bool
	// Transcript is what happened in this turn, in order: the caller's
	// input, then what the bot said and did.
	Transcript []Line
	// Messages are the send_message steps' results, for the record.
	Messages []SentMessage
}

// Line is one transcript line.
type Line struct {
	Role   string // bot | caller | system
	Kind   string // say | play | dtmf | speech | text | recording | event
	Text   string
	StepID string
}

// SentMessage records a send_message step's outcome.
type SentMessage struct {
	StepID    string
	Channel   string
	MessageID string
	Error     string
}

// ChatModel answers llm steps: an OpenAI-compatible chat-completions
// client (package voicebot/llm) or a test double.
type ChatModel interface {
	Complete(ctx context.Context, req ChatRequest) (string, error)
}

// ChatRequest is one chat completion. Model "" means the client's default.
type ChatRequest struct {
	Model       string
	Messages    []ChatMessage
	Temperature *float64
	MaxTokens   int
}

// ChatMessage is one message of the conversation sent to the model.
type ChatMessage struct {
	Role    string `json:"role"` // system | user | assistant
	Content string `json:"content"`
}
