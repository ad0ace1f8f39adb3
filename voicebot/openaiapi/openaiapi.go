// Package openaiapi holds what the OpenAI-compatible clients (tts, stt,
// llm) share: the error an endpoint answers and how to read it.
package openaiapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Error is a non-2xx answer from an OpenAI-compatible endpoint.
type Error struct {
	API        string // tts | stt | llm: which client got it
	StatusCode int
	Type       string
	Code       string
	Message    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s api: %d %s: %s", e.API, e.StatusCode, http.StatusText(e.StatusCode), e.Message)
}

// Temporary reports whether retrying later may succeed (rate limited or a
// server error).
func (e *Error) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// Parse reads OpenAI's {"error":{"message","type","code"}} answer, falling
// back to the start of the raw body (servers behind proxies answer text).
func Parse(api string, status int, body []byte) *Error {
	var env struct {
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Code    any    `json:"code"`
		} `json:"error"`
	}
	e := &Error{API: api, StatusCode: status}
	if json.Unmarshal(body, &env) == nil && env.Error.Message != "" {
		e.Message, e.Type = env.Error.Message, env.Error.Type
		if env.Error.Code != nil {
			e.Code = fmt.Sprint(env.Error.Code)
		}
		return e
	}
	e.Message = strings.ToValidUTF8(string(bytes.TrimSpace(body[:min(len(body), 200)])), "")
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}
