package voicebot

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// want is one expected problem: its exact field and a piece of its detail.
type want struct{ field, detail string }

func checkProblems(t *testing.T, ps []Problem, wants []want) {
	t.Helper()
	if len(ps) != len(wants) {
		t.Errorf("got %d problems, want %d:\n%s", len(ps), len(wants), dump(ps))
	}
	for _, w := range wants {
		found := false
		for _, p := range ps {
			if p.Field == w.field && strings.Contains(p.Detail, w.detail) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("missing problem %s: …%s…\ngot:\n%s", w.field, w.detail, dump(ps))
		}
	}
}

func dump(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "  %s\n", p)
	}
	return b.String()
}

func TestParseIVR(t *testing.T) {
	data, err := os.ReadFile("testdata/ivr.json")
	if err != nil {
		t.Fatal(err)
	}
	f, ps := Parse(data)
	if len(ps) > 0 {
		t.Fatalf("ivr.json: %s", dump(ps))
	}
	if f.StartStep() != "welcome" || len(f.Steps) != 11 || !f.CanResumeOn("telegram") || f.CanResumeOn("viber") {
		t.Fatalf("unexpected flow: start %q, %d steps, resume_on %v", f.StartStep(), len(f.Steps), f.ResumeOn)
	}
	if got := f.Steps[1].Timeout.D(); got != 5*time.Second {
		t.Errorf("menu timeout = %s", got)
	}
	// A flow survives a JSON round trip unchanged.
	out, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	f2, ps := Parse(out)
	if len(ps) > 0 {
		t.Fatalf("round trip: %s", dump(ps))
	}
	out2, _ := json.Marshal(f2)
	if string(out) != string(out2) {
		t.Errorf("round trip changed the flow:\n%s\n%s", out, out2)
	}
}

func TestDurationJSON(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{`"5s"`, 5 * time.Second, false},
		{`"1m30s"`, 90 * time.Second, false},
		{`3`, 3 * time.Second, false},
		{`1.5`, 1500 * time.Millisecond, false},
		{`"five"`, 0, true},
		{`true`, 0, true},
	}
	for _, tt := range tests {
		var d Duration
		err := json.Unmarshal([]byte(tt.in), &d)
		if (err != nil) != tt.err || d.D() != tt.want {
			t.Errorf("%s: got %s, %v; want %s (error %v)", tt.in, d.D(), err, tt.want, tt.err)
		}
	}
}

// flowJSON wraps steps (a JSON array body) in a valid flow.
func flowJSON(steps string) string {
	return `{"name":"t","steps":[` + steps + `]}`
}

