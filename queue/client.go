package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	sb "github.com/switchboardhq/switchboard"
)

// Client enqueues tasks. It is safe for concurrent use.
type Client struct {
	cfg       Config
	asynq     *asynq.Client
	inspector *asynq.Inspector
	rdb       redis.UniversalClient
}

// NewClient connects to Redis at cfg.RedisURL.
func NewClient(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	opt, err := asynq.ParseRedisURI(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("parse redis url: %w", err)
	}
	rdb, ok := opt.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return nil, errors.New("unsupported redis url")
	}
	return &Client{cfg: cfg, asynq: asynq.NewClientFromRedisClient(rdb), inspector: asynq.NewInspectorFromRedisClient(rdb), rdb: rdb}, nil
}

// Close closes the Redis connection.
func (c *Client) Close() error { return c.rdb.Close() }

// Ping reports whether Redis answers.
func (c *Client) Ping(ctx context.Context) error { return c.rdb.Ping(ctx).Err() }

type deliverPayload struct {
	sb.MessageRef
	EnqueuedAt int64 `json:"enqueued_at"` // Unix ns, for the pickup-latency metric
}

// EnqueueDelivery queues message id for sending. The task id is the message
// id, so a second enqueue while the first task exists is a no-op; suffix
// makes a distinct task for the sweeper's re-enqueue of a message whose
// task is stuck with a dead worker.
func (c *Client) EnqueueDelivery(ctx context.Context, ref sb.MessageRef, suffix string) error {
	id := ref.ID
	body, _ := json.Marshal(deliverPayload{MessageRef: ref, EnqueuedAt: time.Now().UnixNano()})
	taskID := id
	if suffix != "" {
		taskID += ":" + suffix
	}
	_, err := c.asynq.EnqueueContext(ctx, asynq.NewTask(TypeDeliver, body),
		asynq.Queue(QueueMessages), asynq.TaskID(taskID), asynq.MaxRetry(c.cfg.MaxAttempts-1))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("enqueue delivery %s: %w", id, err)
	}
	return nil
}

type batchPayload struct {
	Messages   []sb.MessageRef `json:"messages"`
	EnqueuedAt int64           `json:"enqueued_at"`
}

// EnqueueBatch queues a batch of messages as one task, so a burst costs one
// Redis round trip and one claim statement per batch instead of per
// message. The task id is the first message's id, unique to the batch.
func (c *Client) EnqueueBatch(ctx context.Context, refs []sb.MessageRef) error {
	if len(refs) == 1 {
		return c.EnqueueDelivery(ctx, refs[0], "")
	}
	body, _ := json.Marshal(batchPayload{Messages: refs, EnqueuedAt: time.Now().UnixNano()})
	_, err := c.asynq.EnqueueContext(ctx, asynq.NewTask(TypeDeliverBatch, body),
		asynq.Queue(QueueMessages), asynq.TaskID("b:"+refs[0].ID), asynq.MaxRetry(c.cfg.MaxAttempts-1))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("enqueue batch of %d: %w", len(refs), err)
	}
	return nil
}

// EnqueueRetry schedules one message's next attempt after a transient
// failure inside a batch; attempt makes its task id unique.
func (c *Client) EnqueueRetry(ctx context.Context, ref sb.MessageRef, delay time.Duration, attempt int) error {
	body, _ := json.Marshal(deliverPayload{MessageRef: ref})
	_, err := c.asynq.EnqueueContext(ctx, asynq.NewTask(TypeDeliver, body), asynq.Queue(QueueMessages),
		asynq.TaskID(ref.ID+":a"+strconv.Itoa(attempt)), asynq.ProcessIn(noSooner(time.Now(), delay)), asynq.MaxRetry(max(c.cfg.MaxAttempts-attempt, 0)))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue retry of %s: %w", ref.ID, err)
	}
	return nil
}

// Backlog is how many tasks of a queue wait in Redis (pending, scheduled or
// retrying). When Redis cannot say, it answers a large number: a wrong
// answer then only delays a sweep instead of duplicating work.
func (c *Client) Backlog(ctx context.Context, queueName string) int {
	queues, err := c.inspector.Queues()
	if err != nil {
		return 1 << 30
	}
	if !slices.Contains(queues, queueName) {
		return 0 // no task was ever enqueued on this Redis
	}
	info, err := c.inspector.GetQueueInfo(queueName)
	if err != nil {
		return 1 << 30
	}
	return info.Pending + info.Scheduled + info.Retry
}

// EnqueueWebhooks queues webhook deliveries: one task for one delivery,
// one batch task for several.
func (c *Client) EnqueueWebhooks(ctx context.Context, ids []string) error {
	switch len(ids) {
	case 0:
		return nil
	case 1:
		return c.enqueueWebhook(ctx, ids[0], "wh:"+ids[0], 0, len(c.webhookSchedule()))
	}
	body, _ := json.Marshal(ids)
	_, err := c.asynq.EnqueueContext(ctx, asynq.NewTask(TypeWebhookBatch, body),
		asynq.Queue(QueueWebhooks), asynq.TaskID("wb:"+ids[0]), asynq.MaxRetry(3))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue %d webhooks: %w", len(ids), err)
	}
	return nil
}

// EnqueueWebhookRetry schedules another attempt of one delivery (after a
// failed attempt in a batch, or from the sweeper); tag makes its task id
// unique.
func (c *Client) EnqueueWebhookRetry(ctx context.Context, id string, delay time.Duration, tag string) error {
	return c.enqueueWebhook(ctx, id, "wh:"+id+":"+tag, delay, len(c.webhookSchedule()))
}

func (c *Client) enqueueWebhook(ctx context.Context, id, taskID string, delay time.Duration, maxRetry int) error {
	opts := []asynq.Option{asynq.Queue(QueueWebhooks), asynq.TaskID(taskID), asynq.MaxRetry(maxRetry)}
	if delay > 0 {
		opts = append(opts, asynq.ProcessIn(delay))
	}
	_, err := c.asynq.EnqueueContext(ctx, asynq.NewTask(TypeWebhook, []byte(id)), opts...)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue webhook %s: %w", id, err)
	}
	return nil
}

// ScheduleReceipt makes r arrive after delay, as a carrier's receipt would.
func (c *Client) ScheduleReceipt(ctx context.Context, r sb.Receipt, delay time.Duration) error {
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	// Up to 25 retries with capped backoff: hours, far longer than any lease,
	// for a receipt that waits on its message being recorded as sent.
	opts := []asynq.Option{asynq.Queue(QueueReceipts), asynq.MaxRetry(25),
		asynq.TaskID("rc:" + r.MessageID + ":" + string(r.Status) + ":" + strconv.FormatInt(time.Now().UnixNano(), 36))}
	if delay > 0 {
		opts = append(opts, asynq.ProcessIn(delay))
	}
	if _, err := c.asynq.EnqueueContext(ctx, asynq.NewTask(TypeReceipt, body), opts...); err != nil {
		return fmt.Errorf("schedule receipt: %w", err)
	}
	return nil
}
