package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Summary is everything one run measured; -json prints it as is.
type Summary struct {
	Params             Params         `json:"params"`
	Machine            Machine        `json:"machine"`
	Throughput         APIStats       `json:"throughput"`
	ThroughputPipeline *PipelineStats `json:"throughput_pipeline,omitempty"`
	FixedRate          *APIStats      `json:"fixed_rate,omitempty"`
	FixedRatePipeline  *PipelineStats `json:"fixed_rate_pipeline,omitempty"`
	Baseline           *BaselineStats `json:"baseline,omitempty"`
	Ratios             Ratios         `json:"ratios"`
	Resources          []Resources    `json:"resources"`
	Goals              []Goal         `json:"goals"`
	Verdicts           []Verdict      `json:"verdicts"`
	// Top is a `top -b` frame taken during phase 1.
	Top string `json:"top_during_phase1,omitempty"`
	// Profiles are the server CPU profiles saved (with -pprof).
	Profiles []string `json:"cpu_profiles,omitempty"`
}

type Params struct {
	N           int     `json:"n"`
	C           int     `json:"c"`
	Rate        int     `json:"rate"`
	RateSeconds float64 `json:"rate_seconds"`
	URL         string  `json:"url"`
	AcceptOnly  bool    `json:"accept_only,omitempty"`
	Build       string  `json:"build,omitempty"`
}

type Machine struct {
	CPUs       int     `json:"cpus"`
	CPUModel   string  `json:"cpu_model"`
	MemoryGiB  float64 `json:"memory_gib"`
	OS         string  `json:"os"`
	GoVersion  string  `json:"go_version"`
	PostgreSQL string  `json:"postgresql"`
	Redis      string  `json:"redis"`
	// BackgroundCores is what other processes on the machine used, in
	// cores, just before phase 1 (other engineers' builds and tests).
	BackgroundCores float64 `json:"background_cores_before_start"`
}

// Latency is a distribution in milliseconds.
type Latency struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

type APIStats struct {
	Sent          int            `json:"sent"`
	Accepted      int            `json:"accepted"`
	Errors        int            `json:"errors"`
	ErrorKinds    map[string]int `json:"error_kinds,omitempty"`
	Seconds       float64        `json:"seconds"`
	PerSec        float64        `json:"accepted_per_sec"`
	OfferedPerSec float64        `json:"offered_per_sec,omitempty"`
	// Latency is from the request's start; in the fixed-rate phase from
	// its scheduled start (so queueing in the client counts).
	Latency        Latency  `json:"latency"`
	ServiceLatency *Latency `json:"service_latency,omitempty"`
}

type PipelineStats struct {
	Messages          int            `json:"messages"`
	Delivered         int            `json:"delivered"`
	Failed            int            `json:"failed"`
	DeliverySeconds   float64        `json:"delivery_seconds"`
	DeliveredPerSec   float64        `json:"delivered_per_sec"`
	WebhookSeconds    float64        `json:"webhook_seconds"`
	WebhookedPerSec   float64        `json:"delivered_and_webhooked_per_sec"`
	AcceptToDelivered Latency        `json:"accept_to_delivered"`
	AcceptToWebhook   Latency        `json:"accept_to_webhook"`
	EnqueueToPickup   Latency        `json:"enqueue_to_pickup"`
	QueuedEvents      int            `json:"queued_events"`
	AcceptToPickup    Latency        `json:"accept_to_pickup"`
	ServerPickup      *BucketSummary `json:"server_pickup_histogram,omitempty"`
	WebhooksReceived  int            `json:"webhooks_received"`
	WebhooksExpected  int            `json:"webhooks_expected"`
	// Sweeper re-enqueues during the window (switchboard_swept_total): a
	// message queued longer than SWITCHBOARD_SWEEP_GRACE gets a second task.
	SweptMessages int `json:"swept_messages"`
	SweptWebhooks int `json:"swept_webhooks"`
	// Receiver totals so far (all phases): requests, repeated webhook-ids.
	ReceiverRequestsTotal int    `json:"receiver_requests_total"`
	ReceiverDuplicates    int    `json:"receiver_duplicates"`
	ReceiverUnparsed      int    `json:"receiver_unparsed"`
	WaitError             string `json:"wait_error,omitempty"`
}

