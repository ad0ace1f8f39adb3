package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/routing"
)

// sendRequest is the body of POST /v1/messages. "to" is an address or
// {"customer_id": …}; "failover" takes the place of "channel".
type sendRequest struct {
	Channel           sb.Channel      `json:"channel"`
	From              string          `json:"from"`
	To                json.RawMessage `json:"to"`
	Text              string          `json:"text"`
	MediaURLs         []string        `json:"media_urls"`
	Metadata          json.RawMessage `json:"metadata"`
	StatusCallbackURL string          `json:"status_callback_url"`
	Category          string          `json:"category"`
	Failover          json.RawMessage `json:"failover"`
}

// failoverStepRequest is one item of "failover".
type failoverStepRequest struct {
	Channel sb.Channel `json:"channel"`
	From    string     `json:"from"`
	After   *string    `json:"after"`
	Unless  *sb.Status `json:"unless"`
}

const (
	maxText          = 4096
	maxMediaURLs     = 10
	maxFailoverSteps = 5
	maxFailoverAfter = 24 * time.Hour

	defaultFailoverAfter = time.Minute
)

// fieldErrors collects every field error of a request rather than stopping
// at the first.
type fieldErrors []sb.FieldError

func (f *fieldErrors) add(field, msg string) {
	*f = append(*f, sb.FieldError{Field: field, Message: msg})
}

// validate checks and normalises a send request without touching storage:
// the message it returns has either To (an address) or CustomerID set, a
// channel (or routing.ChannelAuto), and for failover a plan in Failover.
// Routing fills in the rest.
func (s *Server) validate(r *sendRequest) (*sb.Message, error) {
	var fields fieldErrors
	m := s.content(r.Text, r.MediaURLs, r.Metadata, r.StatusCallbackURL, r.Category, &fields)
	m.Channel = r.Channel
	customer := false
	switch to := bytes.TrimSpace(r.To); {
	case len(to) == 0 || string(to) == "null":
		fields.add("to", "is required: an address, or {\"customer_id\": …}")
	case to[0] == '"':
		json.Unmarshal(to, &m.To)
		if m.To == "" {
			fields.add("to", "is required: an address, or {\"customer_id\": …}")
		}
	case to[0] == '{':
		var ref struct {
			CustomerID string `json:"customer_id"`
		}
		if err := decodeJSON(to, &ref); err != nil {
			fields.add("to", "must be an address or {\"customer_id\": …}: "+errMessage(err))
		} else if _, err := uuid.Parse(ref.CustomerID); err != nil {
			fields.add("to.customer_id", "must be a customer id")
		} else {
			m.CustomerID, customer = ref.CustomerID, true
		}
	default:
		fields.add("to", "must be an address string or {\"customer_id\": …}")
	}
	hasFailover := len(bytes.TrimSpace(r.Failover)) > 0 && string(bytes.TrimSpace(r.Failover)) != "null"
	switch {
	case hasFailover && r.Channel != "":
		fields.add("channel", "must be left out when failover is given: failover lists the channels")
	case hasFailover:
		if r.From != "" {
			fields.add("from", "goes on each failover step, not on the message")
		}
		m.Failover = s.failoverPlan(r.Failover, m, customer, &fields)
	case r.Channel == "":
		fields.add("channel", "is required (or failover)")
	case r.Channel == routing.ChannelAuto:
		if !customer {
			fields.add("channel", "auto needs to: {\"customer_id\": …}; an address names no customer's channels")
		}
		if r.From != "" {
			fields.add("from", "must be left out with channel auto: routing picks the sender per channel (settings.senders)")
		}
	case !r.Channel.Valid():
		fields.add("channel", "must be one of sms, whatsapp, telegram, viber, webrtc, voice, auto")
	default:
		normalizeSender(r.Channel, "from", r.From, &m.From, &fields)
		if !customer && m.To != "" {
			normalize(r.Channel, "to", m.To, &m.To, &fields)
		}
	}
	if len(fields) > 0 {
		return nil, sb.Invalid(fields...)
	}
	if m.Channel == sb.ChannelSMS {
		m.Encoding, m.Segments = sb.SMSSegments(m.Text)
	}
	m.Provider = "sandbox"
	return m, nil
}

