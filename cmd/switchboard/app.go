package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/api"
	"github.com/switchboardhq/switchboard/keyring"
	"github.com/switchboardhq/switchboard/postgres"
	"github.com/switchboardhq/switchboard/providers/sandbox"
	"github.com/switchboardhq/switchboard/queue"
	"github.com/switchboardhq/switchboard/routing"
	"github.com/switchboardhq/switchboard/voicebot/runtime"
	"github.com/switchboardhq/switchboard/webhook"
)

// Roles a process can take.
const (
	RoleAll    = "all"
	RoleAPI    = "api"
	RoleWorker = "worker"
)

// App is a running Switchboard process: API, workers, or both. Tests start
// one on :0 and close it like the binary would on SIGTERM.
type App struct {
	cfg      Config
	log      *slog.Logger
	db       *postgres.DB // the API's pool (and the only one for a single role)
	workerDB *postgres.DB // the workers' own pool when one process runs both
	qc       *queue.Client
	worker   *queue.Worker
	http     *http.Server
	listener net.Listener
	live     *runtime.Runtime // the API's runtime, carrying browser calls
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	closed   sync.Once
}

func queueConfig(cfg Config) queue.Config {
	return queue.Config{
		RedisURL: cfg.RedisURL, Concurrency: cfg.Concurrency, MaxAttempts: cfg.MaxAttempts,
		RetryBase: cfg.RetryBase, Lease: cfg.Lease, SweepInterval: cfg.SweepInterval,
		SweepGrace: cfg.SweepGrace, ShutdownTimeout: cfg.ShutdownTimeout, SendTimeout: cfg.ProviderTimeout,
		WebhookSchedule: cfg.webhookSchedule, LiveStale: cfg.liveStale,
	}
}

// Start opens PostgreSQL and Redis and starts what role asks for.
func Start(ctx context.Context, cfg Config, role string, log *slog.Logger) (*App, error) {
	if role != RoleAll && role != RoleAPI && role != RoleWorker {
		return nil, fmt.Errorf("unknown role %q: want api, worker or all", role)
	}
	var keys *keyring.Keyring
	if cfg.MasterKey != "" {
		k, err := keyring.New(cfg.MasterKey, cfg.MasterKeysPrev...)
		if err != nil {
			return nil, err
		}
		keys = k
	} else {
		log.Warn("SWITCHBOARD_MASTER_KEY is not set: provider channels cannot be connected (the sandbox works)")
	}
	db, err := postgres.Open(ctx, cfg.DatabaseURL, int32(cfg.DBMaxConns))
	if err != nil {
		return nil, err
	}
	if keys != nil {
		db.SetSealer(keys)
	}
	qcfg := queueConfig(cfg)
	qc, err := queue.NewClient(qcfg)
	if err != nil {
		db.Close()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	a := &App{cfg: cfg, log: log, db: db, qc: qc, cancel: cancel}
	guard := webhook.Guard{AllowPrivate: cfg.WebhookAllowPriv}
	sp := newSpeech(cfg, log)

	if role == RoleAll || role == RoleWorker {
		wdb := db
		if role == RoleAll {
			// Workers get their own pool, so a busy delivery pipeline can
			// never leave API requests waiting for a connection.
			if wdb, err = postgres.Open(ctx, cfg.DatabaseURL, int32(cfg.DBMaxConns)); err != nil {
				a.Close()
				return nil, err
			}
			if keys != nil {
				wdb.SetSealer(keys)
			}
			a.workerDB = wdb
		}
		db := wdb
		carrier := sandbox.New(db, cfg.SandboxDelay, cfg.SandboxLatency)
		providers := newProviderSet(cfg, db, carrier)
		rs := routing.NewService(db)
		// The bots' replies go out through an API server of the workers'
		// own (it listens nowhere) and an outbox of their own.
		wout := queue.NewOutbox(qc, db, log)
		a.wg.Go(func() { wout.Run(runCtx, 1) })
		wsrv := api.New(api.Config{Guard: guard, Routing: rs, Providers: providers, PublicURL: cfg.PublicURL}, db, outboxEnqueuer{wout, qc}, qc, log)
		bots := newRuntime(cfg, db, rs, wsrv, qc, providers, sp, guard, log)
		a.worker = queue.NewWorker(qcfg, qc, db, providers.route, guard, log).WithSteps(rs).WithBots(bots)
		if err := a.worker.Start(); err != nil {
			a.Close()
			return nil, err
		}
		sw := queue.NewSweeper(qcfg, qc, db, log)
		a.wg.Go(func() { sw.Run(runCtx) })
	}
	if role == RoleAll || role == RoleAPI {
		db.EnableGroupCommit(4)
		currentDepth.Store(queue.NewDepthCollector(qc))
		registerDepth.Do(func() { prometheus.MustRegister(depthProxy{}) })
		outbox := queue.NewOutbox(qc, db, log)
		a.wg.Go(func() { outbox.Run(runCtx, 4) })
		providers := newProviderSet(cfg, db, sandbox.New(db, cfg.SandboxDelay, cfg.SandboxLatency))
		rs := routing.NewService(db)
		acfg := api.Config{Guard: guard, Routing: rs, Providers: providers, PublicURL: cfg.PublicURL}
		if sp.stt != nil {
			acfg.STT = sp.stt
		}
		// The API's runtime sends the bots' replies through the server it
		// serves (the Outbox), wired once both exist.
		calls := &lateCalls{}
		acfg.Calls = calls
		acfg.RTCTokenKey = rtcTokenKey(cfg)
		rtc, err := newRTC(cfg)
		if err != nil {
			a.Close()
			return nil, err
		}
		acfg.RTC = rtc
		srv := api.New(acfg, db, outboxEnqueuer{outbox, qc}, qc, log)
		calls.Runtime = newRuntime(cfg, db, rs, srv, qc, providers, sp, guard, log)
		a.live = calls.Runtime
		a.wg.Go(func() { a.live.KeepLive(runCtx, cfg.liveTouch()) })
		ln, err := net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
		}
		a.listener = ln
		a.http = &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second}
		a.wg.Go(func() {
			if err := a.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("http server", "err", err)
			}
		})
		log.Info("api listening", "addr", ln.Addr().String())
	}
	return a, nil
}