// BucketSummary is read from a Prometheus histogram: each quantile is the
// upper bound of the bucket it falls in (-1: beyond the last bucket).
type BucketSummary struct {
	Count       int     `json:"count"`
	P50AtMostMs float64 `json:"p50_at_most_ms"`
	P99AtMostMs float64 `json:"p99_at_most_ms"`
}

type BaselineStats struct {
	Tasks           int     `json:"tasks"`
	Enqueued        int     `json:"enqueued"`
	EnqueueErrors   int     `json:"enqueue_errors"`
	Processed       int     `json:"processed"`
	EnqueueSeconds  float64 `json:"enqueue_seconds"`
	EnqueuedPerSec  float64 `json:"enqueued_per_sec"`
	ProcessSeconds  float64 `json:"process_seconds"`
	ProcessedPerSec float64 `json:"processed_per_sec"`
	Pickup          Latency `json:"pickup"`
}

type Ratios struct {
	DeliveredVsAsynqProcessed float64 `json:"delivered_per_sec_vs_asynq_processed_per_sec"`
	AcceptedVsAsynqEnqueued   float64 `json:"accepted_per_sec_vs_asynq_enqueued_per_sec"`
}

type Resources struct {
	Window  string  `json:"window"`
	Seconds float64 `json:"seconds"`
	// CPUCores is CPU time per process group over the window divided by
	// its length: 1.0 is one core busy all the time.
	CPUCores map[string]float64 `json:"cpu_cores"`
	// SysShare is the part of each group's CPU time spent in the kernel.
	SysShare        map[string]float64 `json:"sys_share"`
	MachineBusyPct  float64            `json:"machine_busy_pct"`
	PerMessageOf    int                `json:"per_message_of"`
	PGCommits       int64              `json:"pg_commits"`
	PGCommitsPerSec float64            `json:"pg_commits_per_sec"`
	PGCommitsPerMsg float64            `json:"pg_commits_per_msg"`
	WALSyncs        int64              `json:"wal_syncs"`
	WALSyncsPerSec  float64            `json:"wal_syncs_per_sec"`
	WALSyncsPerMsg  float64            `json:"wal_syncs_per_msg"`
	WALBytes        int64              `json:"wal_bytes"`
	WALBytesPerMsg  int64              `json:"wal_bytes_per_msg"`
	RedisCommands   int64              `json:"redis_commands"`
	RedisCmdsPerSec float64            `json:"redis_cmds_per_sec"`
	RedisCmdsPerMsg float64            `json:"redis_cmds_per_msg"`
	// StackCPUMsPerMsg is switchboard + postgres + redis CPU time per message.
	StackCPUMsPerMsg float64 `json:"stack_cpu_ms_per_msg"`
	// CtxSwitchesPerMsg is the machine's context switches per message.
	CtxSwitchesPerMsg float64 `json:"ctx_switches_per_msg"`
	// Disturbed: other processes used a quarter of a core or more.
	Disturbed bool `json:"disturbed"`
}

// Goal is a target from the performance issue.
type Goal struct {
	Name           string  `json:"name"`
	Target         float64 `json:"target"`
	Unit           string  `json:"unit"`
	HigherIsBetter bool    `json:"higher_is_better"`
}

type Verdict struct {
	Goal     string  `json:"goal"`
	Target   float64 `json:"target"`
	Measured float64 `json:"measured"`
	Unit     string  `json:"unit"`
	Met      bool    `json:"met"`
	Detail   string  `json:"detail"`
	Source   string  `json:"source"`
}

var goals = []Goal{
	{Name: "accepted msg/s (fsync on)", Target: 8000, Unit: "msg/s", HigherIsBetter: true},
	{Name: "API p99 at 1,000 msg/s", Target: 50, Unit: "ms"},
	{Name: "queue pickup p99", Target: 50, Unit: "ms"},
	{Name: "delivered msg/s incl. status webhooks", Target: 3000, Unit: "msg/s", HigherIsBetter: true},
}

func summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	q := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return ms(s[max(0, min(i, len(s)-1))])
	}
	return Latency{Count: len(s), Mean: ms(sum / time.Duration(len(s))), P50: q(0.50), P90: q(0.90), P99: q(0.99), Max: ms(s[len(s)-1])}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

func judge(s *Summary) []Verdict {
	var out []Verdict
	windows := map[int]string{0: "phase 1: API sending window", 1: "phase 2: API sending window",
		2: "phase 2: first request", 3: "phase 1: first request"}
	add := func(g Goal, measured float64, ok bool, source string) {
		for _, r := range s.Resources {
			if w, found := windows[len(out)]; found && strings.HasPrefix(r.Window, w) && r.Disturbed {
				source += fmt.Sprintf(" — DISTURBED: other processes used %.2f cores", r.CPUCores["other"])
			}
		}
		v := Verdict{Goal: g.Name, Target: g.Target, Unit: g.Unit, Measured: math.Round(measured*10) / 10, Source: source}
		if !ok {
			v.Detail = "not measured"
			out = append(out, v)
			return
		}
		if g.HigherIsBetter {
			v.Met = measured >= g.Target
			if v.Met {
				v.Detail = fmt.Sprintf("met (%.0f%% above)", 100*(measured/g.Target-1))
			} else if measured > 0 {
				v.Detail = fmt.Sprintf("MISSED by %.0f%% (needs %.1f× more)", 100*(1-measured/g.Target), g.Target/measured)
			} else {
				v.Detail = "MISSED"
			}
		} else {
			v.Met = measured <= g.Target
			if v.Met {
				v.Detail = fmt.Sprintf("met (%.0f%% of the budget)", 100*measured/g.Target)
			} else {
				v.Detail = fmt.Sprintf("MISSED by %.1f ms (%.1f× the budget)", measured-g.Target, measured/g.Target)
			}
		}
		out = append(out, v)
	}
	add(goals[0], s.Throughput.PerSec, s.Throughput.Accepted > 0, "phase 1, closed loop")
	if s.FixedRate != nil {
		src := fmt.Sprintf("phase 2 at %.0f msg/s offered, latency from scheduled send", s.FixedRate.OfferedPerSec)
		if s.Params.Rate != 1000 {
			src += " (NOTE: goal is at 1,000 msg/s)"
		}
		add(goals[1], s.FixedRate.Latency.P99, s.FixedRate.Accepted > 0, src)
	} else {
		add(goals[1], 0, false, "phase 2 skipped")
	}
	switch {
	case s.Params.AcceptOnly:
		add(goals[2], 0, false, "accept-only run")
	case s.FixedRatePipeline != nil:
		add(goals[2], s.FixedRatePipeline.EnqueueToPickup.P99, s.FixedRatePipeline.EnqueueToPickup.Count > 0,
			"phase 2, queued→sending events in PostgreSQL")
	default:
		add(goals[2], s.ThroughputPipeline.EnqueueToPickup.P99, s.ThroughputPipeline.EnqueueToPickup.Count > 0,
			"phase 1 (burst), queued→sending events in PostgreSQL")
	}
	if s.ThroughputPipeline != nil {
		add(goals[3], s.ThroughputPipeline.WebhookedPerSec, s.ThroughputPipeline.WebhooksReceived > 0,
			"phase 1, first accept → last delivered webhook received")
	} else {
		add(goals[3], 0, false, "accept-only run")
	}
	return out
}

func lat(l Latency) string {
	if l.Count == 0 {
		return "—"
	}
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s  (n=%d)", num(l.P50), num(l.P90), num(l.P99), num(l.Max), l.Count)
}

