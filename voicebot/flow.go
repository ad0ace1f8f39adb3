package voicebot

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Step types.
const (
	StepSay         = "say"
	StepPlay        = "play"
	StepGather      = "gather"
	StepBranch      = "branch"
	StepSet         = "set"
	StepHTTP        = "http"
	StepSendMessage = "send_message"
	StepTransfer    = "transfer"
	StepRecord      = "record"
	StepPause       = "pause"
	StepHangup      = "hangup"
	StepLLM         = "llm"
)

// Limits and defaults of flows and steps.
const (
	MaxFlowSteps       = 500
	MaxFlowNameLen     = 200
	DefaultGatherWait  = 5 * time.Second
	DefaultHTTPTimeout = 5 * time.Second
	MaxHTTPTimeout     = 30 * time.Second
	DefaultLLMTimeout  = 10 * time.Second
	MaxLLMTimeout      = 2 * time.Minute
	DefaultHistory     = 20
	MaxHistory         = 200
	DefaultRecordMax   = 60 * time.Second
	MaxRecordLength    = time.Hour
	MaxPause           = 60 * time.Second
)

// Flow is one voice-bot program: steps run in order unless a step names
// its next one. The same flow answers a phone call and a chat.
type Flow struct {
	Name  string `json:"name"`
	Start string `json:"start,omitempty"` // default: the first step
	// ResumeOn lists the message channels a session suspended by a hang-up
	// may continue on (sms whatsapp telegram viber webrtc).
	ResumeOn []string `json:"resume_on,omitempty"`
	Steps    []Step   `json:"steps"`

	// index maps step ids to positions; built by Validate, so a flow
	// built in code without Validate falls back to a scan.
	index map[string]int
}

// Step is one step of a flow: one flat struct whose fields depend on Type
// (see the field comments). Validate rejects fields that do not belong to
// the step's type.
type Step struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	// Next is the step to run after this one; default: the following step
	// in the array. The last step without next ends the flow. Branch,
	// hangup and transfer steps have no next.
	Next string `json:"next,omitempty"`

	Text     string `json:"text,omitempty"`     // say, send_message (template)
	Language string `json:"language,omitempty"` // say, gather, llm: BCP 47
	Voice    string `json:"voice,omitempty"`    // say, gather, llm
	URL      string `json:"url,omitempty"`      // play, http (template)

	Input       string   `json:"input,omitempty"`         // gather: "dtmf" (default), "speech", "dtmf speech"
	Prompt      string   `json:"prompt,omitempty"`        // gather: said before listening; llm: the user turn (template)
	MaxDigits   int      `json:"max_digits,omitempty"`    // gather: 0..32, 0 = no limit
	FinishOnKey string   `json:"finish_on_key,omitempty"` // gather, record: one of 0-9*#, default "#"
	Timeout     Duration `json:"timeout,omitempty"`       // gather, record (silence), http, llm
	SaveAs      string   `json:"save_as,omitempty"`       // gather, record, llm: the variable set
	NoInput     string   `json:"no_input,omitempty"`      // gather: the step to go to on timeout

	On      string `json:"on,omitempty"`      // branch: the value compared (template)
	Cases   []Case `json:"cases,omitempty"`   // branch: first match wins
	Default string `json:"default,omitempty"` // branch: the step when no case matches

	Vars map[string]string `json:"vars,omitempty"` // set: name → template

	Sets    []string `json:"sets,omitempty"`     // http: the variables its answer may set
	OnError string   `json:"on_error,omitempty"` // http, llm: the step to go to on failure

	Channel  string `json:"channel,omitempty"`   // send_message: a message channel or "auto"
	From     string `json:"from,omitempty"`      // send_message: our sender address
	MediaURL string `json:"media_url,omitempty"` // send_message (template)

	To     string `json:"to,omitempty"`      // transfer: E.164 "+…" or "sip:…" (template)
	FlowID string `json:"flow_id,omitempty"` // transfer: another flow of the account

	MaxLength Duration `json:"max_length,omitempty"` // record: default 60s, max 1h
	Length    Duration `json:"length,omitempty"`     // pause: (0, 60s]

	System       string `json:"system,omitempty"`        // llm: the system prompt (template)
	Model        string `json:"model,omitempty"`         // llm: "" = the client's default
	Say          *bool  `json:"say,omitempty"`           // llm: say the reply (default true)
	HistoryLimit int    `json:"history_limit,omitempty"` // llm: history items given, default 20
}