func TestValidate(t *testing.T) {
	many := make([]string, 501)
	for i := range many {
		many[i] = fmt.Sprintf(`{"id":"s%d","type":"say","text":"x"}`, i)
	}
	tests := []struct {
		name  string
		flow  string
		wants []want
	}{
		{"valid multi-step IVR",
			flowJSON(`{"id":"hi","type":"say","text":"Hello {{customer.name}}"},
			{"id":"menu","type":"gather","prompt":"Press 1","max_digits":1,"save_as":"choice","no_input":"menu"},
			{"id":"route","type":"branch","on":"{{ choice }}","cases":[{"equals":"1","next":"one"},{"matches":"^sal","next":"one"}],"default":"menu"},
			{"id":"one","type":"set","vars":{"dept":"sales {{choice}}"}},
			{"id":"lookup","type":"http","url":"https://example.com/x","sets":["order.status"],"on_error":"bye"},
			{"id":"tell","type":"say","text":"{{order.status}} {{dept}} {{http.status}}"},
			{"id":"ask","type":"llm","system":"Be nice to {{customer.name}}","say":false,"on_error":"bye"},
			{"id":"sms","type":"send_message","text":"{{llm_reply}}","channel":"auto"},
			{"id":"rec","type":"record","max_length":"2m"},
			{"id":"wait","type":"pause","length":1.5},
			{"id":"bye","type":"hangup"}`), nil},
		{"name required", `{"steps":[{"id":"a","type":"hangup"}]}`,
			[]want{{"name", "required"}}},
		{"name too long", `{"name":"` + strings.Repeat("n", 201) + `","steps":[{"id":"a","type":"hangup"}]}`,
			[]want{{"name", "at most 200"}}},
		{"no steps", `{"name":"t","steps":[]}`,
			[]want{{"steps", "at least one step"}}},
		{"too many steps", flowJSON(strings.Join(many, ",")),
			[]want{{"steps", "at most 500"}}},
		{"bad resume_on", `{"name":"t","resume_on":["sms","fax"],"steps":[{"id":"a","type":"hangup"}]}`,
			[]want{{"resume_on[1]", `unknown channel "fax"`}}},
		{"unknown field", flowJSON(`{"id":"a","type":"gather","max_digit":1}`),
			[]want{{"steps[0].max_digit", `unknown field "max_digit"`}}},
		{"unknown flow and case fields", `{"name":"t","version":2,"steps":[{"id":"b","type":"branch","on":"x","cases":[{"equal":"1","next":"b"}],"default":"b"}]}`,
			[]want{{"version", "unknown field"}, {"steps[0].cases[0].equal", "unknown field"}}},
		{"wrong JSON type", flowJSON(`{"id":"a","type":"gather","max_digits":"one"}`),
			[]want{{"steps.max_digits", "want int"}}},
		{"unknown step type", flowJSON(`{"id":"a","type":"speak","text":"hi"}`),
			[]want{{"steps[0].type", `unknown step type "speak"`}}},
		{"missing type", flowJSON(`{"id":"a"}`),
			[]want{{"steps[0].type", "required"}}},
		{"missing id", flowJSON(`{"type":"hangup"}`),
			[]want{{"steps[0].id", "required"}}},
		{"bad id", flowJSON(`{"id":"a b","type":"hangup"}`),
			[]want{{"steps[0].id", "bad id"}}},
		{"duplicate id", flowJSON(`{"id":"a","type":"say","text":"x"},{"id":"a","type":"hangup"}`),
			[]want{{"steps[1].id", `duplicate id "a" (also steps[0])`}}},
		{"say without text", flowJSON(`{"id":"a","type":"say"}`),
			[]want{{"steps[0].text", "required"}}},
		{"field of another type", flowJSON(`{"id":"a","type":"say","text":"x","max_digits":2,"on_error":"a"}`),
			[]want{{"steps[0].max_digits", "max_digits does not belong to a say step (it is for gather)"}, {"steps[0].on_error", "does not belong"}}},
		{"next on hangup", flowJSON(`{"id":"a","type":"say","text":"x"},{"id":"b","type":"hangup","next":"a"}`),
			[]want{{"steps[1].next", "a hangup step has no next"}}},
		{"gather ranges", flowJSON(`{"id":"a","type":"gather","max_digits":40,"finish_on_key":"x","timeout":"2m","input":"voice"}`),
			[]want{{"steps[0].max_digits", "0 to 32"}, {"steps[0].finish_on_key", "0-9"}, {"steps[0].timeout", "between 1s and 1m0s"}, {"steps[0].input", `"voice"`}}},
		{"play needs http url", flowJSON(`{"id":"a","type":"play","url":"ftp://x/y.mp3"},{"id":"b","type":"play"}`),
			[]want{{"steps[0].url", "http:// or https://"}, {"steps[1].url", "required"}}},
		{"pause length", flowJSON(`{"id":"a","type":"pause"},{"id":"b","type":"pause","length":61}`),
			[]want{{"steps[0].length", "required"}, {"steps[1].length", "at most 1m0s"}}},
		{"transfer to and flow_id", flowJSON(`{"id":"a","type":"transfer","to":"+14155550100","flow_id":"f"},{"id":"b","type":"transfer"},{"id":"c","type":"transfer","to":"555-1234"}`),
			[]want{{"steps[0]", "not both"}, {"steps[1]", "needs to"}, {"steps[2].to", "E.164"}, {"steps[1]", "unreachable"}, {"steps[2]", "unreachable"}}},
		{"http limits", flowJSON(`{"id":"a","type":"http","url":"https://x.test","timeout":"31s","sets":["Bad"]}`),
			[]want{{"steps[0].timeout", "between"}, {"steps[0].sets[0]", "bad variable name"}}},
		{"send_message channel", flowJSON(`{"id":"a","type":"send_message","channel":"fax","text":"x"}`),
			[]want{{"steps[0].channel", `unknown channel "fax"`}}},
		{"set built-in", flowJSON(`{"id":"a","type":"set","vars":{"customer.name":"x"}}`),
			[]want{{"steps[0].vars.customer.name", "built-in"}}},
		{"llm history limit", flowJSON(`{"id":"a","type":"llm","history_limit":-1}`),
			[]want{{"steps[0].history_limit", "0 to 200"}}},
		{"missing next target", flowJSON(`{"id":"a","type":"say","text":"x","next":"nowhere"}`),
			[]want{{"steps[0].next", `no step has id "nowhere"`}}},
		{"missing branch targets", flowJSON(`{"id":"a","type":"gather"},{"id":"b","type":"branch","on":"{{input}}","cases":[{"equals":"1","next":"a"},{"equals":"2","next":"gone"}],"default":"lost"}`),
			[]want{{"steps[1].cases[1].next", `"gone"`}, {"steps[1].default", `"lost"`}}},
		{"branch without default or cases", flowJSON(`{"id":"a","type":"gather"},{"id":"b","type":"branch","on":"{{input}}"}`),
			[]want{{"steps[1].default", "required"}, {"steps[1].cases", "at least one case"}}},
		{"case conditions", flowJSON(`{"id":"a","type":"gather"},{"id":"b","type":"branch","on":"{{input}}","cases":[{"equals":"1","contains":"2","next":"a"},{"next":"a"},{"matches":"(","next":"a"}],"default":"a"}`),
			[]want{{"steps[1].cases[0]", "exactly one"}, {"steps[1].cases[1]", "exactly one"}, {"steps[1].cases[2].matches", "bad regular expression"}}},
		{"missing no_input and on_error targets", flowJSON(`{"id":"a","type":"gather","no_input":"x"},{"id":"b","type":"http","url":"https://x.test","on_error":"y"}`),
			[]want{{"steps[0].no_input", `"x"`}, {"steps[1].on_error", `"y"`}}},
		{"missing start", `{"name":"t","start":"zz","steps":[{"id":"a","type":"hangup"}]}`,
			[]want{{"start", `no step has id "zz"`}}},
		{"unreachable step", flowJSON(`{"id":"a","type":"say","text":"x"},{"id":"b","type":"hangup"},{"id":"c","type":"say","text":"never"}`),
			[]want{{"steps[2]", `step "c" is unreachable`}}},
		{"start skips steps", `{"name":"t","start":"b","steps":[{"id":"a","type":"say","text":"x"},{"id":"b","type":"hangup"}]}`,
			[]want{{"steps[0]", `"a" is unreachable`}}},
		{"loop without input", flowJSON(`{"id":"a","type":"say","text":"x"},{"id":"b","type":"set","vars":{"n":"1"}},{"id":"c","type":"pause","length":1,"next":"a"}`),
			[]want{{"steps[0]", "loop without input: steps a, b, c"}}},
		{"self loop", flowJSON(`{"id":"a","type":"say","text":"x"},{"id":"b","type":"http","url":"https://x.test","on_error":"b"}`),
			[]want{{"steps[1]", "loop without input: steps b"}}},
		{"loop through a gather is fine", flowJSON(`{"id":"a","type":"say","text":"x"},{"id":"b","type":"gather","next":"a"}`), nil},
		{"unknown variable", flowJSON(`{"id":"a","type":"say","text":"Hi {{nobody}} {{customer.name}}"}`),
			[]want{{"steps[0].text", `unknown variable "nobody"`}}},
		{"unclosed template", flowJSON(`{"id":"a","type":"say","text":"Hi {{customer.name"}`),
			[]want{{"steps[0].text", "unclosed"}}},
		{"empty template name", flowJSON(`{"id":"a","type":"gather","prompt":"Hi {{ }}"}`),
			[]want{{"steps[0].prompt", "empty variable name"}}},
		{"bad template name", flowJSON(`{"id":"a","type":"transfer","to":"{{Agent Number}}"}`),
			[]want{{"steps[0].to", "bad variable name"}}},
		{"every problem reported", `{"name":"","resume_on":["fax"],"steps":[{"id":"a","type":"say"},{"id":"a","type":"dance"},{"id":"c","type":"gather","max_digits":99,"next":"zz"}]}`,
			[]want{{"name", "required"}, {"resume_on[0]", "fax"}, {"steps[0].text", "required"}, {"steps[1].id", "duplicate"},
				{"steps[1].type", "dance"}, {"steps[2].max_digits", "0 to 32"}, {"steps[2].next", `"zz"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, ps := Parse([]byte(tt.flow))
			checkProblems(t, ps, tt.wants)
			if (f != nil) != (len(tt.wants) == 0) {
				t.Errorf("Parse returned flow %v with %d problems", f != nil, len(ps))
			}
		})
	}
}

func TestValidateSteps(t *testing.T) {
	known := map[string]bool{"menu": true, "bye": true}
	tests := []struct {
		name  string
		steps string
		wants []want
	}{
		{"valid, targets into the flow", `[{"id":"x1","type":"say","text":"{{anything}}"},{"id":"x2","type":"gather","no_input":"bye","next":"menu"}]`, nil},
		{"id clashes with the flow", `[{"id":"menu","type":"say","text":"x"}]`,
			[]want{{"steps[0].id", "already a step of the flow"}}},
		{"unknown target", `[{"id":"x1","type":"say","text":"x","next":"gone"}]`,
			[]want{{"steps[0].next", `"gone"`}}},
		{"loop", `[{"id":"x1","type":"say","text":"x","next":"x1"}]`,
			[]want{{"steps[0]", "loop without input"}}},
		{"malformed template", `[{"id":"x1","type":"say","text":"{{"}]`,
			[]want{{"steps[0].text", "unclosed"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var steps []Step
			if err := json.Unmarshal([]byte(tt.steps), &steps); err != nil {
				t.Fatal(err)
			}
			checkProblems(t, ValidateSteps(steps, known), tt.wants)
		})
	}
}

func TestFill(t *testing.T) {
	look := func(n string) string {
		return map[string]string{"a": "A", "customer.name": "Ann"}[n]
	}
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"{{a}}{{ a }}-{{customer.name}}", "AA-Ann"},
		{"{{missing}}!", "!"},
		{"{{a", "{{a"},
		{"x {{Bad Name}} {{a}}", "x {{Bad Name}} A"},
	}
	for _, tt := range tests {
		if got := fill(tt.in, look); got != tt.want {
			t.Errorf("fill(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzParse checks that no input makes Parse panic, and that a flow it
// accepts validates again after a JSON round trip.
func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile("testdata/ivr.json"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(flowJSON(`{"id":"a","type":"say","text":"{{x"},{"id":"b","type":"branch","cases":[{"matches":"(","next":"a"}]}`)))
	f.Fuzz(func(t *testing.T, data []byte) {
		fl, ps := Parse(data)
		if fl == nil {
			if len(ps) == 0 {
				t.Fatal("no flow and no problems")
			}
			return
		}
		out, err := json.Marshal(fl)
		if err != nil {
			t.Fatal(err)
		}
		if _, ps := Parse(out); len(ps) > 0 {
			t.Fatalf("round trip rejected: %v\n%s", ps, out)
		}
	})
}
