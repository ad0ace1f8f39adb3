package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names from Standard Webhooks 1.0. They are written lower-case, as in
// the spec; http.Header canonicalises them, and receivers match them
// case-insensitively.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix marks a symmetric Standard Webhooks secret. It is what we hand
// out, but secrets are accepted without it too, as the reference libraries do.
const SecretPrefix = "whsec_"

// secretBytes is the length of secrets made by NewSecret: the spec allows 24
// to 64 bytes, and 32 gives the full 256-bit strength of HMAC-SHA256.
const secretBytes = 32

// signatureVersion is the only scheme we sign with; receivers skip entries of
// other versions, so adding v1a later would not break them.
const signatureVersion = "v1"

var (
	// ErrEmptySecret is returned for "" or a bare "whsec_": signing with an
	// empty HMAC key would produce signatures anyone can forge.
	ErrEmptySecret = errors.New("webhook: empty secret")
	// ErrInvalidSecret is returned when a secret is not base64 after its
	// optional prefix; we refuse rather than sign with the wrong key.
	ErrInvalidSecret = errors.New("webhook: secret is not valid base64")
	// ErrInvalidID is returned for an empty message id or one containing a
	// dot, which would make "{id}.{timestamp}.{body}" ambiguous.
	ErrInvalidID = errors.New("webhook: invalid message id")
)

// NewSecret returns a fresh signing secret, "whsec_" followed by the base64 of
// 32 random bytes, the form receivers paste into Standard Webhooks libraries.
func NewSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhook: new secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// Sign returns the webhook-signature header value for one delivery: a
// space-separated "v1,<base64 HMAC-SHA256>" entry per secret. Several secrets
// are signed with during rotation so that receivers holding either the old or
// the new secret accept the message. ts is truncated to Unix seconds, exactly
// as sent in webhook-timestamp.
func Sign(secrets []string, id string, ts time.Time, body []byte) (string, error) {
	if len(secrets) == 0 {
		return "", ErrEmptySecret
	}
	if id == "" || strings.Contains(id, ".") {
		return "", fmt.Errorf("%w: %q", ErrInvalidID, id)
	}
	entries := make([]string, 0, len(secrets))
	for i, s := range secrets {
		key, err := decodeSecret(s)
		if err != nil {
			return "", fmt.Errorf("sign with secret %d: %w", i, err)
		}
		entries = append(entries, signatureVersion+","+base64.StdEncoding.EncodeToString(mac(key, id, ts.Unix(), body)))
	}
	return strings.Join(entries, " "), nil
}

// decodeSecret strips the optional prefix and base64-decodes the key. Padded
// and unpadded base64 are both accepted because secrets get copied by hand.
func decodeSecret(secret string) ([]byte, error) {
	s := strings.TrimPrefix(secret, SecretPrefix)
	if s == "" {
		return nil, ErrEmptySecret
	}
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return nil, ErrInvalidSecret
	}
	if len(key) == 0 {
		return nil, ErrEmptySecret
	}
	return key, nil
}

// mac computes HMAC-SHA256 over "{id}.{ts}.{body}", the signed content of
// Standard Webhooks; the body is used byte for byte, never re-serialised.
func mac(key []byte, id string, ts int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write(strconv.AppendInt(nil, ts, 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}
