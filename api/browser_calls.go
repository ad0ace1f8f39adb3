package api

import (
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/voicebot"
	"github.com/switchboardhq/switchboard/voicebot/runtime"
)

// BrowserCalls rings browsers and bridges them (the runtime): a browser
// answers a call ringing it, and an agent's browser calls a customer's.
type BrowserCalls interface {
	AnswerBrowser(ctx context.Context, accountID, callID, to string, line runtime.LiveLine) (*sb.Call, error)
	PlaceLive(ctx context.Context, req runtime.PlaceRequest, agent string, line runtime.LiveLine) (*sb.Call, error)
}

// browserCalls is the runtime's browser side, or a 503 when this server
// takes no browser calls.
func (s *Server) browserCalls(c *gin.Context) (BrowserCalls, bool) {
	bc, ok := s.cfg.Calls.(BrowserCalls)
	if s.cfg.RTC == nil || !ok {
		s.writeError(c, sb.Errorf(sb.EUNAVAILABLE, "this server takes no browser calls"))
		return nil, false
	}
	return bc, true
}

// readOffer reads a request's SDP offer.
func (s *Server) readOffer(c *gin.Context) (string, bool) {
	if ct := c.ContentType(); ct != "application/sdp" {
		s.writeError(c, httpError(ecMediaType, "send the SDP offer as application/sdp"))
		return "", false
	}
	offer, err := io.ReadAll(io.LimitReader(c.Request.Body, maxSDP+1))
	if err != nil || len(offer) > maxSDP || len(offer) == 0 {
		s.writeError(c, sb.Invalid(sb.FieldError{Field: "", Message: "the body must be an SDP offer of at most 64 KiB"}))
		return "", false
	}
	return string(offer), true
}

// answerPeer builds the browser's peer from its offer.
func (s *Server) answerPeer(c *gin.Context, offer string) (runtime.LiveLine, string, bool) {
	line, answer, err := s.cfg.RTC.Answer(c.Request.Context(), offer)
	if err != nil {
		s.writeError(c, sb.Invalid(sb.FieldError{Field: "", Message: "the SDP offer was refused: " + err.Error()}))
		return nil, "", false
	}
	return line, answer, true
}

// writeAnswer sends the SDP answer for call with its location (where the
// browser PATCHes its trickled candidates, WHIP-style), and keeps line for
// those candidates while it lives.
func (s *Server) writeAnswer(c *gin.Context, status int, call *sb.Call, line runtime.LiveLine, location, answer string) {
	if t, ok := line.(trickler); ok {
		// By location: an agent's call and the customer's answer of it
		// share a call id but not a line. Who answered is kept with it, so
		// a PATCH is checked without reading the call again.
		open := openLine{t: t, account: account(c), identity: rtcOf(c).Identity}
		s.lines.Store(location, open)
		go func() {
			<-t.Done()
			s.lines.CompareAndDelete(location, open)
		}()
	}
	c.Header("Location", location)
	c.Header("X-Call-Id", call.ID)
	c.Data(status, "application/sdp", []byte(answer))
}

