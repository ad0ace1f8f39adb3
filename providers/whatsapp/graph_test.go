package whatsapp

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Test credentials. The token and secrets are long enough that Hint shows
// their last four characters.
const (
	testToken       = "EAAGm0PX4ZCpsBAKtestTOKENnotREAL1234wxyz"
	testPhoneID     = "106540352242922"
	testAppSecret   = "TEST_APP_SECRET" // the signature vectors' secret
	testVerifyToken = "meatyhamhock"
	testWABAID      = "102290129340398"
)

func testCreds() Credentials {
	return Credentials{AccessToken: testToken, PhoneNumberID: testPhoneID, AppSecret: testAppSecret, VerifyToken: testVerifyToken, WABAID: testWABAID}
}

// fixture reads a file from testdata.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decode parses JSON into a generic value for comparisons.
func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// graphCall is one request the fake Graph API received.
type graphCall struct {
	Method string
	Path   string
	Query  string
	Auth   string
	Type   string
	Body   []byte
}

// fakeGraph plays the Graph API: it records every call and answers with
// reply. The checks on what was sent are made by the tests on calls.
type fakeGraph struct {
	srv   *httptest.Server
	mu    sync.Mutex
	calls []graphCall
}

func newFakeGraph(t *testing.T, reply http.HandlerFunc) *fakeGraph {
	t.Helper()
	g := &fakeGraph{}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		g.mu.Lock()
		g.calls = append(g.calls, graphCall{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Auth: r.Header.Get("Authorization"), Type: r.Header.Get("Content-Type"), Body: body})
		g.mu.Unlock()
		reply(w, r)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *fakeGraph) client(opts Options) *Client {
	opts.BaseURL = g.srv.URL
	return New(testCreds(), opts)
}

func (g *fakeGraph) recorded() []graphCall {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]graphCall(nil), g.calls...)
}

// answer replies with status, extra headers and body.
func answer(status int, body []byte, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		if len(body) > 0 && body[0] == '{' {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		w.Write(body)
	}
}
