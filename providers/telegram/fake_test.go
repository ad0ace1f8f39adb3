package telegram

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const (
	testToken   = "123456789:AAFtest-secret_part0123456789abcdefgh"
	tokenSecret = "AAFtest-secret_part0123456789abcdefgh"
)

// reply is one scripted Bot API answer.
type reply struct {
	status  int         // 0 = 200
	fixture string      // testdata file served as the body
	raw     string      // literal body, when no fixture
	header  http.Header // extra response headers
	// httpFixture is a testdata file holding a whole HTTP response (status
	// line, headers, body) to replay.
	httpFixture string
	hang        bool // never answer: the client must give up
}

// call is one request the fake received.
type call struct {
	method string
	body   map[string]any // decoded with json.Number, so types are exact
}

// fakeAPI plays the Bot API: it checks every request's method, path
// (/bot<token>/<method>) and content type, records its JSON body and
// answers with the replies scripted per method, in order.
type fakeAPI struct {
	t       *testing.T
	srv     *httptest.Server
	done    chan struct{}
	mu      sync.Mutex
	replies map[string][]reply
	calls   []call
}

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{t: t, done: make(chan struct{}), replies: map[string][]reply{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	t.Cleanup(func() { close(f.done) }) // runs first: releases hanging handlers
	return f
}

// on scripts the answers to method's next calls.
func (f *fakeAPI) on(method string, rs ...reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replies[method] = append(f.replies[method], rs...)
}

func (f *fakeAPI) recorded() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

// client returns a Client for the fake with opts' other fields kept.
func (f *fakeAPI) client(opts Options) *Client {
	opts.BaseURL = f.srv.URL
	return New(Credentials{BotToken: testToken}, opts)
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	t := f.t
	if r.Method != http.MethodPost {
		t.Errorf("%s %s: want POST", r.Method, r.URL.Path)
	}
	method, ok := strings.CutPrefix(r.URL.Path, "/bot"+testToken+"/")
	if !ok || method == "" || strings.Contains(method, "/") {
		t.Errorf("path %q: want /bot<token>/<method>", r.URL.Path)
		http.Error(w, `{"ok":false,"error_code":404,"description":"Not Found"}`, http.StatusNotFound)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q, want application/json", method, ct)
	}
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	var body map[string]any
	if err := dec.Decode(&body); err != nil {
		t.Errorf("%s: body is not a JSON object: %v", method, err)
	}
	f.mu.Lock()
	f.calls = append(f.calls, call{method, body})
	var rep reply
	queue := f.replies[method]
	if len(queue) > 0 {
		rep, f.replies[method] = queue[0], queue[1:]
	}
	f.mu.Unlock()
	if len(queue) == 0 {
		t.Errorf("unexpected call to %s", method)
		http.Error(w, "unexpected call", http.StatusTeapot)
		return
	}
	if rep.hang {
		select {
		case <-r.Context().Done():
		case <-f.done:
		}
		return
	}
	status, header, payload := rep.status, rep.header, []byte(rep.raw)
	switch {
	case rep.httpFixture != "":
		status, header, payload = httpFixture(t, rep.httpFixture)
	case rep.fixture != "":
		payload = fixture(t, rep.fixture)
	}
	if status == 0 {
		status = http.StatusOK
	}
	w.Header().Set("Content-Type", "application/json")
	for k, vs := range header {
		w.Header()[k] = vs
	}
	w.WriteHeader(status)
	w.Write(payload)
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// httpFixture reads a whole HTTP response recorded as text, with its
// "Content-Length: <len>" placeholder filled in.
func httpFixture(t *testing.T, name string) (int, http.Header, []byte) {
	t.Helper()
	head, body, ok := strings.Cut(strings.ReplaceAll(string(fixture(t, name)), "\r\n", "\n"), "\n\n")
	if !ok {
		t.Fatalf("%s: no blank line between headers and body", name)
	}
	body = strings.TrimRight(body, "\n")
	head = strings.Replace(head, "<len>", strconv.Itoa(len(body)), 1)
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(head+"\n\n"+body)), nil)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	h := resp.Header.Clone()
	h.Del("Content-Length")
	h.Del("Connection")
	return resp.StatusCode, h, buf.Bytes()
}

// decodeJSON decodes s as the fake decodes request bodies.
func decodeJSON(t *testing.T, s []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return m
}

// checkCalls compares the calls the fake received with want, given as
// method and JSON body.
func checkCalls(t *testing.T, got []call, want ...[2]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d calls %v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		if got[i].method != w[0] {
			t.Errorf("call %d: method %s, want %s", i, got[i].method, w[0])
		}
		if wb := decodeJSON(t, []byte(w[1])); !reflect.DeepEqual(got[i].body, wb) {
			t.Errorf("call %d %s: body %v, want %v", i, w[0], got[i].body, wb)
		}
	}
}

// checkShape asserts that every field of body appears in the fixture
// request with the same JSON type: what we send is what the Bot API
// documents.
func checkShape(t *testing.T, body map[string]any, fixtureName string) {
	t.Helper()
	ref := decodeJSON(t, fixture(t, fixtureName))
	for k, v := range body {
		rv, ok := ref[k]
		if !ok {
			t.Errorf("field %q is not in %s", k, fixtureName)
			continue
		}
		if reflect.TypeOf(v) != reflect.TypeOf(rv) {
			t.Errorf("field %q is %T, %s has %T", k, v, fixtureName, rv)
		}
	}
}

// assertNoToken fails when any value, or any error in an error's chain,
// shows the bot token's secret part.
func assertNoToken(t *testing.T, vals ...any) {
	t.Helper()
	for _, v := range vals {
		s := fmt.Sprintf("%v %+v %#v", v, v, v)
		if err, ok := v.(error); ok {
			for e := err; e != nil; e = errors.Unwrap(e) {
				s += fmt.Sprintf(" %s %#v", e.Error(), e)
			}
		}
		if strings.Contains(s, tokenSecret) {
			t.Errorf("token leaked: %s", s)
		}
	}
}
