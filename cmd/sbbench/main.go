// Command sbbench is Switchboard's end-to-end load generator. It drives a
// running server (normally the one scripts/bench.sh starts on a dedicated
// PostgreSQL/Redis pair) and reports:
//
//   - phase 1, throughput: N messages from C keep-alive clients as fast as
//     the server accepts them; accepted msg/s and API latency;
//   - the delivery pipeline for those messages, read back from PostgreSQL
//     (accept→delivered, enqueue→pickup) and from a local webhook receiver
//     subscribed to message.delivered (webhooks received, accept→webhook);
//   - phase 2, latency: a fixed offered rate, open loop, so that slow
//     answers do not slow the offered load (no coordinated omission);
//   - a baseline: the same number of tasks through bare asynq on the same
//     Redis with a no-op handler, the ceiling the queue layer allows;
//   - where the CPU went (per process group, from /proc, plus a `top -b`
//     frame and, with -pprof, server CPU profiles) and how many PostgreSQL
//     commits, WAL fsyncs, Redis commands and context switches each
//     message cost.
//
// Progress goes to stderr; the report (a table, or JSON with -json) to
// stdout. -out FILE also writes the JSON summary to FILE.
//
// -mode calls is the voice benchmark instead (calls.go, run by
// scripts/bench-voice.sh): -calls sandbox calls through a 5-step flow,
// the first turn's latency, every caller's DTMF turn at once, and the
// server's memory per waiting call.
//
// -mode rtc is the browser-call benchmark (rtc.go, run by
// scripts/bench-rtc.sh): -calls pion PeerConnections through a bot flow,
// setup time, the server's audio pacing and loss, and CPU per call.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

type options struct {
	url, key        string
	n, c            int
	rate            int
	rateDuration    time.Duration
	rateWorkers     int
	from            string
	dbURL, redisURL string
	wait            time.Duration
	baseline        bool
	asJSON          bool
	out             string
	serverPID       int
	pgPID           int
	redisPID        int
	poll            time.Duration
	quietWait       time.Duration
	acceptOnly      bool
	top             bool
	build           string
	pprof           string
	pprofDir        string
	pprofSeconds    int
	mode            string        // messages (default) | calls | rtc
	calls           int           // calls and rtc modes: calls placed
	turnC           int           // calls mode: concurrent clients pressing digits (default -c)
	tts             string        // calls and rtc modes: the server's TTS engine, for the report
	ramp            float64       // rtc mode: calls started per second
	rtcDTMF         string        // rtc mode: datachannel | rfc4733
	rtcTone         float64       // rtc mode: the caller's tone in Hz (0: silence)
	rtcQuiet        time.Duration // rtc mode: silence that ends the first prompt
}

