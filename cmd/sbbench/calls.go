package main

// Calls mode (sbbench -mode calls): the voice benchmark. It uploads a
// 5-step flow (say, gather | branch, say, hangup), places N sandbox calls
// with it, waits until every bot waits at the gather, then plays every
// caller's digit at once and measures each turn's HTTP round trip (the
// server runs branch + say + hangup and stores them before it answers).
// Server memory per call is read from its /metrics while all N calls wait.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
)

// callsFlow is the benchmark's flow: the same as voicebot's in-process
// benchmark (voicebot/bench_test.go). The gather re-prompts on timeout, so
// a call that waits longer than a minute for its digit stays at the gather.
const callsFlow = `{"name":"sbbench: 5 steps","steps":[
{"id":"welcome","type":"say","text":"Welcome to Switchboard."},
{"id":"menu","type":"gather","prompt":"Press 1 for sales, 2 for support","max_digits":1,"timeout":"60s","save_as":"choice","no_input":"menu"},
{"id":"route","type":"branch","on":"{{choice}}","cases":[{"equals":"1","next":"thanks"}],"default":"bye"},
{"id":"thanks","type":"say","text":"Connecting you to sales."},
{"id":"bye","type":"hangup"}]}`

// gatherStep is the step the first turn ends waiting at.
const gatherStep = "menu"

// CallsSummary is the report of calls mode.
type CallsSummary struct {
	Params  CallsParams `json:"params"`
	Machine Machine     `json:"machine"`
	FlowID  string      `json:"flow_id"`
	// Place is POST /v1/calls: the call is routed to a customer, stored
	// and queued for dialling.
	Place APIStats `json:"place"`
	// ToWaiting is from sending POST /v1/calls to the server storing the
	// first turn (say + gather), read from the gather prompt's transcript
	// timestamp: dial task pickup, ringing, answer, session, first turn.
	ToWaiting     Latency `json:"post_to_waiting_ms"`
	Waiting       int     `json:"waiting"`
	WaitSeconds   float64 `json:"place_to_all_waiting_seconds"`
	CallsPerSec   float64 `json:"calls_waiting_per_sec"`
	WaitTimeouts  int     `json:"not_waiting_before_deadline"`
	WaitErrorKind string  `json:"wait_error,omitempty"`
	// Turn is POST /v1/sandbox/calls/{id}/dtmf, all calls at once: the
	// server runs branch + say + hangup, stores the session, transcript
	// and call, and answers.
	Turn        APIStats    `json:"turn"`
	TurnPerStep Latency     `json:"turn_per_step_ms"`
	Completed   int         `json:"completed"`
	Memory      Memory      `json:"memory"`
	Resources   []Resources `json:"resources,omitempty"`
	Profiles    []string    `json:"profiles,omitempty"`
}

// CallsParams are the run's parameters.
type CallsParams struct {
	Calls   int    `json:"calls"`
	C       int    `json:"concurrency"`
	TurnC   int    `json:"turn_concurrency"`
	URL     string `json:"url"`
	Build   string `json:"build,omitempty"`
	TTS     string `json:"tts,omitempty"`
	StepsT1 int    `json:"steps_turn1"`
	StepsT2 int    `json:"steps_turn2"`
}

// Memory is the server's memory before the calls and while all of them
// wait at the gather (after a GC when the server's pprof is reachable).
type Memory struct {
	ForcedGC          bool    `json:"forced_gc"`
	HeapInuseBefore   float64 `json:"heap_inuse_before"`
	HeapInuseWaiting  float64 `json:"heap_inuse_waiting"`
	HeapAllocBefore   float64 `json:"heap_alloc_before"`
	HeapAllocWaiting  float64 `json:"heap_alloc_waiting"`
	RSSBefore         float64 `json:"rss_before"`
	RSSWaiting        float64 `json:"rss_waiting"`
	GoroutinesBefore  float64 `json:"goroutines_before"`
	GoroutinesWaiting float64 `json:"goroutines_waiting"`
	RedisBefore       float64 `json:"redis_used_memory_before"`
	RedisWaiting      float64 `json:"redis_used_memory_waiting"`
	HeapPerCall       float64 `json:"heap_alloc_bytes_per_call"`
	RSSPerCall        float64 `json:"rss_bytes_per_call"`
	RedisPerCall      float64 `json:"redis_bytes_per_call"`
}

