package main

// RTC mode (sbbench -mode rtc): the browser-call benchmark, run by
// scripts/bench-rtc.sh. It uploads a flow (a prompt of about 13 s, a
// one-key gather, a second prompt on "1", hangup), connects a webrtc
// channel whose sender answers with it, mints one browser token per call
// and then opens -calls pion PeerConnections at -ramp calls/s, each the way
// the widget does it: a microphone track (a paced G.711 tone), a "dtmf"
// data channel, a non-trickle offer POSTed to /v1/rtc/calls. Every call
// measures its setup (POST → answer → ICE connected → DTLS connected →
// first prompt packet), every packet of the server's audio (sequence gaps,
// lateness against the 20 ms grid, RFC 3550 jitter, whether the payload
// carries sound), presses 1 once the first prompt has been quiet for
// -rtc-quiet, checks that the second prompt arrives and that the server
// ends the call, and reads the call back through the API (completed).
// Server CPU and RSS come from /proc/<server pid>; the CPU per call is
// taken over the steady phase, when every call is up and still hearing
// its first prompt.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"

	sbrtc "github.com/switchboardhq/switchboard/providers/webrtc"
)

// rtcFlow is the bot every call talks to. The first prompt is long enough
// that, at the default ramp, all 200 calls hear it at the same time for
// several seconds: that is the steady phase the CPU per call is taken over.
const rtcFlow = `{"name":"sbbench: browser call","steps":[
{"id":"welcome","type":"say","text":"Welcome to the Switchboard browser call benchmark. This first prompt runs for several seconds, so that every call in the test is receiving audio at the same time. Please listen to the menu that follows."},
{"id":"menu","type":"gather","prompt":"Press 1 to continue.","max_digits":1,"timeout":"20s","save_as":"choice","no_input":"bye"},
{"id":"route","type":"branch","on":"{{choice}}","cases":[{"equals":"1","next":"thanks"}],"default":"bye"},
{"id":"thanks","type":"say","text":"You pressed one. Thank you for calling, goodbye."},
{"id":"bye","type":"hangup"}]}`

const (
	rtcFrame        = 20 * time.Millisecond
	rtcFrameSamples = 160 // 20 ms at 8 kHz
	rtcSampleUS     = 125 // one 8 kHz sample in µs
	ptPCMU          = 0
	ptPCMA          = 8
	ptEvent         = 101
	// rtcVoiced is the peak level (of 32767) above which a packet counts
	// as sound: about −36 dBFS, far above G.711's idle codes.
	rtcVoiced = 500
	// rtcAudible is how many sounding packets (0.2 s) make a prompt audible.
	rtcAudible = 10
	// rtcGap is an inter-arrival gap that is a hole in the audio.
	rtcGap = 60 * time.Millisecond
	// rtcSubSlots spreads the microphones over the 20 ms frame, as
	// independent browsers would be, instead of 200 packets in one burst.
	rtcSubSlots = 4
)

// RTCSummary is the report of rtc mode; -json prints it as is.
type RTCSummary struct {
	Params   RTCParams    `json:"params"`
	Machine  Machine      `json:"machine"`
	FlowID   string       `json:"flow_id"`
	Address  string       `json:"address"`
	Calls    RTCCounts    `json:"calls"`
	Setup    RTCSetup     `json:"setup"`
	Turn     Latency      `json:"digit_to_second_prompt_ms"`
	EndSeen  Latency      `json:"last_packet_to_end_seen_ms"`
	Audio    RTCAudio     `json:"audio"`
	Jitter   RTCJitter    `json:"jitter"`
	Mic      RTCMicStats  `json:"caller_audio"`
	CPU      RTCCPU       `json:"cpu"`
	Timeline []RTCTick    `json:"timeline"`
	Resource []Resources  `json:"resources,omitempty"`
	Verdicts []Verdict    `json:"verdicts"`
	Failures []RTCFailure `json:"failures,omitempty"`
}

// RTCParams are the run's parameters.
type RTCParams struct {
	Calls   int     `json:"calls"`
	Ramp    float64 `json:"ramp_per_sec"`
	DTMF    string  `json:"dtmf"`
	ToneHz  float64 `json:"caller_tone_hz"`
	QuietMS float64 `json:"quiet_ms"`
	URL     string  `json:"url"`
	Build   string  `json:"build,omitempty"`
	TTS     string  `json:"tts,omitempty"`
}

// RTCCounts follows the calls through the flow.
type RTCCounts struct {
	Started         int            `json:"started"`
	Answered        int            `json:"answered"`
	Connected       int            `json:"connected"`
	FirstAudio      int            `json:"first_audio"`
	Prompt1Done     int            `json:"first_prompt_done"`
	Pressed         int            `json:"pressed"`
	Prompt2         int            `json:"second_prompt"`
	EndedByServer   int            `json:"ended_by_server"`
	Completed       int            `json:"completed"`
	HangupByBot     int            `json:"hangup_by_bot"`
	PeakConcurrent  int            `json:"peak_concurrent"`
	Failed          int            `json:"failed"`
	FailedAt        map[string]int `json:"failed_at,omitempty"`
	ErrorKinds      map[string]int `json:"error_kinds,omitempty"`
	StatusesNotDone map[string]int `json:"statuses_not_completed,omitempty"`
}

// RTCSetup is the time to set a call up, from the POST of the offer.
type RTCSetup struct {
	Offer      Latency `json:"client_offer_and_gathering_ms"`
	Answer     Latency `json:"post_to_answer_ms"`
	ICE        Latency `json:"post_to_ice_connected_ms"`
	Connected  Latency `json:"post_to_dtls_connected_ms"`
	FirstAudio Latency `json:"post_to_first_prompt_packet_ms"`
}

// RTCAudio is what the callers heard.
type RTCAudio struct {
	Codec      string   `json:"codec"`
	Received   int64    `json:"packets_received"`
	Expected   int64    `json:"packets_expected"`
	Lost       int64    `json:"packets_lost"`
	OutOfOrder int64    `json:"packets_out_of_order"`
	OtherPT    int64    `json:"packets_other_payload_type"`
	Voiced     float64  `json:"voiced_share"`
	Prompt1    RTCCount `json:"first_prompt"`
	Prompt2    RTCCount `json:"second_prompt"`
	Inaudible  int      `json:"inaudible_prompts"`
	// Short counts prompts with fewer packets than most calls got for the
	// same prompt: audio missing at the start or the end, which sequence
	// gaps cannot show.
	Short int `json:"short_prompts"`
	// TeardownCut counts second prompts that lost only their last packets,
	// and only because the server closed the connection before the client
	// had read them (the reader stopped on the remote close, before
	// sbbench closed its side). TrailingQuiet is how many silent packets
	// end the prompt in the calls that got all of it: when the cut is no
	// longer than that, no sound was lost. Neither counts in Short.
	TeardownCut int `json:"second_prompts_cut_at_teardown"`
	// TeardownInKernel counts the missing packets that the client's ICE
	// layer did read off its socket (they have a receive stamp): sent by
	// the server and delivered, then dropped inside the client's pion as
	// the connection closed.
	TeardownInKernel int `json:"teardown_packets_received_by_kernel"`
	TeardownMax      int `json:"teardown_cut_max_packets"`
	TrailingQuiet    int `json:"second_prompt_trailing_quiet_packets"`
	// Between counts packets missing between the first prompt's last
	// and the second prompt's first (the server's sequence numbers run on
	// across prompts).
	Between int64 `json:"packets_lost_between_prompts"`
	// ShortDetail lists the first few short prompts.
	ShortDetail []string `json:"short_detail,omitempty"`
}

// RTCCount is the packets of one prompt across calls.
type RTCCount struct {
	Calls   int     `json:"calls"`
	Mode    int     `json:"packets_most_calls"`
	Seconds float64 `json:"seconds"`
	Min     int     `json:"min"`
	Max     int     `json:"max"`
	Short   int     `json:"calls_short"`
	Long    int     `json:"calls_long"`
}

// RTCJitter is the timing of the server's packets as they reached the
// client, over every prompt packet of every call. Arrival is the kernel's
// receive time where the socket gave one (Linux), else the moment the
// client read the packet.
type RTCJitter struct {
	Stamped   int64 `json:"packets_kernel_stamped"`
	Unstamped int64 `json:"packets_timed_by_read"`
	// ReadDelay is how long after the kernel received a packet the client
	// read it: the client's own delay, kept out of the figures below.
	ReadDelay Latency `json:"client_read_delay_ms"`
	// Grid is each packet's lateness against the 20 ms grid of its prompt,
	// the grid anchored at the prompt's earliest packet (0 is on time).
	Grid Latency `json:"grid_lateness_ms"`
	// Segmented is the same with the grid re-anchored after every gap of
	// 60 ms or more: the jitter between glitches, where Grid also carries
	// each glitch's shift to the end of the prompt.
	Segmented Latency `json:"grid_lateness_between_gaps_ms"`
	// InterArrival is |arrival gap − timestamp gap| between consecutive
	// packets.
	InterArrival Latency `json:"interarrival_deviation_ms"`
	// RFC3550 is the running interarrival jitter J of RFC 3550 (6.4.1),
	// sampled at every packet.
	RFC3550 Latency `json:"rfc3550_jitter_ms"`
	Gaps    int     `json:"gaps_over_60ms"`
	// GapCalls is how many calls had at least one such gap.
	GapCalls int `json:"calls_with_gaps"`
	// ClientPacing is how late the client's own 20 ms sends fired: when it
	// grows, the client (sharing the cores) is starved and the figures
	// above include its own delay in reading.
	ClientPacing  Latency `json:"client_send_lateness_ms"`
	ClientResyncs int     `json:"client_send_resyncs"`
	// Phases splits Grid by when the packets arrived.
	Phases []RTCPhase `json:"phases"`
}

// RTCPhase is the grid lateness of the packets that arrived in one part
// of the run, and what else ran on the machine meanwhile.
type RTCPhase struct {
	Name       string  `json:"name"`
	From       float64 `json:"from_s"`
	To         float64 `json:"to_s"`
	Grid       Latency `json:"grid_lateness_ms"`
	OtherCores float64 `json:"other_cores"`
}

