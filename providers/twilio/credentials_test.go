package twilio

import (
	"errors"
	"slices"
	"strings"
	"testing"

	sb "github.com/switchboardhq/switchboard"
)

func TestCredentialsValidate(t *testing.T) {
	tests := []struct {
		name   string
		creds  Credentials
		fields []string // offending fields; none means valid
	}{
		{name: "auth token", creds: testCreds},
		{name: "api key", creds: Credentials{AccountSID: testAccountSID, AuthToken: testAuthToken, APIKeySID: testKeySID, APIKeySecret: testKeySecret}},
		{name: "empty", creds: Credentials{}, fields: []string{"credentials.account_sid", "credentials.auth_token"}},
		{
			name:   "malformed",
			creds:  Credentials{AccountSID: "AC123", AuthToken: " " + testAuthToken, APIKeySID: "SK123", APIKeySecret: "has space"},
			fields: []string{"credentials.account_sid", "credentials.auth_token", "credentials.api_key_sid", "credentials.api_key_secret"},
		},
		{name: "key without secret", creds: Credentials{AccountSID: testAccountSID, AuthToken: testAuthToken, APIKeySID: testKeySID}, fields: []string{"credentials.api_key_secret"}},
		{name: "secret without key", creds: Credentials{AccountSID: testAccountSID, AuthToken: testAuthToken, APIKeySecret: testKeySecret}, fields: []string{"credentials.api_key_sid"}},
		{name: "api key does not replace the auth token", creds: Credentials{AccountSID: testAccountSID, APIKeySID: testKeySID, APIKeySecret: testKeySecret}, fields: []string{"credentials.auth_token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.creds.Validate()
			if len(tt.fields) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var e *sb.Error
			if !errors.As(err, &e) || e.Code != sb.EINVALID {
				t.Fatalf("err = %v, want %s", err, sb.EINVALID)
			}
			var got []string
			for _, f := range e.Fields {
				got = append(got, f.Field)
			}
			if !slices.Equal(got, tt.fields) {
				t.Errorf("fields = %v, want %v", got, tt.fields)
			}
		})
	}
}

func TestCredentialsHint(t *testing.T) {
	c := Credentials{AccountSID: testAccountSID, AuthToken: testAuthToken, APIKeySID: testKeySID, APIKeySecret: testKeySecret}
	h := c.Hint()
	for k, v := range h {
		for _, secret := range []string{c.AuthToken, c.APIKeySecret} {
			if strings.Contains(v, secret[:len(secret)-4]) {
				t.Errorf("hint %s = %q shows more than the last 4 characters of a secret", k, v)
			}
		}
	}
	if h["account_sid"] != testAccountSID || h["api_key_sid"] != testKeySID {
		t.Errorf("hint = %v, want the SIDs whole", h)
	}
	if h["auth_token"] != "****cdef" || h["api_key_secret"] != "****wxyz" {
		t.Errorf("hint = %v, want secrets masked to their last 4", h)
	}
	if got := (Credentials{AccountSID: testAccountSID, AuthToken: "short"}).Hint()["auth_token"]; got != "****" {
		t.Errorf("short token hint = %q, want nothing of it", got)
	}
}
