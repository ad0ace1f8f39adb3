package voicebot

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// Validate checks the whole flow and returns every problem found (nil
// when the flow is valid). It also indexes the steps for the engine, so
// call it before sharing the flow between goroutines.
func (f *Flow) Validate() []Problem {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: field, Detail: fmt.Sprintf(format, args...)})
	}
	switch name := strings.TrimSpace(f.Name); {
	case name == "":
		add("name", "required")
	case len(f.Name) > MaxFlowNameLen:
		add("name", "at most %d characters (got %d)", MaxFlowNameLen, len(f.Name))
	}
	for i, c := range f.ResumeOn {
		if !isMessageChannel(c) {
			add(fmt.Sprintf("resume_on[%d]", i), "unknown channel %q: want one of %s", c, strings.Join(MessageChannels, ", "))
		}
	}
	switch {
	case len(f.Steps) == 0:
		add("steps", "a flow needs at least one step")
	case len(f.Steps) > MaxFlowSteps:
		add("steps", "at most %d steps (got %d)", MaxFlowSteps, len(f.Steps))
	}

	v := newValidator(f.Steps, nil, true)
	ps = append(ps, v.ps...)
	if len(f.Steps) == 0 {
		return ps
	}
	start := 0
	if f.Start != "" {
		i, ok := v.ids[f.Start]
		if !ok {
			add("start", "no step has id %q", f.Start)
			start = -1
		} else {
			start = i
		}
	}
	if start >= 0 {
		ps = append(ps, v.unreachable(start)...)
	}
	ps = append(ps, v.loops()...)

	idx := make(map[string]int, len(f.Steps))
	for i, st := range f.Steps {
		if _, dup := idx[st.ID]; !dup {
			idx[st.ID] = i
		}
	}
	f.index = idx
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// ValidateSteps checks steps that arrive at run time (an http step's
// answer) before the engine runs them. Their targets may name one of them
// or a step in known (the running flow's ids); ids must not clash with
// known. Variable references are checked for form only: at run time an
// unknown variable is simply empty. Reachability is not checked.
func ValidateSteps(steps []Step, known map[string]bool) []Problem {
	v := newValidator(steps, known, false)
	ps := v.ps
	if len(steps) > MaxFlowSteps {
		ps = append(ps, Problem{Field: "steps", Detail: fmt.Sprintf("at most %d steps (got %d)", MaxFlowSteps, len(steps))})
	}
	ps = append(ps, v.loops()...)
	return ps
}

// validator checks a list of steps; its results are in ps.
type validator struct {
	prefix    string
	steps     []Step
	ids       map[string]int  // id → first index
	known     map[string]bool // targets outside steps
	defined   map[string]bool // variables some step sets
	checkVars bool
	ps        []Problem
}

func newValidator(steps []Step, known map[string]bool, checkVars bool) *validator {
	v := &validator{prefix: "steps", steps: steps, ids: make(map[string]int, len(steps)), known: known, checkVars: checkVars}
	for i, st := range steps {
		if _, dup := v.ids[st.ID]; !dup && st.ID != "" {
			v.ids[st.ID] = i
		}
	}
	v.defined = definedVars(steps)
	for i := range steps {
		v.step(i)
	}
	return v
}

// definedVars returns the variables the steps set.
func definedVars(steps []Step) map[string]bool {
	d := make(map[string]bool)
	for _, st := range steps {
		switch st.Type {
		case StepSet:
			for k := range st.Vars {
				d[k] = true
			}
		case StepGather:
			d[orDefault(st.SaveAs, "input")] = true
		case StepRecord:
			d[orDefault(st.SaveAs, "recording_url")] = true
		case StepLLM:
			d[orDefault(st.SaveAs, "llm_reply")] = true
		case StepHTTP:
			for _, k := range st.Sets {
				d[k] = true
			}
		}
	}
	return d
}

func (v *validator) add(field, format string, args ...any) {
	v.ps = append(v.ps, Problem{Field: field, Detail: fmt.Sprintf(format, args...)})
}

// target checks that id names a step.
func (v *validator) target(field, id string) {
	if _, ok := v.ids[id]; ok || v.known[id] {
		return
	}
	v.add(field, "no step has id %q", id)
}

// tpl checks a template field.
func (v *validator) tpl(field, s string) {
	names, bad := templateRefs(s)
	if bad != "" {
		v.add(field, "bad template: %s", bad)
	}
	if !v.checkVars {
		return
	}
	for _, n := range names {
		if !IsBuiltinVar(n) && !v.defined[n] {
			v.add(field, "unknown variable %q: no step sets it and it is not built in", n)
		}
	}
}

