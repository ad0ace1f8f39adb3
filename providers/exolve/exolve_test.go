package exolve

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	sb "github.com/switchboardhq/switchboard"
)

const testKey = "exolve-test-key-0123456789abcdef"

// fixture reads a file under testdata (copied from the shared Exolve
// fixtures; see testdata/README.md).
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeExolve plays api.exolve.ru: it checks that a request is a JSON POST
// to /messaging/v1/<method> with our Bearer key and the expected body, and
// answers as scripted.
type fakeExolve struct {
	t        *testing.T
	method   string            // the messaging/v1 method expected
	wantBody []byte            // JSON the request body must equal; nil = any
	status   int               // 0 = 200
	header   map[string]string // answer headers
	body     []byte            // answer body
	hang     bool              // answer nothing until the client gives up
	calls    atomic.Int32
}

func (f *fakeExolve) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	t := f.t
	if r.Method != http.MethodPost {
		t.Errorf("method = %s, want POST", r.Method)
	}
	if want := "/messaging/v1/" + f.method; r.URL.Path != want {
		t.Errorf("path = %s, want %s", r.URL.Path, want)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+testKey {
		t.Errorf("Authorization = %q, want the Bearer key", got)
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	got, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("read body: %v", err)
	}
	if f.wantBody != nil {
		assertJSONEqual(t, got, f.wantBody)
	}
	if f.hang {
		<-r.Context().Done()
		return
	}
	for k, v := range f.header {
		w.Header().Set(k, v)
	}
	if f.status != 0 {
		w.WriteHeader(f.status)
	}
	w.Write(f.body)
}

// assertJSONEqual compares two JSON documents by value, so that field
// order and spacing do not matter but types (a number against a string of
// digits) do.
func assertJSONEqual(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("request body is not JSON: %v: %s", err, got)
		return
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want is not JSON: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("request body = %s\nwant %s", got, want)
	}
}

// serve starts f and returns a client pointed at it.
func serve(t *testing.T, f *fakeExolve, opts Options) *Client {
	t.Helper()
	f.t = t
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	opts.BaseURL = srv.URL + "/" // a trailing slash must not double up
	return New(Credentials{APIKey: testKey}, opts)
}

func TestCredentialsValidate(t *testing.T) {
	tests := []struct {
		name    string
		creds   Credentials
		wantMsg string // "" = valid
	}{
		{name: "ok", creds: Credentials{APIKey: testKey}},
		{name: "missing", creds: Credentials{}, wantMsg: "is required"},
		{name: "pasted with Bearer", creds: Credentials{APIKey: "Bearer " + testKey}, wantMsg: "without spaces"},
		{name: "trailing newline", creds: Credentials{APIKey: testKey + "\n"}, wantMsg: "without spaces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.creds.Validate()
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var e *sb.Error
			if !errors.As(err, &e) || e.Code != sb.EINVALID {
				t.Fatalf("Validate = %v, want an %s *sb.Error", err, sb.EINVALID)
			}
			if len(e.Fields) != 1 || e.Fields[0].Field != "credentials.api_key" || !strings.Contains(e.Fields[0].Message, tt.wantMsg) {
				t.Errorf("fields = %+v, want credentials.api_key %q", e.Fields, tt.wantMsg)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Errorf("error %q contains the key", err)
			}
		})
	}
}

func TestCredentialsHint(t *testing.T) {
	tests := []struct {
		name string
		key  string
		want string
	}{
		{name: "long key shows its last 4", key: testKey, want: "****cdef"},
		{name: "short key shows nothing", key: "abcdefgh", want: "****"},
		{name: "empty", key: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Credentials{APIKey: tt.key}.Hint()
			if h["api_key"] != tt.want {
				t.Errorf("Hint = %v, want api_key %q", h, tt.want)
			}
			for k, v := range h {
				if tt.key != "" && strings.Contains(v, tt.key) {
					t.Errorf("Hint[%s] = %q contains the key", k, v)
				}
			}
		})
	}
}

func TestNumbers(t *testing.T) {
	tests := []struct {
		in, wire, sender string
		ok               bool
	}{
		{in: "+79992223344", wire: "79992223344", sender: "79992223344", ok: true},
		{in: "+4915112345678", wire: "4915112345678", sender: "4915112345678", ok: true}, // non-Russian: digits as they are
		{in: "79992223344", wire: "79992223344", sender: "79992223344", ok: true},
		{in: "MyCompany", sender: "MyCompany"},
		{in: "+7 999", sender: "+7 999"},
		{in: ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := wireNumber(tt.in)
			if got != tt.wire || ok != tt.ok {
				t.Errorf("wireNumber = %q, %v; want %q, %v", got, ok, tt.wire, tt.ok)
			}
			if got := wireSender(tt.in); got != tt.sender {
				t.Errorf("wireSender = %q, want %q", got, tt.sender)
			}
		})
	}
	for in, want := range map[string]string{"79991112233": "+79991112233", "MyCompany": "MyCompany", "": "", "+79991112233": "+79991112233"} {
		if got := e164(in); got != want {
			t.Errorf("e164(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestEnumNumbers keeps the number-to-name tables in step with the enum
// values observed in the wild (testdata/sms/enums.json).
func TestEnumNumbers(t *testing.T) {
	var enums map[string]json.RawMessage
	if err := json.Unmarshal(fixture(t, "sms/enums.json"), &enums); err != nil {
		t.Fatal(err)
	}
	tables := map[string]map[string]string{
		"Direction": directionNames, "BillingStatus": billingNames,
		"DeliveryStatus": deliveryNames, "Status": statusNames,
	}
	for enum, table := range tables {
		var values map[string]json.Number
		if err := json.Unmarshal(enums[enum], &values); err != nil {
			t.Fatalf("%s: %v", enum, err)
		}
		want := map[string]string{}
		for name, n := range values {
			want[n.String()] = name
		}
		if !reflect.DeepEqual(table, want) {
			t.Errorf("%s table = %v, want %v", enum, table, want)
		}
	}
}