// RTCMicStats is the callers' audio to the server.
type RTCMicStats struct {
	PacketsSent uint64 `json:"packets_sent"`
	WriteErrors uint64 `json:"write_errors"`
	// From the server's RTCP receiver reports (the last one per call).
	ReportedCalls int     `json:"calls_with_receiver_report"`
	ReportedLost  int64   `json:"server_reported_lost"`
	ServerJitter  Latency `json:"server_reported_jitter_ms"`
}

// RTCCPU is where the CPU went.
type RTCCPU struct {
	ServerPID int `json:"server_pid"`
	// The steady phase: every call up, none past its first prompt.
	SteadySeconds   float64 `json:"steady_seconds"`
	SteadyCalls     float64 `json:"steady_calls"`
	SteadyNote      string  `json:"steady_note,omitempty"`
	ServerIdleCores float64 `json:"server_cores_idle"`
	ServerCores     float64 `json:"server_cores_steady"`
	// OtherCores is machine busy time outside the server, its PostgreSQL
	// and Redis, and sbbench: someone else's build or tests.
	OtherCores float64 `json:"other_cores_steady"`
	// OtherRun is the same over the whole run.
	OtherRun        float64 `json:"other_cores_run"`
	ClientCores     float64 `json:"client_cores_steady"`
	ServerPerCallMS float64 `json:"server_cpu_ms_per_call_second_steady"`
	ClientPerCallMS float64 `json:"client_cpu_ms_per_call_second_steady"`
	// The whole run, setup and teardown included, per call-second (POST
	// of the offer to the end of the call).
	RunSeconds         float64 `json:"run_seconds"`
	CallSeconds        float64 `json:"call_seconds"`
	ServerCPUSeconds   float64 `json:"server_cpu_seconds_run"`
	ClientCPUSeconds   float64 `json:"client_cpu_seconds_run"`
	ServerRunPerCallMS float64 `json:"server_cpu_ms_per_call_second_run"`
	ServerMSPerCall    float64 `json:"server_cpu_ms_per_call_run"`
	ServerRSSBefore    float64 `json:"server_rss_before"`
	ServerRSSPeak      float64 `json:"server_rss_peak"`
	ServerRSSAfter     float64 `json:"server_rss_after"`
	ClientRSSPeak      float64 `json:"client_rss_peak"`
}

// RTCTick is one second of the run (the second ending at T).
type RTCTick struct {
	T           float64 `json:"t"`
	Active      int     `json:"active"`
	ServerCores float64 `json:"server_cores"`
	ClientCores float64 `json:"client_cores"`
	// MachineCores is the whole machine's busy time; OtherCores is what
	// neither the server, its PostgreSQL and Redis nor sbbench used.
	MachineCores float64 `json:"machine_cores"`
	OtherCores   float64 `json:"other_cores"`
	ServerRSS    float64 `json:"server_rss_mib"`
	// The server's packets that arrived in this second.
	Packets int     `json:"packets"`
	LateP99 float64 `json:"grid_lateness_p99_ms"`
	LateMax float64 `json:"grid_lateness_max_ms"`
	Late5   int     `json:"packets_late_over_5ms"`
}

// RTCFailure is one failed call (the first few are kept).
type RTCFailure struct {
	Call  int    `json:"call"`
	ID    string `json:"call_id,omitempty"`
	Stage string `json:"stage"`
	Error string `json:"error"`
}

// mainRTC runs rtc mode. -calls defaults to 200 here.
func mainRTC(o options) int {
	callsSet := false
	flag.Visit(func(f *flag.Flag) { callsSet = callsSet || f.Name == "calls" })
	if !callsSet {
		o.calls = 200
	}
	if o.key == "" || o.calls <= 0 || o.ramp < 0 || (o.rtcDTMF != "datachannel" && o.rtcDTMF != "rfc4733") {
		fmt.Fprintln(os.Stderr, "sbbench: rtc mode needs -key (or SB_KEY), positive -calls, -ramp ≥ 0 and -rtc-dtmf datachannel|rfc4733")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := runRTC(ctx, o)
	return report(o, sum, err, printRTCReport)
}

// rtcRun is one run: the shared client machinery and every call.
type rtcRun struct {
	o       options
	a       *api
	net     *stdnet.Net
	cert    webrtc.Certificate
	wall    int64 // the run clock's zero, in Unix nanoseconds
	addr    string
	epoch   time.Time
	pacer   *rtcPacer
	frames  map[uint8][][]byte // payload type → a second of the caller's tone
	calls   []*rtcCall
	limit   time.Duration
	started atomic.Int64
	up      atomic.Int64
	pressed atomic.Int64
	ended   atomic.Int64
	failed  atomic.Int64
	active  atomic.Int64
}

// since is the run's clock: monotonic nanoseconds since it began.
func (r *rtcRun) since() int64 { return int64(time.Since(r.epoch)) }

func runRTC(ctx context.Context, o options) (*RTCSummary, error) {
	n := o.calls
	sum := &RTCSummary{Params: RTCParams{Calls: n, Ramp: o.ramp, DTMF: o.rtcDTMF, ToneHz: o.rtcTone, QuietMS: ms(o.rtcQuiet),
		URL: o.url, Build: o.build, TTS: o.tts}}
	sum.Machine = machineInfo()
	r := &rtcRun{o: o, a: newAPI(o.url, o.key, 64), limit: max(o.wait, 60*time.Second)}
	if err := r.a.ready(ctx, 30*time.Second); err != nil {
		return nil, err
	}
	var err error
	if r.net, err = stdnet.NewNet(); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	cert, err := webrtc.GenerateCertificate(key)
	if err != nil {
		return nil, fmt.Errorf("dtls certificate: %w", err)
	}
	r.cert = *cert // one for every call: browsers reuse theirs too
	r.frames = map[uint8][][]byte{ptPCMU: toneFrames(o.rtcTone, sbrtc.EncodeULaw), ptPCMA: toneFrames(o.rtcTone, sbrtc.EncodeALaw)}

	// The flow and a webrtc channel answering with it, on an address of
	// this run's own.
	var flow struct {
		ID string `json:"id"`
	}
	if err := r.a.doJSON(ctx, http.MethodPost, "/v1/flows", []byte(rtcFlow), http.StatusCreated, &flow); err != nil {
		return nil, fmt.Errorf("create the flow: %w", err)
	}
	sum.FlowID = flow.ID
	run := strconv.FormatInt(time.Now().UnixMilli(), 36)
	r.addr = "sbbench-" + run
	sum.Address = r.addr
	ch, _ := json.Marshal(map[string]any{"type": "webrtc", "name": "sbbench " + run,
		"senders": []map[string]any{{"channel": "webrtc", "address": r.addr, "inbound_flow_id": flow.ID}}})
	if err := r.a.doJSON(ctx, http.MethodPost, "/v1/channels", ch, http.StatusCreated, nil); err != nil {
		return nil, fmt.Errorf("connect the webrtc channel: %w", err)
	}
	logf("rtc: flow %s (say ~13 s, gather 1 key | branch, say, hangup) answers webrtc:%s", flow.ID, r.addr)

	// One browser token per call, minted before the clock starts.
	r.calls = make([]*rtcCall, n)
	if err := r.mintTokens(ctx, run); err != nil {
		return nil, err
	}
	procs := procGroups{self: os.Getpid(), server: o.serverPID, pg: o.pgPID, redis: o.redisPID}
	sum.Machine.BackgroundCores = waitIdleMachine(ctx, procs, o.quietWait)

	// The server's CPU with no call up: its workers' polling, the baseline
	// the per-call figures are taken above.
	r.epoch = time.Now()
	i0 := (&rtcSampler{r: r, procs: procs}).readServer()
	select {
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
	}
	i1 := (&rtcSampler{r: r, procs: procs}).readServer()
	sum.CPU.ServerIdleCores = round2(float64(i1.server-i0.server) / clkTck / time.Duration(i1.at-i0.at).Seconds())

	// The run: a sampler, the microphones' pacer, the ramp.
	r.epoch = time.Now()
	r.wall = r.epoch.UnixNano()
	r.pacer = &rtcPacer{}
	pctx, stopPacer := context.WithCancel(ctx)
	pacerDone := make(chan struct{})
	go func() { defer close(pacerDone); r.pacer.run(pctx) }()
	smp := &rtcSampler{r: r, procs: procs}
	sctx, stopSampler := context.WithCancel(ctx)
	samplerDone := make(chan struct{})
	go func() { defer close(samplerDone); smp.run(sctx) }()

	logf("rtc: opening %d browser calls at %.0f/s (caller: %s, key by %s)", n, o.ramp, toneName(o.rtcTone), o.rtcDTMF)
	var wg sync.WaitGroup
	for i, c := range r.calls {
		if o.ramp > 0 {
			at := r.epoch.Add(time.Duration(float64(i) / o.ramp * float64(time.Second)))
			if d := time.Until(at); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
				}
			}
		}
		if ctx.Err() != nil {
			break
		}
		r.started.Add(1)
		wg.Go(func() { r.runCall(ctx, c) })
	}
	wg.Wait()
	runEnd := r.since()
	stopPacer()
	<-pacerDone
	stopSampler()
	<-samplerDone
	smp.sample() // the final one, after the last call
	time.Sleep(time.Second)
	after := smp.readServer()

	r.summarize(sum, smp, runEnd, after)
	logf("rtc: %d of %d calls completed; setup p50 %.0f ms, p99 %.0f ms; grid lateness p50 %.2f ms, p99 %.2f ms, max %.1f ms; %d packets lost",
		sum.Calls.Completed, n, sum.Setup.FirstAudio.P50, sum.Setup.FirstAudio.P99, sum.Jitter.Grid.P50, sum.Jitter.Grid.P99, sum.Jitter.Grid.Max, sum.Audio.Lost)
	if ctx.Err() != nil {
		return sum, ctx.Err()
	}
	if sum.Calls.Completed != n {
		return sum, fmt.Errorf("%d of %d calls completed (%d failed)", sum.Calls.Completed, n, sum.Calls.Failed)
	}
	return sum, nil
}

