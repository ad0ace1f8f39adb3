package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config is the whole configuration, read from the environment once at start.
type Config struct {
	HTTPAddr         string        // SWITCHBOARD_HTTP_ADDR
	DatabaseURL      string        // SWITCHBOARD_DATABASE_URL
	RedisURL         string        // SWITCHBOARD_REDIS_URL
	WebhookAllowPriv bool          // SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE
	LogLevel         string        // SWITCHBOARD_LOG_LEVEL
	Concurrency      int           // SWITCHBOARD_WORKER_CONCURRENCY
	MaxAttempts      int           // SWITCHBOARD_DELIVERY_MAX_ATTEMPTS
	RetryBase        time.Duration // SWITCHBOARD_DELIVERY_RETRY_BASE
	SandboxDelay     time.Duration // SWITCHBOARD_SANDBOX_DELAY
	SandboxLatency   time.Duration // SWITCHBOARD_SANDBOX_SEND_LATENCY
	SweepInterval    time.Duration // SWITCHBOARD_SWEEP_INTERVAL
	SweepGrace       time.Duration // SWITCHBOARD_SWEEP_GRACE
	Lease            time.Duration // SWITCHBOARD_DELIVERY_LEASE
	DBMaxConns       int           // SWITCHBOARD_DB_MAX_CONNS
	ShutdownTimeout  time.Duration // SWITCHBOARD_SHUTDOWN_TIMEOUT
	ProviderTimeout  time.Duration // SWITCHBOARD_PROVIDER_TIMEOUT: one provider call
	PprofAddr        string        // SWITCHBOARD_PPROF_ADDR: net/http/pprof listener; off when empty
	MasterKey        string        // SWITCHBOARD_MASTER_KEY: seals provider credentials (32 bytes, base64)
	MasterKeysPrev   []string      // SWITCHBOARD_MASTER_KEY_PREVIOUS: comma-separated, still open during a rotation
	PublicURL        string        // SWITCHBOARD_PUBLIC_URL: where providers reach /hooks/…
	// ProviderBaseURLs overrides providers' API base URLs (tests point them
	// at fakes): SWITCHBOARD_<TYPE>_API_URL, e.g. SWITCHBOARD_TELEGRAM_API_URL.
	ProviderBaseURLs map[string]string

	// Voice bots' engines.
	TTSEngine  string // SWITCHBOARD_TTS_ENGINE: espeak (default) | http | none
	TTSBaseURL string // SWITCHBOARD_TTS_BASE_URL: OpenAI-compatible /audio/speech (engine http)
	TTSAPIKey  string // SWITCHBOARD_TTS_API_KEY
	TTSModel   string // SWITCHBOARD_TTS_MODEL
	TTSCacheMB int    // SWITCHBOARD_TTS_CACHE_MB: rendered prompts kept in memory (64)
	STTBaseURL string // SWITCHBOARD_STT_BASE_URL: OpenAI-compatible /audio/transcriptions; off when empty
	STTAPIKey  string // SWITCHBOARD_STT_API_KEY
	STTModel   string // SWITCHBOARD_STT_MODEL (whisper-1)
	LLMBaseURL string // SWITCHBOARD_LLM_BASE_URL: OpenAI-compatible /chat/completions for llm steps; off when empty
	LLMAPIKey  string // SWITCHBOARD_LLM_API_KEY
	LLMModel   string // SWITCHBOARD_LLM_MODEL (gpt-4o-mini)

	// Browser calls (WebRTC).
	RTCICEServers  string // SWITCHBOARD_RTC_ICE_SERVERS: comma-separated stun:/turn: URLs, or a JSON array of RTCIceServer objects
	RTCUDPPorts    string // SWITCHBOARD_RTC_UDP_PORTS: "50000-50200" to pin media ports for a firewall; any when empty
	RTCNATIPs      string // SWITCHBOARD_RTC_NAT_IPS: comma-separated public IPs to advertise (1:1 NAT)
	RTCLoopback    bool   // SWITCHBOARD_RTC_LOOPBACK: offer loopback candidates (single-box demos, tests)
	RTCTokenSecret string // SWITCHBOARD_RTC_TOKEN_SECRET: signs browser tokens; derived from the master key when empty

	webhookSchedule []time.Duration // tests only
	// liveStale (tests only; default a minute) is how long a browser call
	// may go untouched by its process before the sweeper ends it; the
	// process touches its calls four times in that span.
	liveStale time.Duration
}

