package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// loadSpec parses and validates the embedded OpenAPI document (examples
// included: kin-openapi checks every example against its schema).
func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	if err != nil {
		t.Fatalf("load api/openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("api/openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	return doc
}

func TestOpenAPISpecIsValid(t *testing.T) {
	doc := loadSpec(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.0") {
		t.Errorf("openapi version %q; the spec is written for 3.0", doc.OpenAPI)
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == "" {
				t.Errorf("%s %s has no operationId", method, path)
			}
			if op.Responses == nil || op.Responses.Len() == 0 {
				t.Errorf("%s %s documents no responses", method, path)
			}
		}
	}
}

// TestOpenAPIRoutesMatchServer checks that the server serves exactly the
// operations the spec documents, no more and no fewer.
func TestOpenAPIRoutesMatchServer(t *testing.T) {
	doc := loadSpec(t)

	// Building the routes touches neither the store, the queue nor Redis.
	s := New(Config{}, nil, nil, nil, slog.New(slog.DiscardHandler))
	served := map[string]bool{}
	for _, r := range s.Routes() {
		if r == "GET /openapi.yaml" { // the spec itself is not part of the spec
			continue
		}
		if served[r] {
			t.Errorf("route %s registered twice", r)
		}
		served[r] = true
	}

	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}

	var missingFromSpec, missingFromServer []string
	for r := range served {
		if !documented[r] {
			missingFromSpec = append(missingFromSpec, r)
		}
	}
	for r := range documented {
		if !served[r] {
			missingFromServer = append(missingFromServer, r)
		}
	}
	slices.Sort(missingFromSpec)
	slices.Sort(missingFromServer)
	if len(missingFromSpec) > 0 || len(missingFromServer) > 0 {
		var b strings.Builder
		b.WriteString("server routes and api/openapi.yaml disagree:\n")
		for _, r := range missingFromSpec {
			b.WriteString("  + " + r + "   (served, not in the spec)\n")
		}
		for _, r := range missingFromServer {
			b.WriteString("  - " + r + "   (in the spec, not served)\n")
		}
		t.Error(b.String())
	}
	if len(served) == 0 {
		t.Error("server has no routes")
	}
}

// TestOpenAPIProblemTypes checks that the spec's list of problem types is
// the server's codes table: every `suffix` (status) pair is documented.
func TestOpenAPIProblemTypes(t *testing.T) {
	doc := loadSpec(t)
	desc := doc.Info.Description
	for code, m := range codes {
		want := "`" + m.typ + "` (" + strconv.Itoa(m.status)
		if !strings.Contains(desc, want) {
			t.Errorf("code %q: spec description does not list %s…)", code, want)
		}
	}
}

// TestOpenAPISendExamplesAccepted runs the spec's POST /v1/messages request
// examples through the server's own decoding and validation: a documented
// example must be a request the server accepts.
func TestOpenAPISendExamplesAccepted(t *testing.T) {
	doc := loadSpec(t)
	op := doc.Paths.Value("/v1/messages").Post
	mt := op.RequestBody.Value.Content.Get("application/json")
	examples := map[string]any{}
	for name, ex := range mt.Examples {
		examples[name] = ex.Value.Value
	}
	if mt.Schema.Value.Example != nil {
		examples["schema example"] = mt.Schema.Value.Example
	}
	if len(examples) == 0 {
		t.Fatal("POST /v1/messages has no request examples")
	}
	for name, v := range examples {
		body, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var req sendRequest
		if err := decodeJSON(body, &req); err != nil {
			t.Errorf("example %s: decode %s: %v", name, body, err)
			continue
		}
		if _, err := (&Server{}).validate(&req); err != nil {
			t.Errorf("example %s: the server rejects %s: %v", name, body, err)
		}
	}
}
