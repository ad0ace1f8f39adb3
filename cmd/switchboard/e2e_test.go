package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/switchboardhq/switchboard/sdk"
)

var ctx = context.Background()

func send(t *testing.T, c *sdk.Client, to, text string) *sdk.Message {
	t.Helper()
	m, err := c.Messages.Send(ctx, &sdk.SendMessageParams{Channel: sdk.ChannelSMS, From: "+15005550000", To: to, Text: text})
	if err != nil {
		t.Fatalf("send to %s: %v", to, err)
	}
	return m
}

// TestMessageLifecycle follows one message through API → store → queue →
// sandbox → receipt → webhook, checking events, sequence numbers and the
// webhook signatures with the Standard Webhooks reference library.
func TestMessageLifecycle(t *testing.T) {
	s := newStack(t)
	c, accountID := s.account("acme")
	rcv := newReceiver(t)
	ep, err := c.WebhookEndpoints.Create(ctx, &sdk.CreateWebhookEndpointParams{URL: rcv.srv.URL + "/hooks", Events: []sdk.EventType{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ep.Secret) < 10 || ep.Secret[:6] != "whsec_" {
		t.Fatalf("secret %q not returned on create", ep.Secret)
	}
	got, err := c.WebhookEndpoints.Get(ctx, ep.ID)
	if err != nil || got.Secret != "" {
		t.Fatalf("secret must not be returned after create: %+v %v", got, err)
	}

	m := send(t, c, "+7 (999) 123-45-67", "Привет! Your code is 1234")
	if m.Status != sdk.StatusAccepted || m.To != "+79991234567" || m.AccountID != accountID {
		t.Fatalf("unexpected accepted message %+v", m)
	}
	if m.Encoding == nil || *m.Encoding != "UCS-2" || m.Segments == nil || *m.Segments != 1 {
		t.Fatalf("encoding/segments = %v/%v, want UCS-2/1", m.Encoding, m.Segments)
	}
	m = waitStatus(t, c, m.ID, sdk.StatusDelivered)
	if m.ProviderMessageID == nil || m.Provider != "sandbox" || m.Attempts != 1 {
		t.Fatalf("delivered message %+v", m)
	}

	events, err := c.Messages.Events(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for i, e := range events {
		if e.Sequence != int64(i+1) {
			t.Fatalf("event %d has sequence %d", i, e.Sequence)
		}
		statuses = append(statuses, string(e.Status))
	}
	want := []string{"accepted", "queued", "sending", "sent", "delivered"}
	if !slices.Equal(statuses, want) {
		t.Fatalf("events %v, want %v", statuses, want)
	}

	waitFor(t, "three webhooks", 10*time.Second, func() bool { return len(rcv.types(m.ID)) >= 3 })
	wh, err := standardwebhooks.NewWebhook(ep.Secret)
	if err != nil {
		t.Fatal(err)
	}
	seqs := map[string]int64{}
	for _, r := range rcv.all() {
		if err := wh.Verify(r.body, r.header); err != nil {
			t.Fatalf("reference library rejects our signature: %v", err)
		}
		if err := sdk.VerifyWebhook(ep.Secret, r.header, r.body); err != nil {
			t.Fatalf("sdk rejects our signature: %v", err)
		}
		seqs[r.event.Type] = r.msg.Sequence
	}
	if !(seqs["message.queued"] == 2 && seqs["message.sent"] == 4 && seqs["message.delivered"] == 5) {
		t.Fatalf("webhook sequence numbers %v, want queued=2 sent=4 delivered=5", seqs)
	}
	// A forged signature must fail the reference check.
	r0 := rcv.all()[0]
	forged := r0.header.Clone()
	forged.Set("webhook-signature", "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	if wh.Verify(r0.body, forged) == nil {
		t.Fatal("forged signature verified")
	}

	attempts := 0
	for a, err := range c.WebhookEndpoints.Attempts(ctx, ep.ID, nil) {
		if err != nil {
			t.Fatal(err)
		}
		if a.StatusCode == nil || *a.StatusCode != 200 {
			t.Fatalf("attempt %+v", a)
		}
		attempts++
	}
	if attempts < 3 {
		t.Fatalf("%d attempts recorded, want >= 3", attempts)
	}
}

// TestMagicNumbers drives the sandbox's documented outcomes through the
// real retry machinery.
func TestMagicNumbers(t *testing.T) {
	s := newStack(t)
	c, _ := s.account("magic")
	tests := []struct {
		name        string
		to          string
		status      sdk.Status
		errorCode   string
		attempts    int
		submissions []string
	}{
		{"invalid number fails permanently without retry", "+15005550001", sdk.StatusFailed, "21211", 1, []string{"failed"}},
		{"undelivered receipt", "+15005550009", sdk.StatusUndelivered, "30003", 1, []string{"accepted"}},
		{"transient twice then delivered", "+15005550002", sdk.StatusDelivered, "", 3, []string{"transient", "transient", "accepted"}},
		{"accepted but never receipted", "+15005550006", sdk.StatusSent, "", 1, []string{"accepted"}},
		{"anything else delivered", "+15557654321", sdk.StatusDelivered, "", 1, []string{"accepted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := send(t, c, tt.to, "magic")
			m = waitStatus(t, c, m.ID, tt.status)
			if tt.status == sdk.StatusSent {
				time.Sleep(500 * time.Millisecond) // well past the 50 ms receipt delay
				if m, _ = c.Messages.Get(ctx, m.ID); m.Status != sdk.StatusSent {
					t.Fatalf("silent number moved to %s", m.Status)
				}
			}
			if tt.errorCode != "" && (m.ErrorCode == nil || *m.ErrorCode != tt.errorCode) {
				t.Fatalf("error_code %v, want %s", m.ErrorCode, tt.errorCode)
			}
			if m.Attempts != tt.attempts {
				t.Fatalf("attempts %d, want %d", m.Attempts, tt.attempts)
			}
			subs, err := c.Sandbox.Submissions(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			var results []string
			for _, x := range subs {
				results = append(results, x.Result)
			}
			if !slices.Equal(results, tt.submissions) {
				t.Fatalf("carrier received %v, want %v", results, tt.submissions)
			}
		})
	}
}

// TestSandboxRules checks per-address outcomes and inbound simulation.
func TestSandboxRules(t *testing.T) {
	s := newStack(t)
	c, _ := s.account("rules")
	rcv := newReceiver(t)
	if _, err := c.WebhookEndpoints.Create(ctx, &sdk.CreateWebhookEndpointParams{URL: rcv.srv.URL, Events: []sdk.EventType{"message.received"}}); err != nil {
		t.Fatal(err)
	}
	rule, err := c.Sandbox.SetRule(ctx, &sdk.SandboxRuleParams{Channel: sdk.ChannelSMS, To: "+15551112222", Outcome: "undelivered"})
	if err != nil {
		t.Fatal(err)
	}
	m := send(t, c, "+15551112222", "ruled")
	waitStatus(t, c, m.ID, sdk.StatusUndelivered)
	if err := c.Sandbox.DeleteRule(ctx, rule.ID); err != nil {
		t.Fatal(err)
	}
	m = send(t, c, "+15551112222", "free again")
	waitStatus(t, c, m.ID, sdk.StatusDelivered)

	if _, err := c.Sandbox.SetRule(ctx, &sdk.SandboxRuleParams{To: "+15551113333", Outcome: "bogus"}); problemType(err) != sdk.ProblemValidation {
		t.Fatalf("bad outcome: err %v", err)
	}

	in, err := c.Sandbox.Inbound(ctx, &sdk.SandboxInboundParams{Channel: sdk.ChannelSMS, From: "+15551234567", To: "+15005550000", Text: "hi there"})
	if err != nil {
		t.Fatal(err)
	}
	if in.Direction != sdk.Inbound || in.Status != sdk.StatusReceived {
		t.Fatalf("inbound message %+v", in)
	}
	waitFor(t, "message.received webhook", 10*time.Second, func() bool { return contains(rcv.types(in.ID), "message.received") })
	n := 0
	for m, err := range c.Messages.List(ctx, &sdk.ListMessagesParams{Direction: sdk.Inbound}) {
		if err != nil {
			t.Fatal(err)
		}
		if m.ID != in.ID {
			t.Fatalf("inbound filter returned %s", m.ID)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("inbound list has %d messages", n)
	}
}

// TestIdempotency: a retry replays, another body conflicts, and concurrent
// duplicates make one message.
func TestIdempotency(t *testing.T) {
	s := newStack(t)
	c, _ := s.account("idem")
	p := &sdk.SendMessageParams{Channel: sdk.ChannelSMS, From: "+15005550000", To: "+15551230000", Text: "once", IdempotencyKey: "order-42"}
	first, err := c.Messages.Send(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Messages.Send(ctx, p)
	if err != nil || again.ID != first.ID {
		t.Fatalf("replay gave %v, %v; want message %s", again, err, first.ID)
	}
	other := *p
	other.Text = "twice"
	if _, err := c.Messages.Send(ctx, &other); problemType(err) != sdk.ProblemIdempotencyConflict {
		t.Fatalf("different body with same key: err %v, want idempotency-conflict", err)
	}

	var wg sync.WaitGroup
	ids := make([]string, 20)
	errs := make([]error, 20)
	for i := range ids {
		wg.Go(func() {
			m, err := c.Messages.Send(ctx, &sdk.SendMessageParams{Channel: sdk.ChannelSMS, From: "+15005550000",
				To: "+15551230001", Text: "race", IdempotencyKey: "race-1"})
			errs[i] = err
			if m != nil {
				ids[i] = m.ID
			}
		})
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("concurrent duplicate %d: id %s err %v, want %s", i, ids[i], errs[i], ids[0])
		}
	}
	count := 0
	for m, err := range c.Messages.List(ctx, &sdk.ListMessagesParams{To: "+15551230001"}) {
		if err != nil {
			t.Fatal(err)
		}
		_ = m
		count++
	}
	if count != 1 {
		t.Fatalf("%d messages stored for 20 concurrent duplicates", count)
	}
}

// TestTenantIsolation: another account's ids are 404, never 403, and lists
// never leak.
func TestTenantIsolation(t *testing.T) {
	s := newStack(t)
	a, _ := s.account("a")
	b, _ := s.account("b")
	m := send(t, a, "+15551239999", "private")
	ep, err := a.WebhookEndpoints.Create(ctx, &sdk.CreateWebhookEndpointParams{URL: "https://example.com/hook", Events: []sdk.EventType{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]error{}
	_, checks["get message"] = b.Messages.Get(ctx, m.ID)
	_, checks["events"] = b.Messages.Events(ctx, m.ID)
	_, checks["get endpoint"] = b.WebhookEndpoints.Get(ctx, ep.ID)
	checks["delete endpoint"] = b.WebhookEndpoints.Delete(ctx, ep.ID)
	_, checks["rotate"] = b.WebhookEndpoints.RotateSecret(ctx, ep.ID)
	for name, err := range checks {
		var se *sdk.Error
		if !errors.As(err, &se) || se.Status != http.StatusNotFound {
			t.Errorf("%s across accounts: %v, want 404", name, err)
		}
	}
	for m, err := range b.Messages.List(ctx, nil) {
		t.Fatalf("account b lists %v %v", m, err)
	}
	subs, err := b.Sandbox.Submissions(ctx, m.ID)
	if err != nil || len(subs) != 0 {
		t.Fatalf("account b sees submissions %v %v", subs, err)
	}
	if _, err := a.Messages.Get(ctx, m.ID); err != nil {
		t.Fatalf("owner cannot read its message: %v", err)
	}
	bad := sdk.New("sk_not_a_key", sdk.WithBaseURL(s.url))
	if _, err := bad.Messages.Get(ctx, m.ID); problemType(err) != sdk.ProblemUnauthorized {
		t.Fatalf("bad key: %v", err)
	}
}

// TestPaginationUnderConcurrentInserts: every message that existed when
// paging began is seen exactly once, while new ones keep arriving.
func TestPaginationUnderConcurrentInserts(t *testing.T) {
	s := newStack(t)
	c, _ := s.account("pages")
	before := map[string]bool{}
	for i := range 45 {
		before[send(t, c, fmt.Sprintf("+1555000%04d", i), "p").ID] = false
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			c.Messages.Send(ctx, &sdk.SendMessageParams{Channel: sdk.ChannelSMS, From: "+15005550000", To: fmt.Sprintf("+1555100%04d", i), Text: "new"})
		}
	})
	seen := map[string]int{}
	for m, err := range c.Messages.List(ctx, &sdk.ListMessagesParams{Limit: 7}) {
		if err != nil {
			t.Fatal(err)
		}
		seen[m.ID]++
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("message %s seen %d times", id, n)
		}
	}
	for id := range before {
		if seen[id] != 1 {
			t.Fatalf("pre-existing message %s missing from pages", id)
		}
	}
}

// TestValidationProblems: bad input is a problem+json naming the field.
func TestValidationProblems(t *testing.T) {
	s := newStack(t)
	c, _ := s.account("v")
	tests := []struct {
		name  string
		p     sdk.SendMessageParams
		field string
	}{
		{"bad phone", sdk.SendMessageParams{Channel: sdk.ChannelSMS, From: "+15005550000", To: "12", Text: "x"}, "to"},
		{"unknown channel", sdk.SendMessageParams{Channel: "fax", From: "+15005550000", To: "+15551234567", Text: "x"}, "channel"},
		{"no text", sdk.SendMessageParams{Channel: sdk.ChannelSMS, From: "+15005550000", To: "+15551234567"}, "text"},
		{"NUL in text", sdk.SendMessageParams{Channel: sdk.ChannelSMS, From: "+15005550000", To: "+15551234567", Text: "a\x00b"}, "text"},
		{"NUL in metadata", sdk.SendMessageParams{Channel: sdk.ChannelSMS, From: "+15005550000", To: "+15551234567", Text: "x",
			Metadata: map[string]any{"k": "\x00"}}, "metadata"},
		{"private callback", sdk.SendMessageParams{Channel: sdk.ChannelSMS, From: "+15005550000", To: "+15551234567", Text: "x",
			StatusCallbackURL: "http://169.254.169.254/latest"}, "status_callback_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Messages.Send(ctx, &tt.p)
			var se *sdk.Error
			if !errors.As(err, &se) || se.Status != 422 || len(se.Errors) == 0 || se.Errors[0].Field != tt.field {
				t.Fatalf("err %#v, want 422 naming %s", err, tt.field)
			}
		})
	}
}

// TestOpsEndpoints: health, readiness and Prometheus metrics.
func TestOpsEndpoints(t *testing.T) {
	s := newStack(t)
	c, _ := s.account("ops")
	m := send(t, c, "+15557770000", "metrics")
	waitStatus(t, c, m.ID, sdk.StatusDelivered)
	for path, want := range map[string]string{
		"/healthz": `"ok"`,
		"/readyz":  `"ready"`,
		"/metrics": `switchboard_deliveries_total{channel="sms",status="delivered"}`,
	} {
		resp, err := http.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Fatalf("GET %s: %d, body lacks %s", path, resp.StatusCode, want)
		}
		if path == "/metrics" {
			for _, name := range []string{"switchboard_http_request_duration_seconds", "switchboard_queue_depth", "switchboard_queue_pickup_seconds"} {
				if !strings.Contains(string(body), name) {
					t.Fatalf("/metrics lacks %s", name)
				}
			}
		}
	}
}

// TestImmediateReceipts: with no receipt delay the sandbox answers with the
// final status at once, and the lifecycle still reads sent → delivered.
func TestImmediateReceipts(t *testing.T) {
	cfg := testConfig(t)
	cfg.SandboxDelay = 0
	s := startStack(t, cfg, RoleAll)
	c, _ := s.account("instant")
	for to, want := range map[string]sdk.Status{"+15551230099": sdk.StatusDelivered, "+15005550009": sdk.StatusUndelivered} {
		m := waitStatus(t, c, send(t, c, to, "now").ID, want)
		events, _ := c.Messages.Events(ctx, m.ID)
		var got []string
		for _, e := range events {
			got = append(got, string(e.Status))
		}
		if w := []string{"accepted", "queued", "sending", "sent", string(want)}; !slices.Equal(got, w) {
			t.Fatalf("%s: events %v, want %v", to, got, w)
		}
	}
}

// TestBatchDelivery: messages accepted while no worker runs are delivered in
// batches, and every sandbox outcome comes out as it does one by one.
func TestBatchDelivery(t *testing.T) {
	cfg := testConfig(t)
	api := startStack(t, cfg, RoleAPI)
	c, _ := api.account("batch")
	// The receiver fails the first webhooks, which come in a batch.
	rcv := newReceiver(t, 500, 503, 500)
	if _, err := c.WebhookEndpoints.Create(ctx, &sdk.CreateWebhookEndpointParams{URL: rcv.srv.URL, Events: []sdk.EventType{"message.sent"}}); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		status   sdk.Status
		attempts int
		subs     int
	}{
		"+15005550001": {sdk.StatusFailed, 1, 1},
		"+15005550009": {sdk.StatusUndelivered, 1, 1},
		"+15005550002": {sdk.StatusDelivered, 3, 3},
		"+15005550006": {sdk.StatusSent, 1, 1},
		"+15557770001": {sdk.StatusDelivered, 1, 1},
	}
	type sentMsg struct{ id, to string }
	var mu sync.Mutex
	var msgs []sentMsg
	var wg sync.WaitGroup
	for to := range want {
		for range 8 {
			wg.Go(func() {
				m := send(t, c, to, "batched")
				mu.Lock()
				msgs = append(msgs, sentMsg{m.ID, to})
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	time.Sleep(200 * time.Millisecond) // let the outbox enqueue everything
	startStack(t, cfg, RoleWorker)
	for _, m := range msgs {
		w := want[m.to]
		got := waitStatus(t, c, m.id, w.status)
		if got.Attempts != w.attempts {
			t.Fatalf("%s: attempts %d, want %d", m.to, got.Attempts, w.attempts)
		}
		subs, _ := c.Sandbox.Submissions(ctx, m.id)
		if len(subs) != w.subs {
			t.Fatalf("%s: carrier saw %d submissions, want %d", m.to, len(subs), w.subs)
		}
	}
	// Every message that reached "sent" gets its webhook, retried under one
	// webhook-id however many attempts it took.
	waitFor(t, "a message.sent webhook for each of 32 messages", 15*time.Second, func() bool {
		ok := map[string]bool{}
		for _, r := range rcv.all() {
			if r.code == 200 {
				ok[r.msg.ID] = true
			}
		}
		return len(ok) == 32
	})
	hookIDs := map[string]map[string]bool{}
	for _, r := range rcv.all() {
		if hookIDs[r.msg.ID] == nil {
			hookIDs[r.msg.ID] = map[string]bool{}
		}
		hookIDs[r.msg.ID][r.header.Get("webhook-id")] = true
	}
	for id, set := range hookIDs {
		if len(set) != 1 {
			t.Fatalf("message %s: %d webhook-ids for one event", id, len(set))
		}
	}
	resp, err := http.Get(api.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var count, sum float64
	for _, line := range strings.Split(string(body), "\n") {
		fmt.Sscanf(line, "switchboard_delivery_batch_size_count %g", &count)
		fmt.Sscanf(line, "switchboard_delivery_batch_size_sum %g", &sum)
	}
	if count == 0 || sum <= count {
		t.Fatalf("no batch of more than one message was delivered (batches %v, messages %v)", count, sum)
	}
}

// TestListFilters: each filter of GET /v1/messages narrows the list.
func TestListFilters(t *testing.T) {
	s := newStack(t)
	c, _ := s.account("filters")
	a := send(t, c, "+15556660001", "first")
	time.Sleep(20 * time.Millisecond)
	mid := time.Now().UTC()
	time.Sleep(20 * time.Millisecond)
	b, err := c.Messages.Send(ctx, &sdk.SendMessageParams{Channel: sdk.ChannelTelegram, From: "bot", To: "123456789", Text: "tg"})
	if err != nil {
		t.Fatal(err)
	}
	f := send(t, c, "+15005550001", "fails")
	waitStatus(t, c, f.ID, sdk.StatusFailed)
	in, err := c.Sandbox.Inbound(ctx, &sdk.SandboxInboundParams{Channel: sdk.ChannelSMS, From: "+15556660001", To: "+15005550000", Text: "reply"})
	if err != nil {
		t.Fatal(err)
	}
	ids := func(p *sdk.ListMessagesParams) []string {
		var out []string
		for m, err := range c.Messages.List(ctx, p) {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, m.ID)
		}
		slices.Sort(out)
		return out
	}
	sorted := func(v ...string) []string { slices.Sort(v); return v }
	tests := []struct {
		name string
		p    sdk.ListMessagesParams
		want []string
	}{
		{"channel", sdk.ListMessagesParams{Channel: sdk.ChannelTelegram}, sorted(b.ID)},
		{"status", sdk.ListMessagesParams{Status: sdk.StatusFailed}, sorted(f.ID)},
		{"direction", sdk.ListMessagesParams{Direction: sdk.Inbound}, sorted(in.ID)},
		{"to, written loosely", sdk.ListMessagesParams{To: "+1 555 666 0001"}, sorted(a.ID)},
		{"created_before", sdk.ListMessagesParams{CreatedBefore: mid}, sorted(a.ID)},
		{"created_after", sdk.ListMessagesParams{CreatedAfter: mid}, sorted(b.ID, f.ID, in.ID)},
		{"combined", sdk.ListMessagesParams{CreatedAfter: mid, Channel: sdk.ChannelSMS, Direction: sdk.Outbound}, sorted(f.ID)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ids(&tt.p); !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	for _, err := range c.Messages.List(ctx, &sdk.ListMessagesParams{Status: "bogus"}) {
		if problemType(err) != sdk.ProblemValidation {
			t.Fatalf("unknown status filter: %v, want a validation problem", err)
		}
		break
	}
}
