package voicebot

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// benchFlow is the 5-step flow of the voice benchmark (the same one
// cmd/sbbench -mode calls uploads): say, gather, branch, say, hangup. The
// first turn runs say + gather, the second (the digits) branch + say +
// hangup. Its prompts are the same for every call, as a TTS cache likes.
const benchFlow = `{
  "name": "bench: 5 steps",
  "steps": [
    {"id": "welcome", "type": "say", "text": "Welcome to Switchboard."},
    {"id": "menu", "type": "gather", "prompt": "Press 1 for sales, 2 for support", "max_digits": 1, "timeout": "60s", "save_as": "choice", "no_input": "menu"},
    {"id": "route", "type": "branch", "on": "{{choice}}", "cases": [{"equals": "1", "next": "thanks"}], "default": "bye"},
    {"id": "thanks", "type": "say", "text": "Connecting you to sales."},
    {"id": "bye", "type": "hangup"}
  ]
}`

// benchEnv is a session's environment, as the runtime builds it per call.
func benchEnv(i int) Env {
	id := strconv.Itoa(i)
	return Env{AccountID: "acct_bench", SessionID: "ses_" + id, CallID: "call_" + id, ConversationID: "conv_" + id,
		Channel: "voice", CustomerID: "cus_" + id, CustomerName: "Caller " + id, From: "+1555" + fmt.Sprintf("%07d", i), To: "+15005550000"}
}

// benchCall runs one call of the bench flow: start (say + gather), then
// the digit (branch + say + hangup), returning how long each Advance took
// and how many steps it ran. between, if set, runs after the first turn
// (the concurrent benchmark parks every session there).
func benchCall(ctx context.Context, e *Engine, f *Flow, s *Session, env Env, between func()) (d [2]time.Duration, steps [2]int, err error) {
	inputs := [2]Input{{Kind: InputStart}, {Kind: InputDigits, Value: "1"}}
	for i, in := range inputs {
		if i == 1 && between != nil {
			between()
		}
		before := s.Steps
		t0 := time.Now()
		turn, aerr := e.Advance(ctx, f, s, env, in)
		d[i] = time.Since(t0)
		steps[i] = s.Steps - before
		if aerr != nil {
			return d, steps, fmt.Errorf("turn %d: %w", i+1, aerr)
		}
		if want := i == 0; turn.Waiting != want || turn.Ended == want {
			return d, steps, fmt.Errorf("turn %d: waiting=%v ended=%v", i+1, turn.Waiting, turn.Ended)
		}
	}
	return d, steps, nil
}

// TestBenchFlowRuns checks the benchmark's flow does what the benchmark
// claims: two turns of 2 and 3 steps, the digit taking the sales branch.
func TestBenchFlowRuns(t *testing.T) {
	f := mustFlow(t, benchFlow)
	s := NewSession(f)
	e := &Engine{}
	var turns []Turn
	for _, in := range []Input{{Kind: InputStart}, {Kind: InputDigits, Value: "1"}} {
		turn, err := e.Advance(context.Background(), f, s, benchEnv(7), in)
		if err != nil {
			t.Fatal(err)
		}
		turns = append(turns, turn)
	}
	if got, want := summary(turns[0].Actions), "say:Welcome to Switchboard.|say:Press 1 for sales, 2 for support|gather"; got != want {
		t.Errorf("turn 1 = %q, want %q", got, want)
	}
	if got, want := summary(turns[1].Actions), "say:Connecting you to sales.|hangup"; got != want {
		t.Errorf("turn 2 = %q, want %q", got, want)
	}
	if !turns[1].Ended || s.Steps != 5 {
		t.Errorf("ended=%v steps=%d, want ended after 5 steps", turns[1].Ended, s.Steps)
	}
}

// concurrentResult is what runConcurrentCalls measured.
type concurrentResult struct {
	start, digits, perStep []time.Duration
	wall                   time.Duration
	heapPerSession         float64 // bytes of live heap per session waiting at the gather
	statePerSession        float64 // bytes of the session's JSON state (what the runtime stores)
	allocsPerCall          float64
	bytesPerCall           float64
}

// runConcurrentCalls runs n sessions of the bench flow on n goroutines:
// all start, wait together at the gather (when the heap is measured, every
// session reachable), then all get their digit at once.
func runConcurrentCalls(t testing.TB, n int) concurrentResult {
	f := mustFlow(t, benchFlow)
	e := &Engine{}
	ctx := context.Background()
	sessions := make([]*Session, n)
	envs := make([]Env, n)
	for i := range envs {
		envs[i] = benchEnv(i)
	}
	var parked, release sync.WaitGroup
	parked.Add(n)
	release.Add(1)
	res := concurrentResult{start: make([]time.Duration, n), digits: make([]time.Duration, n)}
	steps := make([][2]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	// The bookkeeping above is allocated before the first reading, so
	// the difference is the sessions (and what each goroutine keeps).
	var m0, m1, m2 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	t0 := time.Now()
	for i := range n {
		wg.Go(func() {
			s := NewSession(f)
			sessions[i] = s
			var d [2]time.Duration
			d, steps[i], errs[i] = benchCall(ctx, e, f, s, envs[i], func() { parked.Done(); release.Wait() })
			res.start[i], res.digits[i] = d[0], d[1]
		})
	}
	parked.Wait()
	res.wall = time.Since(t0)
	// Every session now waits at the gather and is reachable from
	// sessions; the goroutines' stacks are not counted (a server keeps
	// none per waiting call).
	runtime.GC()
	runtime.ReadMemStats(&m1)
	var stateBytes int
	for _, s := range sessions {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		stateBytes += len(b)
	}
	t1 := time.Now()
	release.Done()
	wg.Wait()
	res.wall += time.Since(t1)
	runtime.ReadMemStats(&m2)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		if steps[i] != [2]int{2, 3} {
			t.Fatalf("session %d ran %v steps, want [2 3]", i, steps[i])
		}
		res.perStep = append(res.perStep, res.start[i]/2, res.digits[i]/3)
	}
	// m1 is after GC with the sessions live, m0 before any existed.
	res.heapPerSession = float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc)) / float64(n)
	res.statePerSession = float64(stateBytes) / float64(n)
	res.allocsPerCall = float64(m2.Mallocs-m0.Mallocs) / float64(n)
	res.bytesPerCall = float64(m2.TotalAlloc-m0.TotalAlloc) / float64(n)
	runtime.KeepAlive(sessions)
	return res
}

