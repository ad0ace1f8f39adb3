package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// receiver is the webhook endpoint the benchmark registers: it answers 200
// at once and remembers when each message's delivered webhook arrived.
type receiver struct {
	ln  net.Listener
	srv *http.Server

	mu    sync.Mutex
	first map[string]time.Time // message id → arrival of its first webhook
	hooks map[string]struct{}  // webhook-id headers seen
	total int                  // requests, retries and duplicates included
	dups  int                  // requests whose webhook-id was seen before
	bad   int                  // bodies that did not parse
}

func startReceiver() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("webhook receiver: %w", err)
	}
	r := &receiver{ln: ln, first: map[string]time.Time{}, hooks: map[string]struct{}{}}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	go r.srv.Serve(ln)
	return r, nil
}

func (r *receiver) URL() string { return "http://" + r.ln.Addr().String() + "/hook" }

func (r *receiver) Close() { r.srv.Close() }

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	now := time.Now()
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	w.WriteHeader(http.StatusOK)
	var ev struct {
		Type string `json:"type"`
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	parsed := err == nil && json.Unmarshal(body, &ev) == nil && ev.Data.ID != ""
	hook := req.Header.Get("webhook-id")
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total++
	if !parsed {
		r.bad++
		return
	}
	if _, ok := r.hooks[hook]; ok {
		r.dups++
	}
	r.hooks[hook] = struct{}{}
	if _, ok := r.first[ev.Data.ID]; !ok {
		r.first[ev.Data.ID] = now
	}
}

func (r *receiver) counts() (messages, total, dups, bad int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.first), r.total, r.dups, r.bad
}

func (r *receiver) arrival(id string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.first[id]
	return t, ok
}

// pipeline reads the delivery side of the benchmark back from PostgreSQL.
type pipeline struct {
	db   *pgx.Conn
	recv *receiver
	api  *api
	poll time.Duration
}

func (p *pipeline) checkClean(ctx context.Context) error {
	var n int
	if err := p.db.QueryRow(ctx, `SELECT count(*) FROM messages`).Scan(&n); err != nil {
		return fmt.Errorf("query messages: %w", err)
	}
	if n > 0 {
		logf("warning: the database already holds %d messages; delivery counts assume a clean database (scripts/bench.sh recreates it)", n)
	}
	return nil
}