// waitIdleMachine waits up to limit for the machine to be nearly idle
// outside the stack: waitQuiet's check by process misses short-lived
// processes (a compiler, a test binary), which /proc/stat's machine-wide
// busy time does not. It returns the last background load seen.
func waitIdleMachine(ctx context.Context, g procGroups, limit time.Duration) float64 {
	deadline := time.Now().Add(limit)
	for {
		a := sample{at: time.Now(), procs: readProcs(g)}
		a.cpuBusy, a.cpuTotal, a.ctxt = readCPU()
		time.Sleep(time.Second)
		b := sample{at: time.Now(), procs: readProcs(g)}
		b.cpuBusy, b.cpuTotal, b.ctxt = readCPU()
		res := resources("", a, b, 0, 0)
		bg := res.MachineBusyPct / 100 * float64(runtime.NumCPU())
		for grp, v := range res.CPUCores {
			if grp != "other" {
				bg -= v
			}
		}
		bg = round2(max(0, bg))
		if bg < 0.25 || time.Now().After(deadline) || ctx.Err() != nil {
			if bg >= 0.25 {
				logf("warning: other processes keep %.2f cores busy; results will be skewed", bg)
			}
			return bg
		}
		logf("other processes keep %.2f cores busy; waiting for a quiet machine", bg)
	}
}

// mintTokens mints a browser token per call from 8 clients.
func (r *rtcRun) mintTokens(ctx context.Context, run string) error {
	var next atomic.Int64
	var errs errorTally
	t0 := time.Now()
	var wg sync.WaitGroup
	for range min(8, len(r.calls)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(r.calls) {
					return
				}
				id := fmt.Sprintf("sbbench-%s-%d", run, i)
				body, _ := json.Marshal(map[string]any{"identity": id, "ttl_seconds": 3600})
				var tok struct {
					Token string `json:"token"`
				}
				if err := r.a.doJSON(ctx, http.MethodPost, "/v1/webrtc/tokens", body, http.StatusCreated, &tok); err != nil {
					errs.add(err)
					continue
				}
				r.calls[i] = &rtcCall{i: i, identity: id, token: tok.Token}
			}
		})
	}
	wg.Wait()
	if errs.n > 0 || ctx.Err() != nil {
		return errors.Join(ctx.Err(), fmt.Errorf("mint browser tokens: %d errors: %v", errs.n, errs.kinds))
	}
	logf("rtc: %d browser tokens minted in %.2fs", len(r.calls), time.Since(t0).Seconds())
	return nil
}

// rtcClientAPI is a call's pion: what a browser offers for a G.711 call
// (PCMU, PCMA, telephone-event), RTCP reports as browsers send them,
// loopback host candidates only, and sockets that stamp the server's
// packets with the kernel's receive time (stampNet). One per call, so
// that each call's sockets feed its own stamps.
func rtcClientAPI(n transport.Net) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	for _, c := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: ptPCMU},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}, PayloadType: ptPCMA},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 8000, SDPFmtpLine: "0-16"}, PayloadType: ptEvent},
	} {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, fmt.Errorf("register %s: %w", c.MimeType, err)
		}
	}
	ir := &interceptor.Registry{}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, err
	}
	var se webrtc.SettingEngine
	sbrtc.Loopback(&se)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNet(n)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(ir)), nil
}

// stampNet is the standard network whose UDP sockets note when the
// kernel received each of the server's audio packets (SO_TIMESTAMPNS, on
// Linux). On loopback that is the moment the server sent it: the server's
// pacing without the client's own scheduling delay in reading it, which a
// load client sharing two cores with the server would otherwise add.
type stampNet struct {
	*stdnet.Net
	wall  int64 // the run clock's zero, Unix ns
	stamp *stampRing
}

// stampRing holds the kernel arrival of the last 1,024 audio packets by
// sequence number: seq in the top 16 bits, run-clock ns below.
type stampRing [1024]atomic.Uint64

const stampMask = 1<<48 - 1

func (r *stampRing) put(seq uint16, at int64) {
	r[seq%1024].Store(uint64(seq)<<48 | uint64(at)&stampMask)
}

func (r *stampRing) get(seq uint16) (int64, bool) {
	v := r[seq%1024].Load()
	return int64(v & stampMask), v != 0 && uint16(v>>48) == seq
}

func (n *stampNet) ListenUDP(network string, addr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := net.ListenUDP(network, addr)
	if err != nil || runtime.GOOS != "linux" || strconv.IntSize != 64 {
		return c, err
	}
	raw, err := c.SyscallConn()
	if err != nil {
		return c, nil
	}
	var serr error
	if err := raw.Control(func(fd uintptr) { serr = setsockopt(syscall.SetsockoptInt, fd, syscall.SOL_SOCKET, soTimestampNS, 1) }); err != nil || serr != nil {
		return c, nil // no stamps: the reader's clock it is
	}
	return &stampConn{UDPConn: c, n: n}, nil
}

// soTimestampNS is Linux's SO_TIMESTAMPNS (and SCM_TIMESTAMPNS).
const soTimestampNS = 35

// setsockopt calls syscall.SetsockoptInt whatever its descriptor type is
// on this platform (an int on Unix), so this file builds everywhere; the
// option is only set on Linux.
func setsockopt[FD ~int | ~uintptr](f func(FD, int, int, int) error, fd uintptr, level, opt, v int) error {
	return f(FD(fd), level, opt, v)
}

// stampConn reads with ReadMsgUDP to get the kernel's receive time.
type stampConn struct {
	*net.UDPConn
	n   *stampNet
	oob [64]byte // one reader per socket (ICE's receive loop)
}

var _ ice.AddrPortReaderWriter = (*stampConn)(nil)

func (c *stampConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	n, oobn, _, addr, err := c.UDPConn.ReadMsgUDPAddrPort(b, c.oob[:])
	if err == nil && n >= 12 && b[0]>>6 == 2 && (b[1]&0x7f == ptPCMU || b[1]&0x7f == ptPCMA) {
		if at, ok := kernelTime(c.oob[:oobn]); ok {
			c.n.stamp.put(binary.BigEndian.Uint16(b[2:4]), at-c.n.wall)
		}
	}
	return n, addr, err
}

func (c *stampConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	return c.UDPConn.WriteToUDPAddrPort(b, addr)
}

func (c *stampConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := c.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(addr), nil
}

// kernelTime finds SCM_TIMESTAMPNS (a timespec) in a control message, as
// 64-bit Linux lays them out: a 16-byte header, 8-byte alignment.
func kernelTime(oob []byte) (int64, bool) {
	const hdr = 16
	for len(oob) >= hdr {
		l := int(binary.NativeEndian.Uint64(oob[0:8]))
		level, typ := int32(binary.NativeEndian.Uint32(oob[8:12])), int32(binary.NativeEndian.Uint32(oob[12:16]))
		if l < hdr || l > len(oob) {
			return 0, false
		}
		if level == syscall.SOL_SOCKET && typ == soTimestampNS && l >= hdr+16 {
			sec := int64(binary.NativeEndian.Uint64(oob[hdr : hdr+8]))
			nsec := int64(binary.NativeEndian.Uint64(oob[hdr+8 : hdr+16]))
			return sec*1e9 + nsec, true
		}
		oob = oob[min(len(oob), (l+7)&^7):]
	}
	return 0, false
}

// rtcCall is one browser call. Times are the run's clock (rtcRun.since),
// 0 when the moment never came.
type rtcCall struct {
	i               int
	identity, token string
	id              string
	stage           string // where it failed
	err             error

	mic     *rtcMic
	stamps  *stampRing
	prompts [2]promptStats // written by the reader until readerDone
	// readDelay is, per packet with a kernel stamp, how long after the
	// kernel received it the client read it (µs); unstamped counts those
	// without one, timed by the read.
	readDelay  []int32
	unstamped  int
	phase      atomic.Int32 // 0 until the key is pressed, then 1
	readerDone chan struct{}

	startAt, offerAt, answerAt, prompt1End, digitAt, endAt, finishAt int64
	iceAt, connAt, firstAt, lastAt                                   atomic.Int64
	first, ended                                                     chan struct{}
	firstOnce, endOnce                                               sync.Once
	endedHow                                                         string // set once, before ended closes
	endSeen                                                          string // endedHow, as runCall saw it

	rrSeen   atomic.Bool
	rrLost   atomic.Int64
	rrJitter atomic.Uint32 // 8 kHz units

	status, hangupBy string
	pair             string // the selected ICE pair, client → server
	readEnd          int64  // when the reader stopped, and why
	readErr          error
	closedAt         int64 // when runCall closed the peer connection
}

func (c *rtcCall) end(how string) {
	c.endOnce.Do(func() { c.endedHow = how; close(c.ended) })
}

func (c *rtcCall) fail(stage string, err error) {
	if c.err == nil {
		c.stage, c.err = stage, err
	}
}

