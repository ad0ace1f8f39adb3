package twilio

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// Test credentials: well-formed, and not any real account's.
const (
	testAccountSID = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	testAuthToken  = "0123456789abcdef0123456789abcdef"
	testKeySID     = "SKbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	testKeySecret  = "keysecretKEYSECRET0123456789wxyz"
)

var testCreds = Credentials{AccountSID: testAccountSID, AuthToken: testAuthToken}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fixtureForm(t *testing.T, name string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(string(fixture(t, name)))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// fakeTwilio plays Twilio's REST API for one expected request: it checks
// method, path, Basic auth and form, and answers as scripted.
type fakeTwilio struct {
	t          *testing.T
	method     string
	path       string
	user, pass string
	form       url.Values // the exact form expected; nil for a GET

	status int
	body   []byte
	header http.Header
	hang   bool // never answer: wait for the client to give up

	mu    sync.Mutex
	calls int
}

func (f *fakeTwilio) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	t := f.t
	if r.Method != f.method {
		t.Errorf("method = %s, want %s", r.Method, f.method)
	}
	if r.URL.Path != f.path {
		t.Errorf("path = %s, want %s", r.URL.Path, f.path)
	}
	if u, p, ok := r.BasicAuth(); !ok || u != f.user || p != f.pass {
		t.Errorf("basic auth = %q/%v, want user %q and its password", u, ok, f.user)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("read body: %v", err)
	}
	if f.form != nil {
		if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			t.Errorf("content type = %q", ct)
		}
		got, err := url.ParseQuery(string(body))
		if err != nil {
			t.Errorf("form: %v", err)
		}
		if !sameForm(got, f.form) {
			t.Errorf("form = %v\nwant   %v", got, f.form)
		}
	}
	if f.hang {
		<-r.Context().Done()
		return
	}
	for k, vs := range f.header {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.status)
	w.Write(f.body)
}

func sameForm(a, b url.Values) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// start serves f and returns a client pointed at it through Options.BaseURL.
func (f *fakeTwilio) start(creds Credentials, opts Options) *Client {
	srv := httptest.NewServer(f)
	f.t.Cleanup(srv.Close)
	opts.BaseURL = srv.URL
	return New(creds, opts)
}
