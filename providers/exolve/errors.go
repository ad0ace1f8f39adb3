package exolve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	sb "github.com/switchboardhq/switchboard"
)

// apiError is a non-2xx answer from Exolve. Exolve has no error-code table:
// its error text is what identifies an error.
type apiError struct {
	method     string
	status     int
	text       string // Exolve's error text from a JSON body; "" when it carried none
	code       string // a code from a grpc-gateway body ({code, message, details}), if any
	excerpt    string // the start of a body that is not Exolve's JSON (a proxy's page)
	retryAfter time.Duration
}

func (e *apiError) Error() string {
	return fmt.Sprintf("exolve %s: %s", e.method, e.describe())
}

// describe is the status and whatever the body said, for people.
func (e *apiError) describe() string {
	s := fmt.Sprintf("HTTP %d", e.status)
	switch {
	case e.text != "":
		s += ": " + e.text
	case e.excerpt != "":
		s += ": " + e.excerpt
	case http.StatusText(e.status) != "":
		s += " (" + http.StatusText(e.status) + ")"
	}
	if e.code != "" {
		s += " (code " + e.code + ")"
	}
	return s
}

// transient reports whether retrying may succeed: rate limiting (429,
// undocumented but honoured), a request timeout (408) and server failures.
// Every other 4xx is a refusal that resending the same request cannot fix.
func (e *apiError) transient() bool {
	return e.status == http.StatusTooManyRequests || e.status == http.StatusRequestTimeout || e.status >= 500
}

// badResponse is a 2xx answer that is not what the method returns.
type badResponse struct {
	method string
	err    error
}

func (e *badResponse) Error() string {
	return fmt.Sprintf("exolve %s: unreadable answer: %v", e.method, e.err)
}

func (e *badResponse) Unwrap() error { return e.err }

// newAPIError reads Exolve's error out of an answer. Three JSON shapes are
// seen: the documented flat {"error": "text"}, the live nested
// {"error": {"message": "text", ...}}, and grpc-gateway's top-level
// {"code": 3, "message": "text", "details": []}. Anything else (the plain
// "404 page not found" of a wrong path, an HTML proxy page) is kept as a
// short excerpt.
func newAPIError(method string, resp *http.Response, body []byte) *apiError {
	e := &apiError{method: method, status: resp.StatusCode, retryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	var ok bool
	if e.text, e.code, ok = errorText(body); !ok {
		e.excerpt = excerpt(body)
	}
	return e
}

// errorText returns the error text and code a JSON error body carries; ok
// is false when the body is not a JSON object.
func errorText(body []byte) (text, code string, ok bool) {
	body = bytes.TrimSpace(body)
	var env struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Code    json.RawMessage `json:"code"`
	}
	if len(body) > 0 && body[0] == '{' && json.Unmarshal(body, &env) == nil {
		text, code = env.Message, scalar(env.Code)
		var flat string
		var nested struct {
			Message string          `json:"message"`
			Code    json.RawMessage `json:"code"`
		}
		switch {
		case len(env.Error) == 0:
		case json.Unmarshal(env.Error, &flat) == nil:
			text = flat
		case json.Unmarshal(env.Error, &nested) == nil:
			if nested.Message != "" {
				text = nested.Message
			}
			if c := scalar(nested.Code); c != "" {
				code = c
			}
		}
		return strings.TrimSpace(text), code, true
	}
	return "", "", false
}

// excerpt is the first line of a body, briefly, for an error message.
func excerpt(body []byte) string {
	line, _, _ := bytes.Cut(bytes.TrimSpace(body), []byte("\n"))
	const max = 200
	if len(line) > max {
		line = line[:max]
	}
	return strings.TrimSpace(strings.ToValidUTF8(string(line), ""))
}

// scalar renders a JSON string or number as text; anything else as "".
func scalar(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// providerError classifies a failed send for the queue.
//
// Code is Exolve's error text when it gave one (it has no numeric codes;
// its texts are stable identifiers such as "alpha name is not active"),
// otherwise "http_<status>", "timeout", "network" or "invalid_response".
func providerError(err error) *sb.ProviderError {
	var ae *apiError
	if errors.As(err, &ae) {
		code := ae.text
		if code == "" {
			code = "http_" + strconv.Itoa(ae.status)
		}
		return &sb.ProviderError{Code: code, Message: "Exolve answered " + ae.describe(), Permanent: !ae.transient(), RetryAfter: ae.retryAfter}
	}
	var br *badResponse
	if errors.As(err, &br) {
		// Exolve accepted the request, so the SMS may well be on its way:
		// retrying could send it twice, so the failure is permanent.
		return &sb.ProviderError{
			Code:      "invalid_response",
			Message:   fmt.Sprintf("Exolve accepted the request but its answer could not be read, so the SMS may have been sent: %v", br.err),
			Permanent: true,
		}
	}
	code := "network"
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		code = "timeout"
	}
	return &sb.ProviderError{Code: code, Message: err.Error()}
}
