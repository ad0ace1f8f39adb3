package tts

import (
	"container/list"
	"context"
	"sync"
	"sync/atomic"
)

// Cache is an Engine that keeps rendered prompts in memory, so a flow's
// fixed prompts are rendered once, not once per call. Entries are keyed by
// (engine name, voice, language, rate, text) and evicted least recently
// used first when their total size passes maxBytes. Concurrent misses for
// one key share one rendering. Errors are not cached.
type Cache struct {
	engine   Engine
	name     string // the engine's name, read once: it is part of every key
	maxBytes int64

	mu      sync.Mutex
	bytes   int64
	lru     *list.List // of *cacheEntry, most recent at the front
	entries map[cacheKey]*list.Element
	flights map[cacheKey]*flight

	hits, misses atomic.Int64
}

var _ Engine = (*Cache)(nil)

// DefaultCacheBytes is the budget NewCache uses for maxBytes ≤ 0: about 70
// minutes of 8 kHz audio.
const DefaultCacheBytes = 64 << 20

type cacheKey struct {
	engine, voice, language string
	rate                    int
	text                    string
}

type cacheEntry struct {
	key   cacheKey
	audio Audio
	size  int64
}

// flight is one rendering in progress. Its context is detached from the
// caller that started it and cancelled only when every waiter has given
// up, so one impatient caller does not fail the others.
type flight struct {
	done    chan struct{}
	audio   Audio
	err     error
	waiters int
	cancel  context.CancelFunc
}

// NewCache wraps e with a cache of at most maxBytes of audio (DefaultCacheBytes
// when maxBytes ≤ 0). e.Name() is read once, here.
func NewCache(e Engine, maxBytes int64) *Cache {
	if maxBytes <= 0 {
		maxBytes = DefaultCacheBytes
	}
	return &Cache{
		engine:   e,
		name:     e.Name(),
		maxBytes: maxBytes,
		lru:      list.New(),
		entries:  make(map[cacheKey]*list.Element),
		flights:  make(map[cacheKey]*flight),
	}
}

// Name is the wrapped engine's name.
func (c *Cache) Name() string { return c.name }

// Stats returns how many Synthesize calls were answered from the cache and
// how many were not (those waiting on another caller's rendering included).
func (c *Cache) Stats() (hits, misses int64) {
	return c.hits.Load(), c.misses.Load()
}

// Len is the number of cached prompts.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// Bytes is the size of the cached audio.
func (c *Cache) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// Synthesize answers from the cache or renders with the wrapped engine.
// The returned Samples may be shared with other callers: do not modify them.
func (c *Cache) Synthesize(ctx context.Context, r Request) (Audio, error) {
	key := cacheKey{c.name, r.Voice, r.Language, r.rate(), r.Text}
	c.mu.Lock()
	if el, ok := c.entries[key]; ok {
		c.lru.MoveToFront(el)
		a := el.Value.(*cacheEntry).audio
		c.mu.Unlock()
		c.hits.Add(1)
		return a, nil
	}
	c.misses.Add(1)
	f, ok := c.flights[key]
	if !ok {
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f = &flight{done: make(chan struct{}), cancel: cancel}
		c.flights[key] = f
		go c.render(fctx, f, key, r)
	}
	f.waiters++
	c.mu.Unlock()

	select {
	case <-f.done:
		return f.audio, f.err
	case <-ctx.Done():
		c.mu.Lock()
		f.waiters--
		if f.waiters == 0 {
			// Nobody wants it any more: stop it, and let the next caller
			// start afresh instead of joining a cancelled rendering.
			f.cancel()
			if c.flights[key] == f {
				delete(c.flights, key)
			}
		}
		c.mu.Unlock()
		return Audio{}, ctx.Err()
	}
}

func (c *Cache) render(ctx context.Context, f *flight, key cacheKey, r Request) {
	r.SampleRate = key.rate
	a, err := c.engine.Synthesize(ctx, r)
	f.cancel()
	c.mu.Lock()
	if c.flights[key] == f {
		delete(c.flights, key)
	}
	if err == nil {
		c.store(key, a)
	}
	f.audio, f.err = a, err
	c.mu.Unlock()
	close(f.done)
}

// store adds an entry and evicts from the back until the budget holds.
// Called with c.mu held. Audio larger than the whole budget is not kept.
func (c *Cache) store(key cacheKey, a Audio) {
	size := int64(len(a.Samples))*2 + int64(len(key.text)+len(key.voice)+len(key.language)) + 64
	if size > c.maxBytes {
		return
	}
	if old, ok := c.entries[key]; ok { // an abandoned rendering finished after its successor
		c.bytes -= old.Value.(*cacheEntry).size
		c.lru.Remove(old)
	}
	c.entries[key] = c.lru.PushFront(&cacheEntry{key: key, audio: a, size: size})
	c.bytes += size
	for c.bytes > c.maxBytes {
		back := c.lru.Back()
		e := back.Value.(*cacheEntry)
		c.lru.Remove(back)
		delete(c.entries, e.key)
		c.bytes -= e.size
	}
}
