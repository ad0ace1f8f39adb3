package voicebot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func loadIVR(t testing.TB) *Flow {
	t.Helper()
	data, err := os.ReadFile("testdata/ivr.json")
	if err != nil {
		t.Fatal(err)
	}
	f, ps := Parse(data)
	if len(ps) > 0 {
		t.Fatalf("ivr.json: %v", ps)
	}
	return f
}

func mustFlow(t testing.TB, js string) *Flow {
	t.Helper()
	f, ps := Parse([]byte(js))
	if len(ps) > 0 {
		t.Fatalf("flow: %s", dump(ps))
	}
	return f
}

// fakeMessenger records send_message requests.
type fakeMessenger struct {
	mu   sync.Mutex
	sent []MessageRequest
	err  error
}

func (m *fakeMessenger) SendMessage(_ context.Context, _ Env, req MessageRequest) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return "", m.err
	}
	m.sent = append(m.sent, req)
	return fmt.Sprintf("msg_%d", len(m.sent)), nil
}

// summary renders actions compactly: "say:Welcome|gather".
func summary(acts []Action) string {
	parts := make([]string, len(acts))
	for i, a := range acts {
		switch a.Type {
		case ActSay:
			parts[i] = "say:" + a.Text
		case ActPlay:
			parts[i] = "play:" + a.URL
		case ActTransfer:
			parts[i] = "transfer:" + a.To
		default:
			parts[i] = a.Type
		}
	}
	return strings.Join(parts, "|")
}