func main() {
	var o options
	flag.StringVar(&o.url, "url", "http://127.0.0.1:18090", "Switchboard base URL")
	flag.StringVar(&o.key, "key", os.Getenv("SB_KEY"), "API key (default $SB_KEY)")
	flag.IntVar(&o.n, "n", 20000, "messages in the throughput phase (and tasks in the asynq baseline)")
	flag.IntVar(&o.c, "c", 32, "concurrent clients in the throughput phase")
	flag.IntVar(&o.rate, "rate", 1000, "offered rate in the latency phase, msg/s (0 skips the phase)")
	flag.DurationVar(&o.rateDuration, "rate-duration", 10*time.Second, "length of the latency phase")
	flag.IntVar(&o.rateWorkers, "rate-workers", 256, "goroutines available to the latency phase's open-loop dispatcher")
	flag.StringVar(&o.from, "from", "+15005550000", "sender number")
	flag.StringVar(&o.dbURL, "db", os.Getenv("SWITCHBOARD_DATABASE_URL"), "PostgreSQL URL of the server's database (default $SWITCHBOARD_DATABASE_URL)")
	flag.StringVar(&o.redisURL, "redis", os.Getenv("SWITCHBOARD_REDIS_URL"), "Redis URL of the server's queue (default $SWITCHBOARD_REDIS_URL)")
	flag.DurationVar(&o.wait, "wait", 90*time.Second, "how long to wait for a phase's messages to be delivered and webhooked")
	flag.BoolVar(&o.baseline, "baseline", true, "run the bare-asynq baseline")
	flag.BoolVar(&o.asJSON, "json", false, "print the summary as JSON instead of a table")
	flag.StringVar(&o.out, "out", "", "also write the JSON summary to this file")
	flag.IntVar(&o.serverPID, "server-pid", 0, "switchboard process id, for the CPU split")
	flag.IntVar(&o.pgPID, "pg-pid", 0, "PostgreSQL postmaster id (its client backends count as postgres, other children as pg-bg), for the CPU split")
	flag.IntVar(&o.redisPID, "redis-pid", 0, "redis-server process id, for the CPU split")
	flag.DurationVar(&o.poll, "poll", 500*time.Millisecond, "how often to poll PostgreSQL while waiting for deliveries")
	flag.DurationVar(&o.quietWait, "quiet-wait", 20*time.Second, "wait up to this long for other processes to leave the CPUs idle before starting")
	flag.BoolVar(&o.acceptOnly, "accept-only", false, "the server runs --role api: measure accepting only, do not wait for deliveries")
	flag.BoolVar(&o.top, "top", true, "take a `top -b` snapshot (1 s) a quarter of the way into phase 1")
	flag.StringVar(&o.build, "build", "", "what server build is being measured (commit, working-tree state), for the report")
	flag.StringVar(&o.pprof, "pprof", "", "server's pprof base URL (SWITCHBOARD_PPROF_ADDR); when set, CPU profiles of phase 1's sending and of the drain are saved")
	flag.StringVar(&o.pprofDir, "pprof-dir", ".", "where to save CPU profiles")
	flag.IntVar(&o.pprofSeconds, "pprof-seconds", 4, "length of each CPU profile")
	flag.IntVar(&recipients, "recipients", recipients, "distinct recipient numbers (1 to 10000000); the default makes nearly every send a first contact")
	flag.StringVar(&o.mode, "mode", "messages", "messages: the messaging benchmark; calls: the voice benchmark (sandbox calls through a 5-step flow, see calls.go); rtc: the browser-call benchmark (see rtc.go)")
	flag.IntVar(&o.calls, "calls", 1000, "calls mode: sandbox calls placed (and concurrent turns); rtc mode: browser calls (default 200)")
	flag.IntVar(&o.turnC, "turn-c", 0, "calls mode: concurrent clients sending the digits (default: -c)")
	flag.StringVar(&o.tts, "tts", "", "calls and rtc modes: the server's TTS engine (SWITCHBOARD_TTS_ENGINE), for the report")
	flag.Float64Var(&o.ramp, "ramp", 50, "rtc mode: browser calls started per second (0: all at once)")
	flag.StringVar(&o.rtcDTMF, "rtc-dtmf", "datachannel", "rtc mode: how callers press their key: datachannel (the widget's \"dtmf\" channel) or rfc4733")
	flag.Float64Var(&o.rtcTone, "rtc-tone", 440, "rtc mode: the callers' microphone, a tone of this many Hz (0: digital silence)")
	flag.DurationVar(&o.rtcQuiet, "rtc-quiet", time.Second, "rtc mode: silence after which the first prompt counts as over and the caller presses 1")
	flag.Parse()
	if o.mode == "calls" {
		os.Exit(mainCalls(o))
	}
	if o.mode == "rtc" {
		os.Exit(mainRTC(o))
	}
	recipients = min(max(recipients, 1), 10_000_000)
	if o.key == "" || o.dbURL == "" || o.redisURL == "" {
		fmt.Fprintln(os.Stderr, "sbbench: -key, -db and -redis (or SB_KEY, SWITCHBOARD_DATABASE_URL, SWITCHBOARD_REDIS_URL) are required")
		os.Exit(2)
	}
	if o.n <= 0 || o.c <= 0 || o.rateWorkers <= 0 || o.rate < 0 {
		fmt.Fprintln(os.Stderr, "sbbench: -n, -c and -rate-workers must be positive, -rate not negative")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := run(ctx, o)
	if sum != nil {
		if o.out != "" {
			b, _ := json.MarshalIndent(sum, "", "  ")
			if werr := os.WriteFile(o.out, append(b, '\n'), 0o644); werr != nil {
				fmt.Fprintln(os.Stderr, "sbbench: write", o.out+":", werr)
			}
		}
		if o.asJSON {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			enc.Encode(sum)
		} else {
			printReport(os.Stdout, sum)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sbbench:", err)
		os.Exit(1)
	}
}

// mainCalls runs calls mode. -c defaults to -calls there: every caller
// presses its digit at once.
func mainCalls(o options) int {
	cSet := false
	flag.Visit(func(f *flag.Flag) { cSet = cSet || f.Name == "c" })
	if !cSet {
		o.c = o.calls
	}
	if o.turnC <= 0 {
		o.turnC = o.c
	}
	if o.key == "" || o.calls <= 0 || o.c <= 0 {
		fmt.Fprintln(os.Stderr, "sbbench: calls mode needs -key (or SB_KEY) and positive -calls and -c")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := runCalls(ctx, o)
	return report(o, sum, err, printCallsReport)
}

// report writes a mode's summary (JSON to -out; a table, or JSON with
// -json, to stdout) and turns err into the exit code.
func report[T any](o options, sum *T, err error, print func(io.Writer, *T)) int {
	if sum != nil {
		if o.out != "" {
			b, _ := json.MarshalIndent(sum, "", "  ")
			if werr := os.WriteFile(o.out, append(b, '\n'), 0o644); werr != nil {
				fmt.Fprintln(os.Stderr, "sbbench: write", o.out+":", werr)
			}
		}
		if o.asJSON {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			enc.Encode(sum)
		} else {
			print(os.Stdout, sum)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sbbench:", err)
		return 1
	}
	return 0
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s] "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}

// run does the phases in order. Each phase's deliveries are drained before
// the next starts, so the delivered rate of phase 1 is not diluted by phase
// 2's traffic and phase 2's API latency is measured with the pipeline
// busy at that rate rather than draining a burst backlog.
func run(ctx context.Context, o options) (*Summary, error) {
	sum := &Summary{Params: Params{N: o.n, C: o.c, Rate: o.rate, RateSeconds: o.rateDuration.Seconds(), URL: o.url, AcceptOnly: o.acceptOnly, Build: o.build}}
	sum.Machine = machineInfo()
	sum.Goals = goals

	db, err := pgx.Connect(ctx, o.dbURL)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer db.Close(context.Background())
	sum.Machine.PostgreSQL = pgVersion(ctx, db)
	rc, err := newRedisStats(o.redisURL)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	sum.Machine.Redis = rc.version(ctx)

	recv, err := startReceiver()
	if err != nil {
		return nil, err
	}
	defer recv.Close()
	api := newAPI(o.url, o.key, max(o.c, o.rateWorkers))
	if err := api.ready(ctx, 30*time.Second); err != nil {
		return nil, err
	}
	epID, err := api.createEndpoint(ctx, recv.URL())
	if err != nil {
		return nil, fmt.Errorf("register webhook endpoint: %w", err)
	}
	logf("webhook receiver %s registered as endpoint %s for message.delivered", recv.URL(), epID)
	pipe := &pipeline{db: db, recv: recv, api: api, poll: o.poll}
	if err := pipe.checkClean(ctx); err != nil {
		return nil, err
	}
	procs := procGroups{self: os.Getpid(), server: o.serverPID, pg: o.pgPID, redis: o.redisPID}
	sum.Machine.BackgroundCores = waitQuiet(ctx, procs, o.quietWait)
	var waitErrs []error

	// Phase 1: throughput.
	logf("phase 1: %d messages from %d concurrent clients, as fast as accepted", o.n, o.c)
	topDone := make(chan string, 1)
	quarter := make(chan struct{})
	go func() { topDone <- topSnapshot(ctx, o.top, quarter) }()
	profDone := make(chan string, 1)
	go func() {
		select {
		case <-quarter:
			profDone <- cpuProfile(ctx, o, "cpu-phase1-accept.pprof")
		case <-ctx.Done():
			profDone <- ""
		}
	}()
	before := snapshot(ctx, procs, db, rc, api)
	p1 := runThroughput(ctx, api, o.n, o.c, o.from, quarter)
	afterSend := snapshot(ctx, procs, db, rc, api)
	sum.Throughput = p1.stats
	sum.Top = <-topDone
	if p := <-profDone; p != "" {
		sum.Profiles = append(sum.Profiles, p)
	}
	sum.Resources = append(sum.Resources, resources("phase 1: API sending window", before, afterSend, p1.stats.Accepted, 0))
	logf("phase 1: %d accepted in %.2fs = %.0f msg/s (p50 %.1f ms, p99 %.1f ms, %d errors)",
		p1.stats.Accepted, p1.stats.Seconds, p1.stats.PerSec, p1.stats.Latency.P50, p1.stats.Latency.P99, p1.stats.Errors)
	if ctx.Err() != nil {
		return sum, ctx.Err()
	}
	if !o.acceptOnly {
		drainProf := make(chan string, 1)
		go func() { drainProf <- cpuProfile(ctx, o, "cpu-phase1-drain.pprof") }()
		perr := pipe.waitDone(ctx, "phase 1", o.wait)
		if p := <-drainProf; p != "" {
			sum.Profiles = append(sum.Profiles, p)
		}
		if perr != nil {
			waitErrs = append(waitErrs, perr)
		}
		afterDrain := snapshot(ctx, procs, db, rc, api)
		ps, err := pipe.stats(ctx, p1.ids, before.metrics, afterDrain.metrics)
		if err != nil {
			return sum, err
		}
		ps.WaitError = errString(perr)
		sum.ThroughputPipeline = &ps
		sum.Resources = append(sum.Resources, resources("phase 1: first request → last webhook", before, afterDrain, p1.stats.Accepted, ps.Delivered))
		logf("phase 1 pipeline: %d delivered, %.0f delivered msg/s, %.0f msg/s incl. webhooks, accept→delivered p99 %.0f ms",
			ps.Delivered, ps.DeliveredPerSec, ps.WebhookedPerSec, ps.AcceptToDelivered.P99)
	}

	// Phase 2: latency at a fixed offered rate.
	if o.rate > 0 && ctx.Err() == nil {
		waitQuiet(ctx, procs, o.quietWait)
		total := int(float64(o.rate) * o.rateDuration.Seconds())
		logf("phase 2: %d msg/s offered for %s (%d messages), open loop, up to %d in flight", o.rate, o.rateDuration, total, o.rateWorkers)
		b2 := snapshot(ctx, procs, db, rc, api)
		p2 := runFixedRate(ctx, api, o.rate, total, o.rateWorkers, o.from)
		a2send := snapshot(ctx, procs, db, rc, api)
		sum.FixedRate = &p2.stats
		sum.Resources = append(sum.Resources, resources(fmt.Sprintf("phase 2: API sending window (%d msg/s)", o.rate), b2, a2send, p2.stats.Accepted, 0))
		logf("phase 2: %d accepted at %.0f msg/s achieved (p50 %.1f ms, p99 %.1f ms, %d errors)",
			p2.stats.Accepted, p2.stats.PerSec, p2.stats.Latency.P50, p2.stats.Latency.P99, p2.stats.Errors)
		if !o.acceptOnly {
			perr := pipe.waitDone(ctx, "phase 2", o.wait)
			if perr != nil {
				waitErrs = append(waitErrs, perr)
			}
			a2 := snapshot(ctx, procs, db, rc, api)
			ps, err := pipe.stats(ctx, p2.ids, b2.metrics, a2.metrics)
			if err != nil {
				return sum, err
			}
			ps.WaitError = errString(perr)
			sum.FixedRatePipeline = &ps
			sum.Resources = append(sum.Resources, resources("phase 2: first request → last webhook", b2, a2, p2.stats.Accepted, ps.Delivered))
		}
	}

	// Baseline: bare asynq on the same Redis.
	if o.baseline && ctx.Err() == nil {
		waitQuiet(ctx, procs, o.quietWait)
		logf("baseline: %d no-op tasks through bare asynq (queue %q), %d enqueuers, server concurrency 64", o.n, baselineQueue, o.c)
		bb := snapshot(ctx, procs, db, rc, api)
		bl, err := runBaseline(ctx, o.redisURL, o.n, o.c)
		ba := snapshot(ctx, procs, db, rc, api)
		if bl == nil {
			return sum, fmt.Errorf("baseline: %w", err)
		}
		if err != nil {
			waitErrs = append(waitErrs, fmt.Errorf("baseline: %w", err))
		}
		sum.Baseline = bl
		sum.Resources = append(sum.Resources, resources("baseline: bare asynq", bb, ba, bl.Processed, 0))
		logf("baseline: enqueued %.0f/s, processed %.0f/s, pickup p99 %.1f ms", bl.EnqueuedPerSec, bl.ProcessedPerSec, bl.Pickup.P99)
		if bl.ProcessedPerSec > 0 && sum.ThroughputPipeline != nil {
			sum.Ratios.DeliveredVsAsynqProcessed = sum.ThroughputPipeline.DeliveredPerSec / bl.ProcessedPerSec
		}
		if bl.EnqueuedPerSec > 0 {
			sum.Ratios.AcceptedVsAsynqEnqueued = sum.Throughput.PerSec / bl.EnqueuedPerSec
		}
	}
	sum.Verdicts = judge(sum)
	if ctx.Err() != nil {
		return sum, ctx.Err()
	}
	return sum, errors.Join(waitErrs...)
}

// cpuProfile saves a CPU profile of the server and returns its path, or ""
// when profiling is off or fails.
func cpuProfile(ctx context.Context, o options, name string) string {
	if o.pprof == "" {
		return ""
	}
	url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", strings.TrimRight(o.pprof, "/"), o.pprofSeconds)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		logf("pprof: %v", err)
		return ""
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		logf("pprof: %s: HTTP %d", url, resp.StatusCode)
		return ""
	}
	path := filepath.Join(o.pprofDir, name)
	f, err := os.Create(path)
	if err != nil {
		logf("pprof: %v", err)
		return ""
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		logf("pprof: %v", err)
		return ""
	}
	logf("pprof: %ds CPU profile saved to %s", o.pprofSeconds, path)
	return path
}

// topSnapshot runs `top -b` once a quarter of phase 1 is sent and returns
// its second frame (the first covers time since boot), trimmed to the
// busiest processes: the per-process CPU split a person would see.
func topSnapshot(ctx context.Context, enabled bool, start <-chan struct{}) string {
	if !enabled {
		return ""
	}
	select {
	case <-ctx.Done():
		return ""
	case <-start:
	}
	out, err := exec.CommandContext(ctx, "top", "-b", "-n", "2", "-d", "1", "-w", "160").Output()
	if err != nil {
		return ""
	}
	s := string(out)
	if i := strings.LastIndex(s, "\ntop - "); i >= 0 {
		s = s[i+1:]
	}
	lines := strings.Split(s, "\n")
	return strings.Join(lines[:min(len(lines), 20)], "\n")
}

// waitQuiet waits up to limit for the rest of the machine to use less than
// a quarter of a core, so other people's builds do not skew the run; it
// returns the last background load seen, which the report shows.
func waitQuiet(ctx context.Context, g procGroups, limit time.Duration) float64 {
	deadline := time.Now().Add(limit)
	for {
		bg := backgroundLoad(g, time.Second)
		if bg < 0.25 || time.Now().After(deadline) || ctx.Err() != nil {
			if bg >= 0.25 {
				logf("warning: other processes keep %.2f cores busy; results will be skewed", bg)
			}
			return bg
		}
		logf("other processes keep %.2f cores busy; waiting for a quiet machine", bg)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

var errTimeout = errors.New("timed out waiting for deliveries")