func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func printReport(w io.Writer, s *Summary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string, args ...any) { fmt.Fprintf(tw, "  %s\t"+v+"\n", append([]any{k}, args...)...) }
	m := s.Machine
	fmt.Fprintf(tw, "\nSwitchboard benchmark  N=%d  C=%d  RATE=%d msg/s for %.0fs\n", s.Params.N, s.Params.C, s.Params.Rate, s.Params.RateSeconds)
	fmt.Fprintf(tw, "machine: %d CPUs (%s), %.1f GiB, %s, %s; PostgreSQL %s; Redis %s\n",
		m.CPUs, m.CPUModel, m.MemoryGiB, m.OS, m.GoVersion, m.PostgreSQL, m.Redis)
	if s.Params.Build != "" {
		fmt.Fprintf(tw, "server build: %s\n", s.Params.Build)
	}
	fmt.Fprintf(tw, "background load from other processes before the run: %.2f cores\n", m.BackgroundCores)

	t := s.Throughput
	fmt.Fprintf(tw, "\nPhase 1 — throughput (%d clients, closed loop, keep-alive)\n", s.Params.C)
	row("accepted", "%d of %d in %.2f s, %d errors", t.Accepted, t.Sent, t.Seconds, t.Errors)
	row("accepted msg/s", "%.0f", t.PerSec)
	row("API latency ms", "%s", lat(t.Latency))
	printErrors(tw, t.ErrorKinds)
	if s.ThroughputPipeline != nil {
		printPipeline(tw, "phase-1", *s.ThroughputPipeline)
	} else {
		fmt.Fprintf(tw, "  (accept-only: the server ran --role api; nothing was delivered)\n")
	}

	if f := s.FixedRate; f != nil {
		fmt.Fprintf(tw, "\nPhase 2 — fixed rate (%.0f msg/s offered, open loop)\n", f.OfferedPerSec)
		row("accepted", "%d of %d in %.2f s (%.0f msg/s achieved), %d errors", f.Accepted, f.Sent, f.Seconds, f.PerSec, f.Errors)
		row("API latency ms", "%s", lat(f.Latency))
		if f.ServiceLatency != nil {
			row("  (service time)", "%s", lat(*f.ServiceLatency))
		}
		printErrors(tw, f.ErrorKinds)
		if s.FixedRatePipeline != nil {
			printPipeline(tw, "phase-2", *s.FixedRatePipeline)
		}
	}

	if b := s.Baseline; b != nil {
		fmt.Fprintf(tw, "\nBaseline — bare asynq, same Redis, queue %q, no-op handler (concurrency 64)\n", baselineQueue)
		row("tasks", "%d enqueued (%d errors), %d processed", b.Enqueued, b.EnqueueErrors, b.Processed)
		row("enqueued/s", "%.0f  (%d enqueuers, %.2f s)", b.EnqueuedPerSec, s.Params.C, b.EnqueueSeconds)
		row("processed/s", "%.0f  (first enqueue → last processed, %.2f s)", b.ProcessedPerSec, b.ProcessSeconds)
		row("pickup ms", "%s", lat(b.Pickup))
		if s.ThroughputPipeline != nil {
			row("Switchboard delivered/s ÷ asynq processed/s", "%.3f", s.Ratios.DeliveredVsAsynqProcessed)
		}
		row("Switchboard accepted/s ÷ asynq enqueued/s", "%.3f", s.Ratios.AcceptedVsAsynqEnqueued)
	}

	if len(s.Resources) > 0 {
		fmt.Fprintf(tw, "\nWhere the time goes — CPU in cores (1.00 = one core busy), %d CPUs on the machine\n", m.CPUs)
		groups := []string{"switchboard", "postgres", "pg-bg", "redis", "sbbench", "other"}
		fmt.Fprintf(tw, "  window\tsecs\t%s\tkernel share sb/pg\tmachine busy\tstack CPU ms/msg\tPG commits/s\tcommits/msg\tWAL fsyncs/s\tWAL B/msg\tRedis cmds/msg\tctx switches/msg\n", strings.Join(groups, "\t"))
		for _, r := range s.Resources {
			var cells []string
			for _, g := range groups {
				cells = append(cells, fmt.Sprintf("%.2f", r.CPUCores[g]))
			}
			syncs := "n/a"
			if r.WALSyncs >= 0 {
				syncs = fmt.Sprintf("%.0f", r.WALSyncsPerSec)
			}
			window := r.Window
			if r.Disturbed {
				window += " (!)"
			}
			fmt.Fprintf(tw, "  %s\t%.1f\t%s\t%.0f%%/%.0f%%\t%.0f%%\t%.2f\t%.0f\t%.2f\t%s\t%d\t%.1f\t%.0f\n", window, r.Seconds, strings.Join(cells, "\t"),
				100*r.SysShare["switchboard"], 100*r.SysShare["postgres"], r.MachineBusyPct, r.StackCPUMsPerMsg, r.PGCommitsPerSec, r.PGCommitsPerMsg, syncs, r.WALBytesPerMsg, r.RedisCmdsPerMsg, r.CtxSwitchesPerMsg)
		}
		fmt.Fprintf(tw, "  (per-message costs divide by the messages the window delivered, or by those it accepted for the sending-only windows;\n"+
			"   PG commits count every transaction, read-only autocommit SELECTs included; WAL fsyncs are the durable flushes;\n"+
			"   postgres: backends serving connections; pg-bg: postmaster, WAL writer, checkpointer, autovacuum;\n"+
			"   processes that exit between two samples, such as short autovacuum workers, are not counted;\n"+
			"   (!): other processes on the machine took ≥ %.2f cores during the window: its numbers are disturbed)\n", disturbedCores)
	}

	tw.Flush()
	if s.Top != "" {
		fmt.Fprintf(w, "\ntop -b during phase 1 (second frame):\n")
		for line := range strings.SplitSeq(s.Top, "\n") {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}

	fmt.Fprintf(tw, "\nGoals\n  goal\ttarget\tmeasured\tverdict\tsource\n")
	for _, v := range s.Verdicts {
		cmp := "≥"
		if v.Unit == "ms" {
			cmp = "≤"
		}
		fmt.Fprintf(tw, "  %s\t%s %s %s\t%s %s\t%s\t%s\n", v.Goal, cmp, num(v.Target), v.Unit, num(v.Measured), v.Unit, v.Detail, v.Source)
	}
	tw.Flush()
	fmt.Fprintln(w)
}

