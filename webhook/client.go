package webhook

import (
	"net"
	"net/http"
	"time"
)

// DefaultTimeout bounds one delivery attempt end to end; Standard Webhooks
// recommends 15 to 30 seconds, and a slow receiver should cost us a retry,
// not a worker.
const DefaultTimeout = 15 * time.Second

// maxResponseHeaderBytes keeps a hostile receiver from making us buffer
// large headers; we only look at the status and Retry-After.
const maxResponseHeaderBytes = 64 << 10

// NewHTTPClient returns the client deliveries must go through. Its dialer
// runs g.Control on every resolved address, so the SSRF guard holds after DNS
// and across rebinding; it ignores HTTP_PROXY and friends, since a proxy
// would dial on our behalf where the guard cannot see; and it never follows
// redirects, because a redirect could point anywhere and the caller treats a
// 3xx as a failed delivery. A timeout of zero or less means DefaultTimeout.
func NewHTTPClient(g Guard, timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	dialer := &net.Dialer{
		Timeout:   timeout,
		KeepAlive: 30 * time.Second,
		Control:   g.Control,
	}
	transport := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
