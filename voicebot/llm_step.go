package voicebot

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// llm runs an llm step: the system prompt, the customer's cross-channel
// history and the user turn go to the chat model; the reply is saved and,
// by default, said.
func (r *run) llm(ctx context.Context, st *Step) error {
	s := r.s
	r.ensureVars()
	sctx, cancel := context.WithTimeout(ctx, orDuration(st.Timeout, DefaultLLMTimeout))
	defer cancel()

	reply, err := r.complete(sctx, st)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		reason := err.Error()
		if errors.Is(err, context.DeadlineExceeded) || sctx.Err() != nil {
			reason = "timeout"
		}
		s.Vars["llm.error"] = reason
		r.line(roleSystem, kindEvent, "llm failed: "+reason, st.ID)
		if st.OnError != "" {
			r.jump(st.OnError)
		} else {
			r.follow(st)
		}
		return nil
	}
	delete(s.Vars, "llm.error")
	s.Vars[orDefault(st.SaveAs, "llm_reply")] = reply
	if (st.Say == nil || *st.Say) && reply != "" {
		r.act(Action{Type: ActSay, StepID: st.ID, Text: reply, Language: st.Language, Voice: st.Voice})
		r.line(roleBot, ActSay, reply, st.ID)
	}
	r.follow(st)
	return nil
}

var errNoModel = errors.New("no language model configured")

func (r *run) complete(ctx context.Context, st *Step) (string, error) {
	if r.e.Model == nil {
		return "", errNoModel
	}
	msgs := r.llmMessages(ctx, st)
	reply, err := r.e.Model.Complete(ctx, ChatRequest{Model: st.Model, Messages: msgs})
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(reply), nil
}

// llmMessages builds the conversation: system, history, user turn.
func (r *run) llmMessages(ctx context.Context, st *Step) []ChatMessage {
	var sys strings.Builder
	if st.System != "" {
		sys.WriteString(r.fill(st.System))
		sys.WriteString("\n\n")
	}
	if r.env.Channel != "" {
		fmt.Fprintf(&sys, "The customer is talking to you on the %s channel.", r.env.Channel)
	}
	var msgs []ChatMessage
	if text := strings.TrimSpace(sys.String()); text != "" {
		msgs = append(msgs, ChatMessage{Role: "system", Content: text})
	}
	if r.e.History != nil {
		limit := st.HistoryLimit
		if limit <= 0 {
			limit = DefaultHistory
		}
		items, err := r.e.History.History(ctx, r.env, limit)
		if err != nil {
			// The model can still answer without the timeline.
			r.line(roleSystem, kindEvent, "llm: customer history unavailable: "+err.Error(), st.ID)
		}
		if len(items) > limit {
			items = items[len(items)-limit:]
		}
		for _, it := range items {
			role := "assistant"
			if it.Direction == "inbound" {
				role = "user"
			}
			content := it.Text
			if it.Channel != "" {
				content = "[" + it.Channel + "] " + it.Text
			}
			msgs = append(msgs, ChatMessage{Role: role, Content: content})
		}
	}
	user := r.s.LastInput
	if st.Prompt != "" {
		user = r.fill(st.Prompt)
	}
	if user != "" {
		msgs = append(msgs, ChatMessage{Role: "user", Content: user})
	}
	return msgs
}
