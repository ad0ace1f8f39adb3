package sdk

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Problem type suffixes from docs/API.md, as returned by Error.Code.
const (
	ProblemMalformedJSON        = "malformed-json"
	ProblemValidation           = "validation"
	ProblemUnauthorized         = "unauthorized"
	ProblemNotFound             = "not-found"
	ProblemIdempotencyConflict  = "idempotency-conflict"
	ProblemPayloadTooLarge      = "payload-too-large"
	ProblemUnsupportedMediaType = "unsupported-media-type"
	ProblemBlockedDestination   = "blocked-destination"
	ProblemOptedOut             = "opted-out"        // 422: the recipient opted out on that channel
	ProblemNoRoute              = "no-route"         // 422: no channel reaches the customer
	ProblemConflict             = "conflict"         // 409: e.g. the identity belongs to another customer
	ProblemForbidden            = "forbidden"        // 403: a provider webhook whose signature does not verify
	ProblemProviderRefused      = "provider-refused" // 422: the provider refused a channel's credentials
	ProblemUnavailable          = "unavailable"
	ProblemInternal             = "internal"
)

// Error is a non-2xx API response, decoded from its RFC 9457
// application/problem+json body. Check for it with errors.As.
type Error struct {
	// Type is the problem type URI, e.g.
	// "https://switchboard.dev/problems/validation".
	Type string `json:"type"`
	// Title is a short summary of the problem type.
	Title string `json:"title"`
	// Status is the status the body reports; HTTPStatusCode is the one the
	// response carried. They differ only behind misbehaving proxies.
	Status int `json:"status"`
	// Detail explains this occurrence.
	Detail string `json:"detail"`
	// Errors names the offending fields of a 400 or 422.
	Errors []FieldError `json:"errors"`
	// RequestID identifies the request in server logs; quote it in bug
	// reports. Taken from the body or else the X-Request-Id header.
	RequestID string `json:"request_id"`
	// HTTPStatusCode is the response's HTTP status code.
	HTTPStatusCode int `json:"-"`
}

// FieldError is one invalid input field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error renders the status, title, detail and request id, e.g.
// "switchboard: 422 Validation failed: to: not a valid phone number (request_id 0193…)".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("switchboard: ")
	code := e.HTTPStatusCode
	if code == 0 {
		code = e.Status
	}
	b.WriteString(strconv.Itoa(code))
	if e.Title != "" {
		b.WriteString(" " + e.Title)
	}
	switch {
	case e.Detail != "":
		b.WriteString(": " + e.Detail)
	case len(e.Errors) > 0:
		b.WriteString(": ")
		for i, fe := range e.Errors {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(fe.Field + ": " + fe.Message)
		}
	}
	if e.RequestID != "" {
		b.WriteString(" (request_id " + e.RequestID + ")")
	}
	return b.String()
}

// Code is the last path segment of Type, e.g. "validation" or "not-found"
// (see the Problem constants), or "" when the body carried no type.
func (e *Error) Code() string {
	if e.Type == "" || e.Type == "about:blank" {
		return ""
	}
	return e.Type[strings.LastIndexByte(e.Type, '/')+1:]
}

// newError builds an *Error from a response. Bodies that are not problem
// JSON (a proxy's HTML page, an empty body) still give a useful error: the
// status text as title and the start of the body as detail.
func newError(statusCode int, h http.Header, body []byte) *Error {
	e := &Error{}
	if err := json.Unmarshal(body, e); err != nil {
		e = &Error{Detail: snippet(body)}
	}
	e.HTTPStatusCode = statusCode
	if e.Status == 0 {
		e.Status = statusCode
	}
	if e.Title == "" {
		e.Title = http.StatusText(statusCode)
	}
	if e.RequestID == "" {
		e.RequestID = h.Get("X-Request-Id")
	}
	return e
}

// snippet is the start of a non-JSON error body, trimmed to one readable
// line.
func snippet(body []byte) string {
	const limit = 200
	s := strings.Join(strings.Fields(string(bytes.TrimSpace(body))), " ")
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
