package main

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/sdk"
)

// TestCrashRecoveryDefaults measures how long deliveries orphaned by a
// SIGKILLed worker take to resume with the default lease and sweep settings
// (`make crash-bench`). It is a measurement, not a timed assertion: it fails
// only if a message is lost or sent twice.
func TestCrashRecoveryDefaults(t *testing.T) {
	if os.Getenv("SWITCHBOARD_CRASH_BENCH") == "" {
		t.Skip("set SWITCHBOARD_CRASH_BENCH=1 (make crash-bench): takes about a minute")
	}
	bin := buildBinary(t)
	cfg := testConfig(t)
	api := startStack(t, cfg, RoleAPI)
	c, _ := api.account("crash-defaults")
	// Default lease (30 s), sweep interval (5 s) and grace (15 s); a
	// carrier that takes 300 ms to answer, as real ones do, keeps sends in
	// flight when the worker dies.
	worker := func() *exec.Cmd {
		return startWorker(t, bin, cfg, "SWITCHBOARD_HTTP_ADDR=127.0.0.1:0", "SWITCHBOARD_SANDBOX_SEND_LATENCY=300ms")
	}
	const n = 3000
	ids := make([]string, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ids[i] = send(t, c, fmt.Sprintf("+1555400%04d", i), "crash").ID
		})
	}
	wg.Wait()
	first := worker()
	count := func(status string) int {
		n := 0
		for _, err := range c.Messages.List(ctx, &sdk.ListMessagesParams{Status: sdk.Status(status), Limit: 100}) {
			if err == nil {
				n++
			}
		}
		return n
	}
	waitFor(t, "the worker to be mid-batch", 60*time.Second, func() bool { return count("sent")+count("delivered") >= n/4 })
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()
	killed := time.Now()
	var orphans []string
	for m, err := range c.Messages.List(ctx, &sdk.ListMessagesParams{Status: sdk.StatusSending, Limit: 100}) {
		if err == nil {
			orphans = append(orphans, m.ID)
		}
	}
	t.Logf("at SIGKILL: accepted %d, queued %d, sending %d, sent %d, delivered %d",
		count("accepted"), count("queued"), count("sending"), count("sent"), count("delivered"))
	second := worker()
	defer func() { second.Process.Signal(syscall.SIGTERM); second.Wait() }()
	var resumed []time.Duration
	for _, id := range orphans {
		waitFor(t, "orphan "+id+" delivered", 3*time.Minute, func() bool {
			m, err := c.Messages.Get(ctx, id)
			return err == nil && m.Status == sdk.StatusDelivered
		})
		events, _ := c.Messages.Events(ctx, id)
		for _, e := range events {
			if e.Status == sdk.StatusSent || e.Status == sdk.StatusDelivered {
				resumed = append(resumed, e.Timestamp.Sub(killed))
				break
			}
		}
	}
	waitFor(t, "every message delivered", 5*time.Minute, func() bool { return count("delivered") == n })
	all := time.Since(killed)
	dup := 0
	for _, id := range ids {
		subs, _ := c.Sandbox.Submissions(ctx, id)
		if len(subs) != 1 {
			dup++
		}
	}
	if dup > 0 {
		t.Fatalf("%d messages reached the carrier other than once", dup)
	}
	defaults, _ := loadConfig(func(string) string { return "" })
	sort.Slice(resumed, func(i, j int) bool { return resumed[i] < resumed[j] })
	t.Logf("messages in flight (sending) at SIGKILL: %d", len(orphans))
	if len(resumed) > 0 {
		t.Logf("orphaned deliveries resumed after: min %s, median %s, max %s (lease %s, sweep every %s)",
			resumed[0].Round(time.Millisecond), resumed[len(resumed)/2].Round(time.Millisecond),
			resumed[len(resumed)-1].Round(time.Millisecond), defaults.Lease, defaults.SweepInterval)
	}
	t.Logf("all %d messages delivered %s after SIGKILL; each reached the carrier exactly once", n, all.Round(time.Millisecond))
}
