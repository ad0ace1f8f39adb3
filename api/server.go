// Package api is Switchboard's REST API: one send/receive model over every
// channel, served with Gin. Handlers speak domain types; storage and queues
// sit behind the small interfaces declared here.
package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/routing"
	"github.com/switchboardhq/switchboard/webhook"
)

// OpenAPI is the spec of this API, served at /openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Store is the persistence the API needs.
type Store interface {
	Authenticate(ctx context.Context, apiKey string) (string, error)
	CreateMessage(ctx context.Context, m *sb.Message, idem *sb.Idempotency, render func(*sb.Message) (int, []byte, error)) (*sb.Message, *sb.Replay, []string, error)
	GetMessage(ctx context.Context, accountID, id string) (*sb.Message, error)
	ListMessages(ctx context.Context, accountID string, f sb.MessageFilter) ([]*sb.Message, string, error)
	ListEvents(ctx context.Context, accountID, id string) ([]sb.Event, error)

	CreateEndpoint(ctx context.Context, e *sb.WebhookEndpoint) (*sb.WebhookEndpoint, error)
	GetEndpoint(ctx context.Context, accountID, id string) (*sb.WebhookEndpoint, error)
	ListEndpoints(ctx context.Context, accountID, cursor string, limit int) ([]*sb.WebhookEndpoint, string, error)
	UpdateEndpoint(ctx context.Context, accountID, id string, u sb.EndpointUpdate) (*sb.WebhookEndpoint, error)
	DeleteEndpoint(ctx context.Context, accountID, id string) error
	RotateSecret(ctx context.Context, accountID, id, secret string, grace time.Duration) (*sb.WebhookEndpoint, error)
	ListAttempts(ctx context.Context, accountID, endpointID, cursor string, limit int) ([]sb.WebhookAttempt, string, error)

	PutRule(ctx context.Context, r *sb.SandboxRule) (*sb.SandboxRule, error)
	ListRules(ctx context.Context, accountID string) ([]*sb.SandboxRule, error)
	DeleteRule(ctx context.Context, accountID, id string) error
	Submissions(ctx context.Context, accountID, messageID string) ([]sb.SandboxSubmission, error)

	Ping(ctx context.Context) error

	CustomerStore
	RoutingStore
	ChannelStore
	VoiceStore
}

// Enqueuer hands committed messages and webhook deliveries to the queue.
// It must not block on Redis: a message is accepted once it is committed.
type Enqueuer interface {
	Notify(m *sb.Message)
	EnqueueWebhooks(ctx context.Context, ids []string) error
	// Schedule queues m to go out at at (quiet hours).
	Schedule(ctx context.Context, m *sb.Message, at time.Time) error
	// EnqueueFailover asks the workers to move a failover parent along.
	EnqueueFailover(ctx context.Context, parentID string, at time.Time) error
	// EnqueueReceipt hands a provider's delivery report to the workers.
	EnqueueReceipt(ctx context.Context, r sb.Receipt) error
	// EnqueueBotMessage hands an inbound message to the account's bot.
	EnqueueBotMessage(ctx context.Context, accountID, messageID string) error
}

// Pinger reports whether a dependency is reachable.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Config tunes the server.
type Config struct {
	Guard webhook.Guard
	// SecretGrace is how long a rotated-out webhook secret keeps signing.
	SecretGrace time.Duration
	// Routing applies the routing rules (customers, channels, opt-outs).
	Routing *routing.Service
	// Providers connects provider accounts and reads their webhooks.
	Providers Providers
	// PublicURL is where providers reach this server (/hooks/…).
	PublicURL string
	// Calls runs calls and voice bots; nil serves no call routes.
	Calls Calls
	// STT transcribes sandbox callers' audio; nil when none is configured.
	STT Transcriber
	// RTC answers browsers' WebRTC offers; nil serves no browser calls.
	RTC RTC
	// RTCTokenKey signs browser tokens; empty disables them.
	RTCTokenKey []byte
}

// Server serves the REST API.
type Server struct {
	cfg    Config
	store  Store
	queue  Enqueuer
	redis  Pinger
	log    *slog.Logger
	engine *gin.Engine
	keys   keyCache
	lines  sync.Map // call id → the browser line answered here (trickled ICE goes to it)
}

var httpDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "switchboard_http_request_duration_seconds",
	Help:    "API request latency by route and status.",
	Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
}, []string{"method", "route", "status"})

// New builds the server and its routes.
func New(cfg Config, store Store, queue Enqueuer, redis Pinger, log *slog.Logger) *Server {
	if cfg.SecretGrace <= 0 {
		cfg.SecretGrace = 24 * time.Hour
	}
	gin.SetMode(gin.ReleaseMode)
	s := &Server{cfg: cfg, store: store, queue: queue, redis: redis, log: log, engine: gin.New()}
	s.keys.m = map[string]keyEntry{}
	e := s.engine
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	e.Use(s.requestID, s.recover, s.observe)
	e.NoRoute(func(c *gin.Context) {
		s.writeError(c, sb.Errorf(sb.ENOTFOUND, "no route %s %s", c.Request.Method, c.Request.URL.Path))
	})
	e.NoMethod(func(c *gin.Context) {
		writeProblem(c, Problem{Type: problemBase + "method-not-allowed", Title: "Method not allowed", Status: http.StatusMethodNotAllowed,
			Detail: c.Request.Method + " is not allowed on " + c.Request.URL.Path, RequestID: requestID(c)})
	})
	e.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	e.GET("/readyz", s.ready)
	e.GET("/metrics", gin.WrapH(promhttp.Handler()))
	e.GET("/openapi.yaml", func(c *gin.Context) { c.Data(http.StatusOK, "application/yaml", OpenAPI) })

	v1 := e.Group("/v1", s.auth)
	v1.POST("/messages", s.sendMessage)
	v1.GET("/messages", s.listMessages)
	v1.GET("/messages/:id", s.getMessage)
	v1.GET("/messages/:id/events", s.listEvents)
	v1.POST("/webhook-endpoints", s.createEndpoint)
	v1.GET("/webhook-endpoints", s.listEndpoints)
	v1.GET("/webhook-endpoints/:id", s.getEndpoint)
	v1.PATCH("/webhook-endpoints/:id", s.updateEndpoint)
	v1.DELETE("/webhook-endpoints/:id", s.deleteEndpoint)
	v1.POST("/webhook-endpoints/:id/rotate-secret", s.rotateSecret)
	v1.GET("/webhook-endpoints/:id/attempts", s.listAttempts)
	v1.PUT("/sandbox/rules", s.putRule)
	v1.GET("/sandbox/rules", s.listRules)
	v1.DELETE("/sandbox/rules/:id", s.deleteRule)
	v1.POST("/sandbox/inbound", s.sandboxInbound)
	v1.GET("/sandbox/submissions", s.listSubmissions)
	s.customerRoutes(v1)
	s.routingRoutes(v1)
	s.channelRoutes(v1)
	s.voiceRoutes(v1)
	v1.POST("/webrtc/tokens", s.createRTCToken)
	v1.GET("/webrtc/ice-servers", s.listICEServers)
	v1.POST("/calls/:id/answer", s.answerCall)
	v1.PATCH("/calls/:id", s.trickle)
	v1.POST("/agents/:agent/calls", s.agentCall)
	// The browser's own routes authenticate with its token, not an API key.
	rtc := e.Group("/v1/rtc", s.rtcAuth)
	rtc.GET("/session", s.rtcSession)
	rtc.POST("/calls", s.rtcCall)
	rtc.GET("/calls", s.rtcRinging)
	rtc.POST("/calls/:id/answer", s.rtcAnswer)
	rtc.DELETE("/calls/:id", s.rtcHangup)
	rtc.PATCH("/calls/:id", s.rtcTrickle)
	rtc.POST("/messages", s.rtcSend)
	rtc.GET("/messages", s.rtcThread)
	// Provider webhooks authenticate with the URL's secret and the
	// provider's own signature, not an API key.
	e.POST("/hooks/:id/:secret", s.hook)
	e.GET("/hooks/:id/:secret", s.hookHandshake)
	e.POST("/hooks/:id/:secret/voice", s.voiceHook)
	s.pageRoutes(e)
	return s
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.engine }