// normalize writes addr normalised for ch into dst, or notes the error.
func normalize(ch sb.Channel, field, addr string, dst *string, fields *fieldErrors) {
	if addr == "" {
		return
	}
	n, err := routing.NormalizeAddress(ch, addr)
	if err != nil {
		fields.add(field, errMessage(err))
		return
	}
	*dst = n
}

// normalizeSender is normalize for our own address (alphanumeric SMS
// sender IDs allowed).
func normalizeSender(ch sb.Channel, field, addr string, dst *string, fields *fieldErrors) {
	if addr == "" {
		return
	}
	n, err := routing.NormalizeSender(ch, addr)
	if err != nil {
		fields.add(field, errMessage(err))
		return
	}
	*dst = n
}

// content validates what a message says, shared by every way of sending.
func (s *Server) content(text string, media []string, meta json.RawMessage, callback, category string, fields *fieldErrors) *sb.Message {
	m := &sb.Message{Direction: sb.Outbound, Text: text, MediaURLs: media, Metadata: meta, Status: sb.StatusAccepted,
		StatusCallbackURL: callback, Category: category}
	if strings.ContainsRune(text, 0) {
		fields.add("text", "must not contain NUL characters")
	}
	if bytes.Contains(meta, []byte(`\u0000`)) {
		fields.add("metadata", "must not contain NUL characters")
	}
	switch {
	case text == "" && len(media) == 0 && !routing.IsTemplate(meta):
		fields.add("text", "is required unless media_urls or metadata.template is set")
	case len([]rune(text)) > maxText:
		fields.add("text", "must be at most 4096 characters")
	}
	if len(media) > maxMediaURLs {
		fields.add("media_urls", "at most 10 media URLs")
	}
	for i, u := range media {
		if !isHTTPURL(u) || strings.ContainsRune(u, 0) {
			fields.add("media_urls["+strconv.Itoa(i)+"]", "must be an absolute http(s) URL")
		}
	}
	if len(meta) > 0 {
		var obj map[string]any
		if json.Unmarshal(meta, &obj) != nil || obj == nil {
			fields.add("metadata", "must be a JSON object")
		} else if len(meta) > 4096 {
			fields.add("metadata", "must be at most 4096 bytes")
		}
	}
	if callback != "" {
		if err := s.cfg.Guard.CheckURL(callback); err != nil {
			fields.add("status_callback_url", err.Error())
		}
	}
	if category != "" && category != sb.CategoryMarketing && category != sb.CategoryTransactional {
		fields.add("category", "must be marketing or transactional")
	}
	return m
}

// failoverPlan parses and checks "failover": 2 to 5 steps; after and unless
// only on steps after the first.
func (s *Server) failoverPlan(raw json.RawMessage, m *sb.Message, customer bool, fields *fieldErrors) *sb.FailoverPlan {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		fields.add("failover", "must be an array of steps")
		return nil
	}
	if len(items) < 2 || len(items) > maxFailoverSteps {
		fields.add("failover", "must list 2 to 5 steps")
		return nil
	}
	plan := &sb.FailoverPlan{Version: 1}
	for i, item := range items {
		f := "failover[" + strconv.Itoa(i) + "]"
		var st failoverStepRequest
		if err := decodeJSON(item, &st); err != nil {
			fields.add(f, errMessage(err))
			continue
		}
		step := sb.FailoverStep{Channel: st.Channel, State: sb.StepPending}
		if !st.Channel.Valid() {
			fields.add(f+".channel", "must be one of sms, whatsapp, telegram, viber, webrtc, voice")
			plan.Steps = append(plan.Steps, step)
			continue
		}
		normalizeSender(st.Channel, f+".from", st.From, &step.From, fields)
		if !customer && m.To != "" {
			normalize(st.Channel, "to", m.To, &step.To, fields)
		}
		if i == 0 && (st.After != nil || st.Unless != nil) {
			fields.add(f, "after and unless apply to the steps after the first: they say when to move on from the step before")
		}
		if i > 0 {
			// Without after, a step waits a minute for the one before: long
			// enough for a carrier's receipt, short enough for an OTP.
			step.Unless, step.After = sb.StatusDelivered, defaultFailoverAfter
			if st.Unless != nil {
				switch *st.Unless {
				case sb.StatusSent, sb.StatusDelivered, sb.StatusRead:
					step.Unless = *st.Unless
				default:
					fields.add(f+".unless", "must be sent, delivered or read")
				}
			}
			if st.After != nil {
				d, err := time.ParseDuration(*st.After)
				if err != nil || d < 0 || d > maxFailoverAfter {
					fields.add(f+".after", "must be a duration like \"30s\" or \"5m\", at most 24h")
				}
				step.After = d
			}
		}
		plan.Steps = append(plan.Steps, step)
	}
	if len(plan.Steps) > 0 {
		m.Channel, m.From = plan.Steps[0].Channel, plan.Steps[0].From
		if m.To != "" && plan.Steps[0].To != "" {
			m.To = plan.Steps[0].To
		}
	}
	return plan
}

