package api

import (
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/switchboardhq/switchboard/routing"
	"github.com/switchboardhq/switchboard/voicebot/runtime"
	"github.com/switchboardhq/switchboard/webhook"
)

// requestExamples returns an operation's JSON request examples by name.
func requestExamples(t *testing.T, op *openapi3.Operation) map[string]any {
	t.Helper()
	mt := op.RequestBody.Value.Content.Get("application/json")
	out := map[string]any{}
	for name, ex := range mt.Examples {
		out[name] = ex.Value.Value
	}
	if mt.Example != nil {
		out["example"] = mt.Example
	}
	if len(out) == 0 {
		t.Fatalf("%s has no request examples", op.OperationID)
	}
	return out
}

// TestOpenAPIFlowExamplesValid runs the spec's flow examples through the
// flow parser the server uses: a documented flow must be a valid one.
func TestOpenAPIFlowExamplesValid(t *testing.T) {
	doc := loadSpec(t)
	for _, op := range []*openapi3.Operation{doc.Paths.Value("/v1/flows").Post, doc.Paths.Value("/v1/flows/{id}").Put} {
		for name, v := range requestExamples(t, op) {
			body, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := runtime.ParseFlow(body, ""); err != nil {
				t.Errorf("%s example %s: %v\n%s", op.OperationID, name, err, body)
			}
		}
	}
}

// TestOpenAPIVoiceExamplesAccepted sends the spec's request examples for
// calls, callbacks and sandbox calls to the server (over the fakes): each
// must be accepted.
func TestOpenAPIVoiceExamplesAccepted(t *testing.T) {
	doc := loadSpec(t)
	srv := New(Config{Guard: webhook.Guard{AllowPrivate: true}, Routing: routing.NewService(fakeStore{}), Providers: fakeProviders{},
		PublicURL: fakePublicURL, Calls: fakeCalls{}, STT: fakeSTT{}}, fakeStore{}, fakeQueue{}, fakePinger{}, slog.New(slog.DiscardHandler))
	for _, tt := range []struct{ path, specPath string }{
		{"/v1/flows", "/v1/flows"},
		{"/v1/calls", "/v1/calls"},
		{"/v1/callbacks", "/v1/callbacks"},
		{"/v1/sandbox/calls/inbound", "/v1/sandbox/calls/inbound"},
		{"/v1/sandbox/calls/" + fakeCall + "/dtmf", "/v1/sandbox/calls/{id}/dtmf"},
		{"/v1/sandbox/calls/" + fakeCall + "/speech", "/v1/sandbox/calls/{id}/speech"},
	} {
		op := doc.Paths.Value(tt.specPath).Post
		for name, v := range requestExamples(t, op) {
			body, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest("POST", tt.path, strings.NewReader(string(body)))
			req.Header.Set("Authorization", "Bearer sk_good")
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, req)
			if rec.Code >= 300 {
				t.Errorf("%s example %s: %d %s\nrequest: %s", op.OperationID, name, rec.Code, rec.Body.Bytes(), body)
			}
		}
	}
}
