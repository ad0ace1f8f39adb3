package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	sb "github.com/switchboardhq/switchboard"
)

// handleDeliverBatch sends a batch of messages: one statement claims them,
// providers that take batches get one call, one statement records every
// "sent" and one per receipt status. Messages of rate-limited senders are
// split off into tasks of their own, and a message the provider refuses
// transiently is retried alone.
func (w *Worker) handleDeliverBatch(ctx context.Context, t *asynq.Task) error {
	var p batchPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("decode task: %v: %w", err, asynq.SkipRetry)
	}
	if n, _ := asynq.GetRetryCount(ctx); n == 0 && p.EnqueuedAt > 0 {
		d := time.Since(time.Unix(0, p.EnqueuedAt)).Seconds()
		for range p.Messages {
			pickupLatency.Observe(d)
		}
	}
	refs := map[string]sb.MessageRef{}
	var ids []string
	for _, ref := range p.Messages {
		rate, err := w.rates.get(ctx, ref.AccountID, ref.Channel, ref.From)
		if err != nil {
			return err
		}
		if rate > 0 {
			if err := w.client.EnqueueDelivery(ctx, ref, ""); err != nil {
				return err
			}
			continue
		}
		refs[ref.ID] = ref
		ids = append(ids, ref.ID)
	}
	if len(ids) == 0 {
		return nil
	}
	ms, err := w.store.ClaimMany(ctx, ids, w.cfg.Lease)
	if err != nil || len(ms) == 0 {
		return err // none claimed: all sent already, or held by other workers
	}
	if ms, err = w.dropOptedOut(ctx, ms); err != nil || len(ms) == 0 {
		return err
	}
	batchSize.Observe(float64(len(ms)))
	byProvider := map[string][]*sb.Message{}
	providers := map[string]Provider{}
	for _, m := range ms {
		name, prov := w.route(m)
		byProvider[name] = append(byProvider[name], m)
		providers[name] = prov
	}
	for name, group := range byProvider {
		outcomes := w.sendGroup(ctx, name, providers[name], group)
		if err := w.settleGroup(ctx, name, group, outcomes, refs); err != nil {
			return err
		}
	}
	return nil
}

// sendGroup sends messages that share a provider: in one call where the
// provider takes batches, else concurrently, one call each.
func (w *Worker) sendGroup(ctx context.Context, name string, prov Provider, ms []*sb.Message) []sb.SendOutcome {
	sendCtx, cancel := context.WithTimeout(ctx, w.cfg.SendTimeout)
	defer cancel()
	start := time.Now()
	defer func() { sendDuration.WithLabelValues(name).Observe(time.Since(start).Seconds()) }()
	if bp, ok := prov.(BatchProvider); ok {
		return bp.SendBatch(sendCtx, ms)
	}
	out := make([]sb.SendOutcome, len(ms))
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Go(func() { out[i].Result, out[i].Err = prov.Send(sendCtx, m) })
	}
	wg.Wait()
	return out
}

// settleGroup records what the provider said about each message.
func (w *Worker) settleGroup(ctx context.Context, name string, ms []*sb.Message, outcomes []sb.SendOutcome, refs map[string]sb.MessageRef) error {
	var hooks []string
	announce := func(res sb.TransitionResult, status sb.Status) {
		if res.Applied {
			deliveriesTotal.WithLabelValues(string(res.Message.Channel), string(status)).Inc()
			w.stepChanged(ctx, res.Message)
		}
		hooks = append(hooks, res.Deliveries...)
	}
	defer func() {
		// If Redis refuses, the sweeper finds the outbox rows later.
		if err := w.client.EnqueueWebhooks(ctx, hooks); err != nil {
			w.log.WarnContext(ctx, "enqueue webhooks", "err", err)
		}
	}()
	var sent []sb.ChangeItem
	receipts := map[sb.Status][]sb.ChangeItem{}
	for i, m := range ms {
		o := outcomes[i]
		if o.Err != nil {
			delay, err := w.failed(ctx, m, name, o.Err, 0, false)
			if err != nil {
				return err
			}
			if delay >= 0 {
				if err := w.client.EnqueueRetry(ctx, refs[m.ID], delay, m.Attempts); err != nil {
					// Released with its due time: the sweeper enqueues it then.
					w.log.WarnContext(ctx, "enqueue retry; sweeper will pick it up", "message_id", m.ID, "err", err)
				}
			}
			continue
		}
		sent = append(sent, sb.ChangeItem{ID: m.ID, Provider: name, ProviderMessageID: o.Result.ProviderMessageID})
		r := o.Result.Receipt
		switch {
		case r == nil:
		case o.Result.ReceiptDelay > 0:
			// Scheduled before "sent" is recorded, so a crash in between
			// cannot lose it; it waits for "sent" if it comes early. If
			// Redis refuses it, "sent" is still recorded: the message then
			// stays sent, like one whose carrier never reports.
			if err := w.client.ScheduleReceipt(ctx, *r, o.Result.ReceiptDelay); err != nil {
				w.log.WarnContext(ctx, "schedule receipt", "message_id", m.ID, "err", err)
			}
		default:
			receipts[r.Status] = append(receipts[r.Status], sb.ChangeItem{ID: m.ID, ErrorCode: r.ErrorCode, ErrorMessage: r.ErrorMessage})
		}
	}
	if len(sent) == 0 {
		return nil
	}
	// "sent" and the receipts known now commit together.
	steps := []sb.TransitionStep{{Status: sb.StatusSent, Items: sent}}
	for status, items := range receipts {
		steps = append(steps, sb.TransitionStep{Status: status, Items: items})
	}
	results, err := w.store.TransitionSteps(ctx, steps)
	if err != nil {
		return err
	}
	applied := map[string]bool{}
	for i, step := range results {
		for _, res := range step {
			if i == 0 {
				applied[res.Message.ID] = true
			}
			announce(res, steps[i].Status)
		}
	}
	// A receipt overtook "sent": keep the provider's id the single way.
	for _, it := range sent {
		if !applied[it.ID] {
			if _, err := w.store.Transition(ctx, it.ID, sb.Change{Status: sb.StatusSent, Provider: it.Provider, ProviderMessageID: it.ProviderMessageID}); err != nil {
				return err
			}
		}
	}
	return nil
}