func errMessage(err error) string {
	if e, ok := err.(*sb.Error); ok {
		return e.Message
	}
	return err.Error()
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// idempotency reads the Idempotency-Key header; the hash covers the
// decoded request, so whitespace or key order differences in a retried body
// are not conflicts.
func idempotency(c *gin.Context, req any) (*sb.Idempotency, error) {
	key := c.GetHeader("Idempotency-Key")
	if key == "" {
		return nil, nil
	}
	if len(key) > 255 {
		return nil, sb.Invalid(sb.FieldError{Field: "Idempotency-Key", Message: "must be at most 255 characters"})
	}
	canon, _ := json.Marshal(req)
	h := sha256.Sum256(append([]byte(c.FullPath()+"\x00"), canon...))
	return &sb.Idempotency{Key: key, RequestHash: h[:]}, nil
}

func (s *Server) sendMessage(c *gin.Context) {
	body, err := readBody(c.Request)
	if err != nil {
		s.writeError(c, err)
		return
	}
	var req sendRequest
	if err := decodeJSON(body, &req); err != nil {
		s.writeError(c, err)
		return
	}
	m, err := s.validate(&req)
	if err != nil {
		s.writeError(c, err)
		return
	}
	idem, err := idempotency(c, req)
	if err != nil {
		s.writeError(c, err)
		return
	}
	m.AccountID = account(c)
	if m.Failover != nil {
		s.sendFailover(c, m, idem)
		return
	}
	s.accept(c, m, idem, func(ctx context.Context) (*routing.Outbound, error) {
		return s.cfg.Routing.Outbound(ctx, routing.OutboundRequest{AccountID: m.AccountID, Channel: m.Channel, To: m.To,
			CustomerID: m.CustomerID, From: m.From, Category: m.Category, Mode: "explicit", Template: routing.IsTemplate(m.Metadata)})
	})
}

// SendMessage routes, stores and queues an outbound message the way
// POST /v1/messages does: for the voice bots' replies and send_message
// steps.
func (s *Server) SendMessage(ctx context.Context, r routing.OutboundRequest, text string, media []string) (*sb.Message, error) {
	var fields fieldErrors
	m := s.content(text, media, nil, "", r.Category, &fields)
	if len(fields) > 0 {
		return nil, sb.Invalid(fields...)
	}
	m.AccountID = r.AccountID
	created, _, hooks, err := s.submit(ctx, m, nil, func(ctx context.Context) (*routing.Outbound, error) {
		return s.cfg.Routing.Outbound(ctx, r)
	})
	if len(hooks) > 0 {
		if qerr := s.queue.EnqueueWebhooks(ctx, hooks); qerr != nil {
			s.log.WarnContext(ctx, "enqueue webhooks; the sweeper will send them", "err", qerr)
		}
	}
	if err != nil {
		return nil, err
	}
	s.dispatch(ctx, created)
	return created, nil
}

// submit routes and stores m; route runs again if a concurrent merge
// removed the customer it attached to.
func (s *Server) submit(ctx context.Context, m *sb.Message, idem *sb.Idempotency, route func(context.Context) (*routing.Outbound, error)) (*sb.Message, *sb.Replay, []string, error) {
	var created *sb.Message
	var replay *sb.Replay
	var hooks []string
	err := routing.Retry(ctx, func() error {
		out, err := route(ctx)
		if err != nil {
			return err
		}
		hooks = out.Deliveries
		out.Apply(m)
		if m.Channel == sb.ChannelSMS {
			m.Encoding, m.Segments = sb.SMSSegments(m.Text)
		} else {
			m.Encoding, m.Segments = "", 0
		}
		m.ID = uuid.Must(uuid.NewV7()).String()
		created, replay, _, err = s.store.CreateMessage(ctx, m, idem, func(m *sb.Message) (int, []byte, error) {
			b, err := json.Marshal(m)
			return http.StatusAccepted, b, err
		})
		return err
	})
	return created, replay, hooks, err
}

// dispatch hands a stored message to the queue: now, or when its quiet
// hours end.
func (s *Server) dispatch(ctx context.Context, created *sb.Message) {
	if !created.DeferredUntil.IsZero() {
		// Quiet hours: the message waits in PostgreSQL, due at
		// DeferredUntil; the queue holds a task for then, and the sweeper
		// sends it if that task is lost.
		if err := s.queue.Schedule(ctx, created, created.DeferredUntil); err != nil {
			s.log.WarnContext(ctx, "schedule deferred message; sweeper will send it when due", "message_id", created.ID, "err", err)
		}
	} else {
		s.queue.Notify(created)
	}
}

// accept routes and stores an outbound message and answers 202. route
// runs again if a concurrent merge removed the customer it attached to.
func (s *Server) accept(c *gin.Context, m *sb.Message, idem *sb.Idempotency, route func(context.Context) (*routing.Outbound, error)) {
	ctx := c.Request.Context()
	created, replay, hooks, err := s.submit(ctx, m, idem, route)
	s.enqueueWebhooks(c, hooks)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if replay != nil {
		s.writeReplay(c, replay, "/v1/messages/")
		return
	}
	s.dispatch(ctx, created)
	c.Header("Location", "/v1/messages/"+created.ID)
	c.JSON(http.StatusAccepted, created)
}

func (s *Server) writeReplay(c *gin.Context, replay *sb.Replay, prefix string) {
	var orig struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(replay.Body, &orig) == nil && orig.ID != "" {
		c.Header("Location", prefix+orig.ID)
	}
	c.Header("Idempotent-Replayed", "true")
	c.Data(replay.Status, "application/json; charset=utf-8", replay.Body)
}

// sendFailover stores a failover parent and hands it to the queue, which
// sends its steps one by one. Steps nobody could receive (opted out, no
// identity, no sender) are refused up front when that leaves none.
func (s *Server) sendFailover(c *gin.Context, m *sb.Message, idem *sb.Idempotency) {
	ctx := c.Request.Context()
	var created *sb.Message
	var replay *sb.Replay
	customer := m.CustomerID
	err := routing.Retry(ctx, func() error {
		m.CustomerID = customer // an address resolves again after a merge
		plan, err := s.cfg.Routing.PlanFailover(ctx, m)
		if err != nil {
			return err
		}
		s.enqueueWebhooks(c, plan.Deliveries)
		m.ID = uuid.Must(uuid.NewV7()).String()
		m.Failover, m.Provider, m.Encoding, m.Segments = plan.Plan, sb.ProviderFailover, "", 0
		m.Routing = &sb.RoutingDecision{Mode: "failover", Channel: m.Channel, Reason: "step"}
		created, replay, _, err = s.store.CreateMessage(ctx, m, idem, func(m *sb.Message) (int, []byte, error) {
			b, err := json.Marshal(m)
			return http.StatusAccepted, b, err
		})
		return err
	})
	if err != nil {
		s.writeError(c, err)
		return
	}
	if replay != nil {
		s.writeReplay(c, replay, "/v1/messages/")
		return
	}
	if err := s.queue.EnqueueFailover(ctx, created.ID, time.Time{}); err != nil {
		s.log.WarnContext(ctx, "enqueue failover; sweeper will start it", "message_id", created.ID, "err", err)
	}
	c.Header("Location", "/v1/messages/"+created.ID)
	c.JSON(http.StatusAccepted, created)
}

// replyInConversation sends in a conversation: on the channel asked for, or
// where the customer last wrote.
func (s *Server) replyInConversation(c *gin.Context) {
	var req struct {
		Text              string          `json:"text"`
		MediaURLs         []string        `json:"media_urls"`
		Metadata          json.RawMessage `json:"metadata"`
		Channel           sb.Channel      `json:"channel"`
		From              string          `json:"from"`
		Category          string          `json:"category"`
		StatusCallbackURL string          `json:"status_callback_url"`
	}
	if !s.bind(c, &req) {
		return
	}
	var fields fieldErrors
	m := s.content(req.Text, req.MediaURLs, req.Metadata, req.StatusCallbackURL, req.Category, &fields)
	if req.Channel != "" {
		if !req.Channel.Valid() {
			fields.add("channel", "must be one of sms, whatsapp, telegram, viber, webrtc, voice")
		} else {
			normalizeSender(req.Channel, "from", req.From, &m.From, &fields)
		}
	} else {
		m.From = req.From // normalised for the channel routing picks
	}
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	idem, err := idempotency(c, req)
	if err != nil {
		s.writeError(c, err)
		return
	}
	m.AccountID = account(c)
	m.Provider = "sandbox"
	convID := c.Param("id")
	s.accept(c, m, idem, func(ctx context.Context) (*routing.Outbound, error) {
		out, err := s.cfg.Routing.Reply(ctx, m.AccountID, convID, req.Channel, m.From, m.Category, routing.IsTemplate(m.Metadata))
		if err == nil && req.Channel == "" && req.From != "" {
			if out.From, err = routing.NormalizeSender(out.Channel, req.From); err != nil {
				return nil, sb.Invalid(sb.FieldError{Field: "from", Message: errMessage(err)})
			}
		}
		return out, err
	})
}

func (s *Server) getMessage(c *gin.Context) {
	m, err := s.store.GetMessage(c.Request.Context(), account(c), c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, m)
}

// list is the envelope of every list response.
type list[T any] struct {
	Data       []T     `json:"data"`
	HasMore    bool    `json:"has_more"`
	NextCursor *string `json:"next_cursor"`
}

func newList[T any](data []T, next string) list[T] {
	if data == nil {
		data = []T{}
	}
	l := list[T]{Data: data}
	if next != "" {
		l.HasMore, l.NextCursor = true, &next
	}
	return l
}

// pageParams reads limit and cursor.
func pageParams(c *gin.Context) (limit int, cursor string, fields []sb.FieldError) {
	limit = 20
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			fields = append(fields, sb.FieldError{Field: "limit", Message: "must be an integer from 1 to 100"})
		} else {
			limit = n
		}
	}
	return limit, c.Query("cursor"), fields
}

