package whatsapp

import (
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"

	sb "github.com/switchboardhq/switchboard"
)

func TestCredentialsValidate(t *testing.T) {
	ok := testCreds()
	tests := []struct {
		name   string
		edit   func(c *Credentials)
		fields []string // offending fields; none = valid
	}{
		{name: "complete", edit: func(c *Credentials) {}},
		{name: "no verify token or WABA id", edit: func(c *Credentials) { c.VerifyToken, c.WABAID = "", "" }},
		{name: "empty", edit: func(c *Credentials) { *c = Credentials{} },
			fields: []string{"credentials.access_token", "credentials.app_secret", "credentials.phone_number_id"}},
		{name: "phone number instead of its id", edit: func(c *Credentials) { c.PhoneNumberID = "+1 555 078 3881" },
			fields: []string{"credentials.phone_number_id"}},
		{name: "pasted with a newline", edit: func(c *Credentials) { c.AccessToken += "\n"; c.AppSecret = " " + c.AppSecret },
			fields: []string{"credentials.access_token", "credentials.app_secret"}},
		{name: "verify token with a space", edit: func(c *Credentials) { c.VerifyToken = "meaty ham" },
			fields: []string{"credentials.verify_token"}},
		{name: "WABA id not numeric", edit: func(c *Credentials) { c.WABAID = "waba-1" },
			fields: []string{"credentials.waba_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			err := c.Validate()
			if len(tt.fields) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var e *sb.Error
			if !errors.As(err, &e) || e.Code != sb.EINVALID {
				t.Fatalf("Validate = %v, want an EINVALID *sb.Error", err)
			}
			var got []string
			for _, f := range e.Fields {
				got = append(got, f.Field)
				if f.Message == "" {
					t.Errorf("%s has no message", f.Field)
				}
			}
			sort.Strings(got)
			if !reflect.DeepEqual(got, tt.fields) {
				t.Errorf("fields = %v, want %v", got, tt.fields)
			}
			if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), testAppSecret) {
				t.Errorf("error shows a secret: %v", err)
			}
		})
	}
}

func TestCredentialsHint(t *testing.T) {
	c := testCreds()
	c.AppSecret = "0123456789abcdef0123456789abcdef" // a real secret's shape
	h := c.Hint()
	for _, secret := range []string{c.AccessToken, c.AppSecret, c.VerifyToken} {
		for k, v := range h {
			// No hint shows more than four characters of a secret in a row.
			for i := 0; i+5 <= len(secret); i++ {
				if strings.Contains(v, secret[i:i+5]) {
					t.Errorf("hint %s = %q shows part of a secret", k, v)
				}
			}
		}
	}
	want := map[string]string{
		"access_token":    "****wxyz",
		"app_secret":      "****cdef",
		"verify_token":    "****", // too short to show any of it
		"phone_number_id": testPhoneID,
		"waba_id":         testWABAID,
	}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("Hint = %v, want %v", h, want)
	}
	if h := (Credentials{PhoneNumberID: "1"}).Hint(); !reflect.DeepEqual(h, map[string]string{"phone_number_id": "1"}) {
		t.Errorf("Hint of sparse credentials = %v", h)
	}
}

func TestNewVerifyToken(t *testing.T) {
	a, b := NewVerifyToken(), NewVerifyToken()
	if len(a) < 20 || a == b {
		t.Errorf("tokens %q, %q: want long and distinct", a, b)
	}
	c := testCreds()
	c.VerifyToken = a
	if err := c.Validate(); err != nil {
		t.Errorf("generated token does not validate: %v", err)
	}
}
