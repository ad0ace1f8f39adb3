package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
)

const (
	baselineQueue = "bench-baseline"
	baselineType  = "bench:noop"
)

// runBaseline pushes n tasks through bare asynq on the same Redis: c
// goroutines enqueue with one asynq.Client while an asynq.Server with a
// no-op handler (Concurrency 64, TaskCheckInterval 10ms, as Switchboard's
// worker is configured) drains them. Each payload carries its index and
// enqueue time, so pickup latency is measured like the server's own metric.
func runBaseline(ctx context.Context, redisURL string, n, c int) (*BaselineStats, error) {
	opt, err := asynq.ParseRedisURI(redisURL)
	if err != nil {
		return nil, err
	}
	client := asynq.NewClient(opt)
	defer client.Close()

	pickup := make([]time.Duration, n)
	var processed atomic.Int64
	var lastDone atomic.Int64 // Unix ns of the last completion
	allDone := make(chan struct{})
	mux := asynq.NewServeMux()
	mux.HandleFunc(baselineType, func(ctx context.Context, t *asynq.Task) error {
		now := time.Now()
		p := t.Payload()
		if len(p) != 16 {
			return fmt.Errorf("bad payload: %w", asynq.SkipRetry)
		}
		i := binary.LittleEndian.Uint64(p[:8])
		at := int64(binary.LittleEndian.Uint64(p[8:]))
		if i < uint64(n) {
			pickup[i] = now.Sub(time.Unix(0, at))
		}
		lastDone.Store(now.UnixNano())
		if processed.Add(1) == int64(n) {
			close(allDone)
		}
		return nil
	})
	srv := asynq.NewServer(opt, asynq.Config{
		Concurrency:       64,
		Queues:            map[string]int{baselineQueue: 1},
		TaskCheckInterval: 10 * time.Millisecond,
		LogLevel:          asynq.WarnLevel,
	})
	if err := srv.Start(mux); err != nil {
		return nil, err
	}
	defer srv.Shutdown()
	time.Sleep(200 * time.Millisecond) // let the server's processors start polling

	var next, enq atomic.Int64
	var errs errorTally
	stop := progress("baseline enqueue", n, &enq, &errs)
	start := time.Now()
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				p := make([]byte, 16)
				binary.LittleEndian.PutUint64(p[:8], uint64(i))
				binary.LittleEndian.PutUint64(p[8:], uint64(time.Now().UnixNano()))
				_, err := client.EnqueueContext(ctx, asynq.NewTask(baselineType, p), asynq.Queue(baselineQueue))
				enq.Add(1)
				if err != nil {
					errs.add(err)
				}
			}
		})
	}
	wg.Wait()
	enqElapsed := time.Since(start)
	stop()
	want := int64(n) - int64(errs.n)
	var waitErr error
	if want == int64(n) {
		select {
		case <-allDone:
		case <-time.After(60 * time.Second):
			waitErr = fmt.Errorf("%d of %d baseline tasks processed after 60s", processed.Load(), n)
		case <-ctx.Done():
			waitErr = ctx.Err()
		}
	} else {
		time.Sleep(2 * time.Second)
	}
	got := processed.Load()
	procElapsed := time.Unix(0, lastDone.Load()).Sub(start)
	var lat []time.Duration
	for _, d := range pickup {
		if d > 0 {
			lat = append(lat, d)
		}
	}
	st := &BaselineStats{
		Tasks: n, Enqueued: n - errs.n, EnqueueErrors: errs.n, Processed: int(got),
		EnqueueSeconds: enqElapsed.Seconds(), EnqueuedPerSec: float64(n-errs.n) / enqElapsed.Seconds(),
		ProcessSeconds: procElapsed.Seconds(), Pickup: summarize(lat),
	}
	if procElapsed > 0 {
		st.ProcessedPerSec = float64(got) / procElapsed.Seconds()
	}
	return st, waitErr
}
