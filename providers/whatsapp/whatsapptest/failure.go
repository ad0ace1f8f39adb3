package whatsapptest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Failure is how the fake answers a send instead of accepting it: a Graph
// API error object ({"error": {message, type, code, error_data, fbtrace_id}})
// with an HTTP status, optionally after holding the request.
type Failure struct {
	Status  int    // HTTP status; 0 with Hang set: accept the send after the hang
	Code    int    // Graph error code (131000, 130429, …)
	Title   string // "Something went wrong": the message reads "(#code) Title"
	Details string // error_data.details
	Type    string // "" = OAuthException
	// RetryAfter is a Retry-After header value. Meta sends none; a proxy
	// in front of it may.
	RetryAfter string
	// Hang holds the request this long, or until the client gives up or
	// the server closes, before answering.
	Hang time.Duration
}

// ServerError is Meta's answer when something broke on its side: HTTP 500,
// code 131000. Retrying later can succeed.
func ServerError() Failure {
	return Failure{Status: http.StatusInternalServerError, Code: 131000, Title: "Something went wrong",
		Details: "Message failed to send due to an unknown error."}
}

// Throughput is Meta's answer when the number's message throughput is
// exceeded: code 130429 with HTTP 400 and no retry hint. Set Status to 429
// and RetryAfter to play a proxy that adds one.
func Throughput() Failure {
	return Failure{Status: http.StatusBadRequest, Code: 130429, Title: "Rate limit hit",
		Details: "Cloud API message throughput has been reached."}
}

// ReEngagement is Meta's refusal of a free-form message outside the 24-hour
// customer service window (code 131047), permanent for that message.
func ReEngagement() Failure {
	return Failure{Status: http.StatusBadRequest, Code: 131047, Title: "Re-engagement message",
		Details: "Message failed to send because more than 24 hours have passed since the customer last replied to this number."}
}

// TemplateMissing is Meta's refusal of a template that does not exist in
// the language asked for (code 132001), permanent.
func TemplateMissing(name, lang string) Failure {
	return Failure{Status: http.StatusBadRequest, Code: 132001, Title: "Template name does not exist in the translation",
		Details: fmt.Sprintf("template name (%s) does not exist in %s", name, lang)}
}

// invalidParameter is the Graph API's answer to a malformed request.
func invalidParameter(code int, details string) Failure {
	title := "Invalid parameter"
	switch code {
	case 131008:
		title = "Required parameter is missing"
	case 131009:
		title = "Parameter value is not valid"
	}
	return Failure{Status: http.StatusBadRequest, Code: code, Title: title, Details: details}
}

// write answers with f's status and error object.
func (f Failure) write(w http.ResponseWriter) {
	typ := f.Type
	if typ == "" {
		typ = "OAuthException"
	}
	e := map[string]any{"message": fmt.Sprintf("(#%d) %s", f.Code, f.Title), "type": typ, "code": f.Code, "fbtrace_id": traceID()}
	if f.Details != "" {
		e["error_data"] = map[string]string{"messaging_product": "whatsapp", "details": f.Details}
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	writeJSON(w, f.Status, map[string]any{"error": e})
}

// graphError answers with a Graph error that is not about a message (bad
// token, unknown node), whose message carries no "(#code)" prefix.
func graphError(w http.ResponseWriter, status int, typ string, code, subcode int, msg string) {
	e := map[string]any{"message": msg, "type": typ, "code": code, "fbtrace_id": traceID()}
	if subcode != 0 {
		e["error_subcode"] = subcode
	}
	writeJSON(w, status, map[string]any{"error": e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