// roundTrip persists the session as the caller would between turns.
func roundTrip(t *testing.T, s *Session) *Session {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out Session
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

type turnStep struct {
	in      Input
	env     *Env // nil: the test's env
	actions string
	waiting bool
	ended   bool
	susp    bool
}

func TestIVR(t *testing.T) {
	voice := Env{Channel: "voice", CustomerName: "Ann", From: "+14155550100", To: "+14155550199"}
	tg := Env{Channel: "telegram", CustomerName: "Ann"}
	welcome := "say:Welcome to Switchboard.|say:Press 1 for sales, 2 for support|gather"
	tests := []struct {
		name  string
		turns []turnStep
		check func(t *testing.T, s *Session, m *fakeMessenger)
	}{
		{"digits to support", []turnStep{
			{in: Input{Kind: InputStart}, actions: welcome, waiting: true},
			{in: Input{Kind: InputDigits, Value: " 2# "}, actions: "say:You reached support.|say:Describe your problem|gather", waiting: true},
			{in: Input{Kind: InputSpeech, Value: "my printer is on fire"}, actions: "say:Thanks, we got: my printer is on fire|hangup", ended: true},
		}, func(t *testing.T, s *Session, _ *fakeMessenger) {
			if s.Vars["choice"] != "2" || s.Vars["problem"] != "my printer is on fire" || s.Vars["input_kind"] != "speech" {
				t.Errorf("vars = %v", s.Vars)
			}
			if !s.Done || s.Steps != 7 {
				t.Errorf("done %v, steps %d", s.Done, s.Steps)
			}
		}},
		{"digits to sales sends an sms", []turnStep{
			{in: Input{Kind: InputStart}, actions: welcome, waiting: true},
			{in: Input{Kind: InputDigits, Value: "12"}, actions: "say:Connecting you to sales.|hangup", ended: true},
		}, func(t *testing.T, s *Session, m *fakeMessenger) {
			if len(m.sent) != 1 || m.sent[0].Channel != "sms" || m.sent[0].Text != "Sales will call you" {
				t.Errorf("sent %+v", m.sent)
			}
			if s.Vars["choice"] != "1" {
				t.Errorf("max_digits 1 should keep %q, got %q", "1", s.Vars["choice"])
			}
		}},
		{"text answers over chat", []turnStep{
			{in: Input{Kind: InputStart}, env: &tg, actions: welcome, waiting: true},
			{in: Input{Kind: InputText, Value: "  Support "}, env: &tg, actions: "say:You reached support.|say:Describe your problem|gather", waiting: true},
			{in: Input{Kind: InputText, Value: "no internet"}, env: &tg, actions: "say:Thanks, we got: no internet|hangup", ended: true},
		}, nil},
		{"wrong answer goes back to the menu", []turnStep{
			{in: Input{Kind: InputStart}, actions: welcome, waiting: true},
			{in: Input{Kind: InputDigits, Value: "9"}, actions: "say:Sorry, I did not get that.|say:Press 1 for sales, 2 for support|gather", waiting: true},
		}, nil},
		{"timeout takes no_input", []turnStep{
			{in: Input{Kind: InputStart}, actions: welcome, waiting: true},
			{in: Input{Kind: InputTimeout}, actions: "say:Sorry, I did not get that.|say:Press 1 for sales, 2 for support|gather", waiting: true},
			{in: Input{Kind: InputDigits, Value: "2"}, actions: "say:You reached support.|say:Describe your problem|gather", waiting: true},
		}, nil},
		{"hang-up suspends, chat resumes", []turnStep{
			{in: Input{Kind: InputStart}, actions: welcome, waiting: true},
			{in: Input{Kind: InputDigits, Value: "2"}, actions: "say:You reached support.|say:Describe your problem|gather", waiting: true},
			{in: Input{Kind: InputHangup}, actions: "", susp: true},
			{in: Input{Kind: InputText, Value: "still broken"}, env: &tg, actions: "say:Thanks, we got: still broken|hangup", ended: true},
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := loadIVR(t)
			m := &fakeMessenger{}
			e := &Engine{Messenger: m}
			s := NewSession(f)
			for i, ts := range tt.turns {
				env := voice
				if ts.env != nil {
					env = *ts.env
				}
				s = roundTrip(t, s)
				turn, err := e.Advance(context.Background(), f, s, env, ts.in)
				if err != nil {
					t.Fatalf("turn %d: %v", i, err)
				}
				if got := summary(turn.Actions); got != ts.actions {
					t.Errorf("turn %d actions:\n got %s\nwant %s", i, got, ts.actions)
				}
				if turn.Waiting != ts.waiting || turn.Ended != ts.ended || turn.Suspended != ts.susp {
					t.Errorf("turn %d: waiting %v ended %v suspended %v", i, turn.Waiting, turn.Ended, turn.Suspended)
				}
				if ts.waiting && turn.Actions[len(turn.Actions)-1].Type != ActGather {
					t.Errorf("turn %d: a waiting turn must end with its gather", i)
				}
				if s.Waiting != (ts.waiting || ts.susp) || s.Done != ts.ended {
					t.Errorf("turn %d: session waiting %v done %v", i, s.Waiting, s.Done)
				}
			}
			if tt.check != nil {
				tt.check(t, s, m)
			}
		})
	}
}

func TestIVRTranscript(t *testing.T) {
	f := loadIVR(t)
	e := &Engine{Messenger: &fakeMessenger{}}
	s := NewSession(f)
	ctx := context.Background()
	if _, err := e.Advance(ctx, f, s, Env{}, Input{Kind: InputStart}); err != nil {
		t.Fatal(err)
	}
	turn, err := e.Advance(ctx, f, s, Env{}, Input{Kind: InputDigits, Value: "1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Line{
		{Role: "caller", Kind: "dtmf", Text: "1", StepID: "menu"},
		{Role: "bot", Kind: "say", Text: "Connecting you to sales.", StepID: "sales"},
		{Role: "system", Kind: "event", Text: "message sent on sms: Sales will call you", StepID: "sales_sms"},
		{Role: "system", Kind: "event", Text: "bot hung up", StepID: "sales_bye"},
	}
	if !reflect.DeepEqual(turn.Transcript, want) {
		t.Errorf("transcript:\n got %+v\nwant %+v", turn.Transcript, want)
	}
	if len(turn.Messages) != 1 || turn.Messages[0].MessageID != "msg_1" || turn.Messages[0].StepID != "sales_sms" {
		t.Errorf("messages %+v", turn.Messages)
	}
}

func TestHangupWithoutResume(t *testing.T) {
	f := loadIVR(t)
	f.ResumeOn = nil
	e := &Engine{}
	s := NewSession(f)
	ctx := context.Background()
	if _, err := e.Advance(ctx, f, s, Env{}, Input{Kind: InputStart}); err != nil {
		t.Fatal(err)
	}
	turn, err := e.Advance(ctx, f, s, Env{}, Input{Kind: InputHangup})
	if err != nil {
		t.Fatal(err)
	}
	if !turn.Ended || turn.Suspended || !s.Done || s.Waiting {
		t.Errorf("turn %+v, session %+v", turn, s)
	}
	if len(turn.Transcript) != 1 || turn.Transcript[0].Text != "caller hung up" {
		t.Errorf("transcript %+v", turn.Transcript)
	}
}

func TestNotWaiting(t *testing.T) {
	f := loadIVR(t)
	e := &Engine{}
	ctx := context.Background()
	fresh := NewSession(f)
	waiting := NewSession(f)
	if _, err := e.Advance(ctx, f, waiting, Env{}, Input{Kind: InputStart}); err != nil {
		t.Fatal(err)
	}
	done := &Session{Done: true, Vars: map[string]string{}}
	tests := []struct {
		name string
		s    *Session
		in   Input
		err  error
	}{
		{"digits before start", fresh, Input{Kind: InputDigits, Value: "1"}, ErrNotWaiting},
		{"timeout before start", fresh, Input{Kind: InputTimeout}, ErrNotWaiting},
		{"start while waiting", waiting, Input{Kind: InputStart}, ErrNotWaiting},
		{"recording at a gather", waiting, Input{Kind: InputRecording, Value: "https://x/r.wav"}, ErrUnexpectedInput},
		{"unknown kind", waiting, Input{Kind: "smoke"}, ErrUnexpectedInput},
		{"text after done", done, Input{Kind: InputText, Value: "hi"}, ErrNotWaiting},
		{"hangup after done", done, Input{Kind: InputHangup}, ErrNotWaiting},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := json.Marshal(tt.s)
			turn, err := e.Advance(ctx, f, tt.s, Env{}, tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			after, _ := json.Marshal(tt.s)
			if string(before) != string(after) {
				t.Errorf("session changed:\n%s\n%s", before, after)
			}
			if len(turn.Actions)+len(turn.Transcript) != 0 {
				t.Errorf("turn %+v", turn)
			}
		})
	}
}

func TestRunaway(t *testing.T) {
	// Built in code, unvalidated: Validate would reject the loop.
	f := &Flow{Name: "loop", Steps: []Step{
		{ID: "a", Type: StepSet, Vars: map[string]string{"x": "1"}},
		{ID: "b", Type: StepSay, Text: "again", Next: "a"},
	}}
	e := &Engine{MaxSteps: 10}
	s := NewSession(f)
	turn, err := e.Advance(context.Background(), f, s, Env{}, Input{Kind: InputStart})
	if !errors.Is(err, ErrTooManySteps) {
		t.Fatalf("err = %v", err)
	}
	if !turn.Ended || !s.Done || s.Steps != 10 || len(turn.Actions) != 5 {
		t.Errorf("ended %v done %v steps %d actions %d", turn.Ended, s.Done, s.Steps, len(turn.Actions))
	}
}

func TestStepsMisc(t *testing.T) {
	ctx := context.Background()
	env := Env{Channel: "voice", CustomerName: "Ann", CallID: "call_1", To: "+14155550199"}
	tests := []struct {
		name    string
		flow    string
		inputs  []Input
		actions string // of the last turn
		ended   bool
		vars    map[string]string
	}{
		{"set, branch, play, pause, env vars",
			flowJSON(`{"id":"s","type":"set","vars":{"who":"{{customer.name}}","n":"{{ call.id }}"}},
			{"id":"b","type":"branch","on":"{{who}}","cases":[{"contains":"NN","next":"p"}],"default":"x"},
			{"id":"p","type":"play","url":"https://cdn.test/{{n}}.mp3"},
			{"id":"w","type":"pause","length":"2s"},
			{"id":"x","type":"say","text":"bye {{who}} on {{channel}}"}`),
			[]Input{{Kind: InputStart}}, "play:https://cdn.test/call_1.mp3|pause|say:bye Ann on voice", true,
			map[string]string{"who": "Ann", "n": "call_1"}},
		{"branch matches and in",
			flowJSON(`{"id":"g","type":"gather","input":"dtmf speech","save_as":"ans"},
			{"id":"b","type":"branch","on":"{{ans}}","cases":[{"in":["no","nope"],"next":"n"},{"matches":"^y(es)?$","next":"y"}],"default":"n"},
			{"id":"y","type":"say","text":"yes","next":"end"},{"id":"n","type":"say","text":"no"},{"id":"end","type":"hangup"}`),
			[]Input{{Kind: InputStart}, {Kind: InputSpeech, Value: "YES"}}, "say:yes|hangup", true,
			map[string]string{"ans": "YES", "input": "YES"}},
		{"record saves the url",
			flowJSON(`{"id":"r","type":"record","save_as":"msg"},{"id":"t","type":"say","text":"got {{msg}}"}`),
			[]Input{{Kind: InputStart}, {Kind: InputRecording, Value: "https://rec.test/1.wav"}}, "say:got https://rec.test/1.wav", true,
			map[string]string{"msg": "https://rec.test/1.wav"}},
		{"record timeout",
			flowJSON(`{"id":"r","type":"record"},{"id":"t","type":"say","text":"[{{recording_url}}]"}`),
			[]Input{{Kind: InputStart}, {Kind: InputTimeout}}, "say:[]", true, nil},
		{"gather timeout without no_input continues empty",
			flowJSON(`{"id":"g","type":"gather","save_as":"d"},{"id":"t","type":"say","text":"[{{d}}]"}`),
			[]Input{{Kind: InputStart}, {Kind: InputTimeout}}, "say:[]", true, map[string]string{"d": ""}},
		{"transfer to a number",
			flowJSON(`{"id":"s","type":"set","vars":{"agent":"+14155550111"}},{"id":"t","type":"transfer","to":"{{agent}}"}`),
			[]Input{{Kind: InputStart}}, "transfer:+14155550111", true, nil},
		{"send_message failure continues",
			flowJSON(`{"id":"m","type":"send_message","text":"hi"},{"id":"t","type":"say","text":"after"}`),
			[]Input{{Kind: InputStart}}, "say:after", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustFlow(t, tt.flow)
			e := &Engine{Messenger: &fakeMessenger{err: errors.New("no route")}}
			s := NewSession(f)
			var turn Turn
			for _, in := range tt.inputs {
				var err error
				if turn, err = e.Advance(ctx, f, s, env, in); err != nil {
					t.Fatal(err)
				}
			}
			if got := summary(turn.Actions); got != tt.actions {
				t.Errorf("actions:\n got %s\nwant %s", got, tt.actions)
			}
			if turn.Ended != tt.ended {
				t.Errorf("ended = %v", turn.Ended)
			}
			for k, v := range tt.vars {
				if s.Vars[k] != v {
					t.Errorf("vars[%s] = %q, want %q", k, s.Vars[k], v)
				}
			}
			if tt.name == "send_message failure continues" && (len(turn.Messages) != 1 || turn.Messages[0].Error != "no route") {
				t.Errorf("messages %+v", turn.Messages)
			}
		})
	}
}

