package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/hibiken/asynq"

	"github.com/switchboardhq/switchboard/webhook"
)

// Worker runs delivery, receipt and webhook tasks.
type Worker struct {
	cfg     Config
	client  *Client
	store   Store
	route   Router
	limiter *Limiter
	http    *http.Client
	log     *slog.Logger
	server  *asynq.Server
	now     func() time.Time
	rates   *rateCache
	steps   StepRouter // nil: failover tasks cannot run here
	bots    Bots       // nil: call and bot tasks cannot run here
}

// NewWorker builds a worker; Run starts it.
func NewWorker(cfg Config, client *Client, store Store, route Router, guard webhook.Guard, log *slog.Logger) *Worker {
	cfg = cfg.withDefaults()
	w := &Worker{
		cfg: cfg, client: client, store: store, route: route,
		limiter: NewLimiter(client.rdb), http: webhook.NewHTTPClient(guard, 10*time.Second),
		log: log, now: time.Now, rates: newRateCache(store, time.Second),
	}
	w.server = asynq.NewServerFromRedisClient(client.rdb, asynq.Config{
		Concurrency:              cfg.Concurrency,
		Queues:                   map[string]int{QueueMessages: 6, QueueReceipts: 3, QueueWebhooks: 3},
		TaskCheckInterval:        cfg.TaskCheckInterval,
		DelayedTaskCheckInterval: cfg.DelayedTaskCheckInterval,
		ShutdownTimeout:          cfg.ShutdownTimeout,
		RetryDelayFunc:           w.retryDelay,
		IsFailure:                func(err error) bool { var t *throttled; return !errors.As(err, &t) },
		Logger:                   asynqLogger{log},
		LogLevel:                 asynq.WarnLevel,
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			var th *throttled
			if !errors.As(err, &th) {
				log.DebugContext(ctx, "task failed", "type", t.Type(), "err", err)
			}
		}),
	})
	return w
}

// WithSteps gives the worker the router that sends failover steps.
func (w *Worker) WithSteps(r StepRouter) *Worker {
	w.steps = r
	return w
}

// Start runs the worker in the background until Shutdown.
func (w *Worker) Start() error {
	mux := asynq.NewServeMux()
	mux.HandleFunc(TypeDeliver, w.handleDeliver)
	mux.HandleFunc(TypeDeliverBatch, w.handleDeliverBatch)
	mux.HandleFunc(TypeReceipt, w.handleReceipt)
	mux.HandleFunc(TypeWebhook, w.handleWebhook)
	mux.HandleFunc(TypeWebhookBatch, w.handleWebhookBatch)
	mux.HandleFunc(TypeFailover, w.handleFailover)
	mux.HandleFunc(TypeRelease, w.handleRelease)
	mux.HandleFunc(TypeCallDial, w.handleBot)
	mux.HandleFunc(TypeCallRing, w.handleBot)
	mux.HandleFunc(TypeCallExpire, w.handleBot)
	mux.HandleFunc(TypeBotTimeout, w.handleBot)
	mux.HandleFunc(TypeBotMessage, w.handleBot)
	if err := w.server.Start(mux); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	return nil
}

// Shutdown stops taking tasks and waits for in-flight ones to finish, up to
// the configured shutdown timeout; unfinished ones go back to the queue.
func (w *Worker) Shutdown() { w.server.Shutdown() }

// throttled is returned when a sender is over its rate; asynq does not count
// it as a failure, so a throttled message never exhausts its attempts.
type throttled struct{ wait time.Duration }

func (t *throttled) Error() string { return fmt.Sprintf("sender throttled for %s", t.wait) }

// retryLater asks for the next attempt no sooner than after.
type retryLater struct {
	after time.Duration
	err   error
}

func (r *retryLater) Error() string { return r.err.Error() }
func (r *retryLater) Unwrap() error { return r.err }

func (w *Worker) retryDelay(n int, err error, t *asynq.Task) time.Duration {
	var th *throttled
	if errors.As(err, &th) {
		return th.wait
	}
	var rl *retryLater
	if errors.As(err, &rl) {
		return noSooner(time.Now(), rl.after)
	}
	return w.backoff(n)
}

// backoff is exponential from RetryBase with "equal jitter": half fixed,
// half random, so retries from a burst of failures spread out.
func (w *Worker) backoff(n int) time.Duration {
	d := w.cfg.RetryBase << min(n, 20)
	if d > w.cfg.RetryMax || d <= 0 {
		d = w.cfg.RetryMax
	}
	return d/2 + rand.N(d/2+1)
}

type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...), "component", "asynq") }

// noSooner is the delay to give asynq for a retry due no sooner than after
// from now. asynq keeps retry times in whole seconds, so a retry falls due
// at the start of its second — up to a second early, which would break a
// provider's Retry-After: round the due time up to the next second.
func noSooner(now time.Time, after time.Duration) time.Duration {
	due := now.Add(after)
	if t := due.Truncate(time.Second); t.Before(due) {
		due = t.Add(time.Second)
	}
	return due.Sub(now)
}