// runCall runs one call from offer to the API's "completed".
func (r *rtcRun) runCall(ctx context.Context, c *rtcCall) {
	ctx, cancel := context.WithTimeout(ctx, r.limit)
	defer cancel()
	c.first, c.ended, c.readerDone = make(chan struct{}), make(chan struct{}), make(chan struct{})
	c.startAt = r.since()
	defer func() {
		c.finishAt = r.since()
		if c.err != nil {
			r.failed.Add(1)
		}
	}()
	c.stamps = &stampRing{}
	capi, err := rtcClientAPI(&stampNet{Net: r.net, wall: r.wall, stamp: c.stamps})
	if err != nil {
		c.fail("offer", err)
		close(c.readerDone)
		return
	}
	pc, err := capi.NewPeerConnection(webrtc.Configuration{Certificates: []webrtc.Certificate{r.cert}})
	if err != nil {
		c.fail("offer", err)
		close(c.readerDone)
		return
	}
	readerStarted := false
	var readerMu sync.Mutex
	defer func() {
		if c.mic != nil {
			c.mic.stopped.Store(true)
			r.pacer.remove(c.mic)
		}
		c.closedAt = r.since()
		_ = pc.Close()
		readerMu.Lock()
		if !readerStarted {
			readerStarted = true // no reader will start now
			close(c.readerDone)
		}
		readerMu.Unlock()
		select {
		case <-c.readerDone:
		case <-time.After(5 * time.Second):
		}
	}()

	c.mic = &rtcMic{frames: r.frames}
	sender, err := pc.AddTrack(c.mic)
	if err != nil {
		c.fail("offer", err)
		return
	}
	go c.readRTCP(sender)
	dc, err := pc.CreateDataChannel("dtmf", nil)
	if err != nil {
		c.fail("offer", err)
		return
	}
	dcOpen := make(chan struct{})
	dc.OnOpen(func() { close(dcOpen) })
	dc.OnClose(func() { c.end("data channel closed") })
	pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		if s == webrtc.ICEConnectionStateConnected {
			c.iceAt.CompareAndSwap(0, r.since())
		}
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateConnected:
			c.connAt.CompareAndSwap(0, r.since())
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateDisconnected:
			c.end("connection " + s.String())
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		readerMu.Lock()
		if readerStarted {
			readerMu.Unlock()
			return
		}
		readerStarted = true
		readerMu.Unlock()
		defer close(c.readerDone)
		r.read(c, tr)
	})

	// The offer, gathered first (non-trickle), as the widget sends it.
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		c.fail("offer", err)
		return
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		c.fail("offer", err)
		return
	}
	select {
	case <-gathered:
	case <-time.After(5 * time.Second):
	case <-ctx.Done():
		c.fail("offer", ctx.Err())
		return
	}
	c.offerAt = r.since()
	answer, err := r.postOffer(ctx, c, pc.LocalDescription().SDP)
	if err != nil {
		c.fail("answer", err)
		return
	}
	c.answerAt = r.since()
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		c.fail("answer", err)
		r.hangup(c)
		return
	}
	r.pacer.add(c.mic)
	r.active.Add(1)
	defer r.active.Add(-1)

	// The first prompt: its first packet, then -rtc-quiet of silence.
	select {
	case <-c.first:
		r.up.Add(1)
		if cp, err := pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair(); err == nil && cp != nil {
			c.pair = fmt.Sprintf("%s:%d → %s:%d", cp.Local.Address, cp.Local.Port, cp.Remote.Address, cp.Remote.Port)
		}
	case <-c.ended:
		c.fail("first audio", fmt.Errorf("the call ended before any audio (%s)", c.endedHow))
		return
	case <-ctx.Done():
		c.fail("first audio", fmt.Errorf("no audio: %w", ctx.Err()))
		r.hangup(c)
		return
	}
	for {
		wait := time.Duration(c.lastAt.Load()+int64(r.o.rtcQuiet)-r.since()) + time.Millisecond
		if wait <= 0 {
			break
		}
		select {
		case <-time.After(wait):
		case <-c.ended:
			c.fail("first prompt", fmt.Errorf("the call ended during the first prompt (%s)", c.endedHow))
			return
		case <-ctx.Done():
			c.fail("first prompt", ctx.Err())
			r.hangup(c)
			return
		}
	}
	c.prompt1End = c.lastAt.Load()

	// Press 1.
	c.phase.Store(1)
	if r.o.rtcDTMF == "rfc4733" {
		if err := c.mic.press(1); err != nil {
			c.fail("press", err)
			r.hangup(c)
			return
		}
	} else {
		select {
		case <-dcOpen:
		case <-ctx.Done():
			c.fail("press", errors.New("the dtmf data channel never opened"))
			r.hangup(c)
			return
		}
		if err := dc.SendText("1"); err != nil {
			c.fail("press", err)
			r.hangup(c)
			return
		}
	}
	c.digitAt = r.since()
	r.pressed.Add(1)

	// The second prompt, then the server's hangup: the data channel
	// closes. Should that go unseen, the API's status decides once the
	// line has been quiet for 5 s.
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case <-c.ended:
			break wait
		case <-ctx.Done():
			c.fail("end", fmt.Errorf("the server did not end the call: %w", ctx.Err()))
			r.hangup(c)
			return
		case <-tick.C:
			last := c.lastAt.Load()
			if last > c.digitAt && r.since()-last > int64(5*time.Second) {
				if st, _ := r.callStatus(ctx, c.id); st == "completed" {
					c.end("status completed, no close seen")
					break wait
				}
			}
		}
	}
	c.endAt = r.since()
	c.endSeen = c.endedHow
	r.ended.Add(1)
	// Let the last packets in flight land before the reader stops.
	for r.since()-c.lastAt.Load() < int64(100*time.Millisecond) {
		time.Sleep(20 * time.Millisecond)
	}
}

// postOffer sends the SDP offer with the call's browser token and returns
// the answer.
func (r *rtcRun) postOffer(ctx context.Context, c *rtcCall, sdp string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.a.base+"/v1/rtc/calls?to="+url.QueryEscape(r.addr), strings.NewReader(sdp))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/sdp")
	resp, err := r.a.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<10))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusCreated {
		if len(b) > 200 {
			b = b[:200]
		}
		return "", fmt.Errorf("POST rtc/calls: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	c.id = resp.Header.Get("X-Call-Id")
	if c.id == "" {
		return "", errors.New("POST rtc/calls: 201 without X-Call-Id")
	}
	return string(b), nil
}

// hangup ends a failed call from the browser's side, so it does not stay
// up on the server.
func (r *rtcRun) hangup(c *rtcCall) {
	if c.id == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.a.base+"/v1/rtc/calls/"+c.id+"/hangup", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	if resp, err := r.a.hc.Do(req); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// callStatus reads a call's status and who hung up.
func (r *rtcRun) callStatus(ctx context.Context, id string) (status, by string) {
	var call struct {
		Status   string  `json:"status"`
		HangupBy *string `json:"hangup_by"`
	}
	if r.a.doJSON(ctx, http.MethodGet, "/v1/calls/"+id, nil, http.StatusOK, &call) != nil {
		return "", ""
	}
	if call.HangupBy != nil {
		by = *call.HangupBy
	}
	return call.Status, by
}

// readRTCP keeps the last receiver report the server sent about the
// caller's audio (RFC 3550 6.4.2: cumulative lost and jitter).
func (c *rtcCall) readRTCP(s *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	for {
		n, _, err := s.Read(buf)
		if err != nil {
			return
		}
		for b := buf[:n]; len(b) >= 8; {
			size := (int(binary.BigEndian.Uint16(b[2:4])) + 1) * 4
			if size > len(b) {
				break
			}
			pkt, count := b[:size], int(b[0]&0x1f)
			blocks := -1
			switch b[1] {
			case 200: // sender report
				blocks = 28
			case 201: // receiver report
				blocks = 8
			}
			for k := 0; blocks >= 0 && k < count && blocks+24*(k+1) <= len(pkt); k++ {
				rb := pkt[blocks+24*k:]
				if binary.BigEndian.Uint32(rb[0:4]) != c.mic.ssrc.Load() {
					continue
				}
				lost := int64(int32(binary.BigEndian.Uint32(rb[4:8])<<8) >> 8)
				c.rrLost.Store(lost)
				c.rrJitter.Store(binary.BigEndian.Uint32(rb[12:16]))
				c.rrSeen.Store(true)
			}
			b = b[size:]
		}
	}
}

// read takes the server's audio until the call's peer connection closes.
func (r *rtcRun) read(c *rtcCall, tr *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	var h rtp.Header
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			c.readEnd, c.readErr = r.since(), err
			return
		}
		now := r.since()
		hl, err := h.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		payload := buf[hl:n]
		if h.Padding && len(payload) > 0 {
			payload = payload[:max(0, len(payload)-int(payload[len(payload)-1]))]
		}
		if at, ok := c.stamps.get(h.SequenceNumber); ok && at <= now {
			c.readDelay = append(c.readDelay, int32((now-at)/1000))
			now = at
		} else {
			c.unstamped++
		}
		c.lastAt.Store(now)
		if c.firstAt.CompareAndSwap(0, now) {
			c.firstOnce.Do(func() { close(c.first) })
		}
		c.prompts[c.phase.Load()].add(now, &h, payload)
	}
}

// promptStats is one prompt as one caller received it.
type promptStats struct {
	packets, outOfOrder, otherPT, voiced int
	gaps                                 int
	lastVoiced                           int64 // index of the last packet with sound
	pt                                   uint8
	ptSet                                bool
	seq0                                 uint16
	ts0                                  uint32
	firstAt, lastAt                      int64
	maxIdx                               int64
	lastIdx                              int64 // extended index of the newest in-order packet
	lastTS                               uint32
	seen                                 []uint64 // bitset of received indices
	j                                    float64  // RFC 3550 J, µs
	// Per packet, µs: arrival minus the grid time of its timestamp (from
	// the first packet), |interarrival deviation|, running J; and its
	// arrival, ms on the run's clock.
	grid, inter, jit, arrMS []int32
	// segs are the indices in grid where a segment starts: the first
	// packet, and each one after a gap of 60 ms or more.
	segs []int
}

func (p *promptStats) add(at int64, h *rtp.Header, payload []byte) {
	if h.PayloadType != ptPCMU && h.PayloadType != ptPCMA {
		p.otherPT++
		return
	}
	if p.packets == 0 {
		p.seq0, p.ts0, p.firstAt, p.lastTS = h.SequenceNumber, h.Timestamp, at, h.Timestamp
		p.pt, p.ptSet = h.PayloadType, true
		p.grid = make([]int32, 0, 700)
		p.inter = make([]int32, 0, 700)
		p.jit = make([]int32, 0, 700)
		p.arrMS = make([]int32, 0, 700)
		p.segs = []int{0}
	}
	p.packets++
	// Extend the sequence number around the newest one seen.
	ref := p.seq0 + uint16(p.maxIdx)
	idx := p.maxIdx + int64(int16(h.SequenceNumber-ref))
	if idx < 0 {
		p.outOfOrder++
		return
	}
	w := int(idx / 64)
	for len(p.seen) <= w {
		p.seen = append(p.seen, 0)
	}
	bit := uint64(1) << (idx % 64)
	if p.seen[w]&bit != 0 {
		p.outOfOrder++ // a duplicate
		return
	}
	p.seen[w] |= bit
	if p.packets > 1 && idx < p.maxIdx {
		p.outOfOrder++
		return
	}
	p.maxIdx = idx
	if peak(payload, h.PayloadType) >= rtcVoiced {
		p.voiced++
		p.lastVoiced = idx
	}
	grid := (at-p.firstAt)/1000 - int64(int32(h.Timestamp-p.ts0))*rtcSampleUS
	p.grid = append(p.grid, int32(grid))
	p.arrMS = append(p.arrMS, int32(at/int64(time.Millisecond)))
	if p.packets > 1 {
		d := float64(at-p.lastAt)/1000 - float64(int32(h.Timestamp-p.lastTS))*rtcSampleUS
		p.inter = append(p.inter, int32(math.Abs(d)))
		p.j += (math.Abs(d) - p.j) / 16
		p.jit = append(p.jit, int32(p.j))
		if time.Duration(at-p.lastAt) >= rtcGap {
			p.gaps++
			p.segs = append(p.segs, len(p.grid)-1)
		}
	}
	p.lastAt, p.lastTS, p.lastIdx = at, h.Timestamp, idx
}

