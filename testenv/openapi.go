package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/switchboardhq/switchboard/api"
)

// spec is api/openapi.yaml, loaded, validated and routed once per test
// binary.
var spec = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	if err != nil {
		return nil, fmt.Errorf("load api/openapi.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("api/openapi.yaml is invalid: %w", err)
	}
	// The spec names http://localhost:8080; tests run on random ports, so
	// match paths on any host.
	doc.Servers = nil
	return gorillamux.NewRouter(doc)
})

// validationOptions: authentication is the server's business (tests send
// bad keys on purpose); ids are UUIDv7, which kin-openapi does not check
// unless asked; schema errors name the JSON pointer, the reason and the
// value, not the whole schema.
var validationOptions = func() *openapi3filter.Options {
	o := &openapi3filter.Options{
		AuthenticationFunc:  openapi3filter.NoopAuthenticationFunc,
		MultiError:          true,
		SkipSettingDefaults: true,
		// A status the operation does not document is a spec mismatch too.
		IncludeResponseStatus: true,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{
			openapi3.WithStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562)),
		},
	}
	o.WithCustomSchemaErrorFunc(func(err *openapi3.SchemaError) string {
		v, _ := json.Marshal(err.Value)
		if len(v) > 200 {
			v = append(v[:200:200], "…"...)
		}
		return fmt.Sprintf("at /%s: %s (value %s)", strings.Join(err.JSONPointer(), "/"), err.Reason, v)
	})
	return o
}()

// ValidatingTransport wraps base (http.DefaultTransport when nil) so that
// every request and response on a path the OpenAPI spec documents is checked
// against api/openapi.yaml; a mismatch is reported with t.Errorf and the
// exchange goes on unchanged.
//
// Responses are always validated, bodies included. Requests are validated
// too, but a request the spec disallows is reported only when the server
// accepted it (2xx): tests send invalid requests on purpose to check the 4xx
// answers, and then the server and the spec agree.
//
// Paths and methods the spec does not document (the spec itself, unknown
// routes) are passed through unchecked; TestOpenAPIRoutesMatchServer in
// package api keeps the server's routes and the spec's in step.
func ValidatingTransport(t testing.TB, base http.RoundTripper) http.RoundTripper {
	t.Helper()
	if base == nil {
		base = http.DefaultTransport
	}
	router, err := spec()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	vt := &validatingTransport{t: t, base: base, router: router}
	// A client may outlive its test (a goroutine still draining); reporting
	// to a finished test panics, so checking stops when the test ends.
	t.Cleanup(func() { vt.done.Store(true) })
	return vt
}

type validatingTransport struct {
	t      testing.TB
	base   http.RoundTripper
	router routers.Router
	done   atomic.Bool
}

func (vt *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// Buffer the request body so that both the server and the validator
	// see all of it.
	var reqBody []byte
	out := req
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		reqBody, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		out = req.Clone(req.Context())
		out.Body = io.NopCloser(bytes.NewReader(reqBody))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(reqBody)), nil }
		out.ContentLength = int64(len(reqBody))
	}

	resp, err := vt.base.RoundTrip(out)
	if err != nil {
		return resp, err
	}
	respBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))

	if !vt.done.Load() {
		vt.check(req, reqBody, resp, respBody)
	}
	return resp, nil
}

// check validates one exchange against the spec.
func (vt *validatingTransport) check(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) {
	// The validator reads (and may consume) the body: give it its own copy.
	vreq := req.Clone(context.Background())
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	vreq.ContentLength = int64(len(reqBody))

	route, pathParams, err := vt.router.FindRoute(vreq)
	if err != nil {
		if errors.Is(err, routers.ErrPathNotFound) || errors.Is(err, routers.ErrMethodNotAllowed) {
			return // not in the spec
		}
		vt.t.Errorf("openapi: %s %s → %d: find route: %v", req.Method, req.URL.Path, resp.StatusCode, err)
		return
	}
	in := &openapi3filter.RequestValidationInput{
		Request:    vreq,
		PathParams: pathParams,
		Route:      route,
		Options:    validationOptions,
	}
	ctx := context.Background()
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
		vt.t.Errorf("openapi: %s %s → %d: the server accepted a request the spec disallows: %v\nrequest body: %s",
			req.Method, req.URL.Path, resp.StatusCode, err, clip(reqBody))
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                validationOptions,
	}
	out.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		vt.t.Errorf("openapi: %s %s → %d: response does not match the spec: %v\nresponse body: %s",
			req.Method, req.URL.Path, resp.StatusCode, err, clip(respBody))
	}
}

// clip shortens a body for an error message.
func clip(b []byte) string {
	const limit = 2048
	if len(b) == 0 {
		return "(empty)"
	}
	if len(b) > limit {
		return string(b[:limit]) + fmt.Sprintf("… (%d bytes)", len(b))
	}
	return string(b)
}