// varName checks a name a step assigns.
func (v *validator) varName(field, name string) {
	switch {
	case !validVarName(name):
		v.add(field, "bad variable name %q: want lower-case letters, digits, _ and dots, like order.status", name)
	case envVars[name]:
		v.add(field, "%q is a built-in variable and cannot be set", name)
	}
}

func (v *validator) httpURL(field, s string, required bool) {
	if s == "" {
		if required {
			v.add(field, "required")
		}
		return
	}
	v.tpl(field, s)
	lower := strings.ToLower(s)
	if !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") {
		v.add(field, "want an http:// or https:// URL")
		return
	}
	if strings.Contains(s, "{{") {
		return
	}
	if u, err := url.Parse(s); err != nil || u.Host == "" {
		v.add(field, "not a valid URL")
	}
}

func (v *validator) duration(field string, d Duration, min, max time.Duration) {
	if d == 0 {
		return
	}
	if d.D() < min || d.D() > max {
		v.add(field, "want between %s and %s (got %s)", min, max, d.D())
	}
}

func (v *validator) finishKey(field, k string) {
	if k != "" && (len(k) != 1 || !strings.Contains("0123456789*#", k)) {
		v.add(field, "want one of 0-9, * or # (got %q)", k)
	}
}

var stepIDChars = func() [256]bool {
	var ok [256]bool
	for c := 'a'; c <= 'z'; c++ {
		ok[c], ok[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		ok[c] = true
	}
	ok['_'], ok['-'] = true, true
	return ok
}()

func validStepID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !stepIDChars[id[i]] {
			return false
		}
	}
	return true
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// step checks steps[i] on its own (targets included, graph excluded).
func (v *validator) step(i int) {
	st := &v.steps[i]
	at := fmt.Sprintf("%s[%d]", v.prefix, i)
	f := func(name string) string { return at + "." + name }

	switch {
	case st.ID == "":
		v.add(f("id"), "required")
	case !validStepID(st.ID):
		v.add(f("id"), "bad id %q: want 1 to 64 of A-Z a-z 0-9 _ -", st.ID)
	case v.ids[st.ID] != i:
		v.add(f("id"), "duplicate id %q (also steps[%d])", st.ID, v.ids[st.ID])
	case v.known[st.ID]:
		v.add(f("id"), "id %q is already a step of the flow", st.ID)
	}
	takesNext, known := stepTypes[st.Type]
	if !known {
		if st.Type == "" {
			v.add(f("type"), "required")
		} else {
			v.add(f("type"), "unknown step type %q: want one of say, play, gather, branch, set, http, send_message, transfer, record, pause, hangup, llm", st.Type)
		}
		if st.Next != "" {
			v.target(f("next"), st.Next)
		}
		return
	}
	if st.Next != "" {
		if takesNext {
			v.target(f("next"), st.Next)
		} else {
			v.add(f("next"), "a %s step has no next", st.Type)
		}
	}
	for _, sf := range stepFieldTable {
		if sf.set(st) && !strings.Contains(" "+sf.types+" ", " "+st.Type+" ") {
			v.add(f(sf.name), "%s does not belong to a %s step (it is for %s)", sf.name, st.Type, strings.ReplaceAll(sf.types, " ", ", "))
		}
	}

	switch st.Type {
	case StepSay:
		if st.Text == "" {
			v.add(f("text"), "required")
		}
		v.tpl(f("text"), st.Text)
	case StepPlay:
		v.httpURL(f("url"), st.URL, true)
	case StepGather:
		switch st.Input {
		case "", "dtmf", "speech", "dtmf speech", "speech dtmf":
		default:
			v.add(f("input"), "want \"dtmf\", \"speech\" or \"dtmf speech\" (got %q)", st.Input)
		}
		v.tpl(f("prompt"), st.Prompt)
		if st.MaxDigits < 0 || st.MaxDigits > 32 {
			v.add(f("max_digits"), "want 0 to 32 (got %d)", st.MaxDigits)
		}
		v.finishKey(f("finish_on_key"), st.FinishOnKey)
		v.duration(f("timeout"), st.Timeout, time.Second, time.Minute)
		if st.SaveAs != "" {
			v.varName(f("save_as"), st.SaveAs)
		}
		if st.NoInput != "" {
			v.target(f("no_input"), st.NoInput)
		}
	case StepBranch:
		if st.On == "" {
			v.add(f("on"), "required")
		}
		v.tpl(f("on"), st.On)
		if len(st.Cases) == 0 {
			v.add(f("cases"), "a branch needs at least one case")
		}
		for j, c := range st.Cases {
			cf := fmt.Sprintf("%s.cases[%d]", at, j)
			n := 0
			for _, set := range []bool{c.Equals != "", c.In != nil, c.Contains != "", c.Matches != ""} {
				if set {
					n++
				}
			}
			if n != 1 {
				v.add(cf, "want exactly one of equals, in, contains, matches (got %d)", n)
			}
			if c.Matches != "" {
				if _, err := caseRegexp(c.Matches); err != nil {
					v.add(cf+".matches", "bad regular expression: %v", err)
				}
			}
			if c.Next == "" {
				v.add(cf+".next", "required")
			} else {
				v.target(cf+".next", c.Next)
			}
		}
		if st.Default == "" {
			v.add(f("default"), "required")
		} else {
			v.target(f("default"), st.Default)
		}
	case StepSet:
		if len(st.Vars) == 0 {
			v.add(f("vars"), "required: at least one variable")
		}
		keys := make([]string, 0, len(st.Vars))
		for k := range st.Vars {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v.varName(f("vars."+k), k)
			v.tpl(f("vars."+k), st.Vars[k])
		}
	case StepHTTP:
		v.httpURL(f("url"), st.URL, true)
		v.duration(f("timeout"), st.Timeout, time.Millisecond, MaxHTTPTimeout)
		for j, k := range st.Sets {
			v.varName(fmt.Sprintf("%s[%d]", f("sets"), j), k)
		}
		if st.OnError != "" {
			v.target(f("on_error"), st.OnError)
		}
	case StepSendMessage:
		if st.Channel != "" && st.Channel != "auto" && !isMessageChannel(st.Channel) {
			v.add(f("channel"), "unknown channel %q: want auto or one of %s", st.Channel, strings.Join(MessageChannels, ", "))
		}
		if st.Text == "" {
			v.add(f("text"), "required")
		}
		v.tpl(f("text"), st.Text)
		v.httpURL(f("media_url"), st.MediaURL, false)
	case StepTransfer:
		switch {
		case st.To == "" && st.FlowID == "":
			v.add(at, "a transfer needs to (a number or SIP URI) or flow_id")
		case st.To != "" && st.FlowID != "":
			v.add(at, "a transfer takes to or flow_id, not both")
		case st.To != "":
			v.tpl(f("to"), st.To)
			if !strings.Contains(st.To, "{{") && !e164.MatchString(st.To) && !validSIPURI(st.To) && !validBrowserTarget(st.To) {
				v.add(f("to"), "want an E.164 number like +14155550100, a sip: URI, agent:<name> or webrtc:<identity> (got %q)", st.To)
			}
		}
	case StepRecord:
		v.duration(f("max_length"), st.MaxLength, time.Second, MaxRecordLength)
		v.finishKey(f("finish_on_key"), st.FinishOnKey)
		v.duration(f("timeout"), st.Timeout, time.Second, time.Minute)
		if st.SaveAs != "" {
			v.varName(f("save_as"), st.SaveAs)
		}
	case StepPause:
		if st.Length <= 0 || st.Length.D() > MaxPause {
			v.add(f("length"), "required: more than 0 and at most %s (got %s)", MaxPause, st.Length.D())
		}
	case StepHangup:
	case StepLLM:
		v.tpl(f("system"), st.System)
		v.tpl(f("prompt"), st.Prompt)
		if st.SaveAs != "" {
			v.varName(f("save_as"), st.SaveAs)
		}
		v.duration(f("timeout"), st.Timeout, time.Millisecond, MaxLLMTimeout)
		if st.HistoryLimit < 0 || st.HistoryLimit > MaxHistory {
			v.add(f("history_limit"), "want 0 to %d (got %d)", MaxHistory, st.HistoryLimit)
		}
		if st.OnError != "" {
			v.target(f("on_error"), st.OnError)
		}
	}
}