func (s *Server) listMessages(c *gin.Context) {
	limit, cursor, fields := pageParams(c)
	f := sb.MessageFilter{Limit: limit, Cursor: cursor, Channel: sb.Channel(c.Query("channel")),
		Status: sb.Status(c.Query("status")), Direction: sb.Direction(c.Query("direction"))}
	if f.Channel != "" && !f.Channel.Valid() {
		fields = append(fields, sb.FieldError{Field: "channel", Message: "unknown channel"})
	}
	if f.Status != "" && !f.Status.Valid() {
		fields = append(fields, sb.FieldError{Field: "status", Message: "unknown status"})
	}
	if f.Direction != "" && f.Direction != sb.Inbound && f.Direction != sb.Outbound {
		fields = append(fields, sb.FieldError{Field: "direction", Message: "must be inbound or outbound"})
	}
	if to := strings.TrimSpace(c.Query("to")); to != "" {
		f.To = to
		if n, err := routing.NormalizePhone(to); err == nil {
			f.To = n
		}
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"created_after", &f.CreatedAfter}, {"created_before", &f.CreatedBefore}} {
		if v := c.Query(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				fields = append(fields, sb.FieldError{Field: p.name, Message: "must be an RFC 3339 timestamp"})
			}
			*p.dst = t
		}
	}
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	msgs, next, err := s.store.ListMessages(c.Request.Context(), account(c), f)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, newList(msgs, next))
}

type eventJSON struct {
	Sequence     int       `json:"sequence"`
	Status       sb.Status `json:"status"`
	Timestamp    time.Time `json:"timestamp"`
	ErrorCode    *string   `json:"error_code"`
	ErrorMessage *string   `json:"error_message"`
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (s *Server) listEvents(c *gin.Context) {
	events, err := s.store.ListEvents(c.Request.Context(), account(c), c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := make([]eventJSON, len(events))
	for i, e := range events {
		out[i] = eventJSON{e.Sequence, e.Status, e.Timestamp.UTC(), strOrNil(e.ErrorCode), strOrNil(e.ErrorMessage)}
	}
	c.JSON(http.StatusOK, gin.H{"data": out})
}
