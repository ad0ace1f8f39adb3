package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/keyring"
	"github.com/switchboardhq/switchboard/postgres"
	"github.com/switchboardhq/switchboard/sdk"
	"github.com/switchboardhq/switchboard/testenv"
	"github.com/switchboardhq/switchboard/webhook"
)

// stack is a running Switchboard on a fresh database and a flushed Redis,
// tuned for fast tests (short retries, sweeps and receipt delays).
type stack struct {
	t   *testing.T
	cfg Config
	app *App
	url string
}

func testConfig(t *testing.T) Config {
	cfg, err := loadConfig(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	// A known free port, so the public URL that providers' signatures
	// cover (SWITCHBOARD_PUBLIC_URL) is the server's real address.
	cfg.HTTPAddr = freeAddr(t)
	cfg.PublicURL = "http://" + cfg.HTTPAddr
	cfg.DatabaseURL = testenv.DatabaseURL(t)
	cfg.RedisURL = testenv.RedisURL(t)
	cfg.WebhookAllowPriv = true
	cfg.MasterKey = keyring.NewKey()
	cfg.RetryBase = 50 * time.Millisecond
	cfg.SandboxDelay = 50 * time.Millisecond
	cfg.SweepInterval = 200 * time.Millisecond
	cfg.SweepGrace = time.Second
	cfg.Lease = 2 * time.Second
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.webhookSchedule = []time.Duration{200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond}
	cfg.liveStale = 2 * time.Second
	return cfg
}

func testLogger() *slog.Logger {
	if os.Getenv("SWITCHBOARD_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func startStack(t *testing.T, cfg Config, role string) *stack {
	t.Helper()
	app, err := Start(context.Background(), cfg, role, testLogger())
	if err != nil {
		t.Fatalf("start %s: %v", role, err)
	}
	t.Cleanup(app.Close)
	return &stack{t: t, cfg: cfg, app: app, url: "http://" + app.Addr()}
}

func newStack(t *testing.T) *stack { return startStack(t, testConfig(t), RoleAll) }

// account creates an account and returns an SDK client for it whose every
// request and response is checked against the OpenAPI spec.
func (s *stack) account(name string) (*sdk.Client, string) {
	s.t.Helper()
	db, err := postgres.Open(context.Background(), s.cfg.DatabaseURL, 2)
	if err != nil {
		s.t.Fatal(err)
	}
	defer db.Close()
	secret, _ := webhook.NewSecret()
	id, key, err := db.CreateAccount(context.Background(), name, secret)
	if err != nil {
		s.t.Fatal(err)
	}
	hc := &http.Client{Transport: testenv.ValidatingTransport(s.t, http.DefaultTransport), Timeout: 30 * time.Second}
	return sdk.New(key, sdk.WithBaseURL(s.url), sdk.WithHTTPClient(hc)), id
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}

func waitStatus(t *testing.T, c *sdk.Client, id string, want sdk.Status) *sdk.Message {
	t.Helper()
	var m *sdk.Message
	deadline := time.Now().Add(20 * time.Second)
	for {
		var err error
		m, err = c.Messages.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if m.Status == want {
			return m
		}
		if time.Now().After(deadline) {
			events, _ := c.Messages.Events(context.Background(), id)
			t.Fatalf("message %s is %s after 20s, want %s; events %+v", id, m.Status, want, events)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// receiver is a webhook endpoint that records what it is sent and answers
// with scripted status codes.
type receiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	got   []received
	codes []int // answered in order; 200 after they run out
}

type received struct {
	code   int // what the receiver answered
	header http.Header
	body   []byte
	event  struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	msg sdk.Message
}

func newReceiver(t *testing.T, codes ...int) *receiver {
	r := &receiver{codes: codes}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		rec := received{header: req.Header.Clone(), body: body}
		json.Unmarshal(body, &rec.event)
		json.Unmarshal(rec.event.Data, &rec.msg)
		r.mu.Lock()
		code := 200
		if len(r.codes) > 0 {
			code, r.codes = r.codes[0], r.codes[1:]
		}
		rec.code = code
		r.got = append(r.got, rec)
		r.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) all() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

func (r *receiver) types(messageID string) []string {
	var out []string
	for _, g := range r.all() {
		if g.msg.ID == messageID {
			out = append(out, g.event.Type)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func problemType(err error) string {
	if e, ok := err.(*sdk.Error); ok {
		return e.Code()
	}
	return ""
}

// buildBinary builds switchboard for tests that run it as a separate
// process (to kill it, or stop it with a signal).
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "switchboard")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// startWorker runs `switchboard serve --role worker` against cfg's
// PostgreSQL and Redis, with extra SWITCHBOARD_* settings.
func startWorker(t *testing.T, bin string, cfg Config, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--role", "worker")
	cmd.Env = append(append(os.Environ(), "SWITCHBOARD_DATABASE_URL="+cfg.DatabaseURL,
		"SWITCHBOARD_REDIS_URL="+cfg.RedisURL, "SWITCHBOARD_LOG_LEVEL=error"), env...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
