package webhook

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer is an httptest server on 127.0.0.1 that counts requests.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if h != nil {
			h(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestHTTPClientDialGuard(t *testing.T) {
	srv, hits := countingServer(t, nil)
	port := srv.URL[strings.LastIndexByte(srv.URL, ':')+1:]
	tests := []struct {
		name        string
		guard       Guard
		url         string
		wantBlocked bool
	}{
		{"loopback refused", Guard{}, srv.URL, true},
		{"loopback admitted with AllowPrivate", Guard{AllowPrivate: true}, srv.URL, false},
		// The name is resolved first and the resolved address is what the
		// guard sees, which is what defeats DNS rebinding.
		{"name resolving to loopback refused", Guard{}, "http://localhost:" + port + "/", true},
		{"name resolving to loopback admitted", Guard{AllowPrivate: true}, "http://localhost:" + port + "/", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.url, "localhost") {
				if _, err := net.LookupHost("localhost"); err != nil {
					t.Skipf("localhost does not resolve here: %v", err)
				}
			}
			before := hits.Load()
			resp, err := NewHTTPClient(tt.guard, 5*time.Second).Get(tt.url)
			if tt.wantBlocked {
				if !errors.Is(err, ErrBlockedDestination) {
					t.Fatalf("Get = %v, want ErrBlockedDestination", err)
				}
				if n := hits.Load() - before; n != 0 {
					t.Errorf("server got %d requests, want 0", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status %d, want 200", resp.StatusCode)
			}
			if n := hits.Load() - before; n != 1 {
				t.Errorf("server got %d requests, want 1", n)
			}
		})
	}
}

func TestHTTPClientDoesNotFollowRedirects(t *testing.T) {
	target, targetHits := countingServer(t, nil)
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			redirector, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target.URL+"/elsewhere", code)
			})
			client := NewHTTPClient(Guard{AllowPrivate: true}, 5*time.Second)
			resp, err := client.Post(redirector.URL, "application/json", strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != code {
				t.Errorf("status %d, want %d", resp.StatusCode, code)
			}
			if n := targetHits.Load(); n != 0 {
				t.Errorf("redirect target got %d requests, want 0", n)
			}
		})
	}
}

func TestHTTPClientIgnoresProxyEnvironment(t *testing.T) {
	c := NewHTTPClient(Guard{}, 0)
	tr, ok := c.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("transport is %T", c.Transport)
	}
	if tr.Proxy != nil {
		t.Error("transport has a Proxy func; a proxy would dial around the guard")
	}
	if c.Timeout != DefaultTimeout {
		t.Errorf("timeout %v, want DefaultTimeout", c.Timeout)
	}
}
