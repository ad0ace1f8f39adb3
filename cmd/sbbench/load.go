package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// api is a keep-alive HTTP client for the Switchboard API.
type api struct {
	base, key string
	hc        *http.Client
}

func newAPI(base, key string, conns int) *api {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &api{base: strings.TrimRight(base, "/"), key: key, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (a *api) ready(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/readyz", nil)
		resp, err := a.hc.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("server at %s not ready after %s (last error %v)", a.base, within, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (a *api) createEndpoint(ctx context.Context, url string) (string, error) {
	body, _ := json.Marshal(map[string]any{"url": url, "events": []string{"message.delivered"}, "description": "sbbench receiver"})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/v1/webhook-endpoints", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+a.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
	}
	var ep struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &ep); err != nil {
		return "", err
	}
	return ep.ID, nil
}

// send posts one SMS and returns the new message id (from Location) or an
// error naming the status.
func (a *api) send(ctx context.Context, from, to, text string) (string, error) {
	body := make([]byte, 0, 128)
	body = append(body, `{"channel":"sms","from":"`...)
	body = append(body, from...)
	body = append(body, `","to":"`...)
	body = append(body, to...)
	body = append(body, `","text":"`...)
	body = append(body, text...)
	body = append(body, `"}`...)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/v1/messages", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.hc.Do(req)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return "", fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	id := loc[strings.LastIndexByte(loc, '/')+1:]
	if id == "" {
		return "", fmt.Errorf("202 without a Location header")
	}
	return id, nil
}

// recipients is how many distinct numbers randomTo draws from: with the
// default nearly every message is a first contact (a new customer, identity
// and conversation); a small pool measures repeat customers.
var recipients = 10_000_000

// randomTo is a +1 555 number: a possible but unassigned NANP number, which
// the sandbox carrier delivers.
func randomTo(r *rand.Rand) string {
	return "+1555" + fmt.Sprintf("%07d", r.IntN(recipients))
}

type loadResult struct {
	stats APIStats
	ids   []string
}

// errorTally counts errors and keeps the first few kinds.
type errorTally struct {
	mu    sync.Mutex
	n     int
	kinds map[string]int
}

func (e *errorTally) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	if e.kinds == nil {
		e.kinds = map[string]int{}
	}
	k := err.Error()
	if len(k) > 160 {
		k = k[:160]
	}
	if _, ok := e.kinds[k]; ok || len(e.kinds) < 5 {
		e.kinds[k]++
	}
}

// progress prints a line a second to stderr until stop is called.
func progress(label string, total int, done *atomic.Int64, errs *errorTally) (stop func()) {
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
				logf("%s: %d/%d sent, %d msg/s in the last second, %d errors", label, d, total, d-last, ne)
				last = d
			}
		}
	})
	return func() { close(quit); wg.Wait() }
}

// runThroughput sends n messages from c closed-loop clients.
// quarter is closed when a quarter of them are sent.
func runThroughput(ctx context.Context, a *api, n, c int, from string, quarter chan struct{}) loadResult {
	var next, done atomic.Int64
	var errs errorTally
	lats := make([][]time.Duration, c)
	ids := make([][]string, c)
	stop := progress("phase 1", n, &done, &errs)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range c {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w)+1, uint64(start.UnixNano())))
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				t0 := time.Now()
				id, err := a.send(ctx, from, randomTo(r), "sbbench throughput "+strconv.FormatInt(i, 10))
				lat := time.Since(t0)
				if done.Add(1) == int64(max(n/4, 1)) {
					close(quarter)
				}
				if err != nil {
					errs.add(err)
					continue
				}
				lats[w] = append(lats[w], lat)
				ids[w] = append(ids[w], id)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	stop()
	var all []time.Duration
	var allIDs []string
	for w := range c {
		all = append(all, lats[w]...)
		allIDs = append(allIDs, ids[w]...)
	}
	return loadResult{stats: apiStats(int(done.Load()), all, &errs, elapsed, nil), ids: allIDs}
}

// runFixedRate offers total messages at rate msg/s, open loop: a pacer
// hands each request its scheduled start time and a pool of workers sends
// it. Latency is measured from the scheduled time, so if the server (or
// the pool) falls behind, the wait counts against it instead of silently
// lowering the offered rate.
func runFixedRate(ctx context.Context, a *api, rate, total, workers int, from string) loadResult {
	var done atomic.Int64
	var errs errorTally
	jobs := make(chan time.Time, total)
	lats := make([][]time.Duration, workers)
	svc := make([][]time.Duration, workers)
	ids := make([][]string, workers)
	stop := progress("phase 2", total, &done, &errs)
	interval := time.Second / time.Duration(rate)
	start := time.Now().Add(20 * time.Millisecond)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w)+1000, uint64(start.UnixNano())))
			var i int
			for due := range jobs {
				if ctx.Err() != nil {
					continue
				}
				t0 := time.Now()
				id, err := a.send(ctx, from, randomTo(r), "sbbench latency "+strconv.Itoa(w)+"-"+strconv.Itoa(i))
				i++
				end := time.Now()
				done.Add(1)
				if err != nil {
					errs.add(err)
					continue
				}
				lats[w] = append(lats[w], end.Sub(due))
				svc[w] = append(svc[w], end.Sub(t0))
				ids[w] = append(ids[w], id)
			}
		})
	}
	for i := range total {
		if ctx.Err() != nil {
			break
		}
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		jobs <- due
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	stop()
	var all, allSvc []time.Duration
	var allIDs []string
	for w := range workers {
		all = append(all, lats[w]...)
		allSvc = append(allSvc, svc[w]...)
		allIDs = append(allIDs, ids[w]...)
	}
	st := apiStats(int(done.Load()), all, &errs, elapsed, allSvc)
	st.OfferedPerSec = float64(rate)
	return loadResult{stats: st, ids: allIDs}
}

func apiStats(sent int, lats []time.Duration, errs *errorTally, elapsed time.Duration, service []time.Duration) APIStats {
	s := APIStats{
		Sent: sent, Accepted: len(lats), Errors: errs.n, ErrorKinds: errs.kinds,
		Seconds: elapsed.Seconds(), PerSec: float64(len(lats)) / elapsed.Seconds(),
		Latency: summarize(lats),
	}
	if service != nil {
		sv := summarize(service)
		s.ServiceLatency = &sv
	}
	return s
}
