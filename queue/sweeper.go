package queue

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	sb "github.com/switchboardhq/switchboard"
)

// maxQueueWait is how long a queued message may wait behind a backlog
// before the sweeper gives it a task of its own anyway.
const maxQueueWait = 10 * time.Minute

// Sweeper re-enqueues work the database says is unfinished but nobody is
// doing: messages accepted while Redis was down, messages whose worker died
// mid-send (their lease ran out), and webhook deliveries whose task was
// lost. Several processes may sweep at once; rows are claimed with SKIP
// LOCKED.
type Sweeper struct {
	cfg    Config
	client *Client
	store  Store
	log    *slog.Logger
}

// NewSweeper returns a sweeper; Run drives it.
func NewSweeper(cfg Config, client *Client, store Store, log *slog.Logger) *Sweeper {
	return &Sweeper{cfg: cfg.withDefaults(), client: client, store: store, log: log}
}

// Run sweeps every SweepInterval until ctx ends.
func (s *Sweeper) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "sweep", "err", err)
			}
		}
	}
}

// Sweep does one pass.
func (s *Sweeper) Sweep(ctx context.Context) error {
	// Queued messages may only be waiting behind a backlog: while tasks wait
	// in Redis, the sweeper leaves them alone until they are maxQueueWait
	// old, or it would pile duplicate work (and row rewrites) onto exactly
	// the queue that is behind. With no backlog, an old queued message's
	// task is gone (lost with Redis, or held by a dead worker).
	queuedAge := time.Duration(0)
	if s.client.Backlog(ctx, QueueMessages) > 0 {
		queuedAge = maxQueueWait
	}
	for {
		stale, err := s.store.ClaimStale(ctx, s.cfg.SweepGrace, queuedAge, 500)
		if err != nil {
			return err
		}
		var accepted []string
		for _, m := range stale {
			if m.Status == sb.StatusAccepted {
				accepted = append(accepted, m.ID)
			}
		}
		if len(accepted) > 0 {
			deliveries, err := s.store.MarkQueued(ctx, accepted)
			if err != nil {
				return err
			}
			if err := s.client.EnqueueWebhooks(ctx, deliveries); err != nil {
				return err
			}
		}
		// A queued or sending message found here has no live task, or one
		// held by a dead worker (whose lease, for sending, ran out); a
		// distinct task id takes over at once, and the claim keeps two
		// tasks from both sending. Accepted ones were never enqueued.
		takeover := "s" + strconv.FormatInt(time.Now().UnixNano(), 36)
		for _, m := range stale {
			suffix := takeover
			if m.Status == sb.StatusAccepted {
				suffix = ""
			}
			if err := s.client.EnqueueDelivery(ctx, m.MessageRef, suffix); err != nil {
				return err
			}
		}
		sweptTotal.WithLabelValues("message").Add(float64(len(stale)))
		if len(stale) < 500 {
			break
		}
	}
	due, err := s.store.ClaimDueFailovers(ctx, s.cfg.SweepGrace, 500)
	if err != nil {
		return err
	}
	for _, id := range due {
		if err := s.client.EnqueueFailover(ctx, id, time.Time{}); err != nil {
			return err
		}
	}
	sweptTotal.WithLabelValues("failover").Add(float64(len(due)))
	calls, err := s.store.ClaimUndialledCalls(ctx, s.cfg.SweepGrace, 500)
	if err != nil {
		return err
	}
	for _, c := range calls {
		if err := s.client.EnqueueDial(ctx, c.AccountID, c.ID); err != nil {
			return err
		}
	}
	sweptTotal.WithLabelValues("call").Add(float64(len(calls)))
	orphans, err := s.store.ClaimStaleLiveCalls(ctx, s.cfg.LiveStale, 500)
	if err != nil {
		return err
	}
	for _, c := range orphans {
		if err := s.client.EnqueueCallExpiry(ctx, c.AccountID, c.ID); err != nil {
			return err
		}
	}
	sweptTotal.WithLabelValues("live-call").Add(float64(len(orphans)))
	closed, err := s.store.CloseIdleConversations(ctx, 500)
	if err != nil {
		return err
	}
	if err := s.client.EnqueueWebhooks(ctx, closed); err != nil {
		return err
	}
	// Deliveries waiting in a batch task behind a backlog are not lost;
	// while one builds up, only ones overdue by maxQueueWait are swept.
	grace := s.cfg.SweepGrace
	if s.client.Backlog(ctx, QueueWebhooks) > 0 {
		grace = maxQueueWait
	}
	ids, err := s.store.ClaimStaleDeliveries(ctx, grace, 1000)
	if err != nil {
		return err
	}
	sweptTotal.WithLabelValues("webhook").Add(float64(len(ids)))
	// A fresh task id each time: the old task may be archived in Redis,
	// and its id would otherwise block the re-enqueue for good.
	sweep := "s" + strconv.FormatInt(time.Now().UnixNano(), 36)
	for _, id := range ids {
		if err := s.client.EnqueueWebhookRetry(ctx, id, 0, sweep); err != nil {
			return err
		}
	}
	return nil
}
