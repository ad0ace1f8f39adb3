package voicebot

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// maxHTTPAnswer bounds an http step's answer body.
const maxHTTPAnswer = 1 << 20

// httpRequest is the JSON an http step POSTs.
type httpRequest struct {
	SessionID      string            `json:"session_id"`
	CallID         string            `json:"call_id"`
	ConversationID string            `json:"conversation_id"`
	Customer       httpCustomer      `json:"customer"`
	Channel        string            `json:"channel"`
	From           string            `json:"from"`
	To             string            `json:"to"`
	Step           string            `json:"step"`
	Vars           map[string]string `json:"vars"`
	Input          string            `json:"input"`
}

type httpCustomer struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Email  string `json:"email"`
	Locale string `json:"locale"`
}

// httpAnswer is what the customer's endpoint may answer.
type httpAnswer struct {
	Vars  map[string]any  `json:"vars"`
	Next  string          `json:"next"`
	Steps json.RawMessage `json:"steps"`
}

// httpFailure is a failed call: its reason goes into http.error.
type httpFailure struct {
	status int
	reason string
}

// http runs an http step: POST the session's state, apply the answer.
func (r *run) http(ctx context.Context, st *Step) error {
	s := r.s
	r.ensureVars()
	u := r.fill(st.URL)
	status, ans, steps, fail := r.callHTTP(ctx, st, u)
	if fail != nil && ctx.Err() != nil {
		return ctx.Err() // the turn itself was cancelled
	}
	if fail != nil {
		s.Vars["http.status"] = strconv.Itoa(fail.status)
		s.Vars["http.error"] = fail.reason
		r.line(roleSystem, kindEvent, fmt.Sprintf("http POST %s failed: %s", u, fail.reason), st.ID)
		if st.OnError != "" {
			r.jump(st.OnError)
		} else {
			r.follow(st)
		}
		return nil
	}
	s.Vars["http.status"] = strconv.Itoa(status)
	delete(s.Vars, "http.error")
	for k, v := range ans.vars {
		s.Vars[k] = v
	}
	detail := fmt.Sprintf("http POST %s: %d", u, status)
	if len(ans.vars) > 0 {
		detail += fmt.Sprintf(", %d variables set", len(ans.vars))
	}
	if len(steps) > 0 {
		detail += fmt.Sprintf(", %d steps returned", len(steps))
	}
	r.line(roleSystem, kindEvent, detail, st.ID)

	if len(steps) == 0 {
		if ans.next != "" {
			r.jump(ans.next)
		} else {
			r.follow(st)
		}
		return nil
	}
	ret := ans.next
	if ret == "" {
		ret = r.continuation(st)
		if len(s.Extra) > 0 && r.extraIndex(ret) >= 0 {
			// Nested answers replace the running extra steps; carry on
			// where those would have returned.
			ret = s.Return
		}
	}
	s.Extra, s.ExtraPos, s.Return = steps, 0, ret
	s.Step = steps[0].ID
	return nil
}

type appliedAnswer struct {
	vars map[string]string
	next string
}

// callHTTP does the request and checks the answer.
func (r *run) callHTTP(ctx context.Context, st *Step, u string) (int, appliedAnswer, []Step, *httpFailure) {
	var none appliedAnswer
	lu := strings.ToLower(u)
	if !strings.HasPrefix(lu, "http://") && !strings.HasPrefix(lu, "https://") {
		return 0, none, nil, &httpFailure{reason: "bad url"}
	}
	body, err := json.Marshal(httpRequest{
		SessionID: r.env.SessionID, CallID: r.env.CallID, ConversationID: r.env.ConversationID,
		Customer: httpCustomer{ID: r.env.CustomerID, Name: r.env.CustomerName, Email: r.env.CustomerEmail, Locale: r.env.CustomerLocale},
		Channel:  r.env.Channel, From: r.env.From, To: r.env.To,
		Step: st.ID, Vars: r.s.Vars, Input: r.s.LastInput,
	})
	if err != nil {
		return 0, none, nil, &httpFailure{reason: "encode request: " + err.Error()}
	}
	sctx, cancel := context.WithTimeout(ctx, orDuration(st.Timeout, DefaultHTTPTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(sctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, none, nil, &httpFailure{reason: "bad url"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "Switchboard-Flow/1")
	if r.e.Signer != nil {
		for k, vs := range r.e.Signer.Sign(newMsgID(), r.e.now(), body) {
			req.Header[k] = vs
		}
	}
	client := r.e.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || sctx.Err() != nil {
			return 0, none, nil, &httpFailure{reason: "timeout"}
		}
		return 0, none, nil, &httpFailure{reason: "request failed: " + shortErr(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxHTTPAnswer+1))
	code := resp.StatusCode
	if err != nil {
		if sctx.Err() != nil {
			return code, none, nil, &httpFailure{status: code, reason: "timeout"}
		}
		return code, none, nil, &httpFailure{status: code, reason: "read answer: " + shortErr(err)}
	}
	if code < 200 || code > 299 {
		return code, none, nil, &httpFailure{status: code, reason: fmt.Sprintf("status %d", code)}
	}
	if len(data) > maxHTTPAnswer {
		return code, none, nil, &httpFailure{status: code, reason: "answer larger than 1 MiB"}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return code, none, nil, nil // 204 or empty: nothing to apply
	}
	var ans httpAnswer
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&ans); err != nil {
		return code, none, nil, &httpFailure{status: code, reason: "bad JSON answer: " + jsonErr(err)}
	}
	out := appliedAnswer{next: ans.Next, vars: make(map[string]string, len(ans.Vars))}
	for k, v := range ans.Vars {
		if !validVarName(k) || envVars[k] {
			return code, none, nil, &httpFailure{status: code, reason: fmt.Sprintf("bad answer: cannot set variable %q", k)}
		}
		out.vars[k] = varText(v)
	}
	var steps []Step
	if raw := bytes.TrimSpace(ans.Steps); len(raw) > 0 && string(raw) != "null" {
		if ps := unknownStepFields(raw, "steps"); len(ps) > 0 {
			return code, none, nil, &httpFailure{status: code, reason: "invalid steps: " + Problems(ps).Error()}
		}
		if err := json.Unmarshal(raw, &steps); err != nil {
			return code, none, nil, &httpFailure{status: code, reason: "invalid steps: " + jsonErr(err)}
		}
		if ps := ValidateSteps(steps, r.knownIDs()); len(ps) > 0 {
			return code, none, nil, &httpFailure{status: code, reason: "invalid steps: " + Problems(ps).Error()}
		}
	}
	if ans.Next != "" && r.f.stepIndex(ans.Next) < 0 && !stepsHave(steps, ans.Next) {
		return code, none, nil, &httpFailure{status: code, reason: fmt.Sprintf("bad answer: no step has id %q", ans.Next)}
	}
	return code, out, steps, nil
}

// knownIDs returns the running flow's step ids, which returned steps may target.
func (r *run) knownIDs() map[string]bool {
	m := make(map[string]bool, len(r.f.Steps))
	for i := range r.f.Steps {
		m[r.f.Steps[i].ID] = true
	}
	return m
}

func stepsHave(steps []Step, id string) bool {
	for i := range steps {
		if steps[i].ID == id {
			return true
		}
	}
	return false
}

// varText turns a JSON value into a variable's text.
func varText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// shortErr drops the request description net/http puts before the cause.
func shortErr(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && len(msg)-i < 120 {
		return msg[i+2:]
	}
	return msg
}

// newMsgID returns a Standard Webhooks message id for an http step.
func newMsgID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "flowreq_" + hex.EncodeToString(b[:])
}