func printErrors(tw io.Writer, kinds map[string]int) {
	for k, n := range kinds {
		fmt.Fprintf(tw, "  error ×%d\t%s\n", n, k)
	}
}

func printPipeline(tw io.Writer, name string, p PipelineStats) {
	row := func(k, v string, args ...any) { fmt.Fprintf(tw, "  %s\t"+v+"\n", append([]any{k}, args...)...) }
	fmt.Fprintf(tw, "  — delivery of the %s messages (from message_events in PostgreSQL and the webhook receiver)\n", name)
	row("delivered", "%d of %d (%d failed/undelivered)", p.Delivered, p.Messages, p.Failed)
	row("delivered msg/s", "%.0f  (first accepted → last delivered, %.2f s)", p.DeliveredPerSec, p.DeliverySeconds)
	row("delivered+webhooked msg/s", "%.0f  (first accepted → last webhook received, %.2f s)", p.WebhookedPerSec, p.WebhookSeconds)
	row("accept→delivered ms", "%s", lat(p.AcceptToDelivered))
	row("accept→webhook ms", "%s", lat(p.AcceptToWebhook))
	row("enqueue→pickup ms", "%s  (queued→sending events)", lat(p.EnqueueToPickup))
	row("accept→pickup ms", "%s  (accepted→sending)", lat(p.AcceptToPickup))
	if h := p.ServerPickup; h != nil {
		row("server pickup histogram", "p50 ≤ %s ms, p99 ≤ %s ms (n=%d; switchboard_queue_pickup_seconds, bucket bounds)", bound(h.P50AtMostMs), bound(h.P99AtMostMs), h.Count)
	}
	row("webhooks", "%d received / %d expected (receiver so far: %d requests, %d repeated webhook-ids)",
		p.WebhooksReceived, p.WebhooksExpected, p.ReceiverRequestsTotal, p.ReceiverDuplicates)
	row("sweeper re-enqueues", "%d messages, %d webhooks (tasks older than the sweep grace got a second task)", p.SweptMessages, p.SweptWebhooks)
	if p.WaitError != "" {
		row("WAIT", "%s", p.WaitError)
	}
}

func bound(v float64) string {
	if v < 0 {
		return "∞ (beyond 16 s)"
	}
	return num(v)
}
