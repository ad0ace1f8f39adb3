package api

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/voicebot"
	"github.com/switchboardhq/switchboard/voicebot/runtime"
)

// RTC answers browsers' WebRTC offers (providers/webrtc behind it).
type RTC interface {
	// Answer takes an SDP offer and returns the live line and the answer.
	Answer(ctx context.Context, offer string) (runtime.LiveLine, string, error)
	// ICEServers lists the STUN/TURN servers for the pages, in the
	// browser's RTCIceServer shape.
	ICEServers() []map[string]any
}

// LiveCalls answers calls on live lines (the runtime).
type LiveCalls interface {
	AnswerLive(ctx context.Context, req runtime.InboundCallRequest, line runtime.LiveLine) (*sb.Call, error)
}

// rtcClaims is what a browser token carries: who the browser is.
type rtcClaims struct {
	Account  string `json:"a"`
	Identity string `json:"i"` // the webrtc identity (address)
	Customer string `json:"c"`
	Expires  int64  `json:"e"`
}

const (
	defaultTokenTTL = time.Hour
	maxTokenTTL     = 24 * time.Hour
	maxSDP          = 64 << 10
)

// mintToken signs claims: base64url(JSON) "." base64url(HMAC-SHA256).
func mintToken(key []byte, c rtcClaims) string {
	payload, _ := json.Marshal(c)
	p := base64.RawURLEncoding.EncodeToString(payload)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(p))
	return p + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// parseToken checks a token's signature and expiry.
func parseToken(key []byte, tok string, now time.Time) (rtcClaims, error) {
	var c rtcClaims
	p, sig, ok := strings.Cut(tok, ".")
	if !ok || len(key) == 0 {
		return c, errors.New("malformed token")
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(p))
	want := m.Sum(nil)
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, want) {
		return c, errors.New("token signature does not verify")
	}
	raw, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil || json.Unmarshal(raw, &c) != nil || c.Account == "" || c.Identity == "" {
		return c, errors.New("malformed token")
	}
	if now.Unix() >= c.Expires {
		return c, errors.New("token expired")
	}
	return c, nil
}

// createRTCToken mints a browser token for a customer, an identity, or a
// new anonymous visitor (a fresh customer, to be merged later if they turn
// out to be someone known).
func (s *Server) createRTCToken(c *gin.Context) {
	var req struct {
		CustomerID string `json:"customer_id"`
		Identity   string `json:"identity"`
		TTLSeconds int    `json:"ttl_seconds"`
	}
	if !s.bind(c, &req) {
		return
	}
	if len(s.cfg.RTCTokenKey) == 0 {
		s.writeError(c, sb.Errorf(sb.EUNAVAILABLE, "browser tokens need SWITCHBOARD_MASTER_KEY (or SWITCHBOARD_RTC_TOKEN_SECRET)"))
		return
	}
	var fields fieldErrors
	ttl := defaultTokenTTL
	if req.TTLSeconds != 0 {
		ttl = time.Duration(req.TTLSeconds) * time.Second
		if ttl < 10*time.Second || ttl > maxTokenTTL {
			fields.add("ttl_seconds", "must be between 10 and 86400")
		}
	}
	if req.CustomerID != "" && req.Identity != "" {
		fields.add("identity", "give customer_id or identity, not both")
	}
	if req.Identity != "" && !voicebot.ValidBrowserIdentity(req.Identity) {
		fields.add("identity", "must be 1 to 128 of A-Z a-z 0-9 _ . : @ -")
	}
	if strings.HasPrefix(req.Identity, voicebot.AgentPrefix) {
		fields.add("identity", "agent: names an agent's inbox, not a browser customer")
	}
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	ctx := c.Request.Context()
	acct := account(c)
	identity, customer := req.Identity, req.CustomerID
	switch {
	case customer != "":
		cu, err := s.store.GetCustomer(ctx, acct, customer)
		if err != nil {
			s.writeError(c, err)
			return
		}
		customer = cu.ID
		for _, id := range cu.Identities {
			if id.Channel == sb.ChannelWebRTC {
				identity = id.Address
				break
			}
		}
		if identity == "" {
			identity = "customer-" + cu.ID
			if _, _, err := s.store.AddIdentity(ctx, acct, cu.ID, sb.ChannelWebRTC, identity); err != nil {
				s.writeError(c, err)
				return
			}
		}
	default:
		if identity == "" {
			var b [12]byte
			rand.Read(b[:])
			identity = "visitor-" + hex.EncodeToString(b[:])
		}
		res, err := s.store.ResolveIdentity(ctx, acct, sb.ChannelWebRTC, identity)
		if err != nil {
			s.writeError(c, err)
			return
		}
		s.enqueueWebhooks(c, res.Deliveries)
		customer = res.CustomerID
	}
	exp := time.Now().Add(ttl).Truncate(time.Second)
	tok := mintToken(s.cfg.RTCTokenKey, rtcClaims{Account: acct, Identity: identity, Customer: customer, Expires: exp.Unix()})
	c.JSON(http.StatusCreated, gin.H{"token": tok, "expires_at": exp.UTC(), "identity": identity, "customer_id": customer})
}

// rtcAuth authenticates a browser by its token (Authorization: Bearer, or
// ?token= for EventSource-style clients).
func (s *Server) rtcAuth(c *gin.Context) {
	tok, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if !ok {
		tok = c.Query("token")
	}
	claims, err := parseToken(s.cfg.RTCTokenKey, tok, time.Now())
	if err != nil {
		c.Header("WWW-Authenticate", `Bearer realm="switchboard-rtc"`)
		s.writeError(c, sb.Errorf(sb.EUNAUTHORIZED, "browser token refused: %v", err))
		return
	}
	c.Set(ctxAccount, claims.Account)
	c.Set(ctxRTC, claims)
	c.Next()
}

