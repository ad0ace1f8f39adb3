package twilio

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	sb "github.com/switchboardhq/switchboard"
)

const accountPath = "/2010-04-01/Accounts/" + testAccountSID + ".json"

func TestVerify(t *testing.T) {
	keyCreds := testCreds
	keyCreds.APIKeySID, keyCreds.APIKeySecret = testKeySID, testKeySecret
	for _, tt := range []struct {
		name       string
		creds      Credentials
		user, pass string
	}{
		{"auth token", testCreds, testAccountSID, testAuthToken},
		{"api key", keyCreds, testKeySID, testKeySecret},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeTwilio{
				t: t, method: http.MethodGet, path: accountPath, user: tt.user, pass: tt.pass,
				status: http.StatusOK, body: fixture(t, "account_fetch_response.json"),
			}
			acct, err := f.start(tt.creds, Options{}).Verify(context.Background())
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := sb.ProviderAccount{Name: "Switchboard Test", Details: map[string]string{"status": "active", "type": "Full"}}
			if !reflect.DeepEqual(acct, want) {
				t.Errorf("account = %+v, want %+v", acct, want)
			}
		})
	}
}

func TestVerifyRefused(t *testing.T) {
	f := &fakeTwilio{
		t: t, method: http.MethodGet, path: accountPath, user: testAccountSID, pass: testAuthToken,
		status: http.StatusUnauthorized, body: fixture(t, "error_20003_auth.json"),
	}
	_, err := f.start(testCreds, Options{}).Verify(context.Background())
	var e *sb.Error
	if !errors.As(err, &e) || e.Code != sb.EREFUSED {
		t.Fatalf("err = %v, want code %s", err, sb.EREFUSED)
	}
	if e.Message != "twilio refused the credentials: Authenticate" {
		t.Errorf("message = %q", e.Message)
	}
}

func TestVerifyUnavailable(t *testing.T) {
	f := &fakeTwilio{
		t: t, method: http.MethodGet, path: accountPath, user: testAccountSID, pass: testAuthToken,
		status: http.StatusServiceUnavailable, body: []byte(`{"code": 20503, "message": "Service unavailable", "status": 503}`),
	}
	_, err := f.start(testCreds, Options{}).Verify(context.Background())
	if err == nil {
		t.Fatal("Verify succeeded on a 503")
	}
	if code := sb.ErrorCode(err); code == sb.EREFUSED {
		t.Errorf("a 503 reads as refused credentials: %v", err)
	}
	if strings.Contains(err.Error(), testAuthToken) {
		t.Errorf("error carries the auth token: %v", err)
	}
}