func (p *pipeline) statusCounts(ctx context.Context) (map[string]int, error) {
	rows, err := p.db.Query(ctx, `SELECT status, count(*) FROM messages GROUP BY status`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}

// waitDone waits until no message is in flight (accepted, queued, sending
// or sent) and every delivered message's webhook has arrived, or timeout.
func (p *pipeline) waitDone(ctx context.Context, label string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	lastLog := time.Time{}
	for {
		st, err := p.statusCounts(ctx)
		if err != nil {
			return fmt.Errorf("poll statuses: %w", err)
		}
		inflight := st["accepted"] + st["queued"] + st["sending"] + st["sent"]
		hooked, _, _, _ := p.recv.counts()
		done := inflight == 0 && hooked >= st["delivered"]
		if done || time.Since(lastLog) >= time.Second {
			logf("%s drain: delivered %d, in flight %d (accepted %d, queued %d, sending %d, sent %d), failed/undelivered %d, webhooks %d",
				label, st["delivered"], inflight, st["accepted"], st["queued"], st["sending"], st["sent"], st["failed"]+st["undelivered"], hooked)
			lastLog = time.Now()
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %w after %s (%d in flight, %d of %d webhooks)", label, errTimeout, timeout, inflight, hooked, st["delivered"])
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(p.poll):
		}
	}
}

// stats reads back the events of messages ids.
func (p *pipeline) stats(ctx context.Context, ids []string, m0, m1 serverMetrics) (PipelineStats, error) {
	var ps PipelineStats
	ps.Messages = len(ids)
	if len(ids) == 0 {
		return ps, nil
	}
	rows, err := p.db.Query(ctx, `SELECT m.id::text, m.status, m.created_at, q.created_at, s.created_at, d.created_at
		FROM messages m
		LEFT JOIN message_events q ON q.message_id = m.id AND q.status = 'queued'
		LEFT JOIN message_events s ON s.message_id = m.id AND s.status = 'sending'
		LEFT JOIN message_events d ON d.message_id = m.id AND d.status = 'delivered'
		WHERE m.id = ANY($1::uuid[])`, ids)
	if err != nil {
		return ps, fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	var acceptToDelivered, queuedToSending, acceptToSending, acceptToWebhook []time.Duration
	var firstAccepted, lastDelivered, lastWebhook time.Time
	for rows.Next() {
		var id, status string
		var created time.Time
		var queued, sending, delivered *time.Time
		if err := rows.Scan(&id, &status, &created, &queued, &sending, &delivered); err != nil {
			return ps, err
		}
		if firstAccepted.IsZero() || created.Before(firstAccepted) {
			firstAccepted = created
		}
		if queued != nil && sending != nil {
			queuedToSending = append(queuedToSending, sending.Sub(*queued))
		}
		if sending != nil {
			acceptToSending = append(acceptToSending, sending.Sub(created))
		}
		if delivered != nil {
			ps.Delivered++
			acceptToDelivered = append(acceptToDelivered, delivered.Sub(created))
			if delivered.After(lastDelivered) {
				lastDelivered = *delivered
			}
		}
		if status == "failed" || status == "undelivered" {
			ps.Failed++
		}
		if at, ok := p.recv.arrival(id); ok {
			ps.WebhooksReceived++
			acceptToWebhook = append(acceptToWebhook, at.Sub(created))
			if at.After(lastWebhook) {
				lastWebhook = at
			}
		}
	}
	if err := rows.Err(); err != nil {
		return ps, err
	}
	ps.WebhooksExpected = ps.Delivered
	ps.QueuedEvents = len(queuedToSending)
	if ps.Delivered > 0 {
		span := lastDelivered.Sub(firstAccepted)
		ps.DeliverySeconds = span.Seconds()
		ps.DeliveredPerSec = float64(ps.Delivered) / span.Seconds()
	}
	if ps.WebhooksReceived > 0 {
		span := lastWebhook.Sub(firstAccepted)
		ps.WebhookSeconds = span.Seconds()
		ps.WebhookedPerSec = float64(ps.WebhooksReceived) / span.Seconds()
	}
	ps.AcceptToDelivered = summarize(acceptToDelivered)
	ps.EnqueueToPickup = summarize(queuedToSending)
	ps.AcceptToPickup = summarize(acceptToSending)
	ps.AcceptToWebhook = summarize(acceptToWebhook)
	if m0.pickup != nil && m1.pickup != nil {
		ps.ServerPickup = m1.pickup.sub(m0.pickup).summary()
	}
	ps.SweptMessages = int(m1.counters[sweptMessages] - m0.counters[sweptMessages])
	ps.SweptWebhooks = int(m1.counters[sweptWebhooks] - m0.counters[sweptWebhooks])
	_, total, dups, bad := p.recv.counts()
	ps.ReceiverRequestsTotal, ps.ReceiverDuplicates, ps.ReceiverUnparsed = total, dups, bad
	return ps, nil
}

// histogram is a cumulative Prometheus histogram: upper bound → count.
type histogram map[float64]float64

const (
	pickupMetric  = "switchboard_queue_pickup_seconds_bucket"
	sweptMessages = `switchboard_swept_total{kind="message"}`
	sweptWebhooks = `switchboard_swept_total{kind="webhook"}`
)

// serverMetrics is what the benchmark reads from the server's /metrics.
type serverMetrics struct {
	pickup   histogram
	counters map[string]float64
}

// scrapeMetrics reads the server's own enqueue→pickup histogram (measured
// from the enqueue timestamp in each task to the worker picking it up) and
// the sweeper's re-enqueue counters.
func (a *api) scrapeMetrics(ctx context.Context) serverMetrics {
	var m serverMetrics
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/metrics", nil)
	resp, err := a.hc.Do(req)
	if err != nil {
		return m
	}
	defer resp.Body.Close()
	h := histogram{}
	m.pickup, m.counters = h, map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, name := range []string{sweptMessages, sweptWebhooks} {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				m.counters[name], _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
			}
		}
		if !strings.HasPrefix(line, pickupMetric+"{") {
			continue
		}
		i := strings.Index(line, `le="`)
		if i < 0 {
			continue
		}
		rest := line[i+4:]
		j := strings.IndexByte(rest, '"')
		k := strings.LastIndexByte(line, ' ')
		if j < 0 || k < 0 {
			continue
		}
		le, err1 := strconv.ParseFloat(rest[:j], 64)
		if rest[:j] == "+Inf" {
			le, err1 = math.Inf(1), nil
		}
		v, err2 := strconv.ParseFloat(line[k+1:], 64)
		if err1 == nil && err2 == nil {
			h[le] += v
		}
	}
	return m
}

func (h histogram) sub(o histogram) histogram {
	out := histogram{}
	for k, v := range h {
		out[k] = v - o[k]
	}
	return out
}

// summary gives p50 and p99 as the upper bound of the bucket they fall in.
func (h histogram) summary() *BucketSummary {
	bounds := make([]float64, 0, len(h))
	for k := range h {
		bounds = append(bounds, k)
	}
	sort.Float64s(bounds)
	if len(bounds) == 0 {
		return nil
	}
	total := h[bounds[len(bounds)-1]]
	if total <= 0 {
		return nil
	}
	at := func(q float64) float64 {
		for _, b := range bounds {
			if h[b] >= q*total {
				return b * 1000
			}
		}
		return math.Inf(1)
	}
	return &BucketSummary{Count: int(total), P50AtMostMs: finite(at(0.50)), P99AtMostMs: finite(at(0.99))}
}

// finite maps +Inf (beyond the last bucket) to -1 so it survives JSON.
func finite(v float64) float64 {
	if math.IsInf(v, 0) {
		return -1
	}
	return v
}
