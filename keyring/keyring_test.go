package keyring

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestSealOpenAndRotate(t *testing.T) {
	oldKey, newKey := NewKey(), NewKey()
	old, err := New(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte(`{"auth_token":"0123456789abcdef"}`)
	sealed, err := old.Seal(secret, []byte("channel-1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("0123456789")) || !strings.HasPrefix(string(sealed), "sb1:"+old.CurrentID()+":") {
		t.Fatalf("sealed value %q", sealed)
	}
	if again, _ := old.Seal(secret, []byte("channel-1")); bytes.Equal(again, sealed) {
		t.Fatal("two seals of one value are equal: the nonce is not random")
	}
	if got, err := old.Open(sealed, []byte("channel-1")); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := old.Open(sealed, []byte("channel-2")); err == nil {
		t.Fatal("a value opened under another row's id")
	}
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-2] ^= 1
	if _, err := old.Open(tampered, []byte("channel-1")); err == nil {
		t.Fatal("a tampered value opened")
	}

	// Rotation: the new key seals, the old one still opens, and without
	// the old key configured its values are refused clearly.
	rotating, err := New(newKey, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	if rotating.Current(sealed) {
		t.Fatal("an old value reports the current key")
	}
	if got, err := rotating.Open(sealed, []byte("channel-1")); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("open with the previous key: %q %v", got, err)
	}
	resealed, _ := rotating.Seal(secret, []byte("channel-1"))
	if !rotating.Current(resealed) {
		t.Fatal("a fresh seal does not use the current key")
	}
	onlyNew, _ := New(newKey)
	if _, err := onlyNew.Open(sealed, []byte("channel-1")); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("old value with the old key gone: %v", err)
	}
}

func TestParseKey(t *testing.T) {
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{NewKey(), true},
		{strings.Repeat("ab", 32), true},
		{"short", false},
		{"", false},
	} {
		if _, err := ParseKey(tt.in); (err == nil) != tt.ok {
			t.Errorf("ParseKey(%q) = %v", tt.in, err)
		}
	}
}