// Addr is the API's listening address.
func (a *App) Addr() string {
	if a.listener == nil {
		return ""
	}
	return a.listener.Addr().String()
}

// Close shuts down gracefully: stop accepting requests, flush the outbox,
// let in-flight deliveries finish, then close connections.
func (a *App) Close() { a.closed.Do(a.close) }

func (a *App) close() {
	if a.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		a.http.Shutdown(ctx)
		if a.live != nil {
			if n := a.live.EndLive(ctx); n > 0 {
				a.log.Info("hung up the browser calls this process carried", "calls", n)
			}
		}
		cancel()
	}
	if a.worker != nil {
		a.worker.Shutdown()
	}
	a.cancel()
	a.wg.Wait()
	a.qc.Close()
	if a.workerDB != nil {
		a.workerDB.Close()
	}
	a.db.Close()
}

// The queue-depth collector is registered once per process and follows the
// latest app's Redis connection (tests start several apps in one process).
var (
	registerDepth sync.Once
	currentDepth  atomic.Pointer[queue.DepthCollector]
)

type depthProxy struct{}

func (depthProxy) Describe(ch chan<- *prometheus.Desc) {
	prometheus.DescribeByCollect(depthProxy{}, ch)
}

func (depthProxy) Collect(ch chan<- prometheus.Metric) {
	if d := currentDepth.Load(); d != nil {
		d.Collect(ch)
	}
}

type outboxEnqueuer struct {
	*queue.Outbox
	qc *queue.Client
}

func (o outboxEnqueuer) EnqueueWebhooks(ctx context.Context, ids []string) error {
	return o.qc.EnqueueWebhooks(ctx, ids)
}

func (o outboxEnqueuer) Schedule(ctx context.Context, m *sb.Message, at time.Time) error {
	return o.qc.ScheduleRelease(ctx, sb.MessageRef{ID: m.ID, AccountID: m.AccountID, Channel: m.Channel, From: m.From}, at)
}

func (o outboxEnqueuer) EnqueueReceipt(ctx context.Context, r sb.Receipt) error {
	return o.qc.ScheduleReceipt(ctx, r, 0)
}

func (o outboxEnqueuer) EnqueueBotMessage(ctx context.Context, accountID, messageID string) error {
	return o.qc.EnqueueBotMessage(ctx, accountID, messageID)
}

// lateCalls lets the API server and the runtime that sends through it
// refer to each other.
type lateCalls struct{ *runtime.Runtime }

func (o outboxEnqueuer) EnqueueFailover(ctx context.Context, parentID string, at time.Time) error {
	return o.qc.EnqueueFailover(ctx, parentID, at)
}
