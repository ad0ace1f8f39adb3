package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/webhook"
)

func (c *Client) webhookSchedule() []time.Duration {
	if len(c.cfg.WebhookSchedule) > 0 {
		return c.cfg.WebhookSchedule
	}
	return webhook.Schedule
}

// nextWebhookDelay is the wait before attempt n+1 after n failed ones (the
// schedule's step, or longer if the receiver asked with Retry-After), and
// false once the schedule is exhausted.
func nextWebhookDelay(schedule []time.Duration, n int, retryAfter time.Duration) (time.Duration, bool) {
	if n < 1 || n > len(schedule) {
		return 0, false
	}
	d := schedule[n-1]
	if retryAfter > d {
		d = min(retryAfter, 24*time.Hour)
	}
	return d, true
}

// outcome is what one webhook attempt leaves behind: the record to store,
// the delay before the next attempt (negative: none), and whether the
// endpoint asked to be disabled.
type outcome struct {
	rec     sb.AttemptRecord
	retry   time.Duration
	disable bool
}

// attempt POSTs one delivery and decides what follows.
func (w *Worker) attempt(ctx context.Context, d *sb.DeliveryTarget) outcome {
	attempt := d.Attempts + 1
	if !d.Enabled {
		return outcome{rec: sb.AttemptRecord{Delivery: d, Attempt: sb.WebhookAttempt{Attempt: d.Attempts, Error: "endpoint disabled"},
			Status: "discarded", Next: w.now()}, retry: -1}
	}
	a := webhook.Deliver(ctx, w.http, d.URL, d.ID, w.now(), d.Secrets, d.Payload)
	rec := sb.WebhookAttempt{Attempt: attempt, StatusCode: a.StatusCode, Duration: a.Duration}
	if a.Err != nil {
		rec.Error = a.Err.Error()
	} else if a.Outcome() != webhook.Delivered {
		rec.Error = fmt.Sprintf("HTTP %d", a.StatusCode)
	}
	o := outcome{rec: sb.AttemptRecord{Delivery: d, Attempt: rec, Next: w.now()}, retry: -1}
	switch a.Outcome() {
	case webhook.Delivered:
		webhookAttempts.WithLabelValues("delivered").Inc()
		o.rec.Status = "delivered"
	case webhook.Disable:
		webhookAttempts.WithLabelValues("gone").Inc()
		o.rec.Status, o.disable = "discarded", d.EndpointID != ""
	default:
		webhookAttempts.WithLabelValues("failed").Inc()
		o.rec.Status = "failed"
		if delay, ok := nextWebhookDelay(w.client.webhookSchedule(), attempt, a.RetryAfter); ok {
			o.rec.Status, o.rec.Next, o.retry = "pending", w.now().Add(delay), delay
		}
	}
	return o
}

func (w *Worker) handleWebhook(ctx context.Context, t *asynq.Task) error {
	d, err := w.store.LoadDelivery(ctx, string(t.Payload()))
	if errors.Is(err, sb.ErrNotFound) {
		return nil // its endpoint was deleted
	}
	if err != nil {
		return err
	}
	if d.Status != "pending" {
		return nil
	}
	o := w.attempt(ctx, d)
	if o.disable {
		if err := w.store.DisableEndpoint(ctx, d.EndpointID, "endpoint answered 410 Gone"); err != nil {
			return err
		}
	}
	if err := w.store.RecordAttempts(ctx, []sb.AttemptRecord{o.rec}); err != nil {
		return err
	}
	if o.retry >= 0 {
		return &retryLater{after: o.retry, err: fmt.Errorf("webhook %s attempt %d: %s", d.ID, o.rec.Attempt.Attempt, o.rec.Attempt.Error)}
	}
	if o.rec.Status != "delivered" {
		return fmt.Errorf("webhook %s: %s: %w", d.ID, o.rec.Status, asynq.SkipRetry)
	}
	return nil
}

// webhookBatchParallel bounds the POSTs one batch task makes at once.
const webhookBatchParallel = 16

// handleWebhookBatch sends a batch of deliveries: one query loads them, the
// POSTs run in parallel, one statement records every attempt, and each
// failed delivery is retried on its own.
func (w *Worker) handleWebhookBatch(ctx context.Context, t *asynq.Task) error {
	var ids []string
	if err := json.Unmarshal(t.Payload(), &ids); err != nil {
		return fmt.Errorf("decode task: %v: %w", err, asynq.SkipRetry)
	}
	ds, err := w.store.LoadDeliveries(ctx, ids)
	if err != nil {
		return err
	}
	outs := make([]outcome, len(ds))
	sem := make(chan struct{}, webhookBatchParallel)
	var wg sync.WaitGroup
	for i, d := range ds {
		if d.Status != "pending" {
			outs[i].retry = -2 // already settled: nothing to record
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			outs[i] = w.attempt(ctx, d)
		})
	}
	wg.Wait()
	var recs []sb.AttemptRecord
	for _, o := range outs {
		if o.retry == -2 {
			continue
		}
		if o.disable {
			if err := w.store.DisableEndpoint(ctx, o.rec.Delivery.EndpointID, "endpoint answered 410 Gone"); err != nil {
				return err
			}
		}
		recs = append(recs, o.rec)
	}
	if err := w.store.RecordAttempts(ctx, recs); err != nil {
		return err
	}
	for _, o := range outs {
		if o.retry >= 0 {
			if err := w.client.EnqueueWebhookRetry(ctx, o.rec.Delivery.ID, o.retry, strconv.Itoa(o.rec.Attempt.Attempt)); err != nil {
				// Recorded as pending with its due time: the sweeper
				// enqueues it then.
				w.log.WarnContext(ctx, "enqueue webhook retry", "delivery_id", o.rec.Delivery.ID, "err", err)
			}
		}
	}
	return nil
}
