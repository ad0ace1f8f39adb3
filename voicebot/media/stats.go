package media

import (
	"sync"
	"time"
)

// Stats are a Driver's pacing figures over all its calls, for the
// transport benchmarks: how late frames were written against their 20 ms
// slots (the jitter the far end's buffer must absorb).
type Stats struct {
	Frames      int64         // frames written
	MaxLateness time.Duration // the latest frame, behind its slot
	AvgLateness time.Duration
	P50Lateness time.Duration // from a histogram of 0.1 ms buckets up to 50 ms
	P99Lateness time.Duration
	// Resyncs counts schedule restarts: when writing fell more than
	// MaxLag behind (a slow TTS rendering, a stalled line), the next frame
	// starts a new schedule instead of bursting to catch up.
	Resyncs  int64
	BargeIns int64 // prompts cut short by a key
	// Dropped counts speech and recordings lost to STT or Record errors
	// (each also logged); the flow got InputTimeout instead.
	Dropped int64
}

// MaxLag is how far behind its schedule playback may fall before it
// restarts the schedule rather than send a burst of frames.
const MaxLag = 3 * FrameDuration

const (
	bucketWidth = 100 * time.Microsecond
	buckets     = 500 // 50 ms; later frames go in an overflow bucket
)

type recorder struct {
	mu       sync.Mutex
	frames   int64
	sum, max time.Duration
	hist     [buckets + 1]int64
	resyncs  int64
	bargeIns int64
	dropped  int64
}

func (r *recorder) frame(late time.Duration) {
	late = max(late, 0)
	b := min(int(late/bucketWidth), buckets)
	r.mu.Lock()
	r.frames++
	r.sum += late
	r.max = max(r.max, late)
	r.hist[b]++
	r.mu.Unlock()
}

func (r *recorder) add(n *int64) {
	r.mu.Lock()
	*n++
	r.mu.Unlock()
}

func (r *recorder) stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Stats{Frames: r.frames, MaxLateness: r.max, Resyncs: r.resyncs, BargeIns: r.bargeIns, Dropped: r.dropped}
	if r.frames == 0 {
		return s
	}
	s.AvgLateness = r.sum / time.Duration(r.frames)
	s.P50Lateness = r.percentile(0.50)
	s.P99Lateness = r.percentile(0.99)
	return s
}

// percentile is the upper edge of the bucket holding the p-th frame
// (the maximum for the overflow bucket). Called with r.mu held.
func (r *recorder) percentile(p float64) time.Duration {
	want := int64(p*float64(r.frames) + 0.5)
	var seen int64
	for i, n := range r.hist {
		seen += n
		if seen >= want && n > 0 {
			if i == buckets {
				return r.max
			}
			return min(time.Duration(i+1)*bucketWidth, r.max)
		}
	}
	return r.max
}