// Case is one branch case: exactly one condition, compared trimmed and
// case-insensitively with the branch's value.
type Case struct {
	Equals   string   `json:"equals,omitempty"`
	In       []string `json:"in,omitempty"`
	Contains string   `json:"contains,omitempty"`
	Matches  string   `json:"matches,omitempty"` // a regular expression (RE2)
	Next     string   `json:"next"`
}

// Duration is a time.Duration that reads as "5s"/"1m30s" or a number of
// seconds in JSON, and writes as the string form.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: want a duration like \"5s\" or a number of seconds", s)
		}
		*d = Duration(v)
		return nil
	}
	if string(b) == "null" {
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("duration %s: want a duration like \"5s\" or a number of seconds", b)
	}
	if f > float64(1<<62)/float64(time.Second) || f < -float64(1<<62)/float64(time.Second) {
		return fmt.Errorf("duration %s: out of range", b)
	}
	*d = Duration(f * float64(time.Second))
	return nil
}

// Problem is one thing wrong with a flow, located by a JSON path such as
// "steps[2].next" or "resume_on[0]".
type Problem struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

func (p Problem) String() string {
	if p.Field == "" {
		return p.Detail
	}
	return p.Field + ": " + p.Detail
}

// Problems is a list of problems usable as an error.
type Problems []Problem

func (ps Problems) Error() string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return "invalid flow: " + strings.Join(parts, "; ")
}

// Parse decodes a flow strictly (unknown fields are problems) and
// validates it. It returns the flow only when there are no problems.
func Parse(data []byte) (*Flow, []Problem) {
	var f Flow
	if ps := decodeStrict(data, &f); len(ps) > 0 {
		return nil, ps
	}
	if ps := f.Validate(); len(ps) > 0 {
		return nil, ps
	}
	return &f, nil
}

// decodeStrict decodes a flow, reporting every unknown field with its path
// (encoding/json alone reports only the first, without a path).
func decodeStrict(data []byte, f *Flow) []Problem {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return []Problem{{Field: "", Detail: "not a JSON object: " + jsonErr(err)}}
	}
	var ps []Problem
	for k := range top {
		if !flowFields[k] {
			ps = append(ps, Problem{Field: k, Detail: fmt.Sprintf("unknown field %q", k)})
		}
	}
	if raw, ok := top["steps"]; ok {
		ps = append(ps, unknownStepFields(raw, "steps")...)
	}
	if err := json.Unmarshal(data, f); err != nil {
		ps = append(ps, Problem{Field: typeErrField(err), Detail: jsonErr(err)})
	}
	sortProblems(ps)
	return ps
}

// unknownStepFields reports unknown fields of the steps in raw (a JSON
// array), path-prefixed.
func unknownStepFields(raw json.RawMessage, prefix string) []Problem {
	var steps []map[string]json.RawMessage
	if json.Unmarshal(raw, &steps) != nil {
		return nil // the typed decode reports it
	}
	var ps []Problem
	for i, st := range steps {
		for k, v := range st {
			path := fmt.Sprintf("%s[%d].%s", prefix, i, k)
			if !stepFields[k] {
				ps = append(ps, Problem{Field: path, Detail: fmt.Sprintf("unknown field %q", k)})
				continue
			}
			if k != "cases" {
				continue
			}
			var cases []map[string]json.RawMessage
			if json.Unmarshal(v, &cases) != nil {
				continue
			}
			for j, c := range cases {
				for ck := range c {
					if !caseFields[ck] {
						ps = append(ps, Problem{Field: fmt.Sprintf("%s[%d]", path, j) + "." + ck, Detail: fmt.Sprintf("unknown field %q", ck)})
					}
				}
			}
		}
	}
	return ps
}

func jsonErr(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("want %s, got JSON %s", te.Type, te.Value)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func typeErrField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field // dotted, e.g. "steps.max_digits"
	}
	return ""
}

var (
	flowFields = map[string]bool{"name": true, "start": true, "resume_on": true, "steps": true}
	caseFields = map[string]bool{"equals": true, "in": true, "contains": true, "matches": true, "next": true}
	stepFields = func() map[string]bool {
		m := map[string]bool{"id": true, "type": true, "next": true}
		for _, sf := range stepFieldTable {
			m[sf.name] = true
		}
		return m
	}()
)

