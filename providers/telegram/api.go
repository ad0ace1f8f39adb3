package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxResponse bounds how much of a Bot API answer is read.
const maxResponse = 1 << 20

// envelope is every Bot API answer: ok with a result, or not ok with an
// error_code, a description and sometimes parameters.
type envelope struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  *struct {
		MigrateToChatID int64 `json:"migrate_to_chat_id"`
		RetryAfter      int   `json:"retry_after"`
	} `json:"parameters"`
}

// apiError is a Bot API call Telegram answered without success.
type apiError struct {
	Code        int // error_code, or the HTTP status when the body has none
	Description string
	RetryAfter  time.Duration // parameters.retry_after or the Retry-After header
	MigrateTo   int64         // parameters.migrate_to_chat_id
	// Malformed marks an answer that was not a Bot API envelope (a proxy's
	// error page, a truncated body): worth another try.
	Malformed bool
}

func (e *apiError) Error() string {
	return fmt.Sprintf("telegram error %d: %s", e.Code, e.Description)
}

// netError is a round trip that failed before Telegram answered. Its text
// has the token's secret part redacted; the *url.Error that named the full
// URL is not kept in the chain, only the cause beneath it.
type netError struct {
	msg     string
	cause   error
	timeout bool
}

func (e *netError) Error() string { return e.msg }
func (e *netError) Unwrap() error { return e.cause }

// call invokes method with params as its JSON body and decodes the result
// into result (when not nil).
func (c *Client) call(ctx context.Context, method string, params, result any) error {
	if c.tokenErr != nil {
		return c.tokenErr
	}
	body, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("telegram %s: encode request: %w", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/bot"+c.token+"/"+method, bytes.NewReader(body))
	if err != nil {
		return c.transportError(method, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return c.transportError(method, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return c.transportError(method, err)
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil || (!env.OK && env.Description == "" && env.ErrorCode == 0) {
		return &apiError{Code: resp.StatusCode, Malformed: true,
			Description: fmt.Sprintf("unexpected %s answer (HTTP %d) from the Bot API", method, resp.StatusCode)}
	}
	if !env.OK {
		e := &apiError{Code: env.ErrorCode, Description: c.redact(env.Description), RetryAfter: retryAfterHeader(resp.Header)}
		if e.Code == 0 {
			e.Code = resp.StatusCode
		}
		if p := env.Parameters; p != nil {
			e.MigrateTo = p.MigrateToChatID
			e.RetryAfter = max(e.RetryAfter, time.Duration(p.RetryAfter)*time.Second)
		}
		return e
	}
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(env.Result, result); err != nil {
		return &apiError{Code: resp.StatusCode, Malformed: true,
			Description: fmt.Sprintf("undecodable %s result: %v", method, err)}
	}
	return nil
}

// transportError rewrites a failed round trip so that it names the method
// but not the URL, whose path holds the token.
func (c *Client) transportError(method string, err error) error {
	cause := err
	var ue *url.Error
	if errors.As(err, &ue) {
		cause = ue.Err
	}
	var ne net.Error
	timeout := errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
	msg := c.redact(fmt.Sprintf("telegram %s: %v", method, cause))
	if cause != nil && c.redact(cause.Error()) != cause.Error() {
		cause = nil // it names the token itself: keep it out of reach
	}
	return &netError{msg: msg, cause: cause, timeout: timeout}
}

// redact replaces the token's secret part wherever it appears in s.
func (c *Client) redact(s string) string {
	_, secret, ok := strings.Cut(c.token, ":")
	if !ok || len(secret) < 8 {
		return s
	}
	return strings.ReplaceAll(s, secret, "<redacted>")
}

// retryAfterHeader reads a Retry-After header in seconds; Telegram sends no
// HTTP dates.
func retryAfterHeader(h http.Header) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After")))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}