// received counts distinct packets; expected is the sequence span.
func (p *promptStats) received() int64 {
	var n int
	for _, w := range p.seen {
		n += popcount(w)
	}
	return int64(n)
}

func (p *promptStats) expected() int64 {
	if p.packets == 0 {
		return 0
	}
	return p.maxIdx + 1
}

func popcount(x uint64) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

// peak is the largest sample magnitude of a G.711 payload.
func peak(payload []byte, pt uint8) int {
	table := &ulawPeak
	if pt == ptPCMA {
		table = &alawPeak
	}
	m := 0
	for _, b := range payload {
		m = max(m, int(table[b]))
	}
	return m
}

var ulawPeak, alawPeak [256]uint16

func init() {
	for i := range 256 {
		ulawPeak[i] = uint16(abs(int(sbrtc.DecodeULaw(byte(i)))))
		alawPeak[i] = uint16(abs(int(sbrtc.DecodeALaw(byte(i)))))
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// toneFrames is a second of the caller's microphone as 50 G.711 frames: a
// sine of hz at about −12 dBFS, or digital silence for 0. A whole number
// of hertz repeats every second, so the frames loop without a click.
func toneFrames(hz float64, enc func(int16) byte) [][]byte {
	out := make([][]byte, 50)
	for f := range out {
		out[f] = make([]byte, rtcFrameSamples)
		for i := range out[f] {
			n := f*rtcFrameSamples + i
			out[f][i] = enc(int16(8000 * math.Sin(2*math.Pi*hz*float64(n)/8000)))
		}
	}
	return out
}

func toneName(hz float64) string {
	if hz == 0 {
		return "silence"
	}
	return fmt.Sprintf("a %.0f Hz tone", hz)
}

// rtcMic is a caller's microphone: a TrackLocal the pacer writes G.711
// packets to every 20 ms, and RFC 4733 key presses in place of audio, on
// one SSRC as browsers do.
type rtcMic struct {
	frames  map[uint8][][]byte
	slot    int // which sub-slot of the 20 ms frame it sends in
	ssrc    atomic.Uint32
	bound   atomic.Bool
	stopped atomic.Bool
	sent    atomic.Uint64
	errs    atomic.Uint64

	mu               sync.Mutex
	w                webrtc.TrackLocalWriter
	ptAudio, ptEvent uint8
	seq              uint16
	ts               uint32
	n                int
	hdr              rtp.Header
	ev               [4]byte
	evLeft           int // packets of a key press still to send
	evTS             uint32
	evDigit          byte
}

func (m *rtcMic) Bind(c webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var audio, pcma webrtc.RTPCodecParameters
	for _, p := range c.CodecParameters() {
		switch {
		case strings.EqualFold(p.MimeType, webrtc.MimeTypePCMU):
			audio = p
		case strings.EqualFold(p.MimeType, webrtc.MimeTypePCMA):
			pcma = p
		case strings.EqualFold(p.MimeType, "audio/telephone-event"):
			m.ptEvent = uint8(p.PayloadType)
		}
	}
	if audio.MimeType == "" {
		audio = pcma
	}
	if audio.MimeType == "" {
		return audio, webrtc.ErrUnsupportedCodec
	}
	m.ptAudio = uint8(audio.PayloadType)
	m.w = c.WriteStream()
	m.ssrc.Store(uint32(c.SSRC()))
	var seed [6]byte
	rand.Read(seed[:])
	m.seq, m.ts = binary.BigEndian.Uint16(seed[:2]), binary.BigEndian.Uint32(seed[2:])
	m.bound.Store(true)
	return audio, nil
}

func (m *rtcMic) Unbind(webrtc.TrackLocalContext) error { m.bound.Store(false); return nil }
func (m *rtcMic) ID() string                            { return "mic" }
func (m *rtcMic) RID() string                           { return "" }
func (m *rtcMic) StreamID() string                      { return "sbbench" }
func (m *rtcMic) Kind() webrtc.RTPCodecType             { return webrtc.RTPCodecTypeAudio }

// press queues a key as RFC 4733 events: five packets of growing
// duration, then three end packets, one per 20 ms in place of audio.
func (m *rtcMic) press(digit byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ptEvent == 0 {
		return errors.New("telephone-event was not negotiated")
	}
	m.evDigit, m.evLeft, m.evTS = digit, 8, m.ts
	return nil
}

// tick sends the next 20 ms packet.
func (m *rtcMic) tick() {
	if !m.bound.Load() || m.stopped.Load() {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	h := &m.hdr
	h.Version, h.SSRC, h.SequenceNumber, h.Marker = 2, m.ssrc.Load(), m.seq, false
	var payload []byte
	if m.evLeft > 0 {
		k := 8 - m.evLeft // 0..7
		dur := uint16(rtcFrameSamples * min(k+1, 5))
		end := byte(0)
		if k >= 5 {
			end = 0x80
		}
		m.ev = [4]byte{m.evDigit, end | 10, byte(dur >> 8), byte(dur)}
		h.PayloadType, h.Timestamp, h.Marker = m.ptEvent, m.evTS, k == 0
		payload = m.ev[:]
		m.evLeft--
	} else {
		frames := m.frames[m.ptAudio]
		h.PayloadType, h.Timestamp = m.ptAudio, m.ts
		payload = frames[m.n%len(frames)]
	}
	m.seq++
	m.ts += rtcFrameSamples
	m.n++
	if _, err := m.w.WriteRTP(h, payload); err != nil {
		m.errs.Add(1)
		return
	}
	m.sent.Add(1)
}

// rtcPacer writes every microphone's packet on one 20 ms schedule, split
// into sub-slots, from one goroutine: 200 callers cost 200 timer wake-ups
// a second rather than 10,000.
type rtcPacer struct {
	mu      sync.Mutex
	mics    []*rtcMic // copied on removal: run reads a snapshot
	next    int
	late    []int32 // µs, per sub-slot tick
	resyncs int
}

func (p *rtcPacer) add(m *rtcMic) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m.slot = p.next % rtcSubSlots
	p.next++
	p.mics = append(p.mics, m)
}

func (p *rtcPacer) remove(m *rtcMic) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mics = slices.DeleteFunc(slices.Clone(p.mics), func(x *rtcMic) bool { return x == m })
}

func (p *rtcPacer) run(ctx context.Context) {
	const step = rtcFrame / rtcSubSlots
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	start, n := time.Now(), 0
	for {
		slot := start.Add(time.Duration(n) * step)
		if d := time.Until(slot); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		} else if ctx.Err() != nil {
			return
		}
		late := time.Since(slot)
		p.late = append(p.late, int32(late/time.Microsecond))
		if late > 3*rtcFrame {
			p.resyncs++
			start, n = time.Now(), 0
		}
		p.mu.Lock()
		mics := p.mics
		p.mu.Unlock()
		sub := n % rtcSubSlots
		for _, m := range mics {
			if m.slot == sub {
				m.tick()
			}
		}
		n++
	}
}

// rtcSampler reads the server's and the client's CPU and memory from /proc
// four times a second, with a per-process-group split, and logs progress.
type rtcSampler struct {
	r       *rtcRun
	procs   procGroups
	mu      sync.Mutex
	samples []rtcSample
}

type rtcSample struct {
	at                  int64 // run clock
	server, self        uint64
	serverRSS, selfRSS  uint64
	serverOK            bool
	active, up, pressed int
	split               sample
}

// procStat reads utime+stime+cutime+cstime (clock ticks) and RSS (bytes)
// of one process from /proc/<pid>/stat.
func procStat(pid int) (ticks, rss uint64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 22 {
		return 0, 0, false
	}
	for _, i := range []int{11, 12, 13, 14} { // utime stime cutime cstime
		v, _ := strconv.ParseUint(f[i], 10, 64)
		ticks += v
	}
	pages, _ := strconv.ParseUint(f[21], 10, 64)
	return ticks, pages * uint64(os.Getpagesize()), true
}

func (s *rtcSampler) readServer() rtcSample {
	x := rtcSample{at: s.r.since()}
	if s.procs.server != 0 {
		x.server, x.serverRSS, x.serverOK = procStat(s.procs.server)
	}
	x.self, x.selfRSS, _ = procStat(os.Getpid())
	return x
}

func (s *rtcSampler) sample() rtcSample {
	x := s.readServer()
	x.active, x.up, x.pressed = int(s.r.active.Load()), int(s.r.up.Load()), int(s.r.pressed.Load())
	x.split = sample{at: time.Now(), procs: readProcs(s.procs)}
	x.split.cpuBusy, x.split.cpuTotal, x.split.ctxt = readCPU()
	s.mu.Lock()
	s.samples = append(s.samples, x)
	s.mu.Unlock()
	return x
}

func (s *rtcSampler) run(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	prev := s.sample()
	for k := 1; ; k++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		x := s.sample()
		if k%4 != 0 {
			continue
		}
		secs := time.Duration(x.at - prev.at).Seconds()
		logf("rtc: started %d/%d, audio %d, pressed %d, ended %d, failed %d, active %d; switchboard %.2f cores, RSS %.0f MiB; sbbench %.2f cores",
			s.r.started.Load(), len(s.r.calls), x.up, x.pressed, s.r.ended.Load(), s.r.failed.Load(), x.active,
			float64(x.server-prev.server)/clkTck/secs, float64(x.serverRSS)/(1<<20), float64(x.self-prev.self)/clkTck/secs)
		prev = x
	}
}