// runCalls is calls mode. db and redis are optional: with them the report
// has the CPU split per process group and PostgreSQL/Redis costs per call.
func runCalls(ctx context.Context, o options) (*CallsSummary, error) {
	n, c := o.calls, o.c
	sum := &CallsSummary{Params: CallsParams{Calls: n, C: c, TurnC: o.turnC, URL: o.url, Build: o.build, TTS: o.tts, StepsT1: 2, StepsT2: 3}}
	sum.Machine = machineInfo()
	a := newAPI(o.url, o.key, max(c, o.turnC))
	if err := a.ready(ctx, 30*time.Second); err != nil {
		return nil, err
	}
	var db *pgx.Conn
	var rc *redisStats
	if o.dbURL != "" && o.redisURL != "" {
		var err error
		if db, err = pgx.Connect(ctx, o.dbURL); err != nil {
			return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
		}
		defer db.Close(context.Background())
		sum.Machine.PostgreSQL = pgVersion(ctx, db)
		if rc, err = newRedisStats(o.redisURL); err != nil {
			return nil, err
		}
		defer rc.Close()
		sum.Machine.Redis = rc.version(ctx)
	}
	procs := procGroups{self: os.Getpid(), server: o.serverPID, pg: o.pgPID, redis: o.redisPID}
	snap := func() sample {
		if db == nil {
			return sample{at: time.Now(), procs: readProcs(procs)}
		}
		return snapshot(ctx, procs, db, rc, a)
	}

	var flow struct {
		ID string `json:"id"`
	}
	if err := a.doJSON(ctx, http.MethodPost, "/v1/flows", []byte(callsFlow), http.StatusCreated, &flow); err != nil {
		return nil, fmt.Errorf("create the flow: %w", err)
	}
	sum.FlowID = flow.ID
	logf("calls: flow %s (say, gather | branch, say, hangup) created", flow.ID)
	sum.Machine.BackgroundCores = waitQuiet(ctx, procs, o.quietWait)

	mem0 := a.memory(ctx, o.pprof, "", rc)
	sum.Memory.ForcedGC = mem0.gc

	// Place the calls.
	logf("calls: placing %d sandbox calls from %d concurrent clients", n, c)
	s0 := snap()
	placed := placeCalls(ctx, a, n, c, flow.ID)
	sum.Place = placed.stats
	logf("calls: %d placed in %.2fs (p50 %.1f ms, p99 %.1f ms, %d errors)", placed.stats.Accepted, placed.stats.Seconds,
		placed.stats.Latency.P50, placed.stats.Latency.P99, placed.stats.Errors)
	if len(placed.calls) == 0 {
		return sum, errors.New("no call was placed")
	}

	// Wait for every bot to wait at the gather.
	waitErr := waitGather(ctx, a, placed.calls, o.wait)
	s1 := snap()
	var toWait []time.Duration
	var last time.Time
	var ready []*benchCall
	for _, bc := range placed.calls {
		if bc.waitingAt.IsZero() {
			sum.WaitTimeouts++
			continue
		}
		ready = append(ready, bc)
		toWait = append(toWait, bc.waitingAt.Sub(bc.posted))
		if bc.waitingAt.After(last) {
			last = bc.waitingAt
		}
	}
	sum.ToWaiting = summarize(toWait)
	sum.Waiting = len(ready)
	if len(ready) > 0 {
		sum.WaitSeconds = last.Sub(placed.start).Seconds()
		sum.CallsPerSec = float64(len(ready)) / sum.WaitSeconds
	}
	sum.WaitErrorKind = errString(waitErr)
	sum.Resources = append(sum.Resources, resources("place → all waiting at the gather (per call)", s0, s1, len(ready), 0))
	logf("calls: %d of %d waiting at the gather %.2fs after the first POST; POST→waiting p50 %.0f ms, p99 %.0f ms",
		len(ready), len(placed.calls), sum.WaitSeconds, sum.ToWaiting.P50, sum.ToWaiting.P99)

	mem1 := a.memory(ctx, o.pprof, filepath.Join(o.pprofDir, "heap-calls-waiting.pprof"), rc)
	sum.Memory = memoryPerCall(mem0, mem1, len(ready))
	logf("calls: server heap %.1f → %.1f MiB, RSS %.1f → %.1f MiB with %d calls waiting",
		sum.Memory.HeapAllocBefore/(1<<20), sum.Memory.HeapAllocWaiting/(1<<20), sum.Memory.RSSBefore/(1<<20), sum.Memory.RSSWaiting/(1<<20), len(ready))
	if len(ready) == 0 || ctx.Err() != nil {
		return sum, errors.Join(waitErr, ctx.Err(), errors.New("no call reached the gather"))
	}

	// Every caller presses 1 at once.
	waitQuiet(ctx, procs, o.quietWait)
	logf("calls: %d callers press 1 (%d concurrent clients, released together)", len(ready), o.turnC)
	profDone := make(chan string, 1)
	turnStart := make(chan struct{})
	go func() {
		select {
		case <-turnStart:
			profDone <- cpuProfile(ctx, o, "cpu-calls-turn.pprof")
		case <-ctx.Done():
			profDone <- ""
		}
	}()
	s2 := snap()
	turn := pressDigits(ctx, a, ready, o.turnC, turnStart)
	s3 := snap()
	sum.Turn = turn
	per := make([]time.Duration, 0, len(ready))
	for _, bc := range ready {
		if bc.turn > 0 {
			per = append(per, bc.turn/3)
		}
	}
	sum.TurnPerStep = summarize(per)
	sum.Resources = append(sum.Resources, resources("dtmf turns (per call)", s2, s3, turn.Accepted, 0))
	logf("calls: %d turns in %.2fs = %.0f turns/s (p50 %.1f ms, p99 %.1f ms, max %.1f ms, %d errors)",
		turn.Accepted, turn.Seconds, turn.PerSec, turn.Latency.P50, turn.Latency.P99, turn.Latency.Max, turn.Errors)
	if p := <-profDone; p != "" {
		sum.Profiles = append(sum.Profiles, p)
	}

	// Every call should now be completed by the bot's hangup.
	sum.Completed = countCompleted(ctx, a, ready)
	logf("calls: %d of %d calls completed", sum.Completed, len(ready))
	var err error
	if sum.Completed != len(placed.calls) || sum.Place.Errors > 0 || sum.Turn.Errors > 0 {
		err = fmt.Errorf("%d of %d calls completed (%d place errors, %d not waiting, %d turn errors)",
			sum.Completed, n, sum.Place.Errors, sum.WaitTimeouts, sum.Turn.Errors)
	}
	return sum, errors.Join(waitErr, err)
}

