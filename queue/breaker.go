package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	sb "github.com/switchboardhq/switchboard"
)

var breakerOpen = promauto.NewGaugeVec(prometheus.GaugeOpts{
	Name: "switchboard_provider_circuit_open",
	Help: "1 while a provider's circuit breaker is open (its sends fail fast and are retried later).",
}, []string{"provider"})

// Breakers keeps one circuit breaker per provider, so one provider's
// outage does not stall the others: after Threshold transient failures in
// a row its sends fail fast for Cooldown — no worker waits out a timeout
// against it — and are retried with the usual backoff; then one send at a
// time probes it until one succeeds.
type Breakers struct {
	Threshold int
	Cooldown  time.Duration
	now       func() time.Time

	mu sync.Mutex
	m  map[string]*breakerState
}

type breakerState struct {
	failures  int
	openUntil time.Time
	probing   bool
}

// NewBreakers returns breakers tripping after threshold failures in a row
// for cooldown.
func NewBreakers(threshold int, cooldown time.Duration) *Breakers {
	return &Breakers{Threshold: threshold, Cooldown: cooldown, now: time.Now, m: map[string]*breakerState{}}
}

// Wrap returns p behind provider name's breaker.
func (b *Breakers) Wrap(name string, p Provider) Provider { return &guarded{b: b, name: name, p: p} }

type guarded struct {
	b    *Breakers
	name string
	p    Provider
}

// ErrCircuitOpen marks a send refused because its provider's breaker is open.
var ErrCircuitOpen = errors.New("provider circuit open")

func (g *guarded) Send(ctx context.Context, m *sb.Message) (sb.SendResult, error) {
	if wait, ok := g.b.allow(g.name); !ok {
		return sb.SendResult{}, fmt.Errorf("%w: %w", &sb.ProviderError{Code: "circuit_open", RetryAfter: wait,
			Message: fmt.Sprintf("%s is failing; sends resume in %s", g.name, wait.Round(time.Second))}, ErrCircuitOpen)
	}
	res, err := g.p.Send(ctx, m)
	g.b.record(g.name, err)
	return res, err
}

// allow reports whether a send may go to name now; when the breaker is
// open it says how long until it half-opens.
func (b *Breakers) allow(name string) (time.Duration, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.m[name]
	if st == nil || st.openUntil.IsZero() {
		return 0, true
	}
	now := b.now()
	if now.Before(st.openUntil) {
		return st.openUntil.Sub(now), false
	}
	if st.probing {
		return time.Second, false // one probe at a time
	}
	st.probing = true
	return 0, true
}

// record counts a send's outcome: a provider that answers — with a
// permanent refusal or a rate limit it says how long to respect — is up;
// timeouts, 5xx and hint-less errors count against it.
func (b *Breakers) record(name string, err error) {
	var pe *sb.ProviderError
	// A rate limit with a retry hint means the provider is up (Telegram's
	// 429 is per chat): only that message waits, the others go on.
	transient := err != nil && (!errors.As(err, &pe) || (!pe.Permanent && pe.RetryAfter == 0))
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.m[name]
	if st == nil {
		st = &breakerState{}
		b.m[name] = st
	}
	st.probing = false
	if !transient {
		st.failures, st.openUntil = 0, time.Time{}
		breakerOpen.WithLabelValues(name).Set(0)
		return
	}
	st.failures++
	if st.failures >= b.Threshold {
		st.openUntil = b.now().Add(b.Cooldown)
		breakerOpen.WithLabelValues(name).Set(1)
	}
}
