package queue

import (
	"context"
	"errors"
	"fmt"
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
	attempt := d.Attempts + 1
	if !d.Enabled {
		return w.store.RecordAttempt(ctx, d, sb.WebhookAttempt{Attempt: d.Attempts, Error: "endpoint disabled"}, "discarded", w.now())
	}
	a := webhook.Deliver(ctx, w.http, d.URL, d.ID, w.now(), d.Secrets, d.Payload)
	rec := sb.WebhookAttempt{Attempt: attempt, StatusCode: a.StatusCode, Duration: a.Duration}
	if a.Err != nil {
		rec.Error = a.Err.Error()
	} else if a.Outcome() != webhook.Delivered {
		rec.Error = fmt.Sprintf("HTTP %d", a.StatusCode)
	}
	switch a.Outcome() {
	case webhook.Delivered:
		webhookAttempts.WithLabelValues("delivered").Inc()
		return w.store.RecordAttempt(ctx, d, rec, "delivered", w.now())
	case webhook.Disable:
		webhookAttempts.WithLabelValues("gone").Inc()
		if d.EndpointID != "" {
			if err := w.store.DisableEndpoint(ctx, d.EndpointID, "endpoint answered 410 Gone"); err != nil {
				return err
			}
		}
		if err := w.store.RecordAttempt(ctx, d, rec, "discarded", w.now()); err != nil {
			return err
		}
		return fmt.Errorf("webhook %s: 410 Gone: %w", d.ID, asynq.SkipRetry)
	}
	webhookAttempts.WithLabelValues("failed").Inc()
	delay, ok := nextWebhookDelay(w.client.webhookSchedule(), attempt, a.RetryAfter)
	if !ok {
		if err := w.store.RecordAttempt(ctx, d, rec, "failed", w.now()); err != nil {
			return err
		}
		return fmt.Errorf("webhook %s: gave up after %d attempts: %w", d.ID, attempt, asynq.SkipRetry)
	}
	if err := w.store.RecordAttempt(ctx, d, rec, "pending", w.now().Add(delay)); err != nil {
		return err
	}
	return &retryLater{after: delay, err: fmt.Errorf("webhook %s attempt %d: %s", d.ID, attempt, rec.Error)}
}