// AgentPrefix marks an agent's browser, the inbox of the agent named after
// it, as a transfer target: "agent:alice".
const AgentPrefix = "agent:"

// BrowserTarget reports whether a transfer goes to a browser: an agent's
// inbox (agent:<name>) or a browser identity (webrtc:<identity>). Only a
// browser call can be bridged to one.
func BrowserTarget(to string) bool {
	return strings.HasPrefix(to, AgentPrefix) || strings.HasPrefix(to, "webrtc:")
}

var (
	agentName       = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,64}$`)
	browserIdentity = regexp.MustCompile(`^[A-Za-z0-9_.:@-]{1,128}$`)
)

// ValidAgent reports whether name can name an agent: 1 to 64 of
// A-Z a-z 0-9 _ . @ -.
func ValidAgent(name string) bool { return agentName.MatchString(name) }

// ValidBrowserIdentity reports whether id can name a browser (the address
// of a webrtc identity): 1 to 128 of A-Z a-z 0-9 _ . : @ -.
func ValidBrowserIdentity(id string) bool { return browserIdentity.MatchString(id) }

func validBrowserTarget(s string) bool {
	if name, ok := strings.CutPrefix(s, AgentPrefix); ok {
		return ValidAgent(name)
	}
	id, ok := strings.CutPrefix(s, "webrtc:")
	return ok && ValidBrowserIdentity(id)
}

func validSIPURI(s string) bool {
	lower := strings.ToLower(s)
	for _, p := range []string{"sip:", "sips:"} {
		if rest, ok := strings.CutPrefix(lower, p); ok {
			return rest != "" && !strings.ContainsAny(rest, " \t\r\n")
		}
	}
	return false
}

// edges returns the indices of the steps steps[i] may go to within v.steps.
func (v *validator) edges(i int) []int {
	st := &v.steps[i]
	var out []int
	to := func(id string) {
		if j, ok := v.ids[id]; ok && id != "" {
			out = append(out, j)
		}
	}
	switch st.Type {
	case StepHangup, StepTransfer:
		return nil
	case StepBranch:
		for _, c := range st.Cases {
			to(c.Next)
		}
		to(st.Default)
		return out
	case StepGather:
		to(st.NoInput)
	case StepHTTP, StepLLM:
		to(st.OnError)
	}
	if st.Next != "" {
		to(st.Next)
	} else if i+1 < len(v.steps) {
		out = append(out, i+1)
	}
	return out
}

// unreachable reports steps no path from start reaches.
func (v *validator) unreachable(start int) []Problem {
	seen := make([]bool, len(v.steps))
	stack := []int{start}
	seen[start] = true
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, j := range v.edges(i) {
			if !seen[j] {
				seen[j] = true
				stack = append(stack, j)
			}
		}
	}
	var ps []Problem
	for i, ok := range seen {
		if !ok {
			ps = append(ps, Problem{
				Field:  fmt.Sprintf("%s[%d]", v.prefix, i),
				Detail: fmt.Sprintf("step %q is unreachable: no path from the start step leads to it", v.steps[i].ID),
			})
		}
	}
	return ps
}

// loops reports cycles (strongly connected components of more than one
// step, or a step that goes to itself) with no gather or record step: a
// flow caught in one would run forever without waiting for the customer.
func (v *validator) loops() []Problem {
	n := len(v.steps)
	index := make([]int, n)
	low := make([]int, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	var ps []Problem
	var firsts []int
	counter := 0
	var connect func(i int)
	connect = func(i int) {
		index[i], low[i] = counter, counter
		counter++
		stack = append(stack, i)
		onStack[i] = true
		self := false
		for _, j := range v.edges(i) {
			switch {
			case j == i:
				self = true
			case index[j] < 0:
				connect(j)
				low[i] = min(low[i], low[j])
			case onStack[j]:
				low[i] = min(low[i], index[j])
			}
		}
		if low[i] != index[i] {
			return
		}
		var comp []int
		for {
			j := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[j] = false
			comp = append(comp, j)
			if j == i {
				break
			}
		}
		if len(comp) == 1 && !self {
			return
		}
		sort.Ints(comp)
		ids := make([]string, len(comp))
		for k, j := range comp {
			if t := v.steps[j].Type; t == StepGather || t == StepRecord {
				return
			}
			ids[k] = v.steps[j].ID
		}
		firsts = append(firsts, comp[0])
		ps = append(ps, Problem{
			Field:  fmt.Sprintf("%s[%d]", v.prefix, comp[0]),
			Detail: fmt.Sprintf("loop without input: steps %s repeat without a gather or record step", strings.Join(ids, ", ")),
		})
	}
	for i := range n {
		if index[i] < 0 {
			connect(i)
		}
	}
	// Report in step order, not discovery order.
	order := make([]int, len(ps))
	for k := range order {
		order[k] = k
	}
	sort.Slice(order, func(a, b int) bool { return firsts[order[a]] < firsts[order[b]] })
	sorted := make([]Problem, len(ps))
	for k, o := range order {
		sorted[k] = ps[o]
	}
	return sorted
}

// caseRegexp compiles a case's pattern case-insensitively, caching it:
// flows are validated once but their branches run on every turn.
func caseRegexp(pattern string) (*regexp.Regexp, error) {
	reCache.Lock()
	re, ok := reCache.m[pattern]
	reCache.Unlock()
	if ok {
		return re, nil
	}
	re, err := regexp.Compile("(?i)" + pattern)
	if err != nil {
		return nil, err
	}
	reCache.Lock()
	if len(reCache.m) >= 4096 { // bound what run-time steps can add
		clear(reCache.m)
	}
	reCache.m[pattern] = re
	reCache.Unlock()
	return re, nil
}

var reCache = struct {
	sync.Mutex
	m map[string]*regexp.Regexp
}{m: make(map[string]*regexp.Regexp)}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
