package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/routing"
	"github.com/switchboardhq/switchboard/webhook"
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

// fakeWAV is the smallest WAV file: a header and no samples.
const fakeWAV = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA="

// Fixed ids and values for the fake store below.
const (
	fakeAccount  = "0193f6a2-0000-7000-8000-000000000001"
	fakeMessage  = "0193f6a2-8c1e-7b3a-9d1e-4f2a6b7c8d9e"
	fakeEndpoint = "0193f6a2-9a00-7c00-8000-0000000000aa"
	fakeRule     = "0193f6a2-9b00-7c00-8000-0000000000bb"
	fakeUnknown  = "0193f6a2-ffff-7fff-bfff-ffffffffffff"
)

var fakeTime = time.Date(2026, 11, 23, 6, 0, 0, 123456789, time.UTC)

// fakeStore answers with fixed, realistic records so that every handler's
// response can be checked against the spec without a database. Methods it
// does not override panic through the nil embedded Store.
type fakeStore struct {
	Store
	pingErr     error
	noMasterKey bool // CreateChannel fails as without SWITCHBOARD_MASTER_KEY
}

func (fakeStore) Authenticate(_ context.Context, key string) (string, error) {
	if key != "sk_good" {
		return "", sb.Errorf(sb.EUNAUTHORIZED, "unknown API key")
	}
	return fakeAccount, nil
}

func fakeMessages() []*sb.Message {
	return []*sb.Message{
		{ID: fakeMessage, AccountID: fakeAccount, Channel: sb.ChannelSMS, Direction: sb.Outbound, From: "+15005550000",
			To: "+79991234567", Text: "Hello", Status: sb.StatusDelivered, Encoding: "GSM-7", Segments: 1, Provider: "sandbox",
			ProviderMessageID: "SB" + fakeMessage, Attempts: 1, Sequence: 5, StatusCallbackURL: "https://example.com/cb",
			CreatedAt: fakeTime, UpdatedAt: fakeTime},
		{ID: "0193f6a2-8c1e-7b3a-9d1e-4f2a6b7c8d9f", AccountID: fakeAccount, Channel: sb.ChannelWhatsApp, Direction: sb.Outbound,
			From: "+15005550000", To: "+79991234567", MediaURLs: []string{"https://example.com/a.png"},
			Metadata: json.RawMessage(`{"order":{"id":"A-1","n":[1,2]}}`), Status: sb.StatusFailed, Provider: "sandbox",
			ErrorCode: "21211", ErrorMessage: "invalid 'To' number", Attempts: 1, Sequence: 4, CreatedAt: fakeTime, UpdatedAt: fakeTime},
		{ID: "0193f6a2-8c1e-7b3a-9d1e-4f2a6b7c8da0", AccountID: fakeAccount, Channel: sb.ChannelTelegram, Direction: sb.Inbound,
			From: "12345", To: "mybot", Text: "STOP", Status: sb.StatusReceived, Provider: "sandbox",
			ProviderMessageID: "SBIN1", Sequence: 1, CreatedAt: fakeTime, UpdatedAt: fakeTime},
	}
}

func (fakeStore) CreateMessage(_ context.Context, m *sb.Message, idem *sb.Idempotency, render func(*sb.Message) (int, []byte, error)) (*sb.Message, *sb.Replay, []string, error) {
	if idem != nil && idem.Key == "conflict" {
		return nil, nil, nil, sb.Errorf(sb.ECONFLICT, "Idempotency-Key %q was used with a different request body", idem.Key)
	}
	m.CreatedAt, m.UpdatedAt, m.Sequence = fakeTime, fakeTime, 1
	if render != nil {
		status, body, err := render(m)
		if err != nil {
			return nil, nil, nil, err
		}
		if idem != nil && idem.Key == "replay" {
			return nil, &sb.Replay{Status: status, Body: body}, nil, nil
		}
	}
	return m, nil, []string{"0193f6a2-7777-7000-8000-000000000001"}, nil
}

func (fakeStore) GetMessage(_ context.Context, _, id string) (*sb.Message, error) {
	for _, m := range fakeMessages() {
		if m.ID == id {
			return m, nil
		}
	}
	return nil, sb.ErrNotFound
}

func (fakeStore) ListMessages(_ context.Context, _ string, f sb.MessageFilter) ([]*sb.Message, string, error) {
	if f.Cursor == "bad" {
		return nil, "", sb.Invalid(sb.FieldError{Field: "cursor", Message: "not a cursor returned by this API"})
	}
	if f.Channel == sb.ChannelViber {
		return nil, "", nil
	}
	return fakeMessages(), "b3BhcXVl", nil
}

func (s fakeStore) ListEvents(ctx context.Context, account, id string) ([]sb.Event, error) {
	if _, err := s.GetMessage(ctx, account, id); err != nil {
		return nil, err
	}
	return []sb.Event{
		{MessageID: id, Sequence: 1, Status: sb.StatusAccepted, Timestamp: fakeTime},
		{MessageID: id, Sequence: 2, Status: sb.StatusFailed, ErrorCode: "21211", ErrorMessage: "invalid 'To' number", Timestamp: fakeTime},
	}, nil
}

