package api

import (
	"bytes"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/webhook"
)

type endpointJSON struct {
	ID             string    `json:"id"`
	URL            string    `json:"url"`
	Events         []string  `json:"events"`
	Description    string    `json:"description"`
	Enabled        bool      `json:"enabled"`
	DisabledReason *string   `json:"disabled_reason"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	Secret         string    `json:"secret,omitempty"`
}

func endpointView(e *sb.WebhookEndpoint, withSecret bool) endpointJSON {
	v := endpointJSON{ID: e.ID, URL: e.URL, Events: e.Events, Description: e.Description, Enabled: e.Enabled,
		DisabledReason: strOrNil(e.DisabledReason), CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC()}
	if withSecret {
		v.Secret = e.Secret
	}
	return v
}

func (s *Server) checkEvents(events []string, fields *[]sb.FieldError) {
	if len(events) == 0 {
		*fields = append(*fields, sb.FieldError{Field: "events", Message: "must list at least one event type, or \"*\""})
	}
	for _, ev := range events {
		if ev != "*" && !slices.Contains(sb.EventTypes, ev) {
			*fields = append(*fields, sb.FieldError{Field: "events", Message: "unknown event type " + ev})
		}
	}
}

func (s *Server) checkURL(u string, fields *[]sb.FieldError) error {
	if err := s.cfg.Guard.CheckURL(u); err != nil {
		if isBlocked(err) {
			e := sb.Errorf(sb.EBLOCKED, "url: %v", err)
			e.Fields = []sb.FieldError{{Field: "url", Message: err.Error()}}
			return e
		}
		*fields = append(*fields, sb.FieldError{Field: "url", Message: err.Error()})
	}
	return nil
}

func isBlocked(err error) bool { return err != nil && errors.Is(err, webhook.ErrBlockedDestination) }

func (s *Server) createEndpoint(c *gin.Context) {
	var req struct {
		URL         string   `json:"url"`
		Events      []string `json:"events"`
		Description string   `json:"description"`
	}
	if !s.bind(c, &req) {
		return
	}
	var fields []sb.FieldError
	if req.URL == "" {
		fields = append(fields, sb.FieldError{Field: "url", Message: "is required"})
	} else if err := s.checkURL(req.URL, &fields); err != nil {
		s.writeError(c, err)
		return
	}
	s.checkEvents(req.Events, &fields)
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		s.writeError(c, err)
		return
	}
	e, err := s.store.CreateEndpoint(c.Request.Context(), &sb.WebhookEndpoint{AccountID: account(c), URL: req.URL,
		Events: req.Events, Description: req.Description, Secret: secret})
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, endpointView(e, true))
}

func (s *Server) getEndpoint(c *gin.Context) {
	e, err := s.store.GetEndpoint(c.Request.Context(), account(c), c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, endpointView(e, false))
}

func (s *Server) listEndpoints(c *gin.Context) {
	limit, cursor, fields := pageParams(c)
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	es, next, err := s.store.ListEndpoints(c.Request.Context(), account(c), cursor, limit)
	if err != nil {
		s.writeError(c, err)
		return
	}
	views := make([]endpointJSON, len(es))
	for i, e := range es {
		views[i] = endpointView(e, false)
	}
	c.JSON(http.StatusOK, newList(views, next))
}

func (s *Server) updateEndpoint(c *gin.Context) {
	var req struct {
		URL         *string  `json:"url"`
		Events      []string `json:"events"`
		Description *string  `json:"description"`
		Enabled     *bool    `json:"enabled"`
	}
	if !s.bind(c, &req) {
		return
	}
	var fields []sb.FieldError
	if req.URL != nil {
		if err := s.checkURL(*req.URL, &fields); err != nil {
			s.writeError(c, err)
			return
		}
	}
	if req.Events != nil {
		s.checkEvents(req.Events, &fields)
	}
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	e, err := s.store.UpdateEndpoint(c.Request.Context(), account(c), c.Param("id"),
		sb.EndpointUpdate{URL: req.URL, Events: req.Events, Description: req.Description, Enabled: req.Enabled})
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, endpointView(e, false))
}

func (s *Server) deleteEndpoint(c *gin.Context) {
	if err := s.store.DeleteEndpoint(c.Request.Context(), account(c), c.Param("id")); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) rotateSecret(c *gin.Context) {
	body, err := readBody(c.Request)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if len(bytes.TrimSpace(body)) > 0 {
		var req struct{}
		if err := decodeJSON(body, &req); err != nil {
			s.writeError(c, err)
			return
		}
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		s.writeError(c, err)
		return
	}
	e, err := s.store.RotateSecret(c.Request.Context(), account(c), c.Param("id"), secret, s.cfg.SecretGrace)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, endpointView(e, true))
}

type attemptJSON struct {
	ID         string    `json:"id"`
	EndpointID string    `json:"endpoint_id"`
	WebhookID  string    `json:"webhook_id"`
	EventType  string    `json:"event_type"`
	Attempt    int       `json:"attempt"`
	StatusCode *int      `json:"status_code"`
	Error      *string   `json:"error"`
	DurationMS int64     `json:"duration_ms"`
	CreatedAt  time.Time `json:"created_at"`
}

func (s *Server) listAttempts(c *gin.Context) {
	limit, cursor, fields := pageParams(c)
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	as, next, err := s.store.ListAttempts(c.Request.Context(), account(c), c.Param("id"), cursor, limit)
	if err != nil {
		s.writeError(c, err)
		return
	}
	views := make([]attemptJSON, len(as))
	for i, a := range as {
		v := attemptJSON{ID: a.ID, EndpointID: a.EndpointID, WebhookID: a.DeliveryID, EventType: a.EventType,
			Attempt: a.Attempt, Error: strOrNil(a.Error), DurationMS: a.Duration.Milliseconds(), CreatedAt: a.CreatedAt.UTC()}
		if a.StatusCode != 0 {
			code := a.StatusCode
			v.StatusCode = &code
		}
		views[i] = v
	}
	c.JSON(http.StatusOK, newList(views, next))
}

// bind reads and strictly decodes a JSON body, answering the problem itself
// when it cannot.
func (s *Server) bind(c *gin.Context, v any) bool {
	body, err := readBody(c.Request)
	if err == nil {
		err = decodeJSON(body, v)
	}
	if err != nil {
		s.writeError(c, err)
		return false
	}
	return true
}
