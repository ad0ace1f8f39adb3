// Package queue moves work through Redis with asynq: message delivery with
// retries and per-sender rate limits, provider receipts, and signed webhook
// deliveries. PostgreSQL stays the source of truth: tasks carry ids only, and
// a sweeper re-enqueues whatever the database says is unfinished, so a lost
// task or a dead worker never loses a message.
package queue

import (
	"context"
	"time"

	sb "github.com/switchboardhq/switchboard"
)

// Task types.
const (
	TypeDeliver      = "message:deliver"
	TypeDeliverBatch = "message:deliver-batch"
	TypeReceipt      = "message:receipt"
	TypeWebhook      = "webhook:deliver"
	TypeWebhookBatch = "webhook:deliver-batch"
	TypeFailover     = "message:failover"
	TypeRelease      = "message:release"
)

// Queue names, weighted so that neither webhooks nor receipts starve
// deliveries, and receipts do not wait behind a backlog of sends.
const (
	QueueMessages = "messages"
	QueueReceipts = "receipts"
	QueueWebhooks = "webhooks"
)

// Store is the persistence the queue needs.
type Store interface {
	LoadMessage(ctx context.Context, id string) (*sb.Message, error)
	Claim(ctx context.Context, id string, lease time.Duration) (*sb.Message, bool, error)
	ClaimMany(ctx context.Context, ids []string, lease time.Duration) ([]*sb.Message, error)
	TransitionMany(ctx context.Context, status sb.Status, items []sb.ChangeItem) ([]sb.TransitionResult, error)
	TransitionSteps(ctx context.Context, steps []sb.TransitionStep) ([][]sb.TransitionResult, error)
	Release(ctx context.Context, id string, due time.Time, errCode, errMsg string) error
	Defer(ctx context.Context, id string, due time.Time) error
	Transition(ctx context.Context, id string, c sb.Change) (sb.TransitionResult, error)
	MarkQueued(ctx context.Context, ids []string) ([]string, error)
	FindByProviderID(ctx context.Context, accountID, provider, providerID string) (string, error)
	OptOut(ctx context.Context, o sb.OptOut) (bool, []string, error)
	SenderRate(ctx context.Context, accountID string, ch sb.Channel, from string) (float64, error)
	LoadDelivery(ctx context.Context, id string) (*sb.DeliveryTarget, error)
	LoadDeliveries(ctx context.Context, ids []string) ([]*sb.DeliveryTarget, error)
	RecordAttempts(ctx context.Context, recs []sb.AttemptRecord) error
	DisableEndpoint(ctx context.Context, id, reason string) error
	ClaimStale(ctx context.Context, grace, queuedAge time.Duration, limit int) ([]sb.StaleMessage, error)
	ClaimStaleDeliveries(ctx context.Context, grace time.Duration, limit int) ([]string, error)

	SaveFailover(ctx context.Context, s sb.FailoverSave) (bool, []string, error)
	ClaimDueFailovers(ctx context.Context, grace time.Duration, limit int) ([]string, error)
	ClaimUndialledCalls(ctx context.Context, grace time.Duration, limit int) ([]sb.CallRef, error)
	ClaimStaleLiveCalls(ctx context.Context, stale time.Duration, limit int) ([]sb.CallRef, error)
	OptedOutMessages(ctx context.Context, ids []string) (map[string]bool, error)
	CloseIdleConversations(ctx context.Context, limit int) ([]string, error)
}

// Provider sends messages on some channels. Send must treat m.ID as an
// idempotency key where the provider supports one, so a send retried after
// a worker died mid-call is not sent twice.
type Provider interface {
	Send(ctx context.Context, m *sb.Message) (sb.SendResult, error)
}

// BatchProvider is a Provider that can take many messages in one call, as
// bulk carrier APIs (and the sandbox) can.
type BatchProvider interface {
	Provider
	SendBatch(ctx context.Context, ms []*sb.Message) []sb.SendOutcome
}

// Router picks the provider for a message and names it.
type Router func(m *sb.Message) (name string, p Provider)

// Config tunes the queue. Zero values take the defaults in withDefaults.
type Config struct {
	RedisURL string
	// Concurrency is the number of tasks a worker process runs at once.
	Concurrency int
	// MaxAttempts bounds provider send attempts per message.
	MaxAttempts int
	// RetryBase is the first retry delay; later ones double, with jitter.
	RetryBase time.Duration
	// RetryMax caps a single retry delay.
	RetryMax time.Duration
	// Lease is how long a worker holds a message it is sending.
	Lease time.Duration
	// SendTimeout bounds one provider call.
	SendTimeout time.Duration
	// SweepInterval and SweepGrace: how often the sweeper looks for stuck
	// messages, and how long one must be idle before it counts as stuck.
	SweepInterval time.Duration
	SweepGrace    time.Duration
	// TaskCheckInterval is asynq's idle poll; asynq's 1 s default would add
	// up to a second of pickup latency to a message arriving at an idle queue.
	TaskCheckInterval time.Duration
	// DelayedTaskCheckInterval is how often retries and scheduled receipts
	// are moved to their queue.
	DelayedTaskCheckInterval time.Duration
	// BatchSize is how many messages the outbox puts in one delivery task.
	BatchSize int
	// WebhookSchedule overrides the webhook retry schedule (tests).
	WebhookSchedule []time.Duration
	// ShutdownTimeout is how long a stopping worker lets in-flight tasks finish.
	ShutdownTimeout time.Duration
	// LiveStale is how long a browser call in progress may go untouched by
	// the process carrying it before the sweeper ends it (its carrier died).
	LiveStale time.Duration
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 64
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 32
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 6
	}
	def(&c.RetryBase, time.Second)
	def(&c.RetryMax, 10*time.Minute)
	def(&c.Lease, 30*time.Second)
	def(&c.SendTimeout, 15*time.Second)
	def(&c.SweepInterval, 5*time.Second)
	def(&c.SweepGrace, 15*time.Second)
	def(&c.TaskCheckInterval, 10*time.Millisecond)
	def(&c.DelayedTaskCheckInterval, 100*time.Millisecond)
	def(&c.ShutdownTimeout, 20*time.Second)
	def(&c.LiveStale, time.Minute)
	return c
}