const ctxRTC = "rtc_claims"

func rtcOf(c *gin.Context) rtcClaims {
	v, _ := c.Get(ctxRTC)
	claims, _ := v.(rtcClaims)
	return claims
}

// ours is our webrtc address a browser talks to: the one it names in ?to=,
// which must be one of the account's webrtc senders, else the account's
// default webrtc sender.
func (s *Server) ours(c *gin.Context) (string, bool) {
	to := c.Query("to")
	ch, err := s.store.ChannelForSender(c.Request.Context(), account(c), sb.ChannelWebRTC, to)
	if err == nil {
		if snd, ok := ch.SenderFor(sb.ChannelWebRTC, to); ok {
			return snd.Address, true
		}
	} else if sb.ErrorCode(err) != sb.ENOTFOUND {
		s.writeError(c, err)
		return "", false
	}
	msg := "the account has no webrtc sender: connect a webrtc channel with one"
	if to != "" {
		msg = "names no webrtc sender of this account"
	}
	s.writeError(c, sb.Invalid(sb.FieldError{Field: "to", Message: msg}))
	return "", false
}

// iceServers is the STUN/TURN list for the pages (never null).
func (s *Server) iceServers() []map[string]any {
	var ice []map[string]any
	if s.cfg.RTC != nil {
		ice = s.cfg.RTC.ICEServers()
	}
	if ice == nil {
		ice = []map[string]any{}
	}
	return ice
}

func (s *Server) rtcSession(c *gin.Context) {
	claims := rtcOf(c)
	c.JSON(http.StatusOK, gin.H{"identity": claims.Identity, "customer_id": claims.Customer, "expires_at": time.Unix(claims.Expires, 0).UTC(),
		"ice_servers": s.iceServers()})
}

// listICEServers gives an API-key holder (the agent inbox) the STUN/TURN
// servers for its own browser calls.
func (s *Server) listICEServers(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"ice_servers": s.iceServers()})
}

// rtcCall answers a browser's call: the SDP offer in, the answer out, and
// the flow of the address called runs over the new line.
func (s *Server) rtcCall(c *gin.Context) {
	lc, ok := s.cfg.Calls.(LiveCalls)
	if s.cfg.RTC == nil || !ok {
		s.writeError(c, sb.Errorf(sb.EUNAVAILABLE, "this server takes no browser calls"))
		return
	}
	offer, ok := s.readOffer(c)
	if !ok {
		return
	}
	to, ok := s.ours(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	line, answer, ok := s.answerPeer(c, offer)
	if !ok {
		return
	}
	claims := rtcOf(c)
	call, err := lc.AnswerLive(ctx, runtime.InboundCallRequest{AccountID: claims.Account, Channel: sb.ChannelWebRTC,
		Provider: sb.ProviderWebRTC, ProviderCallID: "rtc-" + uuid.NewString(), From: claims.Identity, To: to}, line)
	if err != nil {
		line.Close()
		s.writeError(c, err)
		return
	}
	s.writeAnswer(c, http.StatusCreated, call, line, "/v1/rtc/calls/"+call.ID, answer)
}

// rtcHangup hangs up the browser's own call, or declines one ringing it.
func (s *Server) rtcHangup(c *gin.Context) {
	ctx := c.Request.Context()
	call, err := s.store.GetCall(ctx, account(c), c.Param("id"))
	if err == nil && !browserOwns(call, rtcOf(c).Identity) {
		err = sb.ErrNotFound
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	if s.noCalls(c) {
		return
	}
	if _, err := s.cfg.Calls.Hangup(ctx, account(c), call.ID, sb.HangupCaller); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// rtcSend is the browser's chat: an inbound webrtc message from its
// identity, stored like any provider's inbound message (the bot answers it).
func (s *Server) rtcSend(c *gin.Context) {
	var req struct {
		Text string `json:"text"`
	}
	if !s.bind(c, &req) {
		return
	}
	var fields fieldErrors
	if req.Text == "" {
		s.writeError(c, sb.Invalid(sb.FieldError{Field: "text", Message: "is required"}))
		return
	}
	m := s.content(req.Text, nil, nil, "", "", &fields)
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	to, ok := s.ours(c)
	if !ok {
		return
	}
	claims := rtcOf(c)
	m.AccountID, m.Channel, m.From, m.To = claims.Account, sb.ChannelWebRTC, claims.Identity, to
	m.Direction, m.Status, m.Provider = sb.Inbound, sb.StatusReceived, sb.ProviderWebRTC
	created, err := s.receive(c, m)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusAccepted, created)
}

// rtcThread is the browser's view of its conversation history, across
// channels: the customer's timeline (messages, calls, the bot's turns).
func (s *Server) rtcThread(c *gin.Context) {
	limit, cursor, fields := pageParams(c)
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	claims := rtcOf(c)
	entries, next, err := s.store.Timeline(c.Request.Context(), claims.Account, claims.Customer, cursor, limit)
	if err != nil {
		s.writeError(c, err)
		return
	}
	// System notes of a call (steps, transfers, http and model errors) are
	// for agents; the customer sees what was said.
	shown := entries[:0]
	for _, e := range entries {
		if e.Transcript == nil || e.Transcript.Role != sb.RoleSystem {
			shown = append(shown, e)
		}
	}
	c.JSON(http.StatusOK, newList(shown, next))
}
