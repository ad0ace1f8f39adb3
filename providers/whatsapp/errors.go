package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	sb "github.com/switchboardhq/switchboard"
)

// Graph API error codes this package treats specially. Meta documents the
// codes as the stable contract (titles may change).
const (
	codeTokenInvalid    = 190    // access token expired or invalid
	codeMarketingOptOut = 131050 // the user stopped marketing messages
	codePairRateLimit   = 131056 // too many messages to the same user
)

// transientCodes are Graph errors that retrying later can fix: rate
// limits, throughput caps and Meta-side outages. Any other code answered
// with a 4xx is permanent.
var transientCodes = map[int]bool{
	1:                 true, // API unknown: possibly temporary downtime
	2:                 true, // API service: temporary
	4:                 true, // application request limit
	17:                true, // user request limit
	32:                true, // page request limit
	613:               true, // calls within one hour exceeded
	80007:             true, // WhatsApp Business Account rate limit
	130429:            true, // Cloud API throughput reached
	131000:            true, // something went wrong
	131016:            true, // service unavailable
	131048:            true, // spam rate limit
	131049:            true, // not delivered to maintain healthy ecosystem engagement
	codePairRateLimit: true,
	131057:            true, // business account in maintenance mode
	133004:            true, // server temporarily unavailable
}

// pairRateLimitPause is Meta's documented pace for one business number
// writing to one user (about one message every 6 seconds).
const pairRateLimitPause = 6 * time.Second

// graphError is the part of the Graph API error object ({"error": {...}})
// that classification and messages use.
type graphError struct {
	Message     string `json:"message"`
	Code        int    `json:"code"`
	UserMessage string `json:"error_user_msg"`
	ErrorData   struct {
		Details string `json:"details"`
	} `json:"error_data"`
}

// parseGraphError extracts the error object from a Graph API answer, or nil
// when the body is not one (an HTML error page from a proxy).
func parseGraphError(body []byte) *graphError {
	var env struct {
		Error *graphError `json:"error"`
	}
	if json.Unmarshal(body, &env) != nil || env.Error == nil {
		return nil
	}
	return env.Error
}

// description is the most useful text of e: its message, with Meta's
// details appended when they say more.
func (e *graphError) description() string {
	msg := e.Message
	if msg == "" {
		msg = e.UserMessage
	}
	if d := e.ErrorData.Details; d != "" && !strings.Contains(msg, d) {
		if msg == "" {
			return d
		}
		msg += ": " + d
	}
	return msg
}

// providerError classifies a non-2xx Graph API answer for the queue:
// Code is Meta's numeric code ("http_<status>" when the body carries none).
func (c *Client) providerError(resp *http.Response, body []byte) *sb.ProviderError {
	ge := parseGraphError(body)
	pe := &sb.ProviderError{Code: "http_" + strconv.Itoa(resp.StatusCode), Message: http.StatusText(resp.StatusCode)}
	code := 0
	if ge != nil {
		code = ge.Code
		if code != 0 {
			pe.Code = strconv.Itoa(code)
		}
		if d := ge.description(); d != "" {
			pe.Message = d
		}
	}
	pe.Message = c.redact(pe.Message)
	switch {
	case code == codeMarketingOptOut:
		pe.Permanent, pe.OptOut = true, true
	case transientCodes[code], resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		pe.Permanent = false
	default:
		pe.Permanent = true
	}
	if !pe.Permanent {
		pe.RetryAfter = retryAfter(resp.Header, time.Now())
		if pe.RetryAfter == 0 && code == codePairRateLimit {
			pe.RetryAfter = pairRateLimitPause
		}
	}
	return pe
}

// retryAfter reads a Retry-After header (seconds or an HTTP date). Meta
// does not document one for the Cloud API, but a proxy in front of it may
// send it.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s > 0 {
			return time.Duration(s) * time.Second
		}
		return 0
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// transportError turns a failed round trip (no answer at all) into a
// transient refusal: a timeout or a network error is worth retrying.
func (c *Client) transportError(err error) *sb.ProviderError {
	code := "network"
	var te interface{ Timeout() bool }
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &te) && te.Timeout()) {
		code = "timeout"
	}
	return &sb.ProviderError{Code: code, Message: c.redact(fmt.Sprintf("WhatsApp Cloud API unreachable: %v", err))}
}