// TestConcurrentCalls runs the engine's share of the voice benchmark with
// a few sessions on every run (it must work), and with 1,000 plus a report
// when SWITCHBOARD_VOICE_BENCH=1 (`make bench-voice` runs it so):
//
//	SWITCHBOARD_VOICE_BENCH=1 go test -run TestConcurrentCalls -v ./voicebot/
//
// Latency is the time inside Engine.Advance: no TTS, no storage, no HTTP.
// A sequential run of the same calls is the baseline: the difference is
// what 1,000 goroutines sharing the machine's cores add.
func TestConcurrentCalls(t *testing.T) {
	n := 20
	report := os.Getenv("SWITCHBOARD_VOICE_BENCH") == "1"
	if report {
		n = 1000
		if v, err := strconv.Atoi(os.Getenv("SWITCHBOARD_VOICE_BENCH_CALLS")); err == nil && v > 0 {
			n = v
		}
	}
	// Warm up: the first calls pay for template parsing caches and the
	// scheduler growing.
	runConcurrentCalls(t, min(n, 100))
	res := runConcurrentCalls(t, n)

	// Baseline: the same calls one after another on one goroutine.
	f := mustFlow(t, benchFlow)
	e := &Engine{}
	var seq []time.Duration
	for i := range n {
		d, _, err := benchCall(context.Background(), e, f, NewSession(f), benchEnv(i), nil)
		if err != nil {
			t.Fatal(err)
		}
		seq = append(seq, d[0], d[1])
	}
	if !report {
		return
	}
	t.Logf("voice engine benchmark: %d concurrent sessions of a 5-step flow (say, gather | branch, say, hangup), GOMAXPROCS=%d, %s",
		n, runtime.GOMAXPROCS(0), runtime.Version())
	t.Logf("  %-34s %s", "Advance(start): say + gather", pct(res.start))
	t.Logf("  %-34s %s", "Advance(dtmf): branch + say + hangup", pct(res.digits))
	t.Logf("  %-34s %s", "per step (Advance / steps run)", pct(res.perStep))
	t.Logf("  %-34s %s", "baseline, sequential, per Advance", pct(seq))
	t.Logf("  wall: %s for %d calls = %.0f calls/s (%.0f steps/s)", res.wall.Round(time.Microsecond), n,
		float64(n)/res.wall.Seconds(), 5*float64(n)/res.wall.Seconds())
	t.Logf("  live heap per session waiting at the gather: %.0f B; its JSON state: %.0f B", res.heapPerSession, res.statePerSession)
	t.Logf("  allocated per call (2 turns): %.0f allocs, %.0f B", res.allocsPerCall, res.bytesPerCall)
}

// pct formats p50/p90/p99/max of ds in microseconds.
func pct(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	q := func(p float64) float64 {
		i := int(p*float64(len(s))+0.999999) - 1
		return float64(s[max(0, min(i, len(s)-1))]) / 1e3
	}
	return fmt.Sprintf("p50 %7.1f µs  p90 %7.1f µs  p99 %8.1f µs  max %8.1f µs  (n=%d)", q(0.5), q(0.9), q(0.99), q(1), len(s))
}

// BenchmarkCall is one call of the bench flow (two Advances, five steps)
// on one goroutine; BenchmarkCallParallel runs calls on every core.
func BenchmarkCall(b *testing.B) {
	f := mustFlow(b, benchFlow)
	e := &Engine{}
	ctx := context.Background()
	env := benchEnv(1)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := benchCall(ctx, e, f, NewSession(f), env, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/5, "ns/step")
}

func BenchmarkCallParallel(b *testing.B) {
	f := mustFlow(b, benchFlow)
	e := &Engine{}
	ctx := context.Background()
	env := benchEnv(1)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := benchCall(ctx, e, f, NewSession(f), env, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkStateRoundTrip is what the runtime adds to every turn before
// storage: decoding the session's state and encoding it again.
func BenchmarkStateRoundTrip(b *testing.B) {
	f := mustFlow(b, benchFlow)
	s := NewSession(f)
	if _, err := (&Engine{}).Advance(context.Background(), f, s, benchEnv(1), Input{Kind: InputStart}); err != nil {
		b.Fatal(err)
	}
	raw, _ := json.Marshal(s)
	b.ReportAllocs()
	for b.Loop() {
		var x Session
		if err := json.Unmarshal(raw, &x); err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(&x); err != nil {
			b.Fatal(err)
		}
	}
}