func fakeEndpointRecord() *sb.WebhookEndpoint {
	return &sb.WebhookEndpoint{ID: fakeEndpoint, AccountID: fakeAccount, URL: "https://example.com/hook",
		Events: []string{"message.delivered", "*"}, Description: "receipts", Enabled: true,
		Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", CreatedAt: fakeTime, UpdatedAt: fakeTime}
}

func (fakeStore) CreateEndpoint(_ context.Context, e *sb.WebhookEndpoint) (*sb.WebhookEndpoint, error) {
	e.ID, e.Enabled, e.CreatedAt, e.UpdatedAt = fakeEndpoint, true, fakeTime, fakeTime
	return e, nil
}

func (fakeStore) GetEndpoint(_ context.Context, _, id string) (*sb.WebhookEndpoint, error) {
	if id != fakeEndpoint {
		return nil, sb.ErrNotFound
	}
	return fakeEndpointRecord(), nil
}

func (fakeStore) ListEndpoints(context.Context, string, string, int) ([]*sb.WebhookEndpoint, string, error) {
	disabled := fakeEndpointRecord()
	disabled.Enabled, disabled.DisabledReason = false, "endpoint answered 410 Gone"
	return []*sb.WebhookEndpoint{fakeEndpointRecord(), disabled}, "", nil
}

func (s fakeStore) UpdateEndpoint(ctx context.Context, account, id string, u sb.EndpointUpdate) (*sb.WebhookEndpoint, error) {
	e, err := s.GetEndpoint(ctx, account, id)
	if err != nil {
		return nil, err
	}
	if u.Enabled != nil {
		e.Enabled = *u.Enabled
	}
	return e, nil
}

func (fakeStore) DeleteEndpoint(_ context.Context, _, id string) error {
	if id != fakeEndpoint {
		return sb.ErrNotFound
	}
	return nil
}

func (s fakeStore) RotateSecret(ctx context.Context, account, id, secret string, _ time.Duration) (*sb.WebhookEndpoint, error) {
	e, err := s.GetEndpoint(ctx, account, id)
	if err != nil {
		return nil, err
	}
	e.Secret = secret
	return e, nil
}

func (fakeStore) ListAttempts(_ context.Context, _, id, _ string, _ int) ([]sb.WebhookAttempt, string, error) {
	if id != fakeEndpoint {
		return nil, "", sb.ErrNotFound
	}
	return []sb.WebhookAttempt{
		{ID: "0193f6a2-aaaa-7000-8000-000000000001", DeliveryID: "0193f6a2-bbbb-7000-8000-000000000001", EndpointID: id,
			EventType: "message.delivered", Attempt: 1, StatusCode: 200, Duration: 12 * time.Millisecond, CreatedAt: fakeTime},
		{ID: "0193f6a2-aaaa-7000-8000-000000000002", DeliveryID: "0193f6a2-bbbb-7000-8000-000000000002", EndpointID: id,
			EventType: "message.failed", Attempt: 2, Error: "dial tcp: connection refused", Duration: time.Second, CreatedAt: fakeTime},
	}, "next", nil
}

func (fakeStore) PutRule(_ context.Context, r *sb.SandboxRule) (*sb.SandboxRule, error) {
	r.ID, r.CreatedAt = fakeRule, fakeTime
	return r, nil
}

func (fakeStore) ListRules(context.Context, string) ([]*sb.SandboxRule, error) {
	delay := 500
	return []*sb.SandboxRule{
		{ID: fakeRule, AccountID: fakeAccount, Channel: sb.ChannelSMS, To: "+79991234567", Outcome: sb.OutcomeFailed, DelayMS: &delay, CreatedAt: fakeTime},
		{ID: "0193f6a2-9b00-7c00-8000-0000000000bc", AccountID: fakeAccount, From: "+15005550000", RatePerSecond: 2.5, CreatedAt: fakeTime},
	}, nil
}

func (fakeStore) DeleteRule(_ context.Context, _, id string) error {
	if id != fakeRule {
		return sb.ErrNotFound
	}
	return nil
}

func (fakeStore) Submissions(_ context.Context, _, messageID string) ([]sb.SandboxSubmission, error) {
	if messageID != fakeMessage {
		return nil, nil
	}
	return []sb.SandboxSubmission{
		{ID: "0193f6a2-cccc-7000-8000-000000000001", AccountID: fakeAccount, MessageID: messageID, Channel: sb.ChannelSMS,
			From: "+15005550000", To: "+79991234567", Text: "Hello", Attempt: 1, Result: "transient", CreatedAt: fakeTime},
		{ID: "0193f6a2-cccc-7000-8000-000000000002", AccountID: fakeAccount, MessageID: messageID, Channel: sb.ChannelSMS,
			From: "+15005550000", To: "+79991234567", Text: "Hello", Attempt: 2, Result: "accepted",
			ProviderMessageID: "SB" + messageID, CreatedAt: fakeTime},
	}, nil
}

func (s fakeStore) Ping(context.Context) error { return s.pingErr }

type fakeQueue struct{}

func (fakeQueue) Notify(*sb.Message)                              {}
func (fakeQueue) EnqueueWebhooks(context.Context, []string) error { return nil }

type fakePinger struct{ err error }

func (p fakePinger) Ping(context.Context) error { return p.err }

// TestOpenAPIResponsesMatchSpec drives every operation of the real handlers
// (over a fake store) and checks each response, status and body, against
// the spec; requests the server accepts must be valid per the spec too.
func TestOpenAPIResponsesMatchSpec(t *testing.T) {
	doc := loadSpec(t)
	doc.Servers = nil // match any host
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	opts := &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		MultiError:            true,
		SkipSettingDefaults:   true,
		IncludeResponseStatus: true,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{
			openapi3.WithStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562)),
		},
	}
	opts.WithCustomSchemaErrorFunc(func(err *openapi3.SchemaError) string {
		return "at /" + strings.Join(err.JSONPointer(), "/") + ": " + err.Reason
	})
	log := slog.New(slog.DiscardHandler)
	healthy := New(Config{Guard: webhook.Guard{AllowPrivate: true}, Routing: routing.NewService(fakeStore{}),
		Providers: fakeProviders{}, PublicURL: fakePublicURL, Calls: fakeCalls{}, STT: fakeSTT{}, RTC: fakeRTC{}, RTCTokenKey: []byte(fakeRTCKey)},
		fakeStore{}, fakeQueue{}, fakePinger{}, log)
	// Signs browser tokens but answers no browser calls.
	noBrowser := New(Config{Routing: routing.NewService(fakeStore{}), Providers: fakeProviders{}, PublicURL: fakePublicURL,
		RTCTokenKey: []byte(fakeRTCKey)}, fakeStore{}, fakeQueue{}, fakePinger{}, log)
	down := New(Config{Routing: routing.NewService(fakeStore{}), Providers: fakeProviders{}, PublicURL: fakePublicURL},
		fakeStore{pingErr: errors.New("dial tcp 127.0.0.1:5432: connect: connection refused"), noMasterKey: true},
		fakeQueue{}, fakePinger{errors.New("redis: connection pool timeout")}, log)

	const send = `{"channel":"sms","from":"+15005550000","to":"+79991234567","text":"Hello"}`
	// A flow like the spec's example, and a Twilio-style form webhook.
	const flowIVR = `{"name":"Support IVR","resume_on":["telegram","sms"],"steps":[{"id":"welcome","type":"say","text":"Welcome."},` +
		`{"id":"menu","type":"gather","prompt":"Press 1 for sales","max_digits":1,"timeout":"5s","save_as":"choice","no_input":"sorry"},` +
		`{"id":"route","type":"branch","on":"{{choice}}","cases":[{"in":["1","sales"],"next":"sales"}],"default":"sorry"},` +
		`{"id":"sales","type":"send_message","channel":"sms","text":"Sales will call you"},{"id":"bye","type":"hangup"},` +
		`{"id":"sorry","type":"say","text":"Sorry.","next":"menu"}]}`
	twilioForm := []string{"Authorization", "", "Content-Type", "application/x-www-form-urlencoded", "X-Twilio-Signature", "c2lnbmF0dXJl"}
	// Browser tokens: good, another account's (no webrtc channel), a gone
	// customer's, expired, and signed with another key.
	browser := []string{"Authorization", "Bearer " + browserToken(fakeRTCKey, fakeAccount, fakeCustomer, time.Hour)}
	browserTok := browser[1][len("Bearer "):]
	browserSDP := append([]string{"Content-Type", "application/sdp"}, browser...)
	keySDP := []string{"Content-Type", "application/sdp"} // with the default API key
	keyFrag := []string{"Content-Type", "application/trickle-ice-sdpfrag"}
	browserFrag := append([]string{"Content-Type", "application/trickle-ice-sdpfrag"}, browser...)
	const fakeCandidate = "a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host\r\na=end-of-candidates\r\n"
	noSender := []string{"Authorization", "Bearer " + browserToken(fakeRTCKey, fakeAccount2, fakeCustomer, time.Hour)}
	goneCustomer := []string{"Authorization", "Bearer " + browserToken(fakeRTCKey, fakeAccount, fakeUnknown, time.Hour)}
	expired := []string{"Authorization", "Bearer " + browserToken(fakeRTCKey, fakeAccount, fakeCustomer, -time.Minute)}
	forged := []string{"Authorization", "Bearer " + browserToken("another key", fakeAccount, fakeCustomer, time.Hour)}
	tests := []struct {
		srv    *Server
		method string
		path   string
		body   string
		header []string // name, value pairs; Authorization and Content-Type are set unless given
		status int
	}{
		{healthy, "GET", "/healthz", "", nil, 200},
		{healthy, "GET", "/widget?token=x", "", nil, 200},
		{healthy, "GET", "/widget.js", "", nil, 200},
		{healthy, "GET", "/inbox", "", nil, 200},
		{healthy, "GET", "/assets/widget.js", "", nil, 200},
		{healthy, "GET", "/assets/app.css", "", nil, 200},
		{healthy, "GET", "/assets/nope.js", "", nil, 404},
		{healthy, "GET", "/readyz", "", nil, 200},
		{down, "GET", "/readyz", "", nil, 503},
		{healthy, "GET", "/metrics", "", nil, 200},

		{healthy, "POST", "/v1/messages", send, nil, 202},
		{healthy, "POST", "/v1/messages", send, []string{"Idempotency-Key", "replay"}, 202},
		{healthy, "POST", "/v1/messages", send, []string{"Idempotency-Key", "conflict"}, 409},
		{healthy, "POST", "/v1/messages", send, []string{"Idempotency-Key", strings.Repeat("k", 256)}, 422},
		{healthy, "POST", "/v1/messages", `{"channel":"whatsapp","from":"+15005550000","to":"+79991234567",` +
			`"media_urls":["https://example.com/a.png"],"metadata":{"k":[1,{"x":null}]},"status_callback_url":"https://example.com/cb"}`, nil, 202},
		{healthy, "POST", "/v1/messages", `{"channel":"webrtc","from":"agent-1","to":"user-42","text":"hi"}`, nil, 202},
		{healthy, "POST", "/v1/messages", `{"channel":"sms","colour":"red"}`, nil, 400},
		{healthy, "POST", "/v1/messages", ``, nil, 400},
		{healthy, "POST", "/v1/messages", strings.Repeat(" ", maxBody+1), nil, 413},
		{healthy, "POST", "/v1/messages", send, []string{"Content-Type", "text/plain"}, 415},
		{healthy, "POST", "/v1/messages", `{"channel":"sms","from":"+1","to":"nope","text":""}`, nil, 422},
		{healthy, "POST", "/v1/messages", send, []string{"Authorization", ""}, 401},
		{healthy, "POST", "/v1/messages", send, []string{"Authorization", "Bearer sk_bad"}, 401},
		{healthy, "GET", "/v1/messages", "", nil, 200},
		{healthy, "GET", "/v1/messages?limit=100&channel=viber&status=read&direction=inbound&to=%2B79991234567" +
			"&created_after=2026-01-01T00:00:00Z&created_before=2027-01-01T00:00:00.5%2B03:00", "", nil, 200},
		{healthy, "GET", "/v1/messages?limit=0&status=lost&created_after=yesterday", "", nil, 422},
		{healthy, "GET", "/v1/messages?cursor=bad", "", nil, 422},
		{healthy, "GET", "/v1/messages/" + fakeMessage, "", nil, 200},
		{healthy, "GET", "/v1/messages/" + fakeUnknown, "", nil, 404},
		{healthy, "GET", "/v1/messages/" + fakeMessage + "/events", "", nil, 200},
		{healthy, "GET", "/v1/messages/" + fakeUnknown + "/events", "", nil, 404},

		{healthy, "POST", "/v1/webhook-endpoints", `{"url":"https://example.com/hook","events":["message.delivered","*"],"description":"d"}`, nil, 201},
		{healthy, "POST", "/v1/webhook-endpoints", `{"url":"http://169.254.169.254/latest","events":["*"]}`, nil, 422},
		{healthy, "POST", "/v1/webhook-endpoints", `{"url":"","events":["message.nope"]}`, nil, 422},
		{healthy, "POST", "/v1/webhook-endpoints", `{"url":5}`, nil, 400},
		{healthy, "GET", "/v1/webhook-endpoints?limit=2", "", nil, 200},
		{healthy, "GET", "/v1/webhook-endpoints?limit=x", "", nil, 422},
		{healthy, "GET", "/v1/webhook-endpoints/" + fakeEndpoint, "", nil, 200},
		{healthy, "GET", "/v1/webhook-endpoints/" + fakeUnknown, "", nil, 404},
		{healthy, "PATCH", "/v1/webhook-endpoints/" + fakeEndpoint, `{"enabled":false,"events":["message.failed"],"description":"x"}`, nil, 200},
		{healthy, "PATCH", "/v1/webhook-endpoints/" + fakeEndpoint, `{}`, nil, 200},
		{healthy, "PATCH", "/v1/webhook-endpoints/" + fakeEndpoint, `{"events":[]}`, nil, 422},
		{healthy, "PATCH", "/v1/webhook-endpoints/" + fakeUnknown, `{"enabled":true}`, nil, 404},
		{healthy, "DELETE", "/v1/webhook-endpoints/" + fakeEndpoint, "", nil, 204},
		{healthy, "DELETE", "/v1/webhook-endpoints/" + fakeUnknown, "", nil, 404},
		{healthy, "POST", "/v1/webhook-endpoints/" + fakeEndpoint + "/rotate-secret", "", nil, 200},
		{healthy, "POST", "/v1/webhook-endpoints/" + fakeEndpoint + "/rotate-secret", `{}`, nil, 200},
		{healthy, "POST", "/v1/webhook-endpoints/" + fakeEndpoint + "/rotate-secret", `{"grace":1}`, nil, 400},
		{healthy, "POST", "/v1/webhook-endpoints/" + fakeUnknown + "/rotate-secret", "", nil, 404},
		{healthy, "GET", "/v1/webhook-endpoints/" + fakeEndpoint + "/attempts", "", nil, 200},
		{healthy, "GET", "/v1/webhook-endpoints/" + fakeUnknown + "/attempts", "", nil, 404},

		{healthy, "PUT", "/v1/sandbox/rules", `{"channel":"sms","to":"+79991234567","outcome":"failed","delay_ms":500}`, nil, 200},
		{healthy, "PUT", "/v1/sandbox/rules", `{"from":"+15005550000","rate_per_second":0.5}`, nil, 200},
		{healthy, "PUT", "/v1/sandbox/rules", `{"to":"+79991234567","outcome":"exploded"}`, nil, 422},
		{healthy, "GET", "/v1/sandbox/rules", "", nil, 200},
		{healthy, "DELETE", "/v1/sandbox/rules/" + fakeRule, "", nil, 204},
		{healthy, "DELETE", "/v1/sandbox/rules/" + fakeUnknown, "", nil, 404},
		{healthy, "POST", "/v1/sandbox/inbound", `{"channel":"sms","from":"+79991234567","to":"+15005550000","text":"STOP"}`, nil, 202},
		{healthy, "POST", "/v1/sandbox/inbound", `{"channel":"sms","from":"+79991234567","to":"+15005550000","text":"x","media_urls":[]}`, nil, 400},
		{healthy, "GET", "/v1/sandbox/submissions?message_id=" + fakeMessage, "", nil, 200},
		{healthy, "GET", "/v1/sandbox/submissions?message_id=" + fakeUnknown, "", nil, 200},
		{healthy, "GET", "/v1/sandbox/submissions", "", nil, 422},
		{healthy, "POST", "/v1/messages", `{"channel":"sms","to":{"customer_id":"` + fakeCustomer + `"},"text":"hi","category":"marketing"}`, nil, 202},
		{healthy, "POST", "/v1/messages", `{"channel":"auto","to":{"customer_id":"` + fakeCustomer + `"},"text":"hi"}`, nil, 202},
		{healthy, "POST", "/v1/messages", `{"channel":"whatsapp","to":"+79990000001","text":"hi","from":"+15005550000"}`, nil, 422},
		{healthy, "POST", "/v1/messages", `{"channel":"telegram","to":{"customer_id":"` + fakeCustomer + `"},"text":"hi"}`, nil, 422},
		{healthy, "POST", "/v1/messages", `{"channel":"viber","to":{"customer_id":"` + fakeCustomer + `"},"text":"hi"}`, nil, 422},
		{healthy, "POST", "/v1/messages", `{"channel":"sms","to":"+79991234567","text":"x","failover":[{"channel":"sms"},{"channel":"whatsapp"}]}`, nil, 422},
		{healthy, "POST", "/v1/customers", `{"name":"Anna","timezone":"Europe/Moscow","attributes":{"a":1},"preferred_channel":"sms","identities":[{"channel":"sms","address":"+79991234567"}]}`, nil, 201},
		{healthy, "POST", "/v1/customers", `{}`, nil, 201},
		{healthy, "POST", "/v1/messages", `{"to":"+79991234567","text":"x","failover":[{"channel":"sms"},{"channel":"whatsapp","after":"30s","unless":"read"}]}`, nil, 202},
		{healthy, "POST", "/v1/customers", `{"timezone":"Mars/Olympus","identities":[{"channel":"fax","address":"1"}]}`, nil, 422},
		{healthy, "GET", "/v1/customers?limit=2", "", nil, 200},
		{healthy, "GET", "/v1/customers?identity=sms:%2B79991234567", "", nil, 200},
		{healthy, "GET", "/v1/customers?identity=sms:%2B79990000000", "", nil, 200},
		{healthy, "GET", "/v1/customers?identity=nope", "", nil, 422},
		{healthy, "GET", "/v1/customers/" + fakeCustomer, "", nil, 200},
		{healthy, "GET", "/v1/customers/" + fakeUnknown, "", nil, 404},
		{healthy, "PATCH", "/v1/customers/" + fakeCustomer, `{"preferred_channel":null,"attributes":null}`, nil, 200},
		{healthy, "PATCH", "/v1/customers/" + fakeCustomer, `{"timezone":"Asia/Yekaterinburg","preferred_channel":"telegram"}`, nil, 200},
		{healthy, "DELETE", "/v1/customers/" + fakeCustomer, "", nil, 204},
		{healthy, "POST", "/v1/customers/" + fakeCustomer + "/identities", `{"channel":"viber","address":"v1"}`, nil, 201},
		{healthy, "POST", "/v1/customers/" + fakeCustomer + "/identities", `{"channel":"sms","address":"+79991234567"}`, nil, 200},
		{healthy, "POST", "/v1/customers/" + fakeCustomer + "/identities", `{"channel":"sms","address":"+70000000000"}`, nil, 409},
		{healthy, "DELETE", "/v1/customers/" + fakeCustomer + "/identities?identity=sms:%2B79991234567", "", nil, 204},
		{healthy, "POST", "/v1/customers/" + fakeCustomer + "/merge", `{"from_customer_id":"` + fakeCustomer2 + `"}`, nil, 200},
		{healthy, "POST", "/v1/customers/" + fakeCustomer + "/merge", `{"from_customer_id":"` + fakeUnknown + `"}`, nil, 409},
		{healthy, "GET", "/v1/customers/" + fakeCustomer + "/timeline", "", nil, 200},
		{healthy, "GET", "/v1/conversations?status=open&customer_id=" + fakeCustomer + "&channel=sms", "", nil, 200},
		{healthy, "GET", "/v1/conversations?status=lost", "", nil, 422},
		{healthy, "GET", "/v1/conversations/" + fakeConv, "", nil, 200},
		{healthy, "POST", "/v1/conversations/" + fakeConv + "/close", "", nil, 200},
		{healthy, "POST", "/v1/conversations/" + fakeConv + "/close", "{}", nil, 200},
		{healthy, "POST", "/v1/conversations/" + fakeConv + "/messages", `{"text":"on it"}`, nil, 202},
		{healthy, "POST", "/v1/conversations/" + fakeConv + "/messages", `{"text":"on it","channel":"sms","category":"transactional"}`, nil, 202},
		{healthy, "POST", "/v1/conversations/" + fakeUnknown + "/messages", `{"text":"on it"}`, nil, 404},
		{healthy, "POST", "/v1/conversations/" + fakeConv + "/agent", `{"agent":"agent-7"}`, nil, 200},
		{healthy, "POST", "/v1/conversations/" + fakeConv + "/agent", `{}`, nil, 422},
		{healthy, "POST", "/v1/conversations/" + fakeConv + "/agent", `{"agent":"` + strings.Repeat("a", 201) + `"}`, nil, 422},
		{healthy, "POST", "/v1/conversations/" + fakeConv + "/agent", `{"agent":7}`, nil, 400},
		{healthy, "POST", "/v1/conversations/" + fakeUnknown + "/agent", `{"agent":"agent-7"}`, nil, 404},
		{healthy, "DELETE", "/v1/conversations/" + fakeConv + "/agent", "", nil, 200},
		{healthy, "DELETE", "/v1/conversations/" + fakeUnknown + "/agent", "", nil, 404},
		{healthy, "GET", "/v1/opt-outs?channel=sms", "", nil, 200},
		{healthy, "POST", "/v1/opt-outs", `{"channel":"sms","address":"+79991234567"}`, nil, 201},
		{healthy, "DELETE", "/v1/opt-outs?identity=sms:%2B79991234567", "", nil, 204},
		{healthy, "DELETE", "/v1/opt-outs?identity=telegram:42", "", nil, 404},
		{healthy, "GET", "/v1/account/settings", "", nil, 200},
		{healthy, "PATCH", "/v1/account/settings", `{"quiet_hours":{"start":"21:00","end":"09:00","timezone":"Europe/Moscow"},"senders":{"telegram":"bot","sms":null},"conversation_inactivity":"12h"}`, nil, 200},
		{healthy, "PATCH", "/v1/account/settings", `{"quiet_hours":null}`, nil, 200},
		{healthy, "PATCH", "/v1/account/settings", `{"conversation_inactivity":"forever"}`, nil, 422},

		{healthy, "POST", "/v1/channels", `{"type":"telegram","name":"Support bot","credentials":{"bot_token":"7123456789:AAF1x2y3z4a5b6c7d8e9f0g1h2i3j4k5l6m"},` +
			`"senders":[{"channel":"telegram","address":"switchboard_bot","default":true}]}`, nil, 201},
		{healthy, "POST", "/v1/channels", `{"type":"twilio","credentials":{"account_sid":"AC0123456789abcdef0123456789abcdef",` +
			`"auth_token":"0123456789abcdef0123456789abcdef"},"senders":[{"channel":"sms","address":"+1 500 555 0006"},` +
			`{"channel":"whatsapp","address":"whatsapp:+15005550006"}],"config":{"messaging_service_sid":"MG0123"}}`, nil, 201},
		{healthy, "POST", "/v1/channels", `{"type":"exolve","credentials":{"api_key":"eyJhbGciOiJSUzI1NiJ9.k3y"},` +
			`"senders":[{"channel":"sms","address":"MyShop","default":true}]}`, nil, 201},
		{healthy, "POST", "/v1/channels", `{"type":"sandbox"}`, nil, 201},
		{healthy, "POST", "/v1/channels", `{"type":"sandbox","config":{"rate_per_second":2.5}}`, nil, 201},
		{healthy, "POST", "/v1/channels", `{"type":"sandbox","config":{"rate_per_second":"fast"}}`, nil, 422},
		{healthy, "POST", "/v1/channels", `{"type":"sandbox","config":{"rate_per_second":0}}`, nil, 422},
		{healthy, "POST", "/v1/channels", `{"type":"sandbox","config":[1]}`, nil, 422},
		{healthy, "POST", "/v1/channels", `{"type":"webrtc","name":"Web widget","senders":[{"channel":"webrtc","address":"support","default":true,` +
			`"inbound_flow_id":"` + fakeFlow + `"}]}`, nil, 201},
		{healthy, "POST", "/v1/channels", `{"type":"webrtc","senders":[{"channel":"sms","address":"+15005550006"}]}`, nil, 422},
		{healthy, "POST", "/v1/channels", `{"type":"telegram","credentials":{},"senders":[{"channel":"sms","address":"+15005550006"}]}`, nil, 422},
		{healthy, "POST", "/v1/channels", `{"type":"fax","credentials":{}}`, nil, 422},
		{healthy, "POST", "/v1/channels", `{"type":"sandbox","config":[1]}`, nil, 422},
		{healthy, "POST", "/v1/channels", `{"type":"whatsapp_cloud","credentials":{"access_token":"` + fakeRefusedToken + `",` +
			`"phone_number_id":"106540352242922","app_secret":"0123456789abcdef","verify_token":"` + fakeVerifyToken + `"},` +
			`"senders":[{"channel":"whatsapp","address":"+15550783881"}]}`, nil, 422},
		{healthy, "POST", "/v1/channels", `{"type":"sandbox","secret":"x"}`, nil, 400},
		{healthy, "POST", "/v1/channels", `{"type":"sandbox"}`, []string{"Authorization", ""}, 401},
		{down, "POST", "/v1/channels", `{"type":"viber","credentials":{"auth_token":"4453b6ac12345678-e02603ae12345678","sender_name":"Acme"}}`, nil, 503},
		{healthy, "GET", "/v1/channels?limit=2", "", nil, 200},
		{healthy, "GET", "/v1/channels?limit=1000", "", nil, 422},
		{healthy, "GET", "/v1/channels/" + fakeChannel, "", nil, 200},
		{healthy, "GET", "/v1/channels/" + fakeTwilioChannel, "", nil, 200},
		{healthy, "GET", "/v1/channels/" + fakeUnknown, "", nil, 404},
		{healthy, "PATCH", "/v1/channels/" + fakeChannel, `{"name":"Support","status":"disabled","senders":[],"config":{"k":1}}`, nil, 200},
		{healthy, "PATCH", "/v1/channels/" + fakeChannel, `{"credentials":{"bot_token":"7123456789:AAG9z8y7x6w5v4u3t2s1r0q9p8o7n6m5l4k"}}`, nil, 200},
		{healthy, "PATCH", "/v1/channels/" + fakeChannel, `{"config":{"rate_per_second":1e400}}`, nil, 422},
		{healthy, "PATCH", "/v1/channels/" + fakeChannel, `{"config":{"rate_per_second":true}}`, nil, 422},
		{healthy, "PATCH", "/v1/channels/" + fakeChannel, `{"credentials":{"bot_token":"` + fakeRefusedToken + `"}}`, nil, 422},
		{healthy, "PATCH", "/v1/channels/" + fakeChannel, `{"status":"paused","senders":[{"channel":"viber","address":"x"}]}`, nil, 422},
		{healthy, "PATCH", "/v1/channels/" + fakeUnknown, `{"name":"x"}`, nil, 404},
		{healthy, "DELETE", "/v1/channels/" + fakeChannel, "", nil, 204},
		{healthy, "DELETE", "/v1/channels/" + fakeUnknown, "", nil, 404},

		{healthy, "POST", "/hooks/" + fakeChannel + "/" + fakeHookSecret,
			`{"update_id":1,"message":{"message_id":7,"chat":{"id":42,"type":"private"},"date":1790000000,"text":"hello"}}`,
			[]string{"Authorization", "", "X-Telegram-Bot-Api-Secret-Token", "s3cr3t"}, 200},
		{healthy, "POST", "/hooks/" + fakeTwilioChannel + "/" + fakeHookSecret, "MessageSid=SM0123&From=%2B79991234567&To=%2B15005550006&Body=hello",
			[]string{"Authorization", "", "Content-Type", "application/x-www-form-urlencoded", "X-Twilio-Signature", "c2lnbmF0dXJl"}, 200},
		{healthy, "POST", "/hooks/" + fakeChannel + "/" + fakeHookSecret, `{"update_id":1}`,
			[]string{"Authorization", "", fakeForgedHeader, "forged"}, 403},
		{healthy, "POST", "/hooks/" + fakeChannel + "/wrong-secret", `{"update_id":1}`, []string{"Authorization", ""}, 404},
		{healthy, "POST", "/hooks/" + fakeUnknown + "/" + fakeHookSecret, `{"update_id":1}`, []string{"Authorization", ""}, 404},
		{healthy, "POST", "/hooks/" + fakeChannel + "/" + fakeHookSecret, "", []string{"Authorization", ""}, 422},
		{healthy, "GET", "/hooks/" + fakeChannel + "/" + fakeHookSecret + "?hub.mode=subscribe&hub.verify_token=" + fakeVerifyToken +
			"&hub.challenge=1158201444", "", []string{"Authorization", ""}, 200},
		{healthy, "GET", "/hooks/" + fakeChannel + "/" + fakeHookSecret + "?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1",
			"", []string{"Authorization", ""}, 403},
		{healthy, "GET", "/hooks/" + fakeChannel + "/wrong-secret?hub.mode=subscribe&hub.verify_token=" + fakeVerifyToken +
			"&hub.challenge=1", "", []string{"Authorization", ""}, 404},
		{healthy, "POST", "/v1/channels", `{"type":"twilio","credentials":{"account_sid":"AC0123456789abcdef0123456789abcdef",` +
			`"auth_token":"0123456789abcdef0123456789abcdef"},"senders":[{"channel":"voice","address":"+15005550006","inbound_flow_id":"` + fakeFlow + `"}]}`, nil, 201},
		{healthy, "GET", "/v1/channels/" + fakeTwilioChannel, "", nil, 200},

		{healthy, "POST", "/v1/flows", flowIVR, nil, 201},
		{healthy, "POST", "/v1/flows", `{"name":"Bad","colour":"red","steps":[{"id":"a","type":"say","text":"hi","next":"nowhere"},{"id":"b","type":"teleport"}]}`, nil, 422},
		{healthy, "POST", "/v1/flows", ``, nil, 422},
		{healthy, "POST", "/v1/flows", `[1]`, nil, 422},
		{healthy, "POST", "/v1/flows", flowIVR, []string{"Content-Type", "text/plain"}, 415},
		{healthy, "POST", "/v1/flows", `{"name":"` + strings.Repeat("x", maxBody) + `"}`, nil, 413},
		{healthy, "POST", "/v1/flows", flowIVR, []string{"Authorization", ""}, 401},
		{healthy, "GET", "/v1/flows", "", nil, 200},
		{healthy, "GET", "/v1/flows?limit=0", "", nil, 422},
		{healthy, "GET", "/v1/flows/" + fakeFlow, "", nil, 200},
		{healthy, "GET", "/v1/flows/" + fakeFlow + "?version=1", "", nil, 200},
		{healthy, "GET", "/v1/flows/" + fakeFlow + "?version=0", "", nil, 422},
		{healthy, "GET", "/v1/flows/" + fakeFlow + "?version=9", "", nil, 404},
		{healthy, "GET", "/v1/flows/" + fakeUnknown, "", nil, 404},
		{healthy, "PUT", "/v1/flows/" + fakeFlow, `{"name":"Greeting","steps":[{"id":"hi","type":"say","text":"Hello again","voice":"alice"},` +
			`{"id":"wait","type":"pause","length":1.5},{"id":"rec","type":"record","max_length":"30s","finish_on_key":"#"},{"id":"bye","type":"hangup"}]}`, nil, 200},
		{healthy, "PUT", "/v1/flows/" + fakeUnknown, flowIVR, nil, 404},
		{healthy, "PUT", "/v1/flows/" + fakeFlow, `{"name":"","steps":[]}`, nil, 422},
		{healthy, "DELETE", "/v1/flows/" + fakeFlow, "", nil, 204},
		{healthy, "DELETE", "/v1/flows/" + fakeUnknown, "", nil, 404},
		{healthy, "GET", "/v1/flows/" + fakeFlow + "/versions", "", nil, 200},
		{healthy, "GET", "/v1/flows/" + fakeUnknown + "/versions", "", nil, 404},

		{healthy, "POST", "/v1/calls", `{"to":"+79991234567","from":"+15005550006","flow_id":"` + fakeFlow + `","status_callback_url":"https://example.com/cb",` +
			`"timeout":20,"machine_detection":"Enable","record":true}`, nil, 201},
		{healthy, "POST", "/v1/calls", `{"to":{"customer_id":"` + fakeCustomer + `"},"flow":{"name":"Reminder","steps":[{"id":"r","type":"say","text":"Tomorrow at 10"}]}}`, nil, 201},
		{healthy, "POST", "/v1/calls", `{"to":"webrtc:agent-7","flow_id":"` + fakeFlow + `"}`, nil, 201},
		{healthy, "POST", "/v1/calls", `{"to":"nope","flow_id":"` + fakeFlow + `","timeout":601,"machine_detection":"Always"}`, nil, 422},
		{healthy, "POST", "/v1/calls", `{"to":"webrtc:","flow_id":"` + fakeFlow + `","flow":{"name":"x","steps":[]}}`, nil, 422},
		{healthy, "POST", "/v1/calls", `{"to":{"customer":"x"}}`, nil, 422},
		{healthy, "POST", "/v1/calls", `{"to":"+79991234567","flow_id":"` + fakeUnknown + `"}`, nil, 422},
		{healthy, "POST", "/v1/calls", `{"to":"+79991234567","flow":{"name":"Bad","steps":[{"id":"a","type":"gather","max_digits":99}]}}`, nil, 422},
		{healthy, "POST", "/v1/calls", `{"to":"+79991234567","flow_id":"` + fakeFlow + `","status_callback_url":"http://169.254.169.254/x"}`, nil, 422},
		{healthy, "POST", "/v1/calls", `{"to":{"customer_id":"` + fakeUnknown + `"},"flow_id":"` + fakeFlow + `"}`, nil, 404},
		{healthy, "POST", "/v1/calls", `{"to":"+79991234567","colour":"red"}`, nil, 400},
		{healthy, "GET", "/v1/calls", "", nil, 200},
		{healthy, "GET", "/v1/calls?limit=5&status=in-progress&direction=inbound&customer_id=" + fakeCustomer + "&flow_id=" + fakeFlow +
			"&callback_id=" + fakeCallback, "", nil, 200},
		{healthy, "GET", "/v1/calls?status=ringing-ish&direction=sideways", "", nil, 422},
		{healthy, "GET", "/v1/calls/" + fakeCall, "", nil, 200},
		{healthy, "GET", "/v1/calls/" + fakeTwilioCall, "", nil, 200},
		{healthy, "GET", "/v1/calls/" + fakeUnknown, "", nil, 404},
		{healthy, "GET", "/v1/calls/" + fakeCall + "/events", "", nil, 200},
		{healthy, "GET", "/v1/calls/" + fakeUnknown + "/events", "", nil, 404},
		{healthy, "POST", "/v1/calls/" + fakeCall + "/hangup", "", nil, 200},
		{healthy, "POST", "/v1/calls/" + fakeTwilioCall + "/hangup", "", nil, 200},
		{healthy, "POST", "/v1/calls/" + fakeUnknown + "/hangup", "", nil, 404},
		{healthy, "GET", "/v1/calls/" + fakeCall + "/transcript", "", nil, 200},
		{healthy, "GET", "/v1/calls/" + fakeTwilioCall + "/transcript", "", nil, 200},
		{healthy, "GET", "/v1/calls/" + fakeUnknown + "/transcript", "", nil, 404},

		{healthy, "POST", "/v1/callbacks", `{"agent":"+79990000007","customer":"+79991234567","from":"+15005550006"}`, nil, 201},
		{healthy, "POST", "/v1/callbacks", `{"agent":"+79990000007","customer":{"customer_id":"` + fakeCustomer + `"},` +
			`"status_callback_url":"https://example.com/cb"}`, nil, 201},
		{healthy, "POST", "/v1/callbacks", `{"agent":"+79990000007","customer":{"customer_id":"` + fakeUnknown + `"}}`, nil, 404},
		{healthy, "POST", "/v1/callbacks", `{"customer":"webrtc:agent-7"}`, nil, 422},
		{healthy, "POST", "/v1/callbacks", `{"agent":"+79990000007"}`, nil, 422},
		{healthy, "GET", "/v1/callbacks/" + fakeCallback, "", nil, 200},
		{healthy, "GET", "/v1/callbacks/" + fakeUnknown, "", nil, 404},

		{healthy, "POST", "/v1/sandbox/calls/inbound", `{"from":"+79991234567","to":"` + fakeInboundTo + `"}`, nil, 201},
		{healthy, "POST", "/v1/sandbox/calls/inbound", `{"from":"+79991234567","to":"+15005550007"}`, nil, 422},
		{healthy, "POST", "/v1/sandbox/calls/inbound", `{"from":"x"}`, nil, 422},
		{healthy, "POST", "/v1/sandbox/calls/" + fakeCall + "/dtmf", `{"digits":"1"}`, nil, 200},
		{healthy, "POST", "/v1/sandbox/calls/" + fakeCall + "/dtmf", `{"digits":"12*#"}`, nil, 200},
		{healthy, "POST", "/v1/sandbox/calls/" + fakeCall + "/dtmf", `{"digits":"1a"}`, nil, 422},
		{healthy, "POST", "/v1/sandbox/calls/" + fakeTwilioCall + "/dtmf", `{"digits":"1"}`, nil, 409},
		{healthy, "POST", "/v1/sandbox/calls/" + fakeUnknown + "/dtmf", `{"digits":"1"}`, nil, 404},
		{healthy, "POST", "/v1/sandbox/calls/" + fakeCall + "/speech", `{"text":"my parcel did not arrive"}`, nil, 200},
		{healthy, "POST", "/v1/sandbox/calls/" + fakeCall + "/speech", `{"audio":"` + fakeWAV + `","language":"en-US"}`, nil, 200},
		{healthy, "POST", "/v1/sandbox/calls/" + fakeCall + "/speech", `{"audio":"` + fakeWAV + `","language":"` + fakeFailedSTTLng + `"}`, nil, 503},
		{down, "POST", "/v1/sandbox/calls/" + fakeCall + "/speech", `{"audio":"` + fakeWAV + `"}`, nil, 409},
		{healthy, "POST", "/v1/sandbox/calls/" + fakeCall + "/speech", `{"text":"hi","audio":"` + fakeWAV + `"}`, nil, 422},
		{healthy, "POST", "/v1/sandbox/calls/" + fakeCall + "/speech", `{"audio":"bm90IGEgd2F2"}`, nil, 422},
		{healthy, "POST", "/v1/sandbox/calls/" + fakeCall + "/speech", `{"text":1}`, nil, 400},
		{healthy, "POST", "/v1/sandbox/calls/" + fakeCall + "/hangup", "", nil, 200},
		{healthy, "POST", "/v1/sandbox/calls/" + fakeTwilioCall + "/hangup", "", nil, 409},
		{healthy, "POST", "/v1/sandbox/calls/" + fakeUnknown + "/hangup", "", nil, 404},

		{healthy, "POST", "/hooks/" + fakeTwilioChannel + "/" + fakeHookSecret + "/voice",
			"CallSid=CA01&From=%2B79991234567&To=%2B15005550006&Direction=inbound&CallStatus=ringing", twilioForm, 200},
		{healthy, "POST", "/hooks/" + fakeTwilioChannel + "/" + fakeHookSecret + "/voice?call=" + fakeTwilioCall,
			"CallSid=CA0123456789abcdef0123456789abcdef&Digits=1&CallStatus=in-progress", twilioForm, 200},
		{healthy, "POST", "/hooks/" + fakeTwilioChannel + "/" + fakeHookSecret + "/voice?call=" + fakeTwilioCall,
			"CallSid=CA0123456789abcdef0123456789abcdef&CallStatus=completed&CallDuration=62", twilioForm, 204},
		{healthy, "POST", "/hooks/" + fakeTwilioChannel + "/" + fakeHookSecret + "/voice?call=" + fakeUnknown,
			"CallSid=CA02&CallStatus=in-progress", twilioForm, 404},
		{healthy, "POST", "/hooks/" + fakeTwilioChannel + "/" + fakeHookSecret + "/voice",
			"CallSid=CA01&Direction=inbound&To=%2B15005550007", twilioForm, 422},
		{healthy, "POST", "/hooks/" + fakeTwilioChannel + "/" + fakeHookSecret + "/voice", "From=%2B79991234567", twilioForm, 422},
		{healthy, "POST", "/hooks/" + fakeTwilioChannel + "/" + fakeHookSecret + "/voice", "CallSid=CA01",
			[]string{"Authorization", "", "Content-Type", "application/x-www-form-urlencoded", fakeForgedHeader, "forged"}, 403},
		{healthy, "POST", "/hooks/" + fakeTwilioChannel + "/wrong-secret/voice", "CallSid=CA01", twilioForm, 404},
		{down, "POST", "/hooks/" + fakeTwilioChannel + "/" + fakeHookSecret + "/voice", "CallSid=CA01", twilioForm, 404},
		{healthy, "POST", "/hooks/" + fakeTwilioChannel + "/" + fakeHookSecret + "/voice", strings.Repeat("x", maxHookBody+1), twilioForm, 413},

		{healthy, "POST", "/v1/webrtc/tokens", `{"customer_id":"` + fakeCustomer + `","ttl_seconds":900}`, nil, 201},
		{healthy, "POST", "/v1/webrtc/tokens", `{"identity":"user-42"}`, nil, 201},
		{healthy, "POST", "/v1/webrtc/tokens", `{}`, nil, 201},
		{healthy, "POST", "/v1/webrtc/tokens", `{"customer_id":"` + fakeUnknown + `"}`, nil, 404},
		{healthy, "POST", "/v1/webrtc/tokens", `{"identity":"not an identity!","ttl_seconds":5}`, nil, 422},
		{healthy, "POST", "/v1/webrtc/tokens", `{"customer_id":"` + fakeCustomer + `","identity":"user-42","ttl_seconds":86401}`, nil, 422},
		{healthy, "POST", "/v1/webrtc/tokens", `{"customer":"x"}`, nil, 400},
		{healthy, "POST", "/v1/webrtc/tokens", `{}`, []string{"Authorization", "Bearer " + browserTok}, 401},
		{down, "POST", "/v1/webrtc/tokens", `{}`, nil, 503},

		{healthy, "GET", "/v1/rtc/session", "", browser, 200},
		{healthy, "GET", "/v1/rtc/session?token=" + browserTok, "", []string{"Authorization", ""}, 200},
		{noBrowser, "GET", "/v1/rtc/session", "", browser, 200},
		{healthy, "GET", "/v1/rtc/session", "", []string{"Authorization", ""}, 401},
		{healthy, "GET", "/v1/rtc/session", "", []string{"Authorization", "Bearer sk_good"}, 401},
		{healthy, "GET", "/v1/rtc/session", "", expired, 401},
		{healthy, "GET", "/v1/rtc/session", "", forged, 401},
		{down, "GET", "/v1/rtc/session", "", browser, 401},
		{healthy, "POST", "/v1/rtc/calls", fakeSDPOffer, browserSDP, 201},
		{healthy, "POST", "/v1/rtc/calls?to=" + fakeWebRTCSender, fakeSDPOffer, browserSDP, 201},
		{healthy, "POST", "/v1/rtc/calls?to=nobody", fakeSDPOffer, browserSDP, 422},
		{healthy, "POST", "/v1/rtc/calls", "hello", browserSDP, 422},
		{healthy, "POST", "/v1/rtc/calls", strings.Repeat("v", maxSDP+1), browserSDP, 422},
		{healthy, "POST", "/v1/rtc/calls", fakeSDPOffer, append([]string{"Content-Type", "application/sdp"}, noSender...), 422},
		{healthy, "POST", "/v1/rtc/calls", `{"sdp":"v=0"}`, browser, 415},
		{healthy, "POST", "/v1/rtc/calls", fakeSDPOffer, append([]string{"Content-Type", "application/sdp"}, expired...), 401},
		{healthy, "POST", "/v1/rtc/calls", fakeSDPOffer, append([]string{"Content-Type", "application/sdp"}, forged...), 401},
		{noBrowser, "POST", "/v1/rtc/calls", fakeSDPOffer, browserSDP, 503},
		{healthy, "DELETE", "/v1/rtc/calls/" + fakeBrowserCall, "", browser, 204},
		{healthy, "DELETE", "/v1/rtc/calls/" + fakeCall, "", browser, 404},
		{healthy, "DELETE", "/v1/rtc/calls/" + fakeUnknown, "", browser, 404},
		{healthy, "DELETE", "/v1/rtc/calls/" + fakeBrowserCall, "", forged, 401},
		{noBrowser, "DELETE", "/v1/rtc/calls/" + fakeBrowserCall, "", browser, 503},
		{healthy, "GET", "/v1/rtc/calls", "", browser, 200},
		{healthy, "GET", "/v1/rtc/calls", "", forged, 401},
		{healthy, "POST", "/v1/rtc/calls/" + fakeRingingCall + "/answer", fakeSDPOffer, browserSDP, 200},
		{healthy, "POST", "/v1/rtc/calls/" + fakeAgentRing + "/answer", fakeSDPOffer, browserSDP, 404}, // rings an agent
		{healthy, "POST", "/v1/rtc/calls/" + fakeUnknown + "/answer", fakeSDPOffer, browserSDP, 404},
		{healthy, "POST", "/v1/rtc/calls/" + fakeRingingCall + "/answer", "hello", browserSDP, 422},
		{healthy, "POST", "/v1/rtc/calls/" + fakeRingingCall + "/answer", `{"sdp":"v=0"}`, browser, 415},
		{healthy, "POST", "/v1/rtc/calls/" + fakeRingingCall + "/answer", fakeSDPOffer, append([]string{"Content-Type", "application/sdp"}, expired...), 401},
		{noBrowser, "POST", "/v1/rtc/calls/" + fakeRingingCall + "/answer", fakeSDPOffer, browserSDP, 503},
		{healthy, "DELETE", "/v1/rtc/calls/" + fakeRingingCall, "", browser, 204}, // declined
		{healthy, "POST", "/v1/calls/" + fakeAgentRing + "/answer", fakeSDPOffer, keySDP, 200},
		{healthy, "POST", "/v1/calls/" + fakeBrowserCall + "/answer", fakeSDPOffer, keySDP, 409}, // in progress
		{healthy, "POST", "/v1/calls/" + fakeUnknown + "/answer", fakeSDPOffer, keySDP, 404},
		{healthy, "POST", "/v1/calls/" + fakeAgentRing + "/answer", "", keySDP, 422},
		{noBrowser, "POST", "/v1/calls/" + fakeAgentRing + "/answer", fakeSDPOffer, keySDP, 503},
		{healthy, "POST", "/v1/agents/alice/calls?customer_id=" + fakeCustomer, fakeSDPOffer, keySDP, 201},
		{healthy, "POST", "/v1/agents/alice/calls?to=webrtc:" + fakeBrowser, fakeSDPOffer, keySDP, 201},
		{healthy, "POST", "/v1/agents/alice/calls?to=webrtc:someone-else", fakeSDPOffer, keySDP, 422},
		{healthy, "POST", "/v1/agents/alice/calls", fakeSDPOffer, keySDP, 422},
		{healthy, "POST", "/v1/agents/alice/calls?to=%2B15005550006", fakeSDPOffer, keySDP, 422},
		{healthy, "POST", "/v1/agents/al%20ice/calls?customer_id=" + fakeCustomer, fakeSDPOffer, keySDP, 422},
		{healthy, "POST", "/v1/agents/alice/calls?customer_id=" + fakeCustomer, `{}`, nil, 415},
		{noBrowser, "POST", "/v1/agents/alice/calls?customer_id=" + fakeCustomer, fakeSDPOffer, keySDP, 503},
		{healthy, "GET", "/v1/calls?to=agent:alice&status=ringing", "", nil, 200},
		{healthy, "GET", "/v1/webrtc/ice-servers", "", nil, 200},
		{healthy, "POST", "/v1/webrtc/tokens", `{"identity":"agent:alice"}`, nil, 422},
		// Trickled ICE for the lines answered above (WHIP PATCH).
		{healthy, "PATCH", "/v1/rtc/calls/" + fakeRingingCall, fakeCandidate, browserFrag, 204},
		{healthy, "PATCH", "/v1/rtc/calls/" + fakeRingingCall, "a=end-of-candidates\r\n", browserFrag, 204},
		{healthy, "PATCH", "/v1/rtc/calls/" + fakeRingingCall, "a=mid:0\r\n", browserFrag, 422},
		{healthy, "PATCH", "/v1/rtc/calls/" + fakeRingingCall, `{"candidate":""}`, browser, 415},
		{healthy, "PATCH", "/v1/rtc/calls/" + fakeAgentRing, fakeCandidate, browserFrag, 404}, // not this browser's
		{healthy, "PATCH", "/v1/rtc/calls/" + fakeRingingCall, fakeCandidate, append([]string{"Content-Type", "application/trickle-ice-sdpfrag"}, forged...), 401},
		{healthy, "PATCH", "/v1/calls/" + fakeAgentRing, fakeCandidate, keyFrag, 204},
		{healthy, "PATCH", "/v1/calls/" + fakeCall, fakeCandidate, keyFrag, 404}, // no line of it here
		{healthy, "PATCH", "/v1/calls/" + fakeUnknown, fakeCandidate, keyFrag, 404},
		{healthy, "POST", "/v1/rtc/messages", `{"text":"Where is my parcel?"}`, browser, 202},
		{healthy, "POST", "/v1/rtc/messages?to=" + fakeWebRTCSender, `{"text":"STOP"}`, browser, 202},
		{healthy, "POST", "/v1/rtc/messages", `{"text":""}`, browser, 422},
		{healthy, "POST", "/v1/rtc/messages", `{"text":"hi"}`, noSender, 422},
		{healthy, "POST", "/v1/rtc/messages", `{"text":1}`, browser, 400},
		{healthy, "POST", "/v1/rtc/messages", `{"text":"hi"}`, append([]string{"Content-Type", "text/plain"}, browser...), 415},
		{healthy, "POST", "/v1/rtc/messages", `{"text":"hi"}`, expired, 401},
		{healthy, "GET", "/v1/rtc/messages", "", browser, 200},
		{healthy, "GET", "/v1/rtc/messages?limit=5&token=" + browserTok, "", []string{"Authorization", ""}, 200},
		{healthy, "GET", "/v1/rtc/messages?limit=0", "", browser, 422},
		{healthy, "GET", "/v1/rtc/messages", "", goneCustomer, 404},
		{healthy, "GET", "/v1/rtc/messages", "", forged, 401},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		name := tt.method + " " + tt.path
		var body io.Reader
		if tt.body != "" {
			body = strings.NewReader(tt.body)
		}
		req := httptest.NewRequest(tt.method, tt.path, body)
		req.Header.Set("Authorization", "Bearer sk_good")
		if tt.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(tt.header); i += 2 {
			req.Header.Set(tt.header[i], tt.header[i+1])
		}
		rec := httptest.NewRecorder()
		tt.srv.Handler().ServeHTTP(rec, req)
		res := rec.Result()
		if res.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d; body %s", name, res.StatusCode, tt.status, rec.Body.Bytes())
		}

		vreq := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
		vreq.Header = req.Header.Clone()
		route, params, err := router.FindRoute(vreq)
		if err != nil {
			t.Errorf("%s: not in the spec: %v", name, err)
			continue
		}
		covered[strings.ToUpper(route.Method)+" "+route.Path] = true
		in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: opts}
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil && res.StatusCode < 300 {
			t.Errorf("%s → %d: the server accepted a request the spec disallows: %v", name, res.StatusCode, err)
		}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.StatusCode, Header: res.Header, Options: opts}
		out.SetBodyBytes(rec.Body.Bytes())
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			t.Errorf("%s → %d: response does not match the spec: %v\nbody: %s", name, res.StatusCode, err, rec.Body.Bytes())
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if op := strings.ToUpper(method) + " " + path; !covered[op] {
				t.Errorf("%s is not exercised by this test", op)
			}
		}
	}
}