// Routes lists "METHOD /path" for every API route, with {param} syntax, so
// tests can compare them with the OpenAPI spec.
func (s *Server) Routes() []string {
	var out []string
	for _, r := range s.engine.Routes() {
		parts := strings.Split(r.Path, "/")
		for i, p := range parts {
			if strings.HasPrefix(p, ":") || strings.HasPrefix(p, "*") {
				parts[i] = "{" + p[1:] + "}"
			}
		}
		out = append(out, r.Method+" "+strings.Join(parts, "/"))
	}
	return out
}

const (
	ctxRequestID = "request_id"
	ctxAccount   = "account_id"
)

func (s *Server) requestID(c *gin.Context) {
	id := c.GetHeader("X-Request-Id")
	if id == "" || len(id) > 128 {
		b := make([]byte, 12)
		rand.Read(b)
		id = "req_" + hex.EncodeToString(b)
	}
	c.Set(ctxRequestID, id)
	c.Header("X-Request-Id", id)
	c.Next()
}

func (s *Server) recover(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			s.log.ErrorContext(c.Request.Context(), "panic", "panic", r, "request_id", requestID(c))
			s.writeError(c, sb.Errorf(sb.EINTERNAL, "panic: %v", r))
		}
	}()
	c.Next()
}

func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	d := time.Since(start)
	httpDuration.WithLabelValues(c.Request.Method, route, strconv.Itoa(status)).Observe(d.Seconds())
	if route != "/metrics" && (status >= 400 || s.log.Enabled(c.Request.Context(), slog.LevelDebug)) {
		level := slog.LevelDebug
		if status >= 500 {
			level = slog.LevelWarn
		} else if status >= 400 {
			level = slog.LevelInfo
		}
		s.log.Log(c.Request.Context(), level, "http request", "method", c.Request.Method, "route", route, "status", status,
			"duration_ms", d.Milliseconds(), "request_id", requestID(c), "account_id", c.GetString(ctxAccount))
	}
}

// keyCache remembers recent API key lookups for a short while so that a
// busy client costs one query per minute, not one per request. Keys are
// cached by their hash only.
type keyCache struct {
	mu sync.Mutex
	m  map[string]keyEntry
}

type keyEntry struct {
	account string
	at      time.Time
}

const keyCacheTTL = 30 * time.Second

func (s *Server) auth(c *gin.Context) {
	h := c.GetHeader("Authorization")
	key, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || key == "" {
		c.Header("WWW-Authenticate", `Bearer realm="switchboard"`)
		s.writeError(c, sb.Errorf(sb.EUNAUTHORIZED, "missing Authorization: Bearer <api key> header"))
		return
	}
	sum := sha256.Sum256([]byte(key))
	cacheKey := string(sum[:])
	s.keys.mu.Lock()
	e, hit := s.keys.m[cacheKey]
	s.keys.mu.Unlock()
	if !hit || time.Since(e.at) > keyCacheTTL {
		account, err := s.store.Authenticate(c.Request.Context(), key)
		if err != nil {
			c.Header("WWW-Authenticate", `Bearer realm="switchboard"`)
			s.writeError(c, err)
			return
		}
		e = keyEntry{account: account, at: time.Now()}
		s.keys.mu.Lock()
		if len(s.keys.m) > 10000 {
			clear(s.keys.m)
		}
		s.keys.m[cacheKey] = e
		s.keys.mu.Unlock()
	}
	c.Set(ctxAccount, e.account)
	c.Next()
}

func account(c *gin.Context) string { return c.GetString(ctxAccount) }

func (s *Server) ready(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	checks := gin.H{"postgres": "ok", "redis": "ok"}
	status := http.StatusOK
	if err := s.store.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "readiness: postgres", "err", err)
		checks["postgres"], status = "unavailable", http.StatusServiceUnavailable
	}
	if err := s.redis.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "readiness: redis", "err", err)
		checks["redis"], status = "unavailable", http.StatusServiceUnavailable
	}
	c.JSON(status, gin.H{"status": map[bool]string{true: "ready", false: "unavailable"}[status == http.StatusOK], "checks": checks})
}