// fakeSigner signs with fixed Standard Webhooks-style headers.
type fakeSigner struct{}

func (fakeSigner) Sign(msgID string, at time.Time, body []byte) http.Header {
	h := http.Header{}
	h.Set("Webhook-Id", msgID)
	h.Set("Webhook-Timestamp", fmt.Sprint(at.Unix()))
	h.Set("Webhook-Signature", fmt.Sprintf("v1,len%d", len(body)))
	return h
}

func TestHTTPStep(t *testing.T) {
	const flow = `{"name":"h","steps":[
		{"id":"ask","type":"gather","save_as":"order","no_input":"done"},
		{"id":"call","type":"http","url":"%s/hook?o={{order}}","timeout":"200ms","sets":["order.status","count","vip"],"on_error":"oops"},
		{"id":"after","type":"say","text":"status {{order.status}} count {{count}} vip {{vip}}"},
		{"id":"bye","type":"hangup"},
		{"id":"done","type":"say","text":"jumped {{order.status}}","next":"bye"},
		{"id":"oops","type":"say","text":"error {{http.status}} {{http.error}}","next":"bye"}]}`
	tests := []struct {
		name    string
		status  int
		answer  string
		delay   time.Duration
		actions string // of the turn after the input
		waiting bool
		more    []Input
		last    string // actions after more
		errLike string
	}{
		{name: "vars", status: 200, answer: `{"vars":{"order.status":"shipped","count":3,"vip":true}}`,
			actions: "say:status shipped count 3 vip true|hangup"},
		{name: "next", status: 200, answer: `{"vars":{"order.status":"lost"},"next":"done"}`,
			actions: "say:jumped lost|hangup"},
		{name: "empty answer", status: 204, answer: ``,
			actions: "say:status  count  vip |hangup"},
		{name: "steps", status: 200, answer: `{"vars":{"order.status":"late"},"steps":[{"id":"x1","type":"say","text":"extra {{order.status}}"},{"id":"x2","type":"gather","max_digits":1,"save_as":"count"}]}`,
			actions: "say:extra late|gather", waiting: true,
			more: []Input{{Kind: InputDigits, Value: "7"}}, last: "say:status late count 7 vip |hangup"},
		{name: "steps then next", status: 200, answer: `{"next":"done","vars":{"order.status":"x"},"steps":[{"id":"x1","type":"say","text":"first"}]}`,
			actions: "say:first|say:jumped x|hangup"},
		{name: "status 500", status: 500, answer: `oops`, actions: "say:error 500 status 500|hangup"},
		{name: "timeout", status: 200, answer: `{}`, delay: time.Second, actions: "say:error 0 timeout|hangup"},
		{name: "bad json", status: 200, answer: `{"vars":`, actions: "say:error 200 bad JSON answer: unexpected EOF|hangup"},
		{name: "invalid steps", status: 200, answer: `{"steps":[{"id":"x1","type":"dance"}]}`,
			actions: "", errLike: "invalid steps: invalid flow: steps[0].type"},
		{name: "unknown next", status: 200, answer: `{"next":"nowhere"}`,
			actions: "", errLike: `no step has id "nowhere"`},
		{name: "built-in var", status: 200, answer: `{"vars":{"customer.name":"Eve"}}`,
			actions: "", errLike: `cannot set variable "customer.name"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var gotReq map[string]any
			var gotHdr http.Header
			var gotQuery string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				mu.Lock()
				_ = json.Unmarshal(body, &gotReq)
				gotHdr = r.Header.Clone()
				gotQuery = r.URL.RawQuery
				mu.Unlock()
				if r.Header.Get("Webhook-Signature") != fmt.Sprintf("v1,len%d", len(body)) {
					w.WriteHeader(401)
					return
				}
				if tt.delay > 0 {
					select {
					case <-r.Context().Done():
					case <-time.After(tt.delay):
					}
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.answer)
			}))
			defer srv.Close()
			f := mustFlow(t, fmt.Sprintf(flow, srv.URL))
			now := time.Unix(1700000000, 0)
			e := &Engine{HTTP: srv.Client(), Signer: fakeSigner{}, Now: func() time.Time { return now }}
			env := Env{Channel: "sms", SessionID: "bs_1", CallID: "", ConversationID: "conv_1", CustomerID: "cus_1", CustomerName: "Ann", From: "+1555", To: "+1666"}
			ctx := context.Background()
			s := NewSession(f)
			if _, err := e.Advance(ctx, f, s, env, Input{Kind: InputStart}); err != nil {
				t.Fatal(err)
			}
			turn, err := e.Advance(ctx, f, s, env, Input{Kind: InputText, Value: "A-17"})
			if err != nil {
				t.Fatal(err)
			}
			if tt.errLike != "" {
				if !strings.Contains(s.Vars["http.error"], tt.errLike) {
					t.Errorf("http.error = %q, want …%s…", s.Vars["http.error"], tt.errLike)
				}
				tt.actions = "say:error 200 " + s.Vars["http.error"] + "|hangup"
			}
			if got := summary(turn.Actions); got != tt.actions {
				t.Errorf("actions:\n got %s\nwant %s", got, tt.actions)
			}
			if turn.Waiting != tt.waiting {
				t.Errorf("waiting = %v", turn.Waiting)
			}
			for _, in := range tt.more {
				s = roundTrip(t, s) // extra steps survive persistence
				if turn, err = e.Advance(ctx, f, s, env, in); err != nil {
					t.Fatal(err)
				}
				if got := summary(turn.Actions); got != tt.last {
					t.Errorf("after %v:\n got %s\nwant %s", in, got, tt.last)
				}
			}

			mu.Lock()
			defer mu.Unlock()
			if gotQuery != "o=A-17" {
				t.Errorf("query %q", gotQuery)
			}
			if gotHdr.Get("Content-Type") != "application/json" || !strings.HasPrefix(gotHdr.Get("Webhook-Id"), "flowreq_") || gotHdr.Get("Webhook-Timestamp") != "1700000000" {
				t.Errorf("headers %v", gotHdr)
			}
			cust, _ := gotReq["customer"].(map[string]any)
			vars, _ := gotReq["vars"].(map[string]any)
			if gotReq["session_id"] != "bs_1" || gotReq["conversation_id"] != "conv_1" || gotReq["channel"] != "sms" ||
				gotReq["step"] != "call" || gotReq["input"] != "A-17" || gotReq["from"] != "+1555" ||
				cust["id"] != "cus_1" || cust["name"] != "Ann" || vars["order"] != "A-17" {
				t.Errorf("request body %v", gotReq)
			}
		})
	}
}

// fakeModel answers with a fixed reply, or waits for the context.
type fakeModel struct {
	reply string
	block bool
	got   []ChatRequest
}

func (m *fakeModel) Complete(ctx context.Context, req ChatRequest) (string, error) {
	m.got = append(m.got, req)
	if m.block {
		<-ctx.Done()
		return "", fmt.Errorf("complete: %w", ctx.Err())
	}
	if _, ok := ctx.Deadline(); !ok {
		return "", errors.New("no deadline")
	}
	return m.reply, nil
}

type fakeHistory struct {
	items []HistoryItem
	limit int
}

func (h *fakeHistory) History(_ context.Context, _ Env, limit int) ([]HistoryItem, error) {
	h.limit = limit
	return h.items, nil
}

func TestLLMStep(t *testing.T) {
	const flow = `{"name":"l","steps":[
		{"id":"ask","type":"gather","input":"speech"},
		{"id":"think","type":"llm","system":"You help {{customer.name}}.","model":"m1","timeout":"50ms","history_limit":5,"on_error":"fallback"},
		{"id":"end","type":"hangup"},
		{"id":"fallback","type":"say","text":"Sorry: {{llm.error}}","next":"end"}]}`
	at := time.Unix(1700000000, 0)
	history := []HistoryItem{
		{At: at, Channel: "telegram", Direction: "inbound", Text: "my order is late"},
		{At: at.Add(time.Minute), Channel: "telegram", Direction: "outbound", Text: "we are checking"},
		{At: at.Add(2 * time.Minute), Channel: "sms", Direction: "inbound", Text: "any news?"},
	}
	tests := []struct {
		name    string
		model   *fakeModel
		actions string
		check   func(t *testing.T, m *fakeModel, h *fakeHistory, s *Session)
	}{
		{"reply with history", &fakeModel{reply: " It ships today. "}, "say:It ships today.|hangup",
			func(t *testing.T, m *fakeModel, h *fakeHistory, s *Session) {
				if len(m.got) != 1 {
					t.Fatalf("calls %d", len(m.got))
				}
				want := []ChatMessage{
					{Role: "system", Content: "You help Ann.\n\nThe customer is talking to you on the voice channel."},
					{Role: "user", Content: "[telegram] my order is late"},
					{Role: "assistant", Content: "[telegram] we are checking"},
					{Role: "user", Content: "[sms] any news?"},
					{Role: "user", Content: "where is my parcel"},
				}
				if !reflect.DeepEqual(m.got[0].Messages, want) || m.got[0].Model != "m1" {
					t.Errorf("request %+v", m.got[0])
				}
				if h.limit != 5 {
					t.Errorf("history limit %d", h.limit)
				}
				if s.Vars["llm_reply"] != "It ships today." {
					t.Errorf("vars %v", s.Vars)
				}
			}},
		{"timeout goes to on_error", &fakeModel{block: true}, "say:Sorry: timeout|hangup", nil},
		{"no model", nil, "say:Sorry: no language model configured|hangup", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustFlow(t, flow)
			h := &fakeHistory{items: history}
			e := &Engine{History: h}
			if tt.model != nil {
				e.Model = tt.model
			}
			env := Env{Channel: "voice", CustomerName: "Ann"}
			s := NewSession(f)
			ctx := context.Background()
			if _, err := e.Advance(ctx, f, s, env, Input{Kind: InputStart}); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			turn, err := e.Advance(ctx, f, s, env, Input{Kind: InputSpeech, Value: "where is my parcel"})
			if err != nil {
				t.Fatal(err)
			}
			if time.Since(start) > 2*time.Second {
				t.Errorf("the step timeout was not applied")
			}
			if got := summary(turn.Actions); got != tt.actions {
				t.Errorf("actions:\n got %s\nwant %s", got, tt.actions)
			}
			if tt.check != nil {
				tt.check(t, tt.model, h, s)
			}
		})
	}
}

func TestLLMNoSay(t *testing.T) {
	f := mustFlow(t, flowJSON(`{"id":"think","type":"llm","prompt":"Summarise {{customer.name}}","say":false},{"id":"t","type":"say","text":"<{{llm_reply}}>"}`))
	m := &fakeModel{reply: "ok"}
	e := &Engine{Model: m}
	turn, err := e.Advance(context.Background(), f, NewSession(f), Env{CustomerName: "Bo"}, Input{Kind: InputStart})
	if err != nil {
		t.Fatal(err)
	}
	if got := summary(turn.Actions); got != "say:<ok>" {
		t.Errorf("actions %s", got)
	}
	if msgs := m.got[0].Messages; len(msgs) != 1 || msgs[0] != (ChatMessage{Role: "user", Content: "Summarise Bo"}) {
		t.Errorf("messages %+v", msgs)
	}
}

type fakeFlows map[string]*Flow

func (ff fakeFlows) LoadFlow(_ context.Context, id string) (*Flow, int, error) {
	f, ok := ff[id]
	if !ok {
		return nil, 0, errors.New("not found")
	}
	return f, 3, nil
}

func TestTransferToFlow(t *testing.T) {
	a := mustFlow(t, flowJSON(`{"id":"s","type":"set","vars":{"dept":"billing"}},{"id":"go","type":"transfer","flow_id":"flow_b"}`))
	// Built in code: on its own, Validate would reject {{dept}}, which
	// only the calling flow sets.
	b := &Flow{Name: "b", Steps: []Step{
		{ID: "hi", Type: StepSay, Text: "Welcome to {{dept}}"},
		{ID: "q", Type: StepGather},
		{ID: "t", Type: StepSay, Text: "you said {{input}}"},
	}}
	e := &Engine{Flows: fakeFlows{"flow_b": b}}
	ctx := context.Background()
	s := NewSession(a)
	s.FlowID, s.FlowVersion = "flow_a", 1
	turn, err := e.Advance(ctx, a, s, Env{}, Input{Kind: InputStart})
	if err != nil {
		t.Fatal(err)
	}
	if got := summary(turn.Actions); got != "say:Welcome to billing|gather" || !turn.Waiting {
		t.Fatalf("actions %s, waiting %v", got, turn.Waiting)
	}
	if s.FlowID != "flow_b" || s.FlowVersion != 3 || s.Step != "q" {
		t.Fatalf("session %+v", s)
	}
	// The caller loads s.FlowID for the next turn.
	turn, err = e.Advance(ctx, b, s, Env{}, Input{Kind: InputDigits, Value: "42"})
	if err != nil {
		t.Fatal(err)
	}
	if got := summary(turn.Actions); got != "say:you said 42" || !turn.Ended {
		t.Errorf("actions %s, ended %v", got, turn.Ended)
	}

	// A flow that cannot be loaded ends the session with an error.
	bad := mustFlow(t, flowJSON(`{"id":"go","type":"transfer","flow_id":"missing"}`))
	s = NewSession(bad)
	turn, err = e.Advance(ctx, bad, s, Env{}, Input{Kind: InputStart})
	if err == nil || !strings.Contains(err.Error(), "not found") || !turn.Ended || !s.Done {
		t.Errorf("err %v, turn %+v", err, turn)
	}
}

// BenchmarkAdvance drives a 5-step flow (say, gather, branch, say, hangup)
// from start through the caller's digits: one call per iteration.
func BenchmarkAdvance(b *testing.B) {
	f := mustFlow(b, flowJSON(`{"id":"hi","type":"say","text":"Hello {{customer.name}}"},
		{"id":"menu","type":"gather","prompt":"Press 1 or 2","max_digits":1,"save_as":"choice"},
		{"id":"route","type":"branch","on":"{{choice}}","cases":[{"equals":"1","next":"one"}],"default":"one"},
		{"id":"one","type":"say","text":"You chose {{choice}}"},
		{"id":"bye","type":"hangup"}`))
	e := &Engine{}
	env := Env{Channel: "voice", CustomerName: "Ann"}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	steps := 0
	for b.Loop() {
		s := NewSession(f)
		if _, err := e.Advance(ctx, f, s, env, Input{Kind: InputStart}); err != nil {
			b.Fatal(err)
		}
		turn, err := e.Advance(ctx, f, s, env, Input{Kind: InputDigits, Value: "1#"})
		if err != nil || !turn.Ended {
			b.Fatalf("err %v, turn %+v", err, turn)
		}
		steps += s.Steps
	}
	if steps > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(steps), "ns/step")
	}
}

// TestConcurrentSessions runs many sessions over one shared flow (run
// with -race): the engine must not write to the flow.
func TestConcurrentSessions(t *testing.T) {
	f := loadIVR(t)
	e := &Engine{Messenger: &fakeMessenger{}}
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Go(func() {
			ctx := context.Background()
			s := NewSession(f)
			if _, err := e.Advance(ctx, f, s, Env{}, Input{Kind: InputStart}); err != nil {
				errs <- err
				return
			}
			digit := fmt.Sprint(1 + i%2)
			turn, err := e.Advance(ctx, f, s, Env{}, Input{Kind: InputDigits, Value: digit})
			if err == nil && digit == "2" {
				turn, err = e.Advance(ctx, f, s, Env{}, Input{Kind: InputSpeech, Value: "help"})
			}
			if err == nil && !turn.Ended {
				err = fmt.Errorf("session %d did not end: %+v", i, turn)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