// answerBrowserCall answers the ringing call :id with the request's SDP
// offer; to, when set, is the address the browser holds (only its own
// calls are found).
func (s *Server) answerBrowserCall(c *gin.Context, to, location string) {
	bc, ok := s.browserCalls(c)
	if !ok {
		return
	}
	offer, ok := s.readOffer(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	// Refuse what cannot be answered before building a peer for it.
	call, err := s.store.GetCall(ctx, account(c), c.Param("id"))
	switch {
	case err != nil:
	case to != "" && call.To != to:
		err = sb.ErrNotFound
	case call.Status != sb.CallRinging:
		err = sb.Errorf(sb.EEXISTS, "call %s is %s: only a ringing call can be answered", call.ID, call.Status)
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	line, answer, ok := s.answerPeer(c, offer)
	if !ok {
		return
	}
	if call, err = bc.AnswerBrowser(ctx, account(c), call.ID, to, line); err != nil {
		line.Close()
		s.writeError(c, err)
		return
	}
	s.writeAnswer(c, http.StatusOK, call, line, location+call.ID, answer)
}

// rtcAnswer is a browser answering a call that rings it.
func (s *Server) rtcAnswer(c *gin.Context) {
	s.answerBrowserCall(c, rtcOf(c).Identity, "/v1/rtc/calls/")
}

// answerCall is an API-key holder's browser (an agent's inbox) answering
// a ringing browser call, a transfer to agent:<name> most often.
func (s *Server) answerCall(c *gin.Context) {
	s.answerBrowserCall(c, "", "/v1/calls/")
}

// rtcRinging lists the calls ringing the token's browser.
func (s *Server) rtcRinging(c *gin.Context) {
	claims := rtcOf(c)
	calls, _, err := s.store.ListCalls(c.Request.Context(), claims.Account,
		sb.CallFilter{To: claims.Identity, Status: sb.CallRinging, Direction: sb.CallOutbound, Limit: 20})
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, newList(calls, ""))
}

// agentCall places a call from an agent's browser to a customer's: the
// request carries the agent's SDP offer; the customer's browser rings,
// and the two are bridged when it answers.
func (s *Server) agentCall(c *gin.Context) {
	bc, ok := s.browserCalls(c)
	if !ok {
		return
	}
	agent, customer, to := c.Param("agent"), c.Query("customer_id"), c.Query("to")
	var fields fieldErrors
	if !voicebot.ValidAgent(agent) {
		fields.add("agent", "must be 1 to 64 of A-Z a-z 0-9 _ . @ -")
	}
	identity, isBrowser := strings.CutPrefix(to, "webrtc:")
	switch {
	case customer == "" && to == "":
		fields.add("customer_id", "give customer_id or to (webrtc:<identity>) in the query")
	case customer != "" && to != "":
		fields.add("to", "give customer_id or to, not both")
	case to != "" && (!isBrowser || !voicebot.ValidBrowserIdentity(identity)):
		fields.add("to", "must be webrtc:<identity>: agents call browsers")
	}
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	offer, ok := s.readOffer(c)
	if !ok {
		return
	}
	line, answer, ok := s.answerPeer(c, offer)
	if !ok {
		return
	}
	call, err := bc.PlaceLive(c.Request.Context(), runtime.PlaceRequest{AccountID: account(c), CustomerID: customer, To: identity}, agent, line)
	if err != nil {
		line.Close()
		s.writeError(c, err)
		return
	}
	s.writeAnswer(c, http.StatusCreated, call, line, "/v1/calls/"+call.ID, answer)
}

// trickler is a browser line that takes trickled ICE candidates.
type trickler interface {
	AddCandidates(frag string) error
	Done() <-chan struct{}
}

// openLine is a browser line answered here: its trickler, and the account
// and browser identity (none for an API key) that may PATCH it.
type openLine struct {
	t                 trickler
	account, identity string
}

// maxFrag bounds a trickle-ice-sdpfrag body.
const maxFrag = 16 << 10

// addCandidates hands a PATCH's trickle-ice-sdpfrag (RFC 8840) to the line
// answered at location, when this process holds it and identity (with the
// request's account) answered it.
func (s *Server) addCandidates(c *gin.Context, location, identity string) {
	if ct := c.ContentType(); ct != "application/trickle-ice-sdpfrag" {
		s.writeError(c, httpError(ecMediaType, "send ICE candidates as application/trickle-ice-sdpfrag"))
		return
	}
	frag, err := io.ReadAll(io.LimitReader(c.Request.Body, maxFrag+1))
	if err != nil || len(frag) > maxFrag {
		s.writeError(c, sb.Invalid(sb.FieldError{Field: "", Message: "the body must be an SDP fragment of at most 16 KiB"}))
		return
	}
	v, ok := s.lines.Load(location)
	if ok {
		open := v.(openLine)
		ok = open.account == account(c) && open.identity == identity
	}
	if !ok {
		s.writeError(c, sb.Errorf(sb.ENOTFOUND, "no browser line of yours at %s is open on this server", location))
		return
	}
	if err := v.(openLine).t.AddCandidates(string(frag)); err != nil {
		s.writeError(c, sb.Invalid(sb.FieldError{Field: "", Message: err.Error()}))
		return
	}
	c.Status(http.StatusNoContent)
}

// rtcTrickle takes a browser's candidates for one of its own calls.
func (s *Server) rtcTrickle(c *gin.Context) {
	s.addCandidates(c, "/v1/rtc/calls/"+c.Param("id"), rtcOf(c).Identity)
}

// browserOwns reports whether the browser holding identity is the
// customer's end of call: the caller of an inbound call, the callee of an
// outbound one.
func browserOwns(call *sb.Call, identity string) bool {
	if call.Channel != sb.ChannelWebRTC {
		return false
	}
	if call.Direction == sb.CallInbound {
		return call.From == identity
	}
	return call.To == identity
}

// trickle takes an agent browser's candidates for a call of the account.
func (s *Server) trickle(c *gin.Context) {
	s.addCandidates(c, "/v1/calls/"+c.Param("id"), "")
}