// loadConfig reads the environment over defaults that work with `make run`.
func loadConfig(getenv func(string) string) (Config, error) {
	c := Config{
		HTTPAddr:        ":8080",
		DatabaseURL:     "postgres://postgres@127.0.0.1:25432/switchboard?sslmode=disable",
		RedisURL:        "redis://127.0.0.1:26379/0",
		LogLevel:        "info",
		Concurrency:     64,
		MaxAttempts:     6,
		RetryBase:       time.Second,
		SandboxDelay:    200 * time.Millisecond,
		SweepInterval:   5 * time.Second,
		SweepGrace:      15 * time.Second,
		Lease:           30 * time.Second,
		DBMaxConns:      32,
		ShutdownTimeout: 20 * time.Second,
		ProviderTimeout: 15 * time.Second,
		PublicURL:       "http://localhost:8080",
		TTSEngine:       "espeak",
		TTSCacheMB:      64,
		STTModel:        "whisper-1",
		LLMModel:        "gpt-4o-mini",
	}
	var errs []error
	str := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	integer := func(name string, dst *int) {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				errs = append(errs, fmt.Errorf("%s=%q: want a positive integer", name, v))
				return
			}
			*dst = n
		}
	}
	dur := func(name string, dst *time.Duration) {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				errs = append(errs, fmt.Errorf("%s=%q: want a duration like 500ms or 5s", name, v))
				return
			}
			*dst = d
		}
	}
	str("SWITCHBOARD_HTTP_ADDR", &c.HTTPAddr)
	str("SWITCHBOARD_DATABASE_URL", &c.DatabaseURL)
	str("SWITCHBOARD_REDIS_URL", &c.RedisURL)
	str("SWITCHBOARD_LOG_LEVEL", &c.LogLevel)
	str("SWITCHBOARD_PPROF_ADDR", &c.PprofAddr)
	str("SWITCHBOARD_MASTER_KEY", &c.MasterKey)
	str("SWITCHBOARD_PUBLIC_URL", &c.PublicURL)
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	for name, dst := range map[string]*string{"TTS_ENGINE": &c.TTSEngine, "TTS_BASE_URL": &c.TTSBaseURL, "TTS_API_KEY": &c.TTSAPIKey,
		"TTS_MODEL": &c.TTSModel, "STT_BASE_URL": &c.STTBaseURL, "STT_API_KEY": &c.STTAPIKey, "STT_MODEL": &c.STTModel,
		"LLM_BASE_URL": &c.LLMBaseURL, "LLM_API_KEY": &c.LLMAPIKey, "LLM_MODEL": &c.LLMModel,
		"RTC_ICE_SERVERS": &c.RTCICEServers, "RTC_UDP_PORTS": &c.RTCUDPPorts, "RTC_NAT_IPS": &c.RTCNATIPs,
		"RTC_TOKEN_SECRET": &c.RTCTokenSecret} {
		str("SWITCHBOARD_"+name, dst)
	}
	integer("SWITCHBOARD_TTS_CACHE_MB", &c.TTSCacheMB)
	if v := getenv("SWITCHBOARD_RTC_LOOPBACK"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("SWITCHBOARD_RTC_LOOPBACK=%q: want true or false", v))
		}
		c.RTCLoopback = b
	}
	if v := getenv("SWITCHBOARD_MASTER_KEY_PREVIOUS"); v != "" {
		c.MasterKeysPrev = strings.Split(v, ",")
	}
	c.ProviderBaseURLs = map[string]string{}
	for _, typ := range []string{"twilio", "telegram", "whatsapp_cloud", "viber", "exolve"} {
		if v := getenv("SWITCHBOARD_" + strings.ToUpper(typ) + "_API_URL"); v != "" {
			c.ProviderBaseURLs[typ] = v
		}
	}
	if v := getenv("SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE=%q: want true or false", v))
		}
		c.WebhookAllowPriv = b
	}
	integer("SWITCHBOARD_WORKER_CONCURRENCY", &c.Concurrency)
	integer("SWITCHBOARD_DELIVERY_MAX_ATTEMPTS", &c.MaxAttempts)
	integer("SWITCHBOARD_DB_MAX_CONNS", &c.DBMaxConns)
	dur("SWITCHBOARD_DELIVERY_RETRY_BASE", &c.RetryBase)
	dur("SWITCHBOARD_SANDBOX_DELAY", &c.SandboxDelay)
	dur("SWITCHBOARD_SANDBOX_SEND_LATENCY", &c.SandboxLatency)
	dur("SWITCHBOARD_SWEEP_INTERVAL", &c.SweepInterval)
	dur("SWITCHBOARD_SWEEP_GRACE", &c.SweepGrace)
	dur("SWITCHBOARD_DELIVERY_LEASE", &c.Lease)
	dur("SWITCHBOARD_SHUTDOWN_TIMEOUT", &c.ShutdownTimeout)
	dur("SWITCHBOARD_PROVIDER_TIMEOUT", &c.ProviderTimeout)
	if len(errs) > 0 {
		return c, fmt.Errorf("config: %v", errs)
	}
	return c, nil
}

// liveTouch is how often an API process renews the lease of its browser
// calls: four times per liveStale.
func (c Config) liveTouch() time.Duration {
	if c.liveStale > 0 {
		return c.liveStale / 4
	}
	return 15 * time.Second
}
