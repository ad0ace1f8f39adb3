package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/routing"
)

type ruleJSON struct {
	ID            string    `json:"id"`
	Channel       *string   `json:"channel"`
	To            *string   `json:"to"`
	From          *string   `json:"from"`
	Outcome       *string   `json:"outcome"`
	DelayMS       *int      `json:"delay_ms"`
	RatePerSecond *float64  `json:"rate_per_second"`
	CreatedAt     time.Time `json:"created_at"`
}

func ruleView(r *sb.SandboxRule) ruleJSON {
	v := ruleJSON{ID: r.ID, Channel: strOrNil(string(r.Channel)), To: strOrNil(r.To), From: strOrNil(r.From),
		Outcome: strOrNil(r.Outcome), DelayMS: r.DelayMS, CreatedAt: r.CreatedAt.UTC()}
	if r.RatePerSecond > 0 {
		rate := r.RatePerSecond
		v.RatePerSecond = &rate
	}
	return v
}

var outcomes = map[string]bool{sb.OutcomeDelivered: true, sb.OutcomeUndelivered: true, sb.OutcomeFailed: true,
	sb.OutcomeTransient: true, sb.OutcomeSilent: true}

func (s *Server) putRule(c *gin.Context) {
	var req struct {
		Channel       sb.Channel `json:"channel"`
		To            string     `json:"to"`
		From          string     `json:"from"`
		Outcome       string     `json:"outcome"`
		DelayMS       *int       `json:"delay_ms"`
		RatePerSecond *float64   `json:"rate_per_second"`
	}
	if !s.bind(c, &req) {
		return
	}
	var fields []sb.FieldError
	bad := func(f, m string) { fields = append(fields, sb.FieldError{Field: f, Message: m}) }
	r := &sb.SandboxRule{AccountID: account(c), Channel: req.Channel, DelayMS: req.DelayMS}
	if req.Channel != "" && !req.Channel.Valid() {
		bad("channel", "unknown channel")
	}
	norm := func(field, v string) string {
		ch := req.Channel
		if ch == "" {
			ch = sb.ChannelSMS // without a channel, addresses are phone numbers
			if n, err := routing.NormalizePhone(v); err == nil {
				return n
			}
			return v
		}
		n, err := routing.NormalizeAddress(ch, v)
		if err != nil {
			bad(field, errMessage(err))
		}
		return n
	}
	switch {
	case req.To != "" && req.From != "":
		bad("from", "a rule sets either an outcome for a destination (to) or a rate for a sender (from), not both")
	case req.To != "":
		r.To = norm("to", req.To)
		if !outcomes[req.Outcome] {
			bad("outcome", "must be one of delivered, undelivered, failed, transient, silent")
		}
		r.Outcome = req.Outcome
		if req.DelayMS != nil && (*req.DelayMS < 0 || *req.DelayMS > 3_600_000) {
			bad("delay_ms", "must be between 0 and 3600000")
		}
		if req.RatePerSecond != nil {
			bad("rate_per_second", "applies to sender rules (from) only")
		}
	case req.From != "":
		r.From = norm("from", req.From)
		if req.RatePerSecond == nil || *req.RatePerSecond <= 0 || *req.RatePerSecond > 100000 {
			bad("rate_per_second", "must be a number above 0 and at most 100000")
		} else {
			r.RatePerSecond = *req.RatePerSecond
		}
		if req.Outcome != "" || req.DelayMS != nil {
			bad("outcome", "applies to destination rules (to) only")
		}
	default:
		bad("to", "is required (or from, for a sender rate rule)")
	}
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	saved, err := s.store.PutRule(c.Request.Context(), r)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, ruleView(saved))
}

func (s *Server) listRules(c *gin.Context) {
	rules, err := s.store.ListRules(c.Request.Context(), account(c))
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := make([]ruleJSON, len(rules))
	for i, r := range rules {
		out[i] = ruleView(r)
	}
	c.JSON(http.StatusOK, gin.H{"data": out})
}

func (s *Server) deleteRule(c *gin.Context) {
	if err := s.store.DeleteRule(c.Request.Context(), account(c), c.Param("id")); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// sandboxInbound simulates a customer writing in: the message is stored as
// inbound and announced as message.received, exactly as a provider's inbound
// webhook would do.
func (s *Server) sandboxInbound(c *gin.Context) {
	var req struct {
		Channel sb.Channel `json:"channel"`
		From    string     `json:"from"`
		To      string     `json:"to"`
		Text    string     `json:"text"`
	}
	if !s.bind(c, &req) {
		return
	}
	var fields fieldErrors
	m := s.content(req.Text, nil, nil, "", "", &fields)
	m.Channel = req.Channel
	if !req.Channel.Valid() {
		fields.add("channel", "must be one of sms, whatsapp, telegram, viber, webrtc, voice")
	} else {
		for _, f := range []struct {
			name, v string
			dst     *string
		}{{"from", req.From, &m.From}, {"to", req.To, &m.To}} {
			if f.v == "" {
				fields.add(f.name, "is required")
			}
			normalize(req.Channel, f.name, f.v, f.dst, &fields)
		}
	}
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	m.AccountID = account(c)
	m.Direction, m.Status, m.Provider = sb.Inbound, sb.StatusReceived, "sandbox"
	if m.Channel == sb.ChannelSMS {
		m.Encoding, m.Segments = sb.SMSSegments(m.Text)
	}
	created, err := s.receive(c, m)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusAccepted, created)
}