// benchCall is one call of the run.
type benchCall struct {
	id        string
	posted    time.Time // POST /v1/calls sent
	waitingAt time.Time // the gather prompt stored (server clock)
	turn      time.Duration
}

type placeResult struct {
	stats APIStats
	calls []*benchCall
	start time.Time
}

// placeCalls places n calls to distinct +1 555 numbers from c closed-loop
// clients.
func placeCalls(ctx context.Context, a *api, n, c int, flowID string) placeResult {
	var next, done atomic.Int64
	var errs errorTally
	calls := make([]*benchCall, n)
	lats := make([]time.Duration, n)
	stop := callsProgress("place", "placed", n, &done, &errs)
	start := time.Now()
	// Distinct numbers: every call is a first contact, as an outbound
	// campaign would be.
	base := rand.IntN(9_000_000)
	var wg sync.WaitGroup
	for range min(c, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				body := fmt.Sprintf(`{"to":"+1555%07d","flow_id":%q}`, (base+i)%10_000_000, flowID)
				t0 := time.Now()
				var out struct {
					ID string `json:"id"`
				}
				err := a.doJSON(ctx, http.MethodPost, "/v1/calls", []byte(body), http.StatusCreated, &out)
				lats[i] = time.Since(t0)
				done.Add(1)
				if err != nil {
					errs.add(err)
					continue
				}
				calls[i] = &benchCall{id: out.ID, posted: t0}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	stop()
	var ok []*benchCall
	var okLats []time.Duration
	for i, bc := range calls {
		if bc != nil {
			ok = append(ok, bc)
			okLats = append(okLats, lats[i])
		}
	}
	return placeResult{stats: apiStats(int(done.Load()), okLats, &errs, elapsed, nil), calls: ok, start: start}
}

// waitGather polls each call's transcript until its gather prompt is
// stored. Latency comes from the transcript's timestamp, so the polling
// (16 clients, a sweep every 200 ms) only has to keep up, not be precise,
// and loads the server far less than a poll per call would.
func waitGather(ctx context.Context, a *api, calls []*benchCall, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	pending := calls
	var done atomic.Int64
	var errs errorTally
	stop := callsProgress("first turn", "waiting at the gather", len(calls), &done, &errs)
	defer stop()
	for len(pending) > 0 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d calls not waiting at the gather after %s", len(pending), timeout)
		}
		var mu sync.Mutex
		var still []*benchCall
		var next atomic.Int64
		var wg sync.WaitGroup
		for range min(16, len(pending)) {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= len(pending) || ctx.Err() != nil {
						return
					}
					bc := pending[i]
					at, err := a.gatherAt(ctx, bc.id)
					if err != nil {
						errs.add(err)
					}
					if at.IsZero() {
						mu.Lock()
						still = append(still, bc)
						mu.Unlock()
						continue
					}
					bc.waitingAt = at
					done.Add(1)
				}
			})
		}
		wg.Wait()
		pending = still
		if len(pending) > 0 {
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

// gatherAt returns when the call's gather prompt was stored, or zero.
func (a *api) gatherAt(ctx context.Context, id string) (time.Time, error) {
	var list struct {
		Data []struct {
			StepID    string    `json:"step_id"`
			CreatedAt time.Time `json:"created_at"`
		} `json:"data"`
	}
	if err := a.doJSON(ctx, http.MethodGet, "/v1/calls/"+id+"/transcript", nil, http.StatusOK, &list); err != nil {
		return time.Time{}, err
	}
	for _, e := range list.Data {
		if e.StepID == gatherStep {
			return e.CreatedAt, nil
		}
	}
	return time.Time{}, nil
}

// pressDigits sends every call's digit from c clients released together
// (start is closed when they go) and times each round trip.
func pressDigits(ctx context.Context, a *api, calls []*benchCall, c int, start chan struct{}) APIStats {
	var next, done atomic.Int64
	var errs errorTally
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for range min(c, len(calls)) {
		wg.Go(func() {
			<-gate
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(calls) {
					return
				}
				bc := calls[i]
				var out struct {
					Turn struct {
						Ended bool `json:"ended"`
					} `json:"turn"`
				}
				t0 := time.Now()
				err := a.doJSON(ctx, http.MethodPost, "/v1/sandbox/calls/"+bc.id+"/dtmf", []byte(`{"digits":"1"}`), http.StatusOK, &out)
				lat := time.Since(t0)
				done.Add(1)
				if err == nil && !out.Turn.Ended {
					err = errors.New("the turn did not end the flow")
				}
				if err != nil {
					errs.add(err)
					continue
				}
				bc.turn = lat
			}
		})
	}
	stop := callsProgress("dtmf", "turns answered", len(calls), &done, &errs)
	t0 := time.Now()
	close(gate)
	close(start)
	wg.Wait()
	elapsed := time.Since(t0)
	stop()
	var lats []time.Duration
	for _, bc := range calls {
		if bc.turn > 0 {
			lats = append(lats, bc.turn)
		}
	}
	return apiStats(int(done.Load()), lats, &errs, elapsed, nil)
}

