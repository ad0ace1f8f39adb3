package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Real-browser tests drive headless Chromium (chromedp) with fake media
// devices against a running stack.

// Screen sizes the pages are checked and photographed at.
const (
	phoneW, phoneH     = 390, 844
	desktopW, desktopH = 1280, 800
)

// chromiumPath finds Chromium; without one the browser tests skip, unless
// SWITCHBOARD_TEST_REQUIRE names chromium (CI), where they fail.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if strings.Contains(os.Getenv("SWITCHBOARD_TEST_REQUIRE"), "chromium") {
		t.Fatal("chromium is required (SWITCHBOARD_TEST_REQUIRE) but missing: apt-get install -y chromium")
	}
	t.Skip("no chromium on PATH (apt-get install -y chromium)")
	return ""
}

// browser is one Chromium process with its own profile: separate browsers
// share no cookies or localStorage, like a customer and an agent.
type browser struct {
	t   *testing.T
	ctx context.Context // a tab
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	exe := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.WindowSize(desktopW, desktopH),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx}
}

// do runs actions with a time limit.
func (b *browser) do(what string, timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// open loads a page at a screen size and waits for its script's hook.
func (b *browser) open(url, hook string, w, h int64) {
	b.t.Helper()
	b.do("open "+url, 20*time.Second,
		chromedp.EmulateViewport(w, h),
		chromedp.Navigate(url),
		chromedp.Poll[chromedp.Void]("window."+hook+" !== undefined", chromedp.WithPollingTimeout(10*time.Second)))
}

// eval evaluates a JavaScript expression (promises awaited) into T.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("eval %s: %v", expr, err)
	}
	return v
}

// waitJS polls a JavaScript predicate until it is truthy, failing with what
// and the value of show (some page state) when it times out.
func (b *browser) waitJS(what string, timeout time.Duration, pred, show string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](pred, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		state := "?"
		if show != "" {
			sctx, scancel := context.WithTimeout(b.ctx, 5*time.Second)
			defer scancel()
			if v, err := chromedp.Run(sctx, chromedp.Evaluate[[]byte](show)); err == nil {
				state = string(v)
			}
		}
		b.t.Fatalf("timed out after %s waiting for %s (%v); page state %s", timeout, what, err, state)
	}
}

func click(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }

func typeIn(sel, text string) chromedp.Action[chromedp.Void] {
	return chromedp.SendKeys(chromedp.CSS(sel), text)
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string { return fmt.Sprintf("%q", s) }

// threadHas is a predicate: an entry in the thread sel shows text.
func threadHas(sel, text string) string {
	return fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).some(e => e.firstChild && e.firstChild.textContent === %s)`, sel+" .entry", jsString(text))
}

// screenshot writes the viewport at a screen size to docs/screenshots/.
func (b *browser) screenshot(name string, w, h int64) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, h), chromedp.Sleep(300*time.Millisecond)); err != nil {
		b.t.Fatalf("resize for %s: %v", name, err)
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join("..", "..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// rtcToken mints a browser token through the API.
type rtcToken struct {
	Token      string `json:"token"`
	ExpiresAt  string `json:"expires_at"`
	Identity   string `json:"identity"`
	CustomerID string `json:"customer_id"`
}

func (c *rawClient) rtcToken(body map[string]any) rtcToken {
	c.t.Helper()
	var tok rtcToken
	c.must(http.StatusCreated, "POST", "/v1/webrtc/tokens", body, &tok)
	if tok.Token == "" || tok.CustomerID == "" || tok.Identity == "" {
		c.t.Fatalf("token %+v", tok)
	}
	return tok
}

// rtcStatus is the status of a browser route called with a token.
func rtcStatus(t *testing.T, base, method, path, token string) int {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// widgetStack is a stack that takes browser calls, an account, and a webrtc
// channel whose "support" address runs flow (when not empty).
func widgetStack(t *testing.T, name string, flow func(*rawClient) string) (*stack, *rawClient) {
	t.Helper()
	chromiumPath(t) // skip before starting anything
	return rtcStack(t, name, flow)
}

// rtcStack is widgetStack for Go peers: no Chromium needed.
func rtcStack(t *testing.T, name string, flow func(*rawClient) string) (*stack, *rawClient) {
	t.Helper()
	cfg := testConfig(t)
	cfg.RTCLoopback = true
	s := startStack(t, cfg, RoleAll)
	c := s.raw(name)
	sender := map[string]any{"channel": "webrtc", "address": "support", "default": true}
	if flow != nil {
		sender["inbound_flow_id"] = flow(c)
	}
	c.must(http.StatusCreated, "POST", "/v1/channels", map[string]any{"type": "webrtc", "name": "widget", "senders": []map[string]any{sender}}, nil)
	// The pages must be served (api.Server.pageRoutes).
	resp, err := http.Get(s.url + "/widget")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /widget: %d; the pages are not served", resp.StatusCode)
	}
	return s, c
}

// rentry is a customer's timeline entry.
type rentry struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	Message    *rmsg  `json:"message"`
	Call       *rcall `json:"call"`
	Transcript *rline `json:"transcript"`
}

// timeline is a customer's newest 100 timeline entries, newest first.
func (c *rawClient) timeline(customerID string) []rentry {
	c.t.Helper()
	var l rlist[rentry]
	c.must(http.StatusOK, "GET", "/v1/customers/"+customerID+"/timeline?limit=100", nil, &l)
	return l.Data
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