// receive stores an inbound message the way every provider's inbound
// webhook does: attached to its sender's customer and conversation, announced
// as message.received, and acted on when it is an opt-out or opt-in keyword
// (with the confirmation sent back on the same channel).
func (s *Server) receive(c *gin.Context, m *sb.Message) (*sb.Message, error) {
	ctx := c.Request.Context()
	if m.ProviderMessageID != "" {
		// A provider's retry of a webhook we already stored.
		if dup, err := s.store.FindInbound(ctx, m.AccountID, m.Provider, m.ProviderMessageID); err == nil {
			return dup, nil
		} else if !errors.Is(err, sb.ErrNotFound) {
			return nil, err
		}
	}
	var created, reply *sb.Message
	err := routing.Retry(ctx, func() error {
		hooks, err := s.cfg.Routing.Inbound(ctx, m)
		s.enqueueWebhooks(c, hooks)
		if err != nil {
			return err
		}
		// An opt-out is recorded before the message that asked for it:
		// if the store fails in between, the provider's retry finds the
		// opt-out in place (recording it again is a no-op), and no STOP is
		// ever stored without taking effect.
		if reply, hooks, err = s.cfg.Routing.Keywords(ctx, m); err != nil {
			return err
		}
		s.enqueueWebhooks(c, hooks)
		m.ID = uuid.Must(uuid.NewV7()).String()
		if m.ProviderMessageID == "" || strings.HasPrefix(m.ProviderMessageID, "SBIN") {
			m.ProviderMessageID = "SBIN" + m.ID
		}
		var deliveries []string
		created, _, deliveries, err = s.store.CreateMessage(ctx, m, nil, nil)
		s.enqueueWebhooks(c, deliveries)
		return err
	})
	if err != nil && m.ProviderMessageID != "" {
		// A concurrent retry of the same webhook stored it first.
		if dup, findErr := s.store.FindInbound(ctx, m.AccountID, m.Provider, m.ProviderMessageID); findErr == nil {
			return dup, nil
		}
	}
	if err != nil {
		return nil, err
	}
	if reply == nil && s.cfg.Calls != nil {
		// Not a keyword: the account's bot may answer it. A lost task
		// loses only the bot's turn, never the message.
		if err := s.queue.EnqueueBotMessage(ctx, created.AccountID, created.ID); err != nil {
			s.log.WarnContext(ctx, "hand the message to the bot", "message_id", created.ID, "err", err)
		}
	}
	if reply != nil {
		reply.ID = uuid.Must(uuid.NewV7()).String()
		// Answer through the channel the keyword came in on.
		reply.Provider, reply.ChannelID = created.Provider, created.ChannelID
		saved, _, _, err := s.store.CreateMessage(ctx, reply, nil, nil)
		if err != nil {
			return nil, err
		}
		s.queue.Notify(saved)
	}
	return created, nil
}

type submissionJSON struct {
	ID                string     `json:"id"`
	MessageID         string     `json:"message_id"`
	Channel           sb.Channel `json:"channel"`
	From              string     `json:"from"`
	To                string     `json:"to"`
	Text              string     `json:"text"`
	Attempt           int        `json:"attempt"`
	Result            string     `json:"result"`
	ProviderMessageID *string    `json:"provider_message_id"`
	CreatedAt         time.Time  `json:"created_at"`
}

func (s *Server) listSubmissions(c *gin.Context) {
	id := c.Query("message_id")
	if id == "" {
		s.writeError(c, sb.Invalid(sb.FieldError{Field: "message_id", Message: "is required"}))
		return
	}
	subs, err := s.store.Submissions(c.Request.Context(), account(c), id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := make([]submissionJSON, len(subs))
	for i, x := range subs {
		out[i] = submissionJSON{x.ID, x.MessageID, x.Channel, x.From, x.To, x.Text, x.Attempt, x.Result,
			strOrNil(x.ProviderMessageID), x.CreatedAt.UTC()}
	}
	c.JSON(http.StatusOK, gin.H{"data": out})
}