// summarize turns the calls and samples into the report.
func (r *rtcRun) summarize(sum *RTCSummary, smp *rtcSampler, runEnd int64, after rtcSample) {
	var (
		offer, answer, iceL, conn, first, turn, endSeen []time.Duration
		grid, segd, inter, jit, rrJit, readDelay        []int32
		p1, p2                                          []int
		fails                                           errorTally
		perSec                                          [][]int32 // grid lateness by arrival second
		arrivals                                        []int32   // arrival (ms) of each grid sample
	)
	cnt := &sum.Calls
	cnt.FailedAt, cnt.StatusesNotDone = map[string]int{}, map[string]int{}
	au := &sum.Audio
	var voiced, packets int64
	type edge struct {
		at int64
		d  int
	}
	var edges []edge
	var callSecs float64
	// Read every call's status back (16 at a time).
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(r.calls) {
					return
				}
				if c := r.calls[i]; c != nil && c.id != "" {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					deadline := time.Now().Add(10 * time.Second)
					for {
						c.status, c.hangupBy = r.callStatus(ctx, c.id)
						if c.status == "completed" || c.err != nil || time.Now().After(deadline) {
							break
						}
						time.Sleep(200 * time.Millisecond)
					}
					cancel()
				}
			}
		})
	}
	wg.Wait()

	for _, c := range r.calls {
		if c == nil || c.startAt == 0 && c.finishAt == 0 {
			continue
		}
		cnt.Started++
		d := func(from, to int64) time.Duration { return time.Duration(to - from) }
		if c.offerAt > 0 {
			offer = append(offer, d(c.startAt, c.offerAt))
		}
		if c.answerAt > 0 {
			cnt.Answered++
			answer = append(answer, d(c.offerAt, c.answerAt))
			end := c.finishAt
			if c.endAt > 0 {
				end = c.endAt
			}
			callSecs += time.Duration(end - c.offerAt).Seconds()
		}
		if v := c.iceAt.Load(); v > 0 && c.offerAt > 0 {
			iceL = append(iceL, d(c.offerAt, v))
		}
		if v := c.connAt.Load(); v > 0 && c.offerAt > 0 {
			cnt.Connected++
			conn = append(conn, d(c.offerAt, v))
		}
		if v := c.firstAt.Load(); v > 0 {
			cnt.FirstAudio++
			first = append(first, d(c.offerAt, v))
			end := c.finishAt
			if c.endAt > 0 {
				end = c.endAt
			}
			edges = append(edges, edge{v, 1}, edge{end, -1})
		}
		if c.prompt1End > 0 {
			cnt.Prompt1Done++
		}
		if c.digitAt > 0 {
			cnt.Pressed++
		}
		if c.endAt > 0 && (strings.HasPrefix(c.endSeen, "data channel") || strings.HasPrefix(c.endSeen, "status")) {
			cnt.EndedByServer++
		}
		if c.status == "completed" {
			cnt.Completed++
		} else if c.id != "" {
			cnt.StatusesNotDone[c.status]++
		}
		if c.hangupBy == "bot" {
			cnt.HangupByBot++
		}
		if c.err != nil {
			cnt.Failed++
			cnt.FailedAt[c.stage]++
			fails.add(fmt.Errorf("%s: %w", c.stage, c.err))
			if len(sum.Failures) < 10 {
				sum.Failures = append(sum.Failures, RTCFailure{Call: c.i, ID: c.id, Stage: c.stage, Error: c.err.Error()})
			}
		}
		// Audio, per prompt.
		for k := range c.prompts {
			p := &c.prompts[k]
			if p.packets == 0 {
				continue
			}
			if au.Codec == "" && p.ptSet {
				au.Codec = map[uint8]string{ptPCMU: "PCMU", ptPCMA: "PCMA"}[p.pt]
			}
			rec, exp := p.received(), p.expected()
			au.Received += rec
			au.Expected += exp
			au.Lost += max(0, exp-rec)
			au.OutOfOrder += int64(p.outOfOrder)
			au.OtherPT += int64(p.otherPT)
			voiced += int64(p.voiced)
			packets += rec
			if p.voiced < rtcAudible {
				au.Inaudible++
			}
			sum.Jitter.Gaps += p.gaps
			for si, from := range p.segs {
				to := len(p.grid)
				if si+1 < len(p.segs) {
					to = p.segs[si+1]
				}
				m := slices.Min(p.grid[from:to])
				for _, g := range p.grid[from:to] {
					segd = append(segd, g-m)
				}
			}
			base := slices.Min(p.grid)
			for i, g := range p.grid {
				grid = append(grid, g-base)
				arrivals = append(arrivals, p.arrMS[i])
				sec := int(p.arrMS[i] / 1000)
				for len(perSec) <= sec {
					perSec = append(perSec, nil)
				}
				perSec[sec] = append(perSec[sec], g-base)
			}
			inter = append(inter, p.inter...)
			jit = append(jit, p.jit...)
			if k == 0 {
				if c.prompt1End > 0 {
					p1 = append(p1, int(exp))
				}
			} else {
				p2 = append(p2, int(exp))
				if c.digitAt > 0 {
					turn = append(turn, d(c.digitAt, p.firstAt))
				}
				if c.endAt > 0 {
					endSeen = append(endSeen, d(p.lastAt, c.endAt))
				}
			}
		}
		if c.digitAt > 0 && c.prompts[1].packets > 0 {
			cnt.Prompt2++
		}
		if a, b := &c.prompts[0], &c.prompts[1]; a.packets > 0 && b.packets > 0 {
			between := int64(int16(b.seq0 - (a.seq0 + uint16(a.maxIdx)) - 1))
			au.Between += max(0, between)
		}
		if a := &c.prompts[0]; a.packets > 0 || c.prompts[1].packets > 0 {
			gapped := false
			for k := range c.prompts {
				gapped = gapped || c.prompts[k].gaps > 0
			}
			if gapped {
				sum.Jitter.GapCalls++
			}
		}
		if c.mic != nil {
			sum.Mic.PacketsSent += c.mic.sent.Load()
			sum.Mic.WriteErrors += c.mic.errs.Load()
		}
		readDelay = append(readDelay, c.readDelay...)
		sum.Jitter.Unstamped += int64(c.unstamped)
		if c.rrSeen.Load() {
			sum.Mic.ReportedCalls++
			sum.Mic.ReportedLost += c.rrLost.Load()
			rrJit = append(rrJit, int32(c.rrJitter.Load())*rtcSampleUS)
		}
	}
	cnt.ErrorKinds = fails.kinds
	sort.Slice(edges, func(i, j int) bool { return edges[i].at < edges[j].at })
	cur := 0
	for _, e := range edges {
		cur += e.d
		cnt.PeakConcurrent = max(cnt.PeakConcurrent, cur)
	}

	sum.Setup = RTCSetup{Offer: summarize(offer), Answer: summarize(answer), ICE: summarize(iceL), Connected: summarize(conn), FirstAudio: summarize(first)}
	sum.Turn, sum.EndSeen = summarize(turn), summarize(endSeen)
	if packets > 0 {
		au.Voiced = round2(float64(voiced) / float64(packets))
	}
	au.Prompt1, au.Prompt2 = promptCount(p1), promptCount(p2)
	au.Lost += au.Between
	// The second prompt's silent tail, from the calls that got all of it.
	au.TrailingQuiet = -1
	for _, c := range r.calls {
		if p := &c.prompts[1]; p.packets > 0 && int(p.expected()) == au.Prompt2.Mode {
			q := au.Prompt2.Mode - 1 - int(p.lastVoiced)
			if au.TrailingQuiet < 0 || q < au.TrailingQuiet {
				au.TrailingQuiet = q
			}
		}
	}
	au.TrailingQuiet = max(0, au.TrailingQuiet)
	for _, c := range r.calls {
		p := &c.prompts[1]
		if n := int(p.expected()); p.packets > 0 && n < au.Prompt2.Mode && c.readEnd > 0 && c.readEnd < c.closedAt && c.endAt > 0 {
			au.TeardownCut++
			au.TeardownMax = max(au.TeardownMax, au.Prompt2.Mode-n)
			for k := n; k < au.Prompt2.Mode; k++ {
				if _, ok := c.stamps.get(p.seq0 + uint16(k)); ok {
					au.TeardownInKernel++
				}
			}
			au.Prompt2.Short--
		}
	}
	au.Short = au.Prompt1.Short + au.Prompt2.Short
	for _, c := range r.calls {
		for k := range 2 {
			p, want := &c.prompts[k], au.Prompt1.Mode
			if k == 1 {
				want = au.Prompt2.Mode
			}
			if n := int(p.expected()); p.packets > 0 && n < want && len(au.ShortDetail) < 10 && (k == 0 && c.prompt1End > 0 || k == 1) {
				au.ShortDetail = append(au.ShortDetail, fmt.Sprintf("call %d (%s, %s), prompt %d: %d of %d packets, seq %d–%d, first at %.3f s, last at %.3f s, end seen at %.3f s (%s)",
					c.i, c.id, c.pair, k+1, n, want, p.seq0, p.seq0+uint16(p.maxIdx), time.Duration(p.firstAt).Seconds(), time.Duration(p.lastAt).Seconds(), time.Duration(c.endAt).Seconds(), c.endSeen)+
					fmt.Sprintf("; reader stopped at %.3f s (%v), closed at %.3f s", time.Duration(c.readEnd).Seconds(), c.readErr, time.Duration(c.closedAt).Seconds()))
			}
		}
	}
	sum.Jitter.Grid, sum.Jitter.InterArrival, sum.Jitter.RFC3550 = summarizeUS(grid), summarizeUS(inter), summarizeUS(jit)
	sum.Jitter.Segmented = summarizeUS(segd)
	sum.Jitter.ReadDelay = summarizeUS(readDelay)
	sum.Jitter.Stamped = int64(len(readDelay))
	sum.Jitter.ClientPacing, sum.Jitter.ClientResyncs = summarizeUS(r.pacer.late), r.pacer.resyncs
	sum.Mic.ServerJitter = summarizeUS(rrJit)

	r.cpu(sum, smp, runEnd, after, callSecs)
	r.phases(sum, smp, grid, arrivals, runEnd)
	for i := range sum.Timeline {
		t := &sum.Timeline[i]
		if sec := int(math.Ceil(t.T)) - 1; sec >= 0 && sec < len(perSec) {
			l := summarizeUS(perSec[sec])
			t.Packets, t.LateP99, t.LateMax = l.Count, l.P99, l.Max
			for _, v := range perSec[sec] {
				if v > 5000 {
					t.Late5++
				}
			}
		}
	}
	sum.Verdicts = judgeRTC(sum)
}

