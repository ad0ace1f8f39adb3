package twilio

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	twclient "github.com/twilio/twilio-go/client"

	sb "github.com/switchboardhq/switchboard"
)

// errorClass is how one Twilio error code behaves on retry.
type errorClass struct {
	transient bool
	optOut    bool // the recipient refuses our messages
}

// errorClasses lists the codes of Twilio's error catalogue that a send
// meets and whose class the HTTP status alone would not give, or gives
// only by accident. A code not listed is classed by its HTTP status: 429
// and 5xx are transient, any other 4xx permanent.
var errorClasses = map[int]errorClass{
	20003: {},                // Authenticate: wrong credentials
	21211: {},                // invalid 'To' number
	21212: {},                // invalid 'From' number
	21214: {},                // 'To' number cannot be reached
	21408: {},                // sending to this region is not enabled
	21606: {},                // 'From' is not a message-capable number of the account
	21610: {optOut: true},    // the recipient replied STOP: unsubscribed until START
	21612: {},                // 'To' and 'From' cannot be connected
	21614: {},                // 'To' is not a mobile number
	21659: {},                // 'From' is not a Twilio number of the account
	63016: {},                // WhatsApp: free-form message outside the 24 h window
	20429: {transient: true}, // too many concurrent requests: "always safe to retry"
	20500: {transient: true}, // internal server error
	20503: {transient: true}, // service unavailable
	30001: {transient: true}, // queue overflow
}

// sendError turns what a twilio-go call returned into a *sb.ProviderError.
// ex is what the transport saw of the response, which twilio-go drops from
// its errors (the Retry-After header, the status of a body it could not
// decode).
func sendError(err error, ex *exchange, now time.Time) *sb.ProviderError {
	var rest *twclient.TwilioRestError
	if errors.As(err, &rest) {
		status := rest.Status
		if status == 0 {
			status = ex.status
		}
		pe := &sb.ProviderError{Code: strconv.Itoa(rest.Code), Message: rest.Message}
		if rest.Code == 0 {
			pe.Code = httpCode(status)
		}
		if class, ok := errorClasses[rest.Code]; ok {
			pe.Permanent, pe.OptOut = !class.transient, class.optOut
		} else {
			pe.Permanent = !transientStatus(status)
		}
		if !pe.Permanent {
			pe.RetryAfter = retryAfter(ex.retryAfter, now)
		}
		return pe
	}
	var ue *url.Error
	if errors.As(err, &ue) || ex.status == 0 {
		// The request never got an answer: a timeout, a refused or reset
		// connection, the caller's context ending. Twilio may or may not
		// have accepted the message; retrying is the lesser evil.
		code := "network"
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			code = "timeout"
		}
		return &sb.ProviderError{Code: code, Message: err.Error()}
	}
	if ex.status >= 200 && ex.status < 300 {
		// Twilio accepted the request but its answer does not decode: the
		// message may well be on its way, so a retry could send it twice.
		return &sb.ProviderError{Code: "bad_response", Message: "undecodable answer from Twilio: " + err.Error(), Permanent: true}
	}
	// An error status whose body is not Twilio's error JSON (a proxy's HTML
	// page, an empty 502).
	pe := &sb.ProviderError{Code: httpCode(ex.status), Message: http.StatusText(ex.status), Permanent: !transientStatus(ex.status)}
	if !pe.Permanent {
		pe.RetryAfter = retryAfter(ex.retryAfter, now)
	}
	return pe
}

func transientStatus(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

func httpCode(status int) string { return "http_" + strconv.Itoa(status) }

// retryAfter reads a Retry-After header: delay seconds or an HTTP date.
// Twilio does not document sending one, but a proxy in front of it may.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