// stepFieldTable lists the type-specific step fields, how to tell they
// are set, and the step types they belong to.
var stepFieldTable = []struct {
	name  string
	set   func(*Step) bool
	types string
}{
	{"text", func(s *Step) bool { return s.Text != "" }, "say send_message"},
	{"language", func(s *Step) bool { return s.Language != "" }, "say gather llm"},
	{"voice", func(s *Step) bool { return s.Voice != "" }, "say gather llm"},
	{"url", func(s *Step) bool { return s.URL != "" }, "play http"},
	{"input", func(s *Step) bool { return s.Input != "" }, "gather"},
	{"prompt", func(s *Step) bool { return s.Prompt != "" }, "gather llm"},
	{"max_digits", func(s *Step) bool { return s.MaxDigits != 0 }, "gather"},
	{"finish_on_key", func(s *Step) bool { return s.FinishOnKey != "" }, "gather record"},
	{"timeout", func(s *Step) bool { return s.Timeout != 0 }, "gather record http llm"},
	{"save_as", func(s *Step) bool { return s.SaveAs != "" }, "gather record llm"},
	{"no_input", func(s *Step) bool { return s.NoInput != "" }, "gather"},
	{"on", func(s *Step) bool { return s.On != "" }, "branch"},
	{"cases", func(s *Step) bool { return s.Cases != nil }, "branch"},
	{"default", func(s *Step) bool { return s.Default != "" }, "branch"},
	{"vars", func(s *Step) bool { return s.Vars != nil }, "set"},
	{"sets", func(s *Step) bool { return s.Sets != nil }, "http"},
	{"on_error", func(s *Step) bool { return s.OnError != "" }, "http llm"},
	{"channel", func(s *Step) bool { return s.Channel != "" }, "send_message"},
	{"from", func(s *Step) bool { return s.From != "" }, "send_message"},
	{"media_url", func(s *Step) bool { return s.MediaURL != "" }, "send_message"},
	{"to", func(s *Step) bool { return s.To != "" }, "transfer"},
	{"flow_id", func(s *Step) bool { return s.FlowID != "" }, "transfer"},
	{"max_length", func(s *Step) bool { return s.MaxLength != 0 }, "record"},
	{"length", func(s *Step) bool { return s.Length != 0 }, "pause"},
	{"system", func(s *Step) bool { return s.System != "" }, "llm"},
	{"model", func(s *Step) bool { return s.Model != "" }, "llm"},
	{"say", func(s *Step) bool { return s.Say != nil }, "llm"},
	{"history_limit", func(s *Step) bool { return s.HistoryLimit != 0 }, "llm"},
}

// stepTypes are the known step types and whether they take a next.
var stepTypes = map[string]bool{
	StepSay: true, StepPlay: true, StepGather: true, StepBranch: false,
	StepSet: true, StepHTTP: true, StepSendMessage: true, StepTransfer: false,
	StepRecord: true, StepPause: true, StepHangup: false, StepLLM: true,
}

// MessageChannels are the channels resume_on and send_message accept.
var MessageChannels = []string{"sms", "whatsapp", "telegram", "viber", "webrtc"}

func isMessageChannel(c string) bool {
	for _, m := range MessageChannels {
		if c == m {
			return true
		}
	}
	return false
}

// StartStep returns the id of the step the flow starts at.
func (f *Flow) StartStep() string {
	if f.Start != "" {
		return f.Start
	}
	if len(f.Steps) > 0 {
		return f.Steps[0].ID
	}
	return ""
}

// stepIndex returns the position of the step with the given id, or -1.
func (f *Flow) stepIndex(id string) int {
	if f.index != nil {
		if i, ok := f.index[id]; ok && i < len(f.Steps) && f.Steps[i].ID == id {
			return i
		}
		return -1
	}
	for i := range f.Steps {
		if f.Steps[i].ID == id {
			return i
		}
	}
	return -1
}

// CanResumeOn reports whether a suspended session may continue on channel.
func (f *Flow) CanResumeOn(channel string) bool {
	for _, c := range f.ResumeOn {
		if c == channel {
			return true
		}
	}
	return false
}

func sortProblems(ps []Problem) {
	// Map iteration order is random: keep reports stable.
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].Field < ps[j-1].Field; j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}
