package api

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/webhook"
)

// problemBase prefixes every problem type; the suffix is stable API.
const problemBase = "https://switchboard.dev/problems/"

type fieldProblem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problem is an RFC 9457 problem details body.
type Problem struct {
	Type      string         `json:"type"`
	Title     string         `json:"title"`
	Status    int            `json:"status"`
	Detail    string         `json:"detail,omitempty"`
	Errors    []fieldProblem `json:"errors,omitempty"`
	RequestID string         `json:"request_id,omitempty"`
}

// codes is the one table mapping domain error codes to HTTP.
var codes = map[string]struct {
	status int
	typ    string
	title  string
}{
	sb.EINVALID:      {http.StatusUnprocessableEntity, "validation", "Validation failed"},
	sb.ENOTFOUND:     {http.StatusNotFound, "not-found", "Not found"},
	sb.ECONFLICT:     {http.StatusConflict, "idempotency-conflict", "Idempotency key reused"},
	sb.EBLOCKED:      {http.StatusUnprocessableEntity, "blocked-destination", "Destination not allowed"},
	sb.EUNAUTHORIZED: {http.StatusUnauthorized, "unauthorized", "Unauthorized"},
	sb.EUNAVAILABLE:  {http.StatusServiceUnavailable, "unavailable", "Service unavailable"},
	sb.EINTERNAL:     {http.StatusInternalServerError, "internal", "Internal error"},
	sb.EOPTEDOUT:     {http.StatusUnprocessableEntity, "opted-out", "Recipient opted out"},
	sb.ENOROUTE:      {http.StatusUnprocessableEntity, "no-route", "No channel reaches the customer"},
	sb.EEXISTS:       {http.StatusConflict, "conflict", "Conflict"},
	sb.EFORBIDDEN:    {http.StatusForbidden, "forbidden", "Forbidden"},
	sb.EREFUSED:      {http.StatusUnprocessableEntity, "provider-refused", "Provider refused the credentials"},
	ecMalformed:      {http.StatusBadRequest, "malformed-json", "Malformed request body"},
	ecTooLarge:       {http.StatusRequestEntityTooLarge, "payload-too-large", "Request body too large"},
	ecMediaType:      {http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type"},
}

// Codes used only at the HTTP edge.
const (
	ecMalformed = "malformed"
	ecTooLarge  = "too_large"
	ecMediaType = "media_type"
)

// writeError answers with the problem for err. Internal errors are logged
// here, once, and their text is not shown to the client.
func (s *Server) writeError(c *gin.Context, err error) {
	code := sb.ErrorCode(err)
	var netErr net.Error
	switch {
	case errors.Is(err, webhook.ErrBlockedDestination):
		code = sb.EBLOCKED
	case code == sb.EINTERNAL && errors.As(err, &netErr):
		code = sb.EUNAVAILABLE // PostgreSQL or Redis unreachable
	}
	m, ok := codes[code]
	if !ok {
		m = codes[sb.EINTERNAL]
	}
	p := Problem{Type: problemBase + m.typ, Title: m.title, Status: m.status, RequestID: requestID(c)}
	var e *sb.Error
	switch {
	case code == sb.EUNAVAILABLE && errors.As(err, &e) && e.Code == sb.EUNAVAILABLE:
		p.Detail = e.Message // our own words (a missing master key), not a driver's
	case code == sb.EINTERNAL || code == sb.EUNAVAILABLE:
		s.log.ErrorContext(c.Request.Context(), "request failed", "err", err, "request_id", p.RequestID)
		p.Detail = "The server could not complete the request; it has been logged as " + p.RequestID + "."
	case errors.As(err, &e):
		p.Detail = e.Message
		for _, f := range e.Fields {
			p.Errors = append(p.Errors, fieldProblem{f.Field, f.Message})
		}
	default:
		p.Detail = err.Error()
	}
	writeProblem(c, p)
}

func writeProblem(c *gin.Context, p Problem) {
	body, _ := json.Marshal(p)
	c.Data(p.Status, "application/problem+json", body)
	c.Abort()
}

func requestID(c *gin.Context) string { return c.GetString(ctxRequestID) }
