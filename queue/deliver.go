package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	sb "github.com/switchboardhq/switchboard"
)

// inlineWait is the longest throttle wait a worker sleeps through instead of
// handing the slot back to the queue.
const inlineWait = 50 * time.Millisecond

func (w *Worker) handleDeliver(ctx context.Context, t *asynq.Task) error {
	var p deliverPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("decode task: %v: %w", err, asynq.SkipRetry)
	}
	if p.EnqueuedAt > 0 {
		if n, _ := asynq.GetRetryCount(ctx); n == 0 {
			pickupLatency.Observe(time.Since(time.Unix(0, p.EnqueuedAt)).Seconds())
		}
	}
	ref := p.MessageRef
	if err := w.throttle(ctx, ref); err != nil {
		return err
	}
	m, ok, err := w.store.Claim(ctx, ref.ID, w.cfg.Lease)
	if errors.Is(err, sb.ErrNotFound) {
		return fmt.Errorf("message %s: %w", ref.ID, asynq.SkipRetry)
	}
	if err != nil || !ok {
		return err // !ok: sent already (a duplicate task), or another worker holds it
	}
	if kept, err := w.dropOptedOut(ctx, []*sb.Message{m}); err != nil || len(kept) == 0 {
		return err
	}
	name, prov := w.route(m)
	sendCtx, cancel := context.WithTimeout(ctx, w.cfg.SendTimeout)
	start := time.Now()
	res, sendErr := prov.Send(sendCtx, m)
	cancel()
	sendDuration.WithLabelValues(name).Observe(time.Since(start).Seconds())
	if sendErr == nil {
		return w.settleGroup(ctx, name, []*sb.Message{m}, []sb.SendOutcome{{Result: res}}, nil)
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	delay, err := w.failed(ctx, m, name, sendErr, retried, retried >= maxRetry)
	if err != nil {
		return err
	}
	if delay < 0 {
		return fmt.Errorf("%w: %w", sendErr, asynq.SkipRetry)
	}
	return &retryLater{after: delay, err: sendErr}
}

// failed settles a send the provider refused. A permanent refusal, or the
// last allowed attempt, fails the message with the provider's code and
// returns a negative delay; otherwise the lease is released and the delay
// before the next attempt returned. The delay is decided here, not in
// asynq's RetryDelayFunc, so the database knows when the retry is due and
// the sweeper leaves the message alone until then.
func (w *Worker) failed(ctx context.Context, m *sb.Message, provider string, sendErr error, retried int, lastTry bool) (time.Duration, error) {
	var pe *sb.ProviderError
	if !errors.As(sendErr, &pe) {
		pe = &sb.ProviderError{Code: "provider_unreachable", Message: sendErr.Error()}
	}
	if pe.OptOut {
		// The recipient refused us at the provider (blocked the bot,
		// unsubscribed): opt the identity out so nothing more is tried.
		_, hooks, err := w.store.OptOut(ctx, sb.OptOut{AccountID: m.AccountID, Channel: m.Channel, Address: m.To,
			CustomerID: m.CustomerID, Source: "provider", Keyword: pe.Code})
		if err != nil {
			return 0, err
		}
		if err := w.client.EnqueueWebhooks(ctx, hooks); err != nil {
			w.log.WarnContext(ctx, "enqueue webhooks", "err", err)
		}
	}
	// A send the open breaker refused never reached the provider: it is not
	// one of the provider attempts, so it never fails the message (if asynq
	// gives up on the task, the sweeper takes the message up when due).
	refused := errors.Is(sendErr, ErrCircuitOpen)
	if pe.Permanent || (!refused && (m.Attempts >= w.cfg.MaxAttempts || lastTry)) {
		return -1, w.transition(ctx, m, sb.Change{Status: sb.StatusFailed, Provider: provider, ErrorCode: pe.Code, ErrorMessage: pe.Message})
	}
	delay := max(w.backoff(max(m.Attempts-1, retried)), pe.RetryAfter)
	if err := w.store.Release(ctx, m.ID, w.now().Add(delay), pe.Code, pe.Message); err != nil {
		return 0, err
	}
	return delay, nil
}

// throttle applies the sender's rate limit: a short wait is slept through,
// a long one hands the message back to the queue until its reserved slot.
func (w *Worker) throttle(ctx context.Context, m sb.MessageRef) error {
	rate, err := w.rates.get(ctx, m.AccountID, m.Channel, m.From)
	if err != nil || rate <= 0 {
		return err
	}
	wait, err := w.limiter.Reserve(ctx, m.AccountID+":"+string(m.Channel)+":"+m.From, m.ID, rate)
	if err != nil || wait <= 0 {
		return err
	}
	if wait <= inlineWait {
		select {
		case <-time.After(wait):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	throttledTotal.Inc()
	if err := w.store.Defer(ctx, m.ID, w.now().Add(wait)); err != nil {
		return err
	}
	return &throttled{wait: wait}
}

// dropOptedOut fails the claimed messages whose recipient opted out after
// they were accepted, so they never reach a provider, and returns the rest.
func (w *Worker) dropOptedOut(ctx context.Context, ms []*sb.Message) ([]*sb.Message, error) {
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	opted, err := w.store.OptedOutMessages(ctx, ids)
	if err != nil || len(opted) == 0 {
		return ms, err
	}
	kept := ms[:0:0]
	for _, m := range ms {
		if !opted[m.ID] {
			kept = append(kept, m)
			continue
		}
		if err := w.transition(ctx, m, sb.Change{Status: sb.StatusFailed, ErrorCode: "opted_out",
			ErrorMessage: "the recipient opted out before the message was sent"}); err != nil {
			return nil, err
		}
	}
	return kept, nil
}

// transition records a status change and enqueues the webhooks it caused.
func (w *Worker) transition(ctx context.Context, m *sb.Message, c sb.Change) error {
	res, err := w.store.Transition(ctx, m.ID, c)
	if err != nil {
		return fmt.Errorf("transition %s to %s: %w", m.ID, c.Status, err)
	}
	w.announce(ctx, res, c.Status)
	return nil
}

// announce counts an applied transition and enqueues its webhooks; if Redis
// refuses, the sweeper finds the outbox rows later.
func (w *Worker) announce(ctx context.Context, res sb.TransitionResult, status sb.Status) {
	if res.Applied {
		deliveriesTotal.WithLabelValues(string(res.Message.Channel), string(status)).Inc()
		w.stepChanged(ctx, res.Message)
	}
	if err := w.client.EnqueueWebhooks(ctx, res.Deliveries); err != nil {
		w.log.WarnContext(ctx, "enqueue webhooks", "err", err)
	}
}

// rateCache remembers sender limits briefly so a busy sender costs one
// query per interval rather than one per message.
type rateCache struct {
	store Store
	ttl   time.Duration
	mu    sync.Mutex
	m     map[string]rateEntry
}

type rateEntry struct {
	rate float64
	at   time.Time
}

func newRateCache(s Store, ttl time.Duration) *rateCache {
	return &rateCache{store: s, ttl: ttl, m: map[string]rateEntry{}}
}

func (c *rateCache) get(ctx context.Context, account string, ch sb.Channel, from string) (float64, error) {
	key := account + "\x00" + string(ch) + "\x00" + from
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && time.Since(e.at) < c.ttl {
		return e.rate, nil
	}
	rate, err := c.store.SenderRate(ctx, account, ch, from)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	if len(c.m) >= 100_000 {
		clear(c.m) // entries live a second; dropping them all is cheap
	}
	c.m[key] = rateEntry{rate, time.Now()}
	c.mu.Unlock()
	return rate, nil
}