// cpu fills in the CPU and memory figures: the steady phase runs from the
// moment the last call heard its first packet to the moment the first
// call's first prompt ended.
func (r *rtcRun) cpu(sum *RTCSummary, smp *rtcSampler, runEnd int64, after rtcSample, callSecs float64) {
	c := &sum.CPU
	c.ServerPID = r.o.serverPID
	smp.mu.Lock()
	ss := slices.Clone(smp.samples)
	smp.mu.Unlock()
	if len(ss) < 2 {
		return
	}
	allUp, firstDone := r.milestones()
	a, b := -1, -1
	for i, x := range ss {
		if a < 0 && x.at >= allUp {
			a = i
		}
		if x.at <= firstDone {
			b = i
		}
	}
	if a >= 0 && b > a {
		x, y := ss[a], ss[b]
		secs := time.Duration(y.at - x.at).Seconds()
		c.SteadySeconds = round2(secs)
		c.SteadyCalls = float64(min(x.up, y.up))
		c.ServerCores = round2(float64(y.server-x.server) / clkTck / secs)
		c.ClientCores = round2(float64(y.self-x.self) / clkTck / secs)
		if c.SteadyCalls > 0 {
			c.ServerPerCallMS = round2(max(0, c.ServerCores-c.ServerIdleCores) * 1000 / c.SteadyCalls)
			c.ClientPerCallMS = round2(c.ClientCores * 1000 / c.SteadyCalls)
		}
		if secs < 2 {
			c.SteadyNote = fmt.Sprintf("only %.1f s with every call up and none past its first prompt: a faster -ramp or fewer calls gives a longer one", secs)
		}
		res := resources(fmt.Sprintf("steady: %d calls hearing the first prompt", int(c.SteadyCalls)), x.split, y.split, int(c.SteadyCalls), 0)
		var groups float64
		for g, v := range res.CPUCores {
			if g != "other" {
				groups += v
			}
		}
		c.OtherCores = round2(max(0, res.MachineBusyPct/100*float64(sum.Machine.CPUs)-groups))
		sum.Resource = append(sum.Resource, res)
	} else {
		c.SteadyNote = "no steady phase: the first call finished its first prompt before the last one heard its first packet (slow setup, or -ramp too slow for -calls)"
	}
	first, last := ss[0], ss[len(ss)-1]
	c.RunSeconds = round2(time.Duration(runEnd).Seconds())
	c.CallSeconds = round2(callSecs)
	c.ServerCPUSeconds = round2(float64(last.server-first.server) / clkTck)
	c.ClientCPUSeconds = round2(float64(last.self-first.self) / clkTck)
	if callSecs > 0 {
		c.ServerRunPerCallMS = round2(c.ServerCPUSeconds * 1000 / callSecs)
	}
	if sum.Calls.Started > 0 {
		c.ServerMSPerCall = round2(c.ServerCPUSeconds * 1000 / float64(sum.Calls.Started))
	}
	c.ServerRSSBefore, c.ServerRSSAfter = float64(first.serverRSS), float64(after.serverRSS)
	for _, x := range ss {
		c.ServerRSSPeak = max(c.ServerRSSPeak, float64(x.serverRSS))
		c.ClientRSSPeak = max(c.ClientRSSPeak, float64(x.selfRSS))
	}
	whole := resources("whole run: first offer → last call ended", first.split, last.split, sum.Calls.Started, 0)
	var ours float64
	for g, v := range whole.CPUCores {
		if g != "other" {
			ours += v
		}
	}
	c.OtherRun = round2(max(0, whole.MachineBusyPct/100*float64(sum.Machine.CPUs)-ours))
	sum.Resource = append(sum.Resource, whole)
	// One line a second for the JSON report.
	prev := first
	for _, x := range ss[1:] {
		if time.Duration(x.at-prev.at) < time.Second && x.at != last.at {
			continue
		}
		secs := time.Duration(x.at - prev.at).Seconds()
		res := resources("", prev.split, x.split, 0, 0)
		var ours float64
		for g, v := range res.CPUCores {
			if g != "other" {
				ours += v
			}
		}
		machine := res.MachineBusyPct / 100 * float64(sum.Machine.CPUs)
		sum.Timeline = append(sum.Timeline, RTCTick{T: round2(time.Duration(x.at).Seconds()), Active: x.active,
			ServerCores: round2(float64(x.server-prev.server) / clkTck / secs), ClientCores: round2(float64(x.self-prev.self) / clkTck / secs),
			MachineCores: round2(machine), OtherCores: round2(max(0, machine-ours)), ServerRSS: round2(float64(x.serverRSS) / (1 << 20))})
		prev = x
	}
}

// phases splits the grid lateness into the ramp (until every call has
// heard its first packet), the steady phase (until the first call's first
// prompt ends) and the rest (keys, second prompts, hangups).
func (r *rtcRun) phases(sum *RTCSummary, smp *rtcSampler, grid, arrivals []int32, runEnd int64) {
	allUp, firstDone := r.milestones()
	bounds := []struct {
		name     string
		from, to int64
	}{
		{"ramp: calls being set up", 0, allUp},
		{"steady: every call hearing its first prompt", allUp, firstDone},
		{"rest: keys, second prompts, hangups", firstDone, runEnd},
	}
	smp.mu.Lock()
	ss := slices.Clone(smp.samples)
	smp.mu.Unlock()
	for _, b := range bounds {
		if b.to <= b.from {
			continue
		}
		var v []int32
		for i, at := range arrivals {
			if t := int64(at) * int64(time.Millisecond); t >= b.from && t < b.to {
				v = append(v, grid[i])
			}
		}
		ph := RTCPhase{Name: b.name, From: round2(time.Duration(b.from).Seconds()), To: round2(time.Duration(b.to).Seconds()), Grid: summarizeUS(v)}
		x, y := -1, -1
		for i, smpl := range ss {
			if x < 0 && smpl.at >= b.from {
				x = i
			}
			if smpl.at <= b.to {
				y = i
			}
		}
		if x >= 0 && y > x {
			res := resources("", ss[x].split, ss[y].split, 0, 0)
			machine := res.MachineBusyPct / 100 * float64(sum.Machine.CPUs)
			for g, c := range res.CPUCores {
				if g != "other" {
					machine -= c
				}
			}
			ph.OtherCores = round2(max(0, machine))
		}
		sum.Jitter.Phases = append(sum.Jitter.Phases, ph)
	}
}

// milestones returns when the last call heard its first packet and when
// the first call's first prompt ended (run clock).
func (r *rtcRun) milestones() (allUp, firstDone int64) {
	firstDone = math.MaxInt64
	for _, call := range r.calls {
		if call == nil {
			continue
		}
		allUp = max(allUp, call.firstAt.Load())
		if call.prompt1End > 0 {
			firstDone = min(firstDone, call.prompt1End)
		}
	}
	return allUp, firstDone
}

// promptCount compares one prompt's packet count across calls with the
// count most calls got.
func promptCount(counts []int) RTCCount {
	if len(counts) == 0 {
		return RTCCount{}
	}
	freq := map[int]int{}
	mode := 0
	for _, n := range counts {
		freq[n]++
		if freq[n] > freq[mode] || freq[n] == freq[mode] && n > mode {
			mode = n
		}
	}
	out := RTCCount{Calls: len(counts), Mode: mode, Seconds: round2(float64(mode) * rtcFrame.Seconds()), Min: slices.Min(counts), Max: slices.Max(counts)}
	for _, n := range counts {
		switch {
		case n < mode:
			out.Short++
		case n > mode:
			out.Long++
		}
	}
	return out
}

// summarizeUS is summarize for µs samples.
func summarizeUS(v []int32) Latency {
	ds := make([]time.Duration, len(v))
	for i, x := range v {
		ds[i] = time.Duration(x) * time.Microsecond
	}
	return summarize(ds)
}

// rtcGoals are the benchmark goals of the browser-call issue.
var rtcGoals = []Goal{
	{Name: "concurrent browser calls completed", Target: 200, Unit: "calls", HigherIsBetter: true},
	{Name: "server audio jitter p99 (lateness vs the 20 ms grid)", Target: 5, Unit: "ms"},
	{Name: "lost prompt audio (lost, short or silent prompts, missing second prompts)", Target: 0, Unit: "prompts"},
}

func judgeRTC(s *RTCSummary) []Verdict {
	var out []Verdict
	note := ""
	if s.Params.Calls != 200 {
		note = fmt.Sprintf(" (NOTE: this run had %d calls; the goal is at 200)", s.Params.Calls)
	}
	peak := s.Calls.PeakConcurrent
	v := Verdict{Goal: rtcGoals[0].Name, Target: 200, Unit: "calls", Measured: float64(s.Calls.Completed),
		Source: fmt.Sprintf("GET /v1/calls/{id} status completed; %d up at once at the peak%s", peak, note)}
	v.Met = s.Calls.Completed >= 200 && peak >= 200 && s.Calls.Failed == 0
	v.Detail = map[bool]string{true: "met", false: "MISSED"}[v.Met]
	out = append(out, v)

	g := s.Jitter.Grid.P99
	v = Verdict{Goal: rtcGoals[1].Name, Target: 5, Unit: "ms", Measured: g, Met: g <= 5 && s.Jitter.Grid.Count > 0,
		Source: fmt.Sprintf("%d packets, kernel receive time; RFC 3550 J p99 %.2f ms, interarrival deviation p99 %.2f ms", s.Jitter.Grid.Count, s.Jitter.RFC3550.P99, s.Jitter.InterArrival.P99)}
	for _, ph := range s.Jitter.Phases {
		v.Source += fmt.Sprintf("; %s p99 %.2f ms", strings.SplitN(ph.Name, ":", 2)[0], ph.Grid.P99)
	}
	if s.CPU.OtherRun >= disturbedCores {
		v.Source += fmt.Sprintf(" — DISTURBED: other processes used %.2f cores over the run", s.CPU.OtherRun)
	}
	if v.Met {
		v.Detail = fmt.Sprintf("met (%.0f%% of the budget)", 100*g/5)
	} else {
		v.Detail = fmt.Sprintf("MISSED by %.1f ms (%.1f× the budget)", g-5, g/5)
	}
	out = append(out, v)

	missing := s.Calls.Pressed - s.Calls.Prompt2
	audibleCuts := 0
	if s.Audio.TeardownMax > s.Audio.TrailingQuiet {
		audibleCuts = s.Audio.TeardownCut
	}
	bad := s.Audio.Short + s.Audio.Inaudible + missing + audibleCuts + int(min(s.Audio.Lost, int64(1<<30)))
	v = Verdict{Goal: rtcGoals[2].Name, Target: 0, Unit: "", Measured: float64(bad), Met: bad == 0 && s.Audio.Received > 0,
		Source: fmt.Sprintf("%d packets lost, %d short prompts, %d inaudible prompts, %d calls pressed 1 and heard no second prompt; %d second prompts cut by ≤ %d packets at teardown (%s)",
			s.Audio.Lost, s.Audio.Short, s.Audio.Inaudible, missing, s.Audio.TeardownCut, s.Audio.TeardownMax,
			map[bool]string{true: "silence: not counted", false: "with sound: counted"}[audibleCuts == 0])}
	v.Detail = map[bool]string{true: "met", false: "MISSED"}[v.Met]
	out = append(out, v)
	return out
}

