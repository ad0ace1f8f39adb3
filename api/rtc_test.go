package api

import (
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/routing"
)

func TestParseToken(t *testing.T) {
	now := time.Now()
	good := rtcClaims{Account: fakeAccount, Identity: fakeBrowser, Customer: fakeCustomer, Expires: now.Add(time.Minute).Unix()}
	tok := mintToken([]byte(fakeRTCKey), good)
	payload, sig, _ := strings.Cut(tok, ".")
	other := good
	other.Account = fakeAccount2
	otherPayload, _, _ := strings.Cut(mintToken([]byte(fakeRTCKey), other), ".")
	tests := []struct {
		name, key, tok string
		ok             bool
	}{
		{"good", fakeRTCKey, tok, true},
		{"expired", fakeRTCKey, mintToken([]byte(fakeRTCKey), rtcClaims{Account: fakeAccount, Identity: fakeBrowser, Expires: now.Unix()}), false},
		{"another key", "another key", tok, false},
		{"no key", "", tok, false},
		{"payload swapped", fakeRTCKey, otherPayload + "." + sig, false},
		{"no signature", fakeRTCKey, payload, false},
		{"empty", fakeRTCKey, "", false},
		{"no identity", fakeRTCKey, mintToken([]byte(fakeRTCKey), rtcClaims{Account: fakeAccount, Expires: now.Add(time.Minute).Unix()}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseToken([]byte(tt.key), tt.tok, now)
			if (err == nil) != tt.ok {
				t.Fatalf("parseToken: err %v, want ok %v", err, tt.ok)
			}
			if tt.ok && c != good {
				t.Errorf("claims %+v, want %+v", c, good)
			}
		})
	}
}

// TestBrowserFlow mints a token with the API key, then uses it as a
// browser would: session, call (SDP in and out), message, thread.
func TestBrowserFlow(t *testing.T) {
	srv := New(Config{Routing: routing.NewService(fakeStore{}), Providers: fakeProviders{}, PublicURL: fakePublicURL,
		Calls: fakeCalls{}, RTC: fakeRTC{}, RTCTokenKey: []byte(fakeRTCKey)}, fakeStore{}, fakeQueue{}, fakePinger{}, slog.New(slog.DiscardHandler))
	do := func(method, path, auth, ct, body string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		return rec
	}

	rec := do("POST", "/v1/webrtc/tokens", "Bearer sk_good", "application/json", `{"identity":"`+fakeBrowser+`","ttl_seconds":600}`)
	var minted struct {
		Token      string    `json:"token"`
		ExpiresAt  time.Time `json:"expires_at"`
		Identity   string    `json:"identity"`
		CustomerID string    `json:"customer_id"`
	}
	if rec.Code != 201 || json.Unmarshal(rec.Body.Bytes(), &minted) != nil {
		t.Fatalf("mint: %d %s", rec.Code, rec.Body)
	}
	if minted.Identity != fakeBrowser || minted.CustomerID != fakeCustomer {
		t.Errorf("minted for %s/%s, want %s/%s", minted.Identity, minted.CustomerID, fakeBrowser, fakeCustomer)
	}
	if d := time.Until(minted.ExpiresAt); d < 590*time.Second || d > 600*time.Second {
		t.Errorf("expires in %v, want about 10 minutes", d)
	}
	bearer := "Bearer " + minted.Token

	rec = do("GET", "/v1/rtc/session", bearer, "", "")
	var sess struct {
		Identity   string           `json:"identity"`
		CustomerID string           `json:"customer_id"`
		ICEServers []map[string]any `json:"ice_servers"`
	}
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &sess) != nil {
		t.Fatalf("session: %d %s", rec.Code, rec.Body)
	}
	if sess.Identity != fakeBrowser || sess.CustomerID != fakeCustomer || len(sess.ICEServers) != 2 {
		t.Errorf("session %+v", sess)
	}
	// The API key is not a browser token, nor the token an API key.
	if rec := do("GET", "/v1/rtc/session", "Bearer sk_good", "", ""); rec.Code != 401 ||
		rec.Header().Get("WWW-Authenticate") != `Bearer realm="switchboard-rtc"` {
		t.Errorf("session with the API key: %d %v", rec.Code, rec.Header())
	}
	if rec := do("GET", "/v1/messages", bearer, "", ""); rec.Code != 401 {
		t.Errorf("API with a browser token: %d", rec.Code)
	}

	rec = do("POST", "/v1/rtc/calls", bearer, "application/sdp", fakeSDPOffer)
	if rec.Code != 201 || rec.Body.String() != fakeSDPAnswer || rec.Header().Get("Content-Type") != "application/sdp" {
		t.Fatalf("call: %d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	if id := rec.Header().Get("X-Call-Id"); id != fakeBrowserCallID || rec.Header().Get("Location") != "/v1/rtc/calls/"+id {
		t.Errorf("call headers %v", rec.Header())
	}

	rec = do("POST", "/v1/rtc/messages", bearer, "application/json", `{"text":"Where is my parcel?"}`)
	var m struct {
		AccountID string     `json:"account_id"`
		Channel   sb.Channel `json:"channel"`
		Direction string     `json:"direction"`
		From      string     `json:"from"`
		To        string     `json:"to"`
		Provider  string     `json:"provider"`
		Status    string     `json:"status"`
	}
	if rec.Code != 202 || json.Unmarshal(rec.Body.Bytes(), &m) != nil {
		t.Fatalf("message: %d %s", rec.Code, rec.Body)
	}
	if m.Channel != sb.ChannelWebRTC || m.Direction != string(sb.Inbound) || m.From != fakeBrowser || m.To != fakeWebRTCSender ||
		m.Provider != sb.ProviderWebRTC || m.Status != string(sb.StatusReceived) || m.AccountID != fakeAccount {
		t.Errorf("stored %+v", m)
	}

	rec = do("GET", "/v1/rtc/messages", bearer, "", "")
	var thread struct {
		Data []sb.TimelineEntry `json:"data"`
	}
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &thread) != nil || len(thread.Data) == 0 {
		t.Fatalf("thread: %d %s", rec.Code, rec.Body)
	}
}
