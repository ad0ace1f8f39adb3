package main

import (
	"strings"

	"encoding/json"
	"fmt"
	switchboard "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/postgres"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/sdk"
)

// TestRedisDownAtAccept: with Redis unreachable the API still accepts (the
// row is committed first); once a worker with Redis runs, the sweeper
// enqueues and the message is delivered exactly once.
func TestRedisDownAtAccept(t *testing.T) {
	cfg := testConfig(t)
	down := cfg
	down.RedisURL = "redis://127.0.0.1:1/0" // nothing listens there
	api := startStack(t, down, RoleAPI)
	c, _ := api.account("redis-down")
	m := send(t, c, "+15551110000", "survives")
	if m.Status != sdk.StatusAccepted {
		t.Fatalf("status %s", m.Status)
	}
	time.Sleep(300 * time.Millisecond)
	if got, _ := c.Messages.Get(ctx, m.ID); got.Status != sdk.StatusAccepted && got.Status != sdk.StatusQueued {
		t.Fatalf("message moved to %s without Redis", got.Status)
	}
	startStack(t, cfg, RoleWorker)
	waitStatus(t, c, m.ID, sdk.StatusDelivered)
	subs, _ := c.Sandbox.Submissions(ctx, m.ID)
	if len(subs) != 1 {
		t.Fatalf("carrier got %d submissions, want 1", len(subs))
	}
}