func printRTCReport(w io.Writer, s *RTCSummary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string, args ...any) { fmt.Fprintf(tw, "  %s\t"+v+"\n", append([]any{k}, args...)...) }
	m, p := s.Machine, s.Params
	fmt.Fprintf(tw, "\nSwitchboard browser-call benchmark  calls=%d  ramp=%.0f/s  key by %s  caller sends %s\n", p.Calls, p.Ramp, p.DTMF, toneName(p.ToneHz))
	fmt.Fprintf(tw, "flow: say (~13 s), gather 1 key | branch, say, hangup; quiet before the key %.0f ms\n", p.QuietMS)
	fmt.Fprintf(tw, "machine: %d CPUs (%s), %.1f GiB, %s, %s\n", m.CPUs, m.CPUModel, m.MemoryGiB, m.OS, m.GoVersion)
	if p.Build != "" {
		fmt.Fprintf(tw, "server build: %s\n", p.Build)
	}
	if p.TTS != "" {
		fmt.Fprintf(tw, "server TTS engine: %s\n", p.TTS)
	}
	fmt.Fprintf(tw, "background load from other processes before the run: %.2f cores\n", m.BackgroundCores)

	c := s.Calls
	fmt.Fprintf(tw, "\nCalls\n")
	row("through the flow", "started %d, answered %d, connected %d, first audio %d, first prompt done %d, pressed %d, second prompt %d, ended by the server %d",
		c.Started, c.Answered, c.Connected, c.FirstAudio, c.Prompt1Done, c.Pressed, c.Prompt2, c.EndedByServer)
	row("completed (API)", "%d (hung up by the bot: %d); peak concurrent %d; failed %d", c.Completed, c.HangupByBot, c.PeakConcurrent, c.Failed)
	for st, n := range c.FailedAt {
		row("failed at "+st, "%d", n)
	}
	for st, n := range c.StatusesNotDone {
		row("status "+strconv.Quote(st), "%d", n)
	}
	printErrors(tw, c.ErrorKinds)

	fmt.Fprintf(tw, "\nSetup (from the POST of the offer)\n")
	row("offer + ICE gathering (client)", "%s", lat(s.Setup.Offer))
	row("POST → SDP answer", "%s", lat(s.Setup.Answer))
	row("POST → ICE connected", "%s", lat(s.Setup.ICE))
	row("POST → DTLS connected", "%s", lat(s.Setup.Connected))
	row("POST → first prompt packet", "%s", lat(s.Setup.FirstAudio))
	row("key → first packet of the reply", "%s", lat(s.Turn))
	row("last packet → end seen", "%s", lat(s.EndSeen))

	a := s.Audio
	fmt.Fprintf(tw, "\nServer audio (%s)\n", a.Codec)
	row("packets", "received %d of %d expected, lost %d (%d of them between the prompts), out of order %d, other payload types %d", a.Received, a.Expected, a.Lost, a.Between, a.OutOfOrder, a.OtherPT)
	row("first prompt", "%d packets (%.2f s) in most calls; min %d, max %d; %d calls short", a.Prompt1.Mode, a.Prompt1.Seconds, a.Prompt1.Min, a.Prompt1.Max, a.Prompt1.Short)
	row("second prompt", "%d packets (%.2f s) in most calls; min %d, max %d; %d calls short (besides teardown cuts)", a.Prompt2.Mode, a.Prompt2.Seconds, a.Prompt2.Min, a.Prompt2.Max, a.Prompt2.Short)
	if a.TeardownCut > 0 {
		row("cut at teardown", "%d second prompts lost their last %d packet(s) or fewer: the server closed the connection before the client read them (the prompt ends with %d silent packets); %d of the missing packets had been read off the socket by the client's ICE layer (so sent and delivered, then dropped inside the client on close)",
			a.TeardownCut, a.TeardownMax, a.TrailingQuiet, a.TeardownInKernel)
	}
	for _, d := range a.ShortDetail {
		row("short", "%s", d)
	}
	row("sound", "%.0f%% of packets carry sound; %d prompts inaudible", 100*a.Voiced, a.Inaudible)
	j := s.Jitter
	clock := "the kernel's receive time (SO_TIMESTAMPNS)"
	if j.Unstamped > 0 {
		clock = fmt.Sprintf("the kernel's receive time for %d packets, the client's read for %d", j.Stamped, j.Unstamped)
	}
	row("arrival clock", "%s", clock)
	row("client read delay", "%s (after the kernel got the packet; not in the figures below)", lat(j.ReadDelay))
	row("lateness vs 20 ms grid", "%s", lat(j.Grid))
	row("  re-anchored after gaps", "%s", lat(j.Segmented))
	for _, ph := range j.Phases {
		row("  "+ph.Name, "%s; %.1f–%.1f s, other processes %.2f cores", lat(ph.Grid), ph.From, ph.To, ph.OtherCores)
	}
	row("interarrival deviation", "%s", lat(j.InterArrival))
	row("RFC 3550 jitter", "%s", lat(j.RFC3550))
	row("gaps ≥ 60 ms", "%d, in %d calls", j.Gaps, j.GapCalls)
	row("client send lateness", "%s; %d resyncs", lat(j.ClientPacing), j.ClientResyncs)

	mc := s.Mic
	fmt.Fprintf(tw, "\nCaller audio (to the server)\n")
	row("packets sent", "%d (%d write errors)", mc.PacketsSent, mc.WriteErrors)
	row("server receiver reports", "%d calls; %d lost in total; jitter %s", mc.ReportedCalls, mc.ReportedLost, lat(mc.ServerJitter))

	u := s.CPU
	fmt.Fprintf(tw, "\nCPU and memory (server pid %d)\n", u.ServerPID)
	if u.SteadySeconds > 0 {
		row("steady phase", "%.1f s with %.0f calls up: switchboard %.2f cores (%.2f idle) = %.2f ms CPU per call-second above idle (%.2f%% of a core per call); sbbench %.2f cores = %.2f ms per call-second",
			u.SteadySeconds, u.SteadyCalls, u.ServerCores, u.ServerIdleCores, u.ServerPerCallMS, u.ServerPerCallMS/10, u.ClientCores, u.ClientPerCallMS)
		row("other processes", "%.2f cores in the steady phase, %.2f over the run (machine busy time outside the stack and sbbench)", u.OtherCores, u.OtherRun)
	}
	if u.SteadyNote != "" {
		row("note", "%s", u.SteadyNote)
	}
	row("whole run", "%.1f s, %.0f call-seconds: switchboard %.1f CPU-s (%.2f ms per call-second, %.0f ms per call), sbbench %.1f CPU-s",
		u.RunSeconds, u.CallSeconds, u.ServerCPUSeconds, u.ServerRunPerCallMS, u.ServerMSPerCall, u.ClientCPUSeconds)
	row("switchboard RSS", "%.0f MiB before, %.0f MiB peak, %.0f MiB after", u.ServerRSSBefore/(1<<20), u.ServerRSSPeak/(1<<20), u.ServerRSSAfter/(1<<20))
	row("sbbench RSS peak", "%.0f MiB", u.ClientRSSPeak/(1<<20))
	if len(s.Timeline) > 0 {
		fmt.Fprintf(tw, "\nSecond by second (cores; the server's packets that arrived in that second)\n")
		fmt.Fprintf(tw, "  t\tactive\tswitchboard\tsbbench\tother\tpackets\tlate p99 ms\tlate max ms\tlate > 5 ms\n")
		for _, t := range s.Timeline {
			fmt.Fprintf(tw, "  %.0f\t%d\t%.2f\t%.2f\t%.2f\t%d\t%.1f\t%.1f\t%d\n", t.T, t.Active, t.ServerCores, t.ClientCores, t.OtherCores, t.Packets, t.LateP99, t.LateMax, t.Late5)
		}
	}
	for _, r := range s.Resource {
		fmt.Fprintf(tw, "\nWhere the time goes: %s, %.2f s\n", r.Window, r.Seconds)
		row("CPU cores", "switchboard %.2f, postgres %.2f, pg-bg %.2f, redis %.2f, sbbench %.2f, other %.2f; machine %.0f%% busy",
			r.CPUCores["switchboard"], r.CPUCores["postgres"], r.CPUCores["pg-bg"], r.CPUCores["redis"], r.CPUCores["sbbench"], r.CPUCores["other"], r.MachineBusyPct)
		if r.PGCommits > 0 || r.RedisCommands > 0 {
			row("PostgreSQL / Redis", "%d commits, %d Redis commands", r.PGCommits, r.RedisCommands)
		}
	}
	if len(s.Failures) > 0 {
		fmt.Fprintf(tw, "\nFirst failures\n")
		for _, f := range s.Failures {
			row(fmt.Sprintf("call %d %s", f.Call, f.ID), "%s: %s", f.Stage, f.Error)
		}
	}
	fmt.Fprintf(tw, "\nGoals\n")
	for _, v := range s.Verdicts {
		row(v.Goal, "%s — measured %s %s (target %s) — %s", v.Detail, num(v.Measured), v.Unit, num(v.Target), v.Source)
	}
	tw.Flush()
}
