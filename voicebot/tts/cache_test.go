package tts

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingEngine renders len(text)*100 samples and counts renders.
type countingEngine struct {
	renders   atomic.Int64
	cancelled atomic.Int64 // renders stopped by their context
	delay     time.Duration
	fail      error
	started   chan struct{} // receives once per render start, when set
}

func (e *countingEngine) Name() string { return "counting" }

func (e *countingEngine) Synthesize(ctx context.Context, r Request) (Audio, error) {
	e.renders.Add(1)
	if e.started != nil {
		e.started <- struct{}{}
	}
	if e.delay > 0 {
		select {
		case <-time.After(e.delay):
		case <-ctx.Done():
			e.cancelled.Add(1)
			return Audio{}, ctx.Err()
		}
	}
	if e.fail != nil {
		return Audio{}, e.fail
	}
	return Audio{SampleRate: r.SampleRate, Samples: make([]int16, 100*len(r.Text))}, nil
}

func TestCacheHitsAndMisses(t *testing.T) {
	e := &countingEngine{}
	c := NewCache(e, 1<<20)
	ctx := context.Background()
	reqs := []Request{
		{Text: "hello"},
		{Text: "hello"},                   // hit
		{Text: "hello", SampleRate: 8000}, // hit: 0 means 8000
		{Text: "hello", SampleRate: 16000},
		{Text: "hello", Voice: "b"},
		{Text: "hello", Language: "de"},
		{Text: "Hello"},
		{Text: "hello", Voice: "b"}, // hit
	}
	for _, r := range reqs {
		a, err := c.Synthesize(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if want := r.rate(); a.SampleRate != want {
			t.Errorf("%+v: rate %d, want %d", r, a.SampleRate, want)
		}
	}
	hits, misses := c.Stats()
	if hits != 3 || misses != 5 || e.renders.Load() != 5 {
		t.Errorf("hits %d misses %d renders %d, want 3 5 5", hits, misses, e.renders.Load())
	}
	if c.Len() != 5 {
		t.Errorf("Len = %d, want 5", c.Len())
	}
	if c.Name() != "counting" {
		t.Errorf("Name = %q", c.Name())
	}
}

func TestCacheEvictsLeastRecentlyUsedByBytes(t *testing.T) {
	e := &countingEngine{}
	// "aaaa" renders 400 samples = 800 bytes (+ small key overhead).
	c := NewCache(e, 2000)
	ctx := context.Background()
	get := func(text string) {
		t.Helper()
		if _, err := c.Synthesize(ctx, Request{Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	get("aaaa")
	get("bbbb")
	get("aaaa") // a is now the most recent
	get("cccc") // over budget: b goes
	if c.Len() != 2 || c.Bytes() > 2000 {
		t.Fatalf("Len %d Bytes %d, want 2 entries within 2000 bytes", c.Len(), c.Bytes())
	}
	before := e.renders.Load()
	get("aaaa")
	get("cccc")
	if e.renders.Load() != before {
		t.Error("a and c should still be cached")
	}
	get("bbbb")
	if e.renders.Load() != before+1 {
		t.Error("b should have been evicted")
	}
	// Larger than the whole budget: served, never stored.
	get("this text renders far more than two thousand bytes")
	if c.Bytes() > 2000 {
		t.Errorf("Bytes = %d over budget", c.Bytes())
	}
}

func TestCacheConcurrentMissesRenderOnce(t *testing.T) {
	e := &countingEngine{delay: 50 * time.Millisecond}
	c := NewCache(e, 1<<20)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			a, err := c.Synthesize(context.Background(), Request{Text: "welcome"})
			if err == nil && len(a.Samples) != 700 {
				err = errors.New("wrong audio")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := e.renders.Load(); n != 1 {
		t.Errorf("rendered %d times, want 1", n)
	}
}

func TestCacheWaiterGivingUpDoesNotFailOthers(t *testing.T) {
	e := &countingEngine{delay: 100 * time.Millisecond}
	c := NewCache(e, 1<<20)
	impatient, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.Synthesize(impatient, Request{Text: "x"})
		done <- err
	}()
	time.Sleep(2 * time.Millisecond)
	if _, err := c.Synthesize(context.Background(), Request{Text: "x"}); err != nil {
		t.Fatalf("patient caller: %v", err)
	}
	if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("impatient caller: %v", err)
	}
	if e.renders.Load() != 1 {
		t.Errorf("renders = %d, want 1", e.renders.Load())
	}
}

func TestCacheAbandonedRenderingIsCancelled(t *testing.T) {
	e := &countingEngine{delay: time.Hour}
	c := NewCache(e, 1<<20)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	if _, err := c.Synthesize(ctx, Request{Text: "x"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	// The engine sees its context cancelled, and a new caller starts a
	// rendering of its own instead of joining the cancelled one.
	waitFor(t, func() bool { return e.cancelled.Load() == 1 })
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if _, err := c.Synthesize(ctx2, Request{Text: "x"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second caller: %v, want its own deadline", err)
	}
	if n := e.renders.Load(); n != 2 {
		t.Errorf("renders = %d, want 2", n)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 2s")
		}
	}
}

func TestCacheDoesNotKeepErrors(t *testing.T) {
	e := &countingEngine{fail: errors.New("boom")}
	c := NewCache(e, 1<<20)
	for range 2 {
		if _, err := c.Synthesize(context.Background(), Request{Text: "x"}); err == nil || err.Error() != "boom" {
			t.Fatalf("err = %v", err)
		}
	}
	if e.renders.Load() != 2 || c.Len() != 0 {
		t.Errorf("renders %d len %d, want 2 0", e.renders.Load(), c.Len())
	}
}

func TestCacheEspeak(t *testing.T) {
	needEspeak(t)
	c := NewCache(&Espeak{}, 0)
	ctx := context.Background()
	first, err := c.Synthesize(ctx, Request{Text: "Hello", SampleRate: 16000})
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Synthesize(ctx, Request{Text: "Hello", SampleRate: 16000})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Samples) == 0 || &first.Samples[0] != &second.Samples[0] {
		t.Error("second call should be served from the cache")
	}
	if h, m := c.Stats(); h != 1 || m != 1 {
		t.Errorf("stats %d/%d", h, m)
	}
}

func BenchmarkCacheHit(b *testing.B) {
	c := NewCache(&countingEngine{}, 0)
	ctx := context.Background()
	req := Request{Text: "Thank you for calling. Press one for sales, two for support.", Voice: "en-us", SampleRate: 8000}
	if _, err := c.Synthesize(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Synthesize(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCacheHitParallel(b *testing.B) {
	c := NewCache(&countingEngine{}, 0)
	ctx := context.Background()
	req := Request{Text: "Thank you for calling.", SampleRate: 8000}
	if _, err := c.Synthesize(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Synthesize(ctx, req)
		}
	})
}
