// Package keyring encrypts secrets at rest — provider credentials — with
// AES-256-GCM under the operator's master key (SWITCHBOARD_MASTER_KEY).
// Every sealed value names the key that sealed it, so the master key can be
// rotated: the new key seals, old keys still open, and `switchboard keys
// rotate` re-seals everything under the new key before the old one is
// dropped. Standard library only.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// version prefixes every sealed value: "sb1:" + key id + ":" + base64(nonce|ciphertext).
const version = "sb1"

// Key is one 256-bit master key and its id (the first 8 hex digits of its
// SHA-256: enough to tell keys apart, useless to an attacker).
type Key struct {
	id   string
	aead cipher.AEAD
}

// ID names the key in sealed values.
func (k Key) ID() string { return k.id }

// ParseKey reads a master key: 32 bytes, base64 (standard or URL) or hex.
func ParseKey(s string) (Key, error) {
	s = strings.TrimSpace(s)
	var raw []byte
	for _, dec := range []func(string) ([]byte, error){
		base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString, hex.DecodeString,
	} {
		if b, err := dec(s); err == nil && len(b) == 32 {
			raw = b
			break
		}
	}
	if raw == nil {
		return Key{}, errors.New("a master key is 32 random bytes, base64 or hex encoded (e.g. `openssl rand -base64 32`)")
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return Key{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return Key{}, err
	}
	sum := sha256.Sum256(raw)
	return Key{id: hex.EncodeToString(sum[:4]), aead: aead}, nil
}

// NewKey returns a fresh random master key, base64 encoded.
func NewKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// Keyring seals with its current key and opens with any of its keys.
type Keyring struct {
	current Key
	keys    map[string]Key
}

// New builds a keyring from the current master key and any previous ones
// (still accepted for opening while values are re-sealed).
func New(current string, previous ...string) (*Keyring, error) {
	cur, err := ParseKey(current)
	if err != nil {
		return nil, fmt.Errorf("SWITCHBOARD_MASTER_KEY: %w", err)
	}
	kr := &Keyring{current: cur, keys: map[string]Key{cur.id: cur}}
	for i, p := range previous {
		if strings.TrimSpace(p) == "" {
			continue
		}
		k, err := ParseKey(p)
		if err != nil {
			return nil, fmt.Errorf("SWITCHBOARD_MASTER_KEY_PREVIOUS[%d]: %w", i, err)
		}
		kr.keys[k.id] = k
	}
	return kr, nil
}

// CurrentID is the id of the key that seals.
func (kr *Keyring) CurrentID() string { return kr.current.id }

// Seal encrypts plain, bound to aad (e.g. the owning row's id, so a sealed
// value copied to another row does not open there).
func (kr *Keyring) Seal(plain, aad []byte) ([]byte, error) {
	nonce := make([]byte, kr.current.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	ct := kr.current.aead.Seal(nonce, nonce, plain, aad)
	return []byte(version + ":" + kr.current.id + ":" + base64.RawStdEncoding.EncodeToString(ct)), nil
}

// ErrUnknownKey is returned for a value sealed with a key this keyring
// does not hold (set SWITCHBOARD_MASTER_KEY_PREVIOUS during a rotation).
var ErrUnknownKey = errors.New("sealed with a master key that is not configured")

// Open decrypts a value Seal produced.
func (kr *Keyring) Open(sealed, aad []byte) ([]byte, error) {
	parts := strings.SplitN(string(sealed), ":", 3)
	if len(parts) != 3 || parts[0] != version {
		return nil, errors.New("not a sealed value")
	}
	k, ok := kr.keys[parts[1]]
	if !ok {
		return nil, fmt.Errorf("key %s: %w", parts[1], ErrUnknownKey)
	}
	ct, err := base64.RawStdEncoding.DecodeString(parts[2])
	if err != nil || len(ct) < k.aead.NonceSize() {
		return nil, errors.New("corrupt sealed value")
	}
	plain, err := k.aead.Open(nil, ct[:k.aead.NonceSize()], ct[k.aead.NonceSize():], aad)
	if err != nil {
		return nil, errors.New("sealed value does not authenticate (wrong key, or tampered)")
	}
	return plain, nil
}

// Current reports whether sealed was sealed with the current key.
func (kr *Keyring) Current(sealed []byte) bool {
	return strings.HasPrefix(string(sealed), version+":"+kr.current.id+":")
}
