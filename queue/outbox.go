package queue

import (
	"context"
	"log/slog"
	"sync"
	"time"

	sb "github.com/switchboardhq/switchboard"
)

// Outbox enqueues messages after the API has committed them. The API hands
// it ids and answers 202 without waiting on Redis; the outbox marks each
// batch queued in one transaction and enqueues it. If Redis is down or the
// process dies, the messages stay in PostgreSQL (accepted or queued) and the
// sweeper enqueues them later: nothing accepted is lost.
type Outbox struct {
	client *Client
	store  Store
	log    *slog.Logger
	ch     chan sb.MessageRef
	wg     sync.WaitGroup
}

// NewOutbox returns an outbox; Run drains it.
func NewOutbox(client *Client, store Store, log *slog.Logger) *Outbox {
	return &Outbox{client: client, store: store, log: log, ch: make(chan sb.MessageRef, 65536)}
}

// Notify hands over a committed message. It never blocks: when the buffer
// is full the sweeper picks the message up instead.
func (o *Outbox) Notify(m *sb.Message) {
	select {
	case o.ch <- sb.MessageRef{ID: m.ID, AccountID: m.AccountID, Channel: m.Channel, From: m.From}:
	default:
	}
}

// Run drains the outbox with a few parallel batchers until ctx ends, then
// flushes what is left.
func (o *Outbox) Run(ctx context.Context, parallel int) {
	for range max(parallel, 1) {
		o.wg.Go(func() { o.loop(ctx) })
	}
	o.wg.Wait()
}

func (o *Outbox) loop(ctx context.Context) {
	batch := make([]sb.MessageRef, 0, 256)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			// Flush what is buffered with a fresh deadline; the rest is swept.
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			for {
				select {
				case id := <-o.ch:
					batch = append(batch, id)
					if len(batch) < cap(batch) {
						continue
					}
				default:
				}
				break
			}
			o.flush(fctx, batch)
			cancel()
			return
		case id := <-o.ch:
			batch = append(batch, id)
		}
	fill:
		for len(batch) < cap(batch) {
			select {
			case id := <-o.ch:
				batch = append(batch, id)
			default:
				break fill
			}
		}
		o.flush(ctx, batch)
	}
}

func (o *Outbox) flush(ctx context.Context, batch []sb.MessageRef) {
	if len(batch) == 0 {
		return
	}
	// Mark first, then enqueue: a worker can never pick up a message that
	// has not been marked queued, so the lifecycle reads accepted → queued →
	// sending in every case. If the enqueue fails, the sweeper re-enqueues
	// queued messages that do not move.
	ids := make([]string, len(batch))
	for i, r := range batch {
		ids[i] = r.ID
	}
	deliveries, err := o.store.MarkQueued(ctx, ids)
	if err != nil {
		o.log.WarnContext(ctx, "mark queued; sweeper will retry", "err", err)
		return
	}
	size := o.client.cfg.BatchSize
	for start := 0; start < len(batch); start += size {
		chunk := batch[start:min(start+size, len(batch))]
		if err := o.client.EnqueueBatch(ctx, chunk); err != nil {
			o.log.WarnContext(ctx, "enqueue failed; sweeper will retry", "messages", len(batch)-start, "err", err)
			break
		}
	}
	if err := o.client.EnqueueWebhooks(ctx, deliveries); err != nil {
		o.log.WarnContext(ctx, "enqueue webhooks; sweeper will retry", "err", err)
	}
}
