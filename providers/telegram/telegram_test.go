package telegram

import (
	"context"
	"errors"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	sb "github.com/switchboardhq/switchboard"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name, token, wantMsg string
	}{
		{"ok", testToken, ""},
		{"missing", "", "is required"},
		{"no colon", "123456789AAFtest-secret_part0123456789abcdefgh", "must look like"},
		{"id not digits", "bot123:" + tokenSecret, "must look like"},
		{"secret too short", "123456789:AAF-short", "must look like"},
		{"bad character", "123456789:AAFtest/secret_part0123456789abcdefgh", "must look like"},
		{"surrounding space", " " + testToken, "must look like"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Credentials{BotToken: tc.token}.Validate()
			if tc.wantMsg == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var e *sb.Error
			if !errors.As(err, &e) || e.Code != sb.EINVALID || len(e.Fields) != 1 {
				t.Fatalf("Validate = %#v, want one invalid field", err)
			}
			if f := e.Fields[0]; f.Field != "credentials.bot_token" || !strings.Contains(f.Message, tc.wantMsg) {
				t.Errorf("field %+v, want credentials.bot_token %q", f, tc.wantMsg)
			}
			assertNoToken(t, err)
		})
	}
}

func TestHint(t *testing.T) {
	for _, tc := range []struct {
		name, token string
		want        map[string]string
	}{
		{"token", testToken, map[string]string{"bot_id": "123456789", "bot_token": "****efgh"}},
		{"short secret", "42:abc", map[string]string{"bot_id": "42", "bot_token": "****"}},
		{"no colon", "garbage", map[string]string{"bot_token": "****"}},
		{"empty", "", map[string]string{"bot_token": "****"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Credentials{BotToken: tc.token}.Hint()
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Hint = %v, want %v", got, tc.want)
			}
			assertNoToken(t, got)
		})
	}
}

func TestVerify(t *testing.T) {
	for _, tc := range []struct {
		name     string
		reply    reply
		want     sb.ProviderAccount
		wantCode string // sb.ErrorCode of the error; "" for success
		wantMsg  string
	}{
		{"ok", reply{fixture: "getMe_response.json"},
			sb.ProviderAccount{Name: "@test_example_bot", Details: map[string]string{"id": "123456789", "first_name": "Test Bot"}}, "", ""},
		{"revoked token", reply{status: 401, fixture: "error_401_unauthorized.json"},
			sb.ProviderAccount{}, sb.EREFUSED, "telegram refused the credentials: Unauthorized"},
		{"unknown token", reply{status: 404, raw: `{"ok":false,"error_code":404,"description":"Not Found"}`},
			sb.ProviderAccount{}, sb.EREFUSED, "telegram refused the credentials: Not Found"},
		{"server error", reply{status: 500, fixture: "error_500_internal.json"},
			sb.ProviderAccount{}, sb.EINTERNAL, "Internal Server Error"},
		{"proxy page", reply{status: 502, raw: "<html>Bad Gateway</html>"},
			sb.ProviderAccount{}, sb.EINTERNAL, "HTTP 502"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAPI(t)
			f.on("getMe", tc.reply)
			got, err := f.client(Options{}).Verify(context.Background())
			assertNoToken(t, got, err)
			checkCalls(t, f.recorded(), [2]string{"getMe", `{}`})
			if code := sb.ErrorCode(err); code != tc.wantCode {
				t.Fatalf("Verify error %v (code %q), want code %q", err, code, tc.wantCode)
			}
			if err != nil && !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not say %q", err, tc.wantMsg)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Verify = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestVerifyNetworkFailure(t *testing.T) {
	srv := httptest.NewServer(nil)
	base := srv.URL
	srv.Close()
	_, err := New(Credentials{BotToken: testToken}, Options{BaseURL: base}).Verify(context.Background())
	if err == nil || sb.ErrorCode(err) != sb.EINTERNAL {
		t.Fatalf("Verify = %v, want a plain error", err)
	}
	if !strings.Contains(err.Error(), "getMe") {
		t.Errorf("error %q does not name the call", err)
	}
	assertNoToken(t, err)
}

func TestVerifyMalformedToken(t *testing.T) {
	f := newFakeAPI(t)
	c := New(Credentials{BotToken: "123:../../etc"}, Options{BaseURL: f.srv.URL})
	_, err := c.Verify(context.Background())
	if sb.ErrorCode(err) != sb.EINVALID {
		t.Fatalf("Verify = %v, want invalid credentials", err)
	}
	if calls := f.recorded(); len(calls) != 0 {
		t.Errorf("a malformed token reached the API: %v", calls)
	}
}