// TestWorkerKilledMidBatch kills a worker process with SIGKILL while it is
// delivering a batch; a new worker finishes the batch, and the carrier sees
// every message exactly once.
func TestWorkerKilledMidBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a worker process")
	}
	bin := buildBinary(t)
	cfg := testConfig(t)
	api := startStack(t, cfg, RoleAPI)
	c, _ := api.account("crash")
	// A slow carrier keeps many deliveries in flight when the worker dies.
	if _, err := c.Sandbox.SetRule(ctx, &sdk.SandboxRuleParams{Channel: sdk.ChannelSMS, From: "+15005550000", RatePerSecond: 100}); err != nil {
		t.Fatal(err)
	}
	worker := func() *exec.Cmd {
		return startWorker(t, bin, cfg, "SWITCHBOARD_DELIVERY_LEASE=2s", "SWITCHBOARD_SWEEP_INTERVAL=200ms",
			"SWITCHBOARD_SWEEP_GRACE=1s", "SWITCHBOARD_SANDBOX_DELAY=20ms", "SWITCHBOARD_DELIVERY_RETRY_BASE=50ms")
	}
	const n = 300
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { ids[i] = send(t, c, fmt.Sprintf("+1555200%04d", i), "batch").ID })
	}
	wg.Wait()
	first := worker()
	// Kill it once it has delivered some but not all.
	waitFor(t, "worker to be mid-batch", 30*time.Second, func() bool {
		sent := 0
		for _, st := range []sdk.Status{sdk.StatusSent, sdk.StatusDelivered} {
			for _, err := range c.Messages.List(ctx, &sdk.ListMessagesParams{Status: st, Limit: 100}) {
				if err == nil {
					sent++
				}
			}
		}
		return sent >= 30
	})
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()
	killedAt := time.Now()
	second := worker()
	defer func() { second.Process.Signal(syscall.SIGTERM); second.Wait() }()
	// A receipt task the dead worker was running comes back only through
	// asynq's own recovery (about a minute), hence the long wait.
	for _, id := range ids {
		deadline := time.Now().Add(150 * time.Second)
		for {
			m, err := c.Messages.Get(ctx, id)
			if err == nil && m.Status == sdk.StatusDelivered {
				break
			}
			if time.Now().After(deadline) {
				events, _ := c.Messages.Events(ctx, id)
				subs, _ := c.Sandbox.Submissions(ctx, id)
				t.Fatalf("message %s not delivered 150s after SIGKILL: %+v; events %+v; carrier %+v", id, m, events, subs)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("all %d delivered %s after SIGKILL", n, time.Since(killedAt).Round(time.Millisecond))
	for _, id := range ids {
		subs, err := c.Sandbox.Submissions(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		accepted := 0
		for _, s := range subs {
			if s.Result == "accepted" {
				accepted++
			}
		}
		if accepted != 1 {
			b, _ := json.Marshal(subs)
			t.Fatalf("message %s reached the carrier %d times: %s", id, accepted, b)
		}
		// A receipt may overtake "sent" when the worker died between the
		// carrier's answer and recording it; what must hold is that no
		// status repeats and none goes backwards.
		events, _ := c.Messages.Events(ctx, id)
		seen := map[sdk.Status]bool{}
		for i, e := range events {
			if seen[e.Status] || (i > 0 && rank[e.Status] <= rank[events[i-1].Status]) {
				t.Fatalf("message %s events out of order: %+v", id, events)
			}
			seen[e.Status] = true
		}
	}
}

// TestSenderRateLimit: a sender limited to 5/s has its messages spaced by
// the limiter, and throttling never costs a message an attempt.
func TestSenderRateLimit(t *testing.T) {
	s := newStack(t)
	c, _ := s.account("rate")
	if _, err := c.Sandbox.SetRule(ctx, &sdk.SandboxRuleParams{From: "+15005550000", RatePerSecond: 5}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 8 {
		ids = append(ids, send(t, c, fmt.Sprintf("+1555300%04d", i), "paced").ID)
	}
	var sendTimes []time.Time
	for _, id := range ids {
		m := waitStatus(t, c, id, sdk.StatusDelivered)
		if m.Attempts != 1 {
			t.Fatalf("throttled message used %d attempts", m.Attempts)
		}
		events, _ := c.Messages.Events(ctx, id)
		for _, e := range events {
			if e.Status == sdk.StatusSent {
				sendTimes = append(sendTimes, e.Timestamp)
			}
		}
	}
	// The limiter hands out one slot per 200 ms, so 8 sends span >= 7 slots.
	first, last := sendTimes[0], sendTimes[0]
	for _, ts := range sendTimes {
		if ts.Before(first) {
			first = ts
		}
		if ts.After(last) {
			last = ts
		}
	}
	if span := last.Sub(first); span < 7*200*time.Millisecond-100*time.Millisecond {
		t.Fatalf("8 sends at 5/s spanned only %s", span)
	}
}

// TestWebhookRetriesAndGone: a 500 is retried on schedule and recorded; a
// 410 disables the endpoint.
func TestWebhookRetriesAndGone(t *testing.T) {
	s := newStack(t)
	c, _ := s.account("hooks")
	flaky := newReceiver(t, 500, 503)
	ep, err := c.WebhookEndpoints.Create(ctx, &sdk.CreateWebhookEndpointParams{URL: flaky.srv.URL, Events: []sdk.EventType{"message.delivered"}})
	if err != nil {
		t.Fatal(err)
	}
	m := send(t, c, "+15554440000", "retry me")
	waitFor(t, "webhook to succeed on the third attempt", 15*time.Second, func() bool { return len(flaky.types(m.ID)) == 3 })
	ids := map[string]bool{}
	for _, r := range flaky.all() {
		ids[r.header.Get("webhook-id")] = true
	}
	if len(ids) != 1 {
		t.Fatalf("webhook-id changed across retries: %v", ids)
	}
	var codes []int
	for a, err := range c.WebhookEndpoints.Attempts(ctx, ep.ID, nil) {
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, *a.StatusCode)
	}
	if fmt.Sprint(codes) != "[200 503 500]" {
		t.Fatalf("attempts newest first %v, want [200 503 500]", codes)
	}

	gone := newReceiver(t, 410)
	ep2, err := c.WebhookEndpoints.Create(ctx, &sdk.CreateWebhookEndpointParams{URL: gone.srv.URL, Events: []sdk.EventType{"message.delivered"}})
	if err != nil {
		t.Fatal(err)
	}
	send(t, c, "+15554440001", "gone")
	waitFor(t, "endpoint disabled after 410", 15*time.Second, func() bool {
		e, err := c.WebhookEndpoints.Get(ctx, ep2.ID)
		return err == nil && !e.Enabled && e.DisabledReason != nil
	})
	time.Sleep(600 * time.Millisecond)
	if n := len(gone.all()); n != 1 {
		t.Fatalf("disabled endpoint called %d times", n)
	}
}

// TestSSRFRefused: with private targets not allowed, loopback, private and
// metadata URLs are refused at create time, and a hostname that resolves to
// loopback is refused when dialled.
func TestSSRFRefused(t *testing.T) {
	cfg := testConfig(t)
	cfg.WebhookAllowPriv = false
	s := startStack(t, cfg, RoleAll)
	c, _ := s.account("ssrf")
	for _, u := range []string{"http://127.0.0.1:9/x", "http://10.0.0.5/", "http://169.254.169.254/latest/meta-data",
		"http://[::ffff:127.0.0.1]/", "http://[::1]/", "http://localhost/", "http://2130706433/"} {
		_, err := c.WebhookEndpoints.Create(ctx, &sdk.CreateWebhookEndpointParams{URL: u, Events: []sdk.EventType{"*"}})
		if pt := problemType(err); pt != sdk.ProblemBlockedDestination && pt != sdk.ProblemValidation {
			t.Errorf("%s: err %v, want a 422 refusal", u, err)
		}
	}
	// A row that slipped past the create-time check (as a DNS name that later
	// resolves to loopback would) is still refused when dialled.
	rcv := newReceiver(t)
	db, err := postgres.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m := send(t, c, "+15556660000", "no ssrf")
	msg, _ := c.Messages.Get(ctx, m.ID)
	ep, err := db.CreateEndpoint(ctx, &switchboard.WebhookEndpoint{AccountID: msg.AccountID, URL: rcv.srv.URL, Events: []string{"*"}, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
	if err != nil {
		t.Fatal(err)
	}
	m2 := send(t, c, "+15556660001", "no ssrf either")
	waitStatus(t, c, m2.ID, sdk.StatusDelivered)
	waitFor(t, "a refused attempt", 10*time.Second, func() bool {
		for a, err := range c.WebhookEndpoints.Attempts(ctx, ep.ID, nil) {
			if err == nil && a.Error != nil && a.StatusCode == nil && strings.Contains(*a.Error, "blocked") {
				return true
			}
		}
		return false
	})
	if n := len(rcv.all()); n != 0 {
		t.Fatalf("loopback receiver was called %d times", n)
	}
}

// TestAttemptLimit: with two attempts allowed, a number that fails
// transiently twice ends failed with the provider's error code.
func TestAttemptLimit(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxAttempts = 2
	s := startStack(t, cfg, RoleAll)
	c, _ := s.account("limit")
	m := send(t, c, "+15005550002", "give up")
	m = waitStatus(t, c, m.ID, sdk.StatusFailed)
	if m.Attempts != 2 || m.ErrorCode == nil || *m.ErrorCode != "30001" {
		t.Fatalf("attempts %d error %v, want 2 and 30001", m.Attempts, m.ErrorCode)
	}
	subs, _ := c.Sandbox.Submissions(ctx, m.ID)
	if len(subs) != 2 {
		t.Fatalf("carrier saw %d attempts, want 2", len(subs))
	}
}

// TestSecretRotation: after a rotation, deliveries carry two signatures so
// receivers verify with either the old or the new secret.
func TestSecretRotation(t *testing.T) {
	s := newStack(t)
	c, _ := s.account("rotate")
	rcv := newReceiver(t)
	ep, err := c.WebhookEndpoints.Create(ctx, &sdk.CreateWebhookEndpointParams{URL: rcv.srv.URL, Events: []sdk.EventType{"message.delivered"}})
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := c.WebhookEndpoints.RotateSecret(ctx, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Secret == "" || rotated.Secret == ep.Secret {
		t.Fatalf("rotation returned secret %q", rotated.Secret)
	}
	m := send(t, c, "+15558880000", "rotated")
	waitFor(t, "delivered webhook", 10*time.Second, func() bool { return len(rcv.types(m.ID)) == 1 })
	r := rcv.all()[0]
	if n := len(strings.Fields(r.header.Get("webhook-signature"))); n != 2 {
		t.Fatalf("%d signatures during rotation, want 2", n)
	}
	for _, secret := range []string{ep.Secret, rotated.Secret} {
		if err := sdk.VerifyWebhook(secret, r.header, r.body); err != nil {
			t.Fatalf("verify with %s…: %v", secret[:10], err)
		}
	}
}

var rank = map[sdk.Status]int{sdk.StatusAccepted: 1, sdk.StatusQueued: 2, sdk.StatusSending: 3, sdk.StatusSent: 4, sdk.StatusDelivered: 5}

// TestGracefulShutdownFinishesDeliveries: SIGTERM lets sends in flight
// finish; none is left "sending" for another worker to take over later.
func TestGracefulShutdownFinishesDeliveries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and stops a worker process")
	}
	bin := buildBinary(t)
	cfg := testConfig(t)
	api := startStack(t, cfg, RoleAPI)
	c, _ := api.account("graceful")
	cmd := startWorker(t, bin, cfg, "SWITCHBOARD_SANDBOX_SEND_LATENCY=700ms")
	var ids []string
	for i := range 10 {
		ids = append(ids, send(t, c, fmt.Sprintf("+1555500%04d", i), "graceful").ID)
	}
	var inFlight []string
	waitFor(t, "sends in flight", 10*time.Second, func() bool {
		inFlight = inFlight[:0]
		for _, id := range ids {
			if m, err := c.Messages.Get(ctx, id); err == nil && m.Status == sdk.StatusSending {
				inFlight = append(inFlight, id)
			}
		}
		return len(inFlight) > 0
	})
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("worker exit: %v", err)
	}
	for _, id := range inFlight {
		m, err := c.Messages.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if m.Status == sdk.StatusSending {
			t.Fatalf("message %s left sending after graceful shutdown", id)
		}
	}
	t.Logf("%d sends in flight at SIGTERM all finished before the worker exited", len(inFlight))
}
