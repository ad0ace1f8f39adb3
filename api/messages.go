package api

import (
	"bytes"
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

// sendRequest is the body of POST /v1/messages.
type sendRequest struct {
	Channel           sb.Channel      `json:"channel"`
	From              string          `json:"from"`
	To                string          `json:"to"`
	Text              string          `json:"text"`
	MediaURLs         []string        `json:"media_urls"`
	Metadata          json.RawMessage `json:"metadata"`
	StatusCallbackURL string          `json:"status_callback_url"`
}

const (
	maxText      = 4096
	maxMediaURLs = 10
)

// validate checks and normalises a send request, collecting every field
// error rather than stopping at the first.
func (s *Server) validate(r *sendRequest) (*sb.Message, error) {
	var fields []sb.FieldError
	bad := func(f, msg string) { fields = append(fields, sb.FieldError{Field: f, Message: msg}) }
	m := &sb.Message{Channel: r.Channel, Direction: sb.Outbound, Text: r.Text, MediaURLs: r.MediaURLs,
		Metadata: r.Metadata, Status: sb.StatusAccepted, StatusCallbackURL: r.StatusCallbackURL}
	switch {
	case r.Channel == "":
		bad("channel", "is required")
	case !r.Channel.Valid():
		bad("channel", "must be one of sms, whatsapp, telegram, viber, webrtc, voice")
	default:
		var err error
		if r.From == "" {
			bad("from", "is required")
		} else if m.From, err = routing.NormalizeAddress(r.Channel, r.From); err != nil {
			bad("from", errMessage(err))
		}
		if r.To == "" {
			bad("to", "is required")
		} else if m.To, err = routing.NormalizeAddress(r.Channel, r.To); err != nil {
			bad("to", errMessage(err))
		}
	}
	if strings.ContainsRune(r.Text, 0) {
		bad("text", "must not contain NUL characters")
	}
	if bytes.Contains(r.Metadata, []byte(`\u0000`)) {
		bad("metadata", "must not contain NUL characters")
	}
	switch {
	case r.Text == "" && len(r.MediaURLs) == 0:
		bad("text", "is required unless media_urls is set")
	case len([]rune(r.Text)) > maxText:
		bad("text", "must be at most 4096 characters")
	}
	if len(r.MediaURLs) > maxMediaURLs {
		bad("media_urls", "at most 10 media URLs")
	}
	for i, u := range r.MediaURLs {
		if !isHTTPURL(u) || strings.ContainsRune(u, 0) {
			bad("media_urls["+strconv.Itoa(i)+"]", "must be an absolute http(s) URL")
		}
	}
	if len(r.Metadata) > 0 {
		var obj map[string]any
		if json.Unmarshal(r.Metadata, &obj) != nil || obj == nil {
			bad("metadata", "must be a JSON object")
		} else if len(r.Metadata) > 4096 {
			bad("metadata", "must be at most 4096 bytes")
		}
	}
	if r.StatusCallbackURL != "" {
		if err := s.cfg.Guard.CheckURL(r.StatusCallbackURL); err != nil {
			bad("status_callback_url", err.Error())
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
	m.ID = uuid.Must(uuid.NewV7()).String()
	m.AccountID = account(c)
	var idem *sb.Idempotency
	if key := c.GetHeader("Idempotency-Key"); key != "" {
		if len(key) > 255 {
			s.writeError(c, sb.Invalid(sb.FieldError{Field: "Idempotency-Key", Message: "must be at most 255 characters"}))
			return
		}
		// The hash covers the decoded request, so whitespace or key order
		// differences in a retried body are not conflicts.
		canon, _ := json.Marshal(req)
		h := sha256.Sum256(canon)
		idem = &sb.Idempotency{Key: key, RequestHash: h[:]}
	}
	created, replay, _, err := s.store.CreateMessage(c.Request.Context(), m, idem, func(m *sb.Message) (int, []byte, error) {
		b, err := json.Marshal(m)
		return http.StatusAccepted, b, err
	})
	if err != nil {
		s.writeError(c, err)
		return
	}
	if replay != nil {
		var orig struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(replay.Body, &orig) == nil && orig.ID != "" {
			c.Header("Location", "/v1/messages/"+orig.ID)
		}
		c.Header("Idempotent-Replayed", "true")
		c.Data(replay.Status, "application/json; charset=utf-8", replay.Body)
		return
	}
	s.queue.Notify(created)
	c.Header("Location", "/v1/messages/"+created.ID)
	c.JSON(http.StatusAccepted, created)
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