// callsProgress prints a line a second to stderr until stop is called.
func callsProgress(label, what string, total int, done *atomic.Int64, errs *errorTally) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var last int64
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				d := done.Load()
				errs.mu.Lock()
				ne := errs.n
				errs.mu.Unlock()
				logf("%s: %d/%d %s, %d in the last second, %d errors", label, d, total, what, d-last, ne)
				last = d
			}
		}
	})
	return func() { close(quit); wg.Wait() }
}

// countCompleted reads every call back and counts the completed ones.
func countCompleted(ctx context.Context, a *api, calls []*benchCall) int {
	var next, n atomic.Int64
	var wg sync.WaitGroup
	for range min(16, len(calls)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(calls) {
					return
				}
				var call struct {
					Status string `json:"status"`
				}
				if a.doJSON(ctx, http.MethodGet, "/v1/calls/"+calls[i].id, nil, http.StatusOK, &call) == nil && call.Status == "completed" {
					n.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return int(n.Load())
}

// doJSON sends a JSON request and decodes the answer into out (if not
// nil), failing on any status but want.
func (a *api) doJSON(ctx context.Context, method, path string, body []byte, want int, out any) error {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		if len(b) > 200 {
			b = b[:200]
		}
		return fmt.Errorf("%s %s: HTTP %d: %s", method, strings.Split(path, "/")[2], resp.StatusCode, bytes.TrimSpace(b))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// memSample is the server's memory gauges at one moment.
type memSample struct {
	gc                                 bool
	heapInuse, heapAlloc, rss, gorouts float64
	redis                              float64
}

// memory reads the server's Go memory gauges from /metrics, after a GC
// when pprof is reachable (GET /debug/pprof/heap?gc=1 runs one), so live
// heap is compared with live heap rather than with garbage.
func (a *api) memory(ctx context.Context, pprofURL, saveAs string, rc *redisStats) memSample {
	var m memSample
	// Our idle keep-alive connections cost the server a goroutine and
	// buffers each (a thousand of them, with -c 1000): close them, so only
	// the calls are counted.
	a.hc.CloseIdleConnections()
	time.Sleep(500 * time.Millisecond)
	if pprofURL != "" {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(pprofURL, "/")+"/debug/pprof/heap?gc=1", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			m.gc = resp.StatusCode == http.StatusOK
			var dst io.Writer = io.Discard
			if f, err := os.Create(saveAs); saveAs != "" && m.gc && err == nil {
				defer f.Close()
				dst = f
				logf("pprof: heap profile saved to %s", saveAs)
			}
			io.Copy(dst, resp.Body)
			resp.Body.Close()
		}
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/metrics", nil)
	resp, err := a.hc.Do(req)
	if err != nil {
		return m
	}
	defer resp.Body.Close()
	gauges := map[string]*float64{
		"go_memstats_heap_inuse_bytes":  &m.heapInuse,
		"go_memstats_heap_alloc_bytes":  &m.heapAlloc,
		"process_resident_memory_bytes": &m.rss,
		"go_goroutines":                 &m.gorouts,
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if dst := gauges[name]; ok && dst != nil {
			*dst, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	if rc != nil {
		m.redis, _ = strconv.ParseFloat(rc.info(ctx, "memory", "used_memory"), 64)
	}
	return m
}

func memoryPerCall(a, b memSample, n int) Memory {
	m := Memory{ForcedGC: a.gc && b.gc, HeapInuseBefore: a.heapInuse, HeapInuseWaiting: b.heapInuse, HeapAllocBefore: a.heapAlloc,
		HeapAllocWaiting: b.heapAlloc, RSSBefore: a.rss, RSSWaiting: b.rss, GoroutinesBefore: a.gorouts, GoroutinesWaiting: b.gorouts,
		RedisBefore: a.redis, RedisWaiting: b.redis}
	if n > 0 {
		m.HeapPerCall = (b.heapAlloc - a.heapAlloc) / float64(n)
		m.RSSPerCall = (b.rss - a.rss) / float64(n)
		m.RedisPerCall = (b.redis - a.redis) / float64(n)
	}
	return m
}

// printCallsReport writes the calls-mode table.
func printCallsReport(w io.Writer, s *CallsSummary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string, args ...any) { fmt.Fprintf(tw, "  %s\t"+v+"\n", append([]any{k}, args...)...) }
	m := s.Machine
	fmt.Fprintf(tw, "\nSwitchboard voice benchmark  calls=%d  placing clients=%d  turn clients=%d  flow: say, gather | branch, say, hangup\n", s.Params.Calls, s.Params.C, s.Params.TurnC)
	fmt.Fprintf(tw, "machine: %d CPUs (%s), %.1f GiB, %s, %s; PostgreSQL %s; Redis %s\n",
		m.CPUs, m.CPUModel, m.MemoryGiB, m.OS, m.GoVersion, m.PostgreSQL, m.Redis)
	if s.Params.Build != "" {
		fmt.Fprintf(tw, "server build: %s\n", s.Params.Build)
	}
	if s.Params.TTS != "" {
		fmt.Fprintf(tw, "server TTS engine: %s\n", s.Params.TTS)
	}
	fmt.Fprintf(tw, "background load from other processes before the run: %.2f cores\n", m.BackgroundCores)

	p := s.Place
	fmt.Fprintf(tw, "\nPlacing calls (POST /v1/calls)\n")
	row("placed", "%d of %d in %.2f s = %.0f calls/s, %d errors", p.Accepted, p.Sent, p.Seconds, p.PerSec, p.Errors)
	row("latency", "%s", lat(p.Latency))
	printErrors(tw, p.ErrorKinds)
	fmt.Fprintf(tw, "\nFirst turn (dial task, ringing, answer, session, say + gather stored)\n")
	row("waiting at the gather", "%d of %d, all within %.2f s of the first POST = %.0f calls/s", s.Waiting, p.Accepted, s.WaitSeconds, s.CallsPerSec)
	row("POST → waiting", "%s", lat(s.ToWaiting))
	if s.WaitErrorKind != "" {
		row("error", "%s", s.WaitErrorKind)
	}
	t := s.Turn
	fmt.Fprintf(tw, "\nDTMF turn, %d clients released together (branch + say + hangup, stored before the answer)\n", s.Params.TurnC)
	row("turns", "%d of %d in %.2f s = %.0f turns/s, %d errors", t.Accepted, t.Sent, t.Seconds, t.PerSec, t.Errors)
	row("turn latency", "%s", lat(t.Latency))
	row("per step (turn / 3)", "%s", lat(s.TurnPerStep))
	row("calls completed", "%d", s.Completed)
	printErrors(tw, t.ErrorKinds)

	mm := s.Memory
	gc := "no forced GC: heap figures include garbage"
	if mm.ForcedGC {
		gc = "after a forced GC"
	}
	fmt.Fprintf(tw, "\nServer memory, before the calls → all %d waiting (%s)\n", s.Waiting, gc)
	row("Go heap alloc", "%.1f → %.1f MiB = %.0f B per call", mm.HeapAllocBefore/(1<<20), mm.HeapAllocWaiting/(1<<20), mm.HeapPerCall)
	row("Go heap in use", "%.1f → %.1f MiB", mm.HeapInuseBefore/(1<<20), mm.HeapInuseWaiting/(1<<20))
	row("RSS", "%.1f → %.1f MiB = %.0f B per call", mm.RSSBefore/(1<<20), mm.RSSWaiting/(1<<20), mm.RSSPerCall)
	row("goroutines", "%.0f → %.0f", mm.GoroutinesBefore, mm.GoroutinesWaiting)
	if mm.RedisBefore > 0 {
		row("Redis used_memory", "%.1f → %.1f MiB = %.0f B per call (timers, queued tasks)", mm.RedisBefore/(1<<20), mm.RedisWaiting/(1<<20), mm.RedisPerCall)
	}
	for _, r := range s.Resources {
		fmt.Fprintf(tw, "\nWhere the time goes: %s, %.2f s\n", r.Window, r.Seconds)
		row("CPU cores", "switchboard %.2f, postgres %.2f, pg-bg %.2f, redis %.2f, sbbench %.2f, other %.2f",
			r.CPUCores["switchboard"], r.CPUCores["postgres"], r.CPUCores["pg-bg"], r.CPUCores["redis"], r.CPUCores["sbbench"], r.CPUCores["other"])
		if r.PerMessageOf > 0 {
			row("per call", "%.2f ms stack CPU, %.1f PostgreSQL commits, %.1f WAL flushes, %d WAL bytes, %.1f Redis commands",
				r.StackCPUMsPerMsg, r.PGCommitsPerMsg, r.WALSyncsPerMsg, r.WALBytesPerMsg, r.RedisCmdsPerMsg)
		}
	}
	for _, p := range s.Profiles {
		fmt.Fprintf(tw, "\nCPU profile: %s\n", p)
	}
	tw.Flush()
}
