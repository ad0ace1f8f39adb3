package webhook

import (
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultTolerance is how far webhook-timestamp may be from now, either way,
// before Verify refuses a message; it is the reference libraries' value and
// bounds how long a captured request can be replayed.
const DefaultTolerance = 5 * time.Minute

var (
	// ErrMissingHeaders means one of webhook-id, webhook-timestamp or
	// webhook-signature is absent or empty.
	ErrMissingHeaders = errors.New("webhook: missing required headers")
	// ErrInvalidHeaders means webhook-timestamp is not an integer.
	ErrInvalidHeaders = errors.New("webhook: invalid signature headers")
	// ErrTimestampTooOld means the message is older than the tolerance,
	// which is how replays of captured requests are refused.
	ErrTimestampTooOld = errors.New("webhook: message timestamp too old")
	// ErrTimestampTooNew means the message claims to come from further in
	// the future than the tolerance allows.
	ErrTimestampTooNew = errors.New("webhook: message timestamp too new")
	// ErrNoMatchingSignature means no v1 entry matched the secret: the body,
	// id or timestamp was altered, or the secret is wrong.
	ErrNoMatchingSignature = errors.New("webhook: no matching signature found")
)

// Verify checks a received delivery the way a Standard Webhooks receiver
// does, so our tests (and integrators' test suites) can prove that what
// Deliver sends verifies. It accepts the message if any v1 entry of
// webhook-signature matches, which is what makes rotation seamless, and skips
// entries of other versions. now is injected so tests need no sleeps; a
// tolerance of zero or less means DefaultTolerance.
func Verify(secret string, h http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	key, err := decodeSecret(secret)
	if err != nil {
		return err
	}
	id, tsRaw, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || tsRaw == "" || sigs == "" {
		return ErrMissingHeaders
	}
	ts, err := strconv.ParseInt(tsRaw, 10, 64)
	if err != nil {
		return ErrInvalidHeaders
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	// Compare in seconds so a timestamp far out of time.Time's range cannot
	// overflow into the accepted window.
	nowSec, tolSec := now.Unix(), int64(tolerance/time.Second)
	switch {
	case ts < nowSec-tolSec:
		return ErrTimestampTooOld
	case ts > nowSec+tolSec:
		return ErrTimestampTooNew
	}
	want := mac(key, id, ts, body)
	for _, entry := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != signatureVersion {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrNoMatchingSignature
}
