package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/voicebot"
	"github.com/switchboardhq/switchboard/voicebot/runtime"
)

// VoiceStore is the persistence of flows, calls and transcripts.
type VoiceStore interface {
	CreateFlow(ctx context.Context, f *sb.FlowRecord) (*sb.FlowRecord, error)
	AddFlowVersion(ctx context.Context, accountID, id, name string, def json.RawMessage) (*sb.FlowRecord, error)
	GetFlow(ctx context.Context, accountID, id string, version int) (*sb.FlowRecord, error)
	ListFlows(ctx context.Context, accountID, cursor string, limit int) ([]*sb.FlowRecord, string, error)
	ListFlowVersions(ctx context.Context, accountID, id string) ([]*sb.FlowRecord, error)
	DeleteFlow(ctx context.Context, accountID, id string) error
	GetCall(ctx context.Context, accountID, id string) (*sb.Call, error)
	ListCalls(ctx context.Context, accountID string, f sb.CallFilter) ([]*sb.Call, string, error)
	CallEvents(ctx context.Context, accountID, id string) ([]sb.CallEvent, error)
	CallTranscript(ctx context.Context, accountID, callID string) ([]sb.TranscriptEntry, error)
}

// Calls runs calls and their bots (voicebot/runtime).
type Calls interface {
	Place(ctx context.Context, req runtime.PlaceRequest) (*sb.Call, error)
	Hangup(ctx context.Context, accountID, callID, by string) (*sb.Call, error)
	Feed(ctx context.Context, accountID, callID string, in voicebot.Input) (*runtime.Outcome, error)
	InboundCall(ctx context.Context, req runtime.InboundCallRequest) (*runtime.Outcome, error)
	Voice(ctx context.Context, ch *sb.ConnectedChannel, ev runtime.VoiceEvent) (*runtime.Outcome, error)
	Callback(ctx context.Context, accountID, agent, customer, customerID, from, callbackURL string) (*sb.Call, error)
}

// Transcriber turns a caller's recorded speech into text (STT).
type Transcriber interface {
	Transcribe(ctx context.Context, wav []byte, language string) (string, error)
}

// VoiceProviders reads and answers providers' call webhooks.
type VoiceProviders interface {
	// ParseVoice authenticates one call webhook request.
	ParseVoice(ch *sb.ConnectedChannel, r *http.Request, body []byte, publicURL string) (runtime.VoiceEvent, error)
	// RenderVoice renders a turn as the provider's call instructions
	// (TwiML); base is our voice webhook URL for this call.
	RenderVoice(ch *sb.ConnectedChannel, turn voicebot.Turn, base string) (body []byte, contentType string)
}

// noCalls answers call routes on a server built without a runtime.
func (s *Server) noCalls(c *gin.Context) bool {
	if s.cfg.Calls != nil {
		return false
	}
	s.writeError(c, sb.Errorf(sb.EUNAVAILABLE, "this server runs no calls"))
	return true
}

func (s *Server) voiceRoutes(g *gin.RouterGroup) {
	g.POST("/flows", s.createFlow)
	g.GET("/flows", s.listFlows)
	g.GET("/flows/:id", s.getFlow)
	g.PUT("/flows/:id", s.putFlow)
	g.DELETE("/flows/:id", s.deleteFlow)
	g.GET("/flows/:id/versions", s.listFlowVersions)
	g.POST("/calls", s.createCall)
	g.GET("/calls", s.listCalls)
	g.GET("/calls/:id", s.getCall)
	g.GET("/calls/:id/events", s.callEvents)
	g.POST("/calls/:id/hangup", s.hangupCall)
	g.GET("/calls/:id/transcript", s.callTranscript)
	g.POST("/callbacks", s.createCallback)
	g.GET("/callbacks/:id", s.getCallback)
	g.POST("/sandbox/calls/inbound", s.sandboxInboundCall)
	g.POST("/sandbox/calls/:id/dtmf", s.sandboxDTMF)
	g.POST("/sandbox/calls/:id/speech", s.sandboxSpeech)
	g.POST("/sandbox/calls/:id/hangup", s.sandboxHangup)
}

// flowBody reads a flow definition and validates it; problems come back
// as one 422 naming every offending field.
func (s *Server) flowBody(c *gin.Context) (*voicebot.Flow, json.RawMessage, bool) {
	body, err := readBody(c.Request)
	if err != nil {
		s.writeError(c, err)
		return nil, nil, false
	}
	f, err := runtime.ParseFlow(body, "")
	if err != nil {
		s.writeError(c, err)
		return nil, nil, false
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, body); err != nil {
		s.writeError(c, sb.Invalid(sb.FieldError{Field: "", Message: "must be a JSON object"}))
		return nil, nil, false
	}
	return f, buf.Bytes(), true
}

func (s *Server) createFlow(c *gin.Context) {
	f, def, ok := s.flowBody(c)
	if !ok {
		return
	}
	rec, err := s.store.CreateFlow(c.Request.Context(), &sb.FlowRecord{AccountID: account(c), Name: f.Name, Definition: def})
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Header("Location", "/v1/flows/"+rec.ID)
	c.JSON(http.StatusCreated, rec)
}

func (s *Server) putFlow(c *gin.Context) {
	f, def, ok := s.flowBody(c)
	if !ok {
		return
	}
	rec, err := s.store.AddFlowVersion(c.Request.Context(), account(c), c.Param("id"), f.Name, def)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, rec)
}

func (s *Server) getFlow(c *gin.Context) {
	version := 0
	if v := c.Query("version"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			s.writeError(c, sb.Invalid(sb.FieldError{Field: "version", Message: "must be a positive integer"}))
			return
		}
		version = n
	}
	rec, err := s.store.GetFlow(c.Request.Context(), account(c), c.Param("id"), version)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, rec)
}

func (s *Server) listFlows(c *gin.Context) {
	limit, cursor, fields := pageParams(c)
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	recs, next, err := s.store.ListFlows(c.Request.Context(), account(c), cursor, limit)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, newList(recs, next))
}

func (s *Server) listFlowVersions(c *gin.Context) {
	recs, err := s.store.ListFlowVersions(c.Request.Context(), account(c), c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, newList(recs, ""))
}

func (s *Server) deleteFlow(c *gin.Context) {
	if err := s.store.DeleteFlow(c.Request.Context(), account(c), c.Param("id")); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type callRequest struct {
	To                json.RawMessage `json:"to"`
	From              string          `json:"from"`
	FlowID            string          `json:"flow_id"`
	Flow              json.RawMessage `json:"flow"`
	StatusCallbackURL string          `json:"status_callback_url"`
	Record            bool            `json:"record"`
	Timeout           int             `json:"timeout"`
	MachineDetection  string          `json:"machine_detection"`
}

// party reads a call's "to" (or a callback's parties): a phone number, a
// browser identity "webrtc:<ref>", or {"customer_id": …}.
func party(raw json.RawMessage, field string, fields *fieldErrors) (ch sb.Channel, addr, customerID string) {
	ch = sb.ChannelVoice
	if len(raw) == 0 || string(raw) == "null" {
		fields.add(field, "is required: a phone number, webrtc:<identity> or {\"customer_id\": …}")
		return
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if ref, ok := strings.CutPrefix(s, "webrtc:"); ok {
			if ref == "" {
				fields.add(field, "names no webrtc identity")
			}
			return sb.ChannelWebRTC, ref, ""
		}
		normalize(sb.ChannelVoice, field, s, &addr, fields)
		return
	}
	var obj struct {
		CustomerID string `json:"customer_id"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if dec.Decode(&obj) != nil || obj.CustomerID == "" {
		fields.add(field, "must be a phone number, webrtc:<identity> or {\"customer_id\": …}")
		return
	}
	return ch, "", obj.CustomerID
}

func (s *Server) createCall(c *gin.Context) {
	if s.noCalls(c) {
		return
	}
	var req callRequest
	if !s.bind(c, &req) {
		return
	}
	var fields fieldErrors
	ch, to, customerID := party(req.To, "to", &fields)
	var from string
	if req.From != "" {
		normalizeSender(sb.ChannelVoice, "from", req.From, &from, &fields)
	}
	switch {
	case req.FlowID == "" && len(req.Flow) == 0:
		fields.add("flow_id", "is required unless flow is given")
	case req.FlowID != "" && len(req.Flow) > 0:
		fields.add("flow", "give flow_id or flow, not both")
	}
	if req.StatusCallbackURL != "" {
		if err := s.cfg.Guard.CheckURL(req.StatusCallbackURL); err != nil {
			fields.add("status_callback_url", err.Error())
		}
	}
	if req.Timeout < 0 || req.Timeout > 600 {
		fields.add("timeout", "must be between 1 and 600 seconds (0 or absent: 30)")
	}
	switch req.MachineDetection {
	case "", "Enable", "DetectMessageEnd":
	default:
		fields.add("machine_detection", "must be Enable or DetectMessageEnd")
	}
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	call, err := s.cfg.Calls.Place(c.Request.Context(), runtime.PlaceRequest{AccountID: account(c), Channel: ch, To: to,
		CustomerID: customerID, From: from, FlowID: req.FlowID, Flow: req.Flow, StatusCallbackURL: req.StatusCallbackURL,
		Record: req.Record, Timeout: req.Timeout, MachineDetection: req.MachineDetection})
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Header("Location", "/v1/calls/"+call.ID)
	c.JSON(http.StatusCreated, call)
}

func (s *Server) getCall(c *gin.Context) {
	call, err := s.store.GetCall(c.Request.Context(), account(c), c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, call)
}

func (s *Server) listCalls(c *gin.Context) {
	limit, cursor, fields := pageParams(c)
	f := sb.CallFilter{Status: sb.CallStatus(c.Query("status")), CustomerID: c.Query("customer_id"), Direction: c.Query("direction"),
		FlowID: c.Query("flow_id"), CallbackID: c.Query("callback_id"), To: c.Query("to"), Cursor: cursor, Limit: limit}
	if f.Status != "" && !f.Status.Valid() {
		fields = append(fields, sb.FieldError{Field: "status", Message: "must be a call status: queued, ringing, in-progress, completed, busy, no-answer, failed or canceled"})
	}
	if f.Direction != "" && f.Direction != sb.CallInbound && f.Direction != sb.CallOutbound {
		fields = append(fields, sb.FieldError{Field: "direction", Message: "must be inbound or outbound"})
	}
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	calls, next, err := s.store.ListCalls(c.Request.Context(), account(c), f)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, newList(calls, next))
}

type callEventJSON struct {
	Sequence  int           `json:"sequence"`
	Status    sb.CallStatus `json:"status"`
	Type      string        `json:"type"`
	CreatedAt time.Time     `json:"created_at"`
}

func (s *Server) callEvents(c *gin.Context) {
	evs, err := s.store.CallEvents(c.Request.Context(), account(c), c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := make([]callEventJSON, 0, len(evs))
	for _, e := range evs {
		out = append(out, callEventJSON{e.Sequence, e.Status, sb.CallEventType(e.Status), e.CreatedAt.UTC()})
	}
	c.JSON(http.StatusOK, newList(out, ""))
}

func (s *Server) hangupCall(c *gin.Context) {
	if s.noCalls(c) {
		return
	}
	call, err := s.cfg.Calls.Hangup(c.Request.Context(), account(c), c.Param("id"), sb.HangupAPI)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, call)
}

func (s *Server) callTranscript(c *gin.Context) {
	ctx := c.Request.Context()
	if _, err := s.store.GetCall(ctx, account(c), c.Param("id")); err != nil {
		s.writeError(c, err)
		return
	}
	entries, err := s.store.CallTranscript(ctx, account(c), c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	if entries == nil {
		entries = []sb.TranscriptEntry{}
	}
	c.JSON(http.StatusOK, newList(entries, ""))
}

// callbackJSON is a callback: the agent's leg, then the customer's.
type callbackJSON struct {
	ID           string     `json:"id"`
	Status       string     `json:"status"`
	AgentCall    *sb.Call   `json:"agent_call"`
	CustomerCall *sb.Call   `json:"customer_call"`
	Calls        []*sb.Call `json:"calls"`
}

// callbackStatus sums a callback's legs up: calling-agent,
// calling-customer, bridged, completed, or agent-/customer- and the final
// status that stopped it.
func callbackStatus(agent, customer *sb.Call) string {
	switch {
	case customer != nil && customer.Status == sb.CallInProgress:
		return "bridged"
	case customer != nil && customer.Status == sb.CallCompleted:
		return "completed"
	case customer != nil && customer.Status.Final():
		return "customer-" + string(customer.Status)
	case customer != nil:
		return "calling-customer"
	case agent.Status == sb.CallInProgress:
		return "calling-customer"
	case agent.Status.Final():
		return "agent-" + string(agent.Status)
	}
	return "calling-agent"
}

func (s *Server) callbackView(ctx context.Context, accountID, id string) (*callbackJSON, error) {
	legs, _, err := s.store.ListCalls(ctx, accountID, sb.CallFilter{CallbackID: id, Limit: 50})
	if err != nil {
		return nil, err
	}
	if len(legs) == 0 {
		return nil, sb.ErrNotFound
	}
	v := &callbackJSON{ID: id, Calls: legs}
	for _, l := range legs {
		if l.ParentCallID == "" {
			v.AgentCall = l
		} else if v.CustomerCall == nil || l.ID > v.CustomerCall.ID {
			v.CustomerCall = l
		}
	}
	if v.AgentCall == nil {
		return nil, sb.ErrNotFound
	}
	v.Status = callbackStatus(v.AgentCall, v.CustomerCall)
	return v, nil
}

func (s *Server) createCallback(c *gin.Context) {
	if s.noCalls(c) {
		return
	}
	var req struct {
		Agent             string          `json:"agent"`
		Customer          json.RawMessage `json:"customer"`
		From              string          `json:"from"`
		StatusCallbackURL string          `json:"status_callback_url"`
	}
	if !s.bind(c, &req) {
		return
	}
	var fields fieldErrors
	var agent, from string
	if req.Agent == "" {
		fields.add("agent", "is required: the agent's phone number, called first")
	} else {
		normalize(sb.ChannelVoice, "agent", req.Agent, &agent, &fields)
	}
	ch, customer, customerID := party(req.Customer, "customer", &fields)
	if ch != sb.ChannelVoice {
		fields.add("customer", "must be a phone number or {\"customer_id\": …}")
	}
	if req.From != "" {
		normalizeSender(sb.ChannelVoice, "from", req.From, &from, &fields)
	}
	if req.StatusCallbackURL != "" {
		if err := s.cfg.Guard.CheckURL(req.StatusCallbackURL); err != nil {
			fields.add("status_callback_url", err.Error())
		}
	}
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	ctx := c.Request.Context()
	call, err := s.cfg.Calls.Callback(ctx, account(c), agent, customer, customerID, from, req.StatusCallbackURL)
	if err != nil {
		s.writeError(c, err)
		return
	}
	v, err := s.callbackView(ctx, account(c), call.CallbackID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Header("Location", "/v1/callbacks/"+v.ID)
	c.JSON(http.StatusCreated, v)
}

func (s *Server) getCallback(c *gin.Context) {
	v, err := s.callbackView(c.Request.Context(), account(c), c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

// turnJSON shows what the bot did in one turn.
type turnJSON struct {
	Actions   []actionJSON `json:"actions"`
	Waiting   bool         `json:"waiting"`
	Ended     bool         `json:"ended"`
	Suspended bool         `json:"suspended"`
}

type actionJSON struct {
	Type     string `json:"type"`
	StepID   string `json:"step_id"`
	Text     string `json:"text,omitempty"`
	Language string `json:"language,omitempty"`
	Voice    string `json:"voice,omitempty"`
	URL      string `json:"url,omitempty"`
	To       string `json:"to,omitempty"`
}

type outcomeJSON struct {
	Call *sb.Call `json:"call"`
	Turn turnJSON `json:"turn"`
}

func outcomeView(o *runtime.Outcome) outcomeJSON {
	v := outcomeJSON{Call: o.Call, Turn: turnJSON{Actions: []actionJSON{}, Waiting: o.Turn.Waiting, Ended: o.Turn.Ended, Suspended: o.Turn.Suspended}}
	for _, a := range o.Turn.Actions {
		v.Turn.Actions = append(v.Turn.Actions, actionJSON{Type: a.Type, StepID: a.StepID, Text: a.Text, Language: a.Language,
			Voice: a.Voice, URL: a.URL, To: a.To})
	}
	return v
}

func (s *Server) sandboxInboundCall(c *gin.Context) {
	if s.noCalls(c) {
		return
	}
	var req struct {
		From string `json:"from"`
		To   string `json:"to"`
	}
	if !s.bind(c, &req) {
		return
	}
	var fields fieldErrors
	var from, to string
	for _, f := range []struct {
		name, v string
		dst     *string
	}{{"from", req.From, &from}, {"to", req.To, &to}} {
		if f.v == "" {
			fields.add(f.name, "is required")
			continue
		}
		normalize(sb.ChannelVoice, f.name, f.v, f.dst, &fields)
	}
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	out, err := s.cfg.Calls.InboundCall(c.Request.Context(), runtime.InboundCallRequest{AccountID: account(c), Channel: sb.ChannelVoice,
		Provider: sb.ProviderSandbox, From: from, To: to})
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Header("Location", "/v1/calls/"+out.Call.ID)
	c.JSON(http.StatusCreated, outcomeView(out))
}

var dtmfDigits = regexp.MustCompile(`^[0-9*#]{1,32}$`)

func (s *Server) sandboxDTMF(c *gin.Context) {
	var req struct {
		Digits string `json:"digits"`
	}
	if !s.bind(c, &req) {
		return
	}
	if !dtmfDigits.MatchString(req.Digits) {
		s.writeError(c, sb.Invalid(sb.FieldError{Field: "digits", Message: "must be 1 to 32 of 0-9, * and #"}))
		return
	}
	s.feed(c, voicebot.Input{Kind: voicebot.InputDigits, Value: req.Digits})
}

func (s *Server) sandboxSpeech(c *gin.Context) {
	var req struct {
		Text     string `json:"text"`
		Audio    string `json:"audio"` // base64 WAV, transcribed by the STT engine
		Language string `json:"language"`
	}
	if !s.bind(c, &req) {
		return
	}
	switch {
	case (req.Text == "") == (req.Audio == ""):
		s.writeError(c, sb.Invalid(sb.FieldError{Field: "text", Message: "give text (what the caller says) or audio (a base64 WAV to transcribe), not both"}))
		return
	case req.Audio != "":
		wav, err := base64.StdEncoding.DecodeString(req.Audio)
		if err != nil || len(wav) < 44 || !bytes.HasPrefix(wav, []byte("RIFF")) {
			s.writeError(c, sb.Invalid(sb.FieldError{Field: "audio", Message: "must be a base64-encoded WAV file"}))
			return
		}
		if s.cfg.STT == nil {
			s.writeError(c, sb.Errorf(sb.EEXISTS, "no speech-to-text engine is configured (SWITCHBOARD_STT_BASE_URL): send text instead"))
			return
		}
		text, err := s.cfg.STT.Transcribe(c.Request.Context(), wav, req.Language)
		if err != nil {
			s.writeError(c, sb.Errorf(sb.EUNAVAILABLE, "speech-to-text failed: %v", err))
			return
		}
		req.Text = text
	}
	s.feed(c, voicebot.Input{Kind: voicebot.InputSpeech, Value: req.Text})
}

func (s *Server) feed(c *gin.Context, in voicebot.Input) {
	if s.noCalls(c) {
		return
	}
	out, err := s.cfg.Calls.Feed(c.Request.Context(), account(c), c.Param("id"), in)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, outcomeView(out))
}

func (s *Server) sandboxHangup(c *gin.Context) {
	if s.noCalls(c) {
		return
	}
	ctx := c.Request.Context()
	call, err := s.store.GetCall(ctx, account(c), c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	if call.Provider != sb.ProviderSandbox {
		s.writeError(c, sb.Errorf(sb.EEXISTS, "call %s is carried by %s: only its real caller can hang up", call.ID, call.Provider))
		return
	}
	if call, err = s.cfg.Calls.Hangup(ctx, account(c), call.ID, sb.HangupCaller); err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, call)
}

// voiceHook answers a provider's call webhook with the next instructions.
func (s *Server) voiceHook(c *gin.Context) {
	ch, ok := s.hookChannel(c)
	if !ok {
		return
	}
	vp, ok := s.cfg.Providers.(VoiceProviders)
	if !ok || s.cfg.Calls == nil {
		s.writeError(c, sb.Errorf(sb.ENOTFOUND, "this server takes no calls"))
		return
	}
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, maxHookBody+1))
	if err != nil || len(body) > maxHookBody {
		s.writeError(c, httpError(ecTooLarge, "webhook body too large or unreadable"))
		return
	}
	ctx := c.Request.Context()
	ev, err := vp.ParseVoice(ch, c.Request, body, s.cfg.PublicURL+c.Request.URL.RequestURI())
	switch {
	case errors.Is(err, sb.ErrForged):
		hooksReceived.WithLabelValues(ch.Type, "forged").Inc()
		s.log.WarnContext(ctx, "forged voice webhook", "channel_id", ch.ID, "type", ch.Type)
		s.writeError(c, sb.ErrForged)
		return
	case err != nil:
		hooksReceived.WithLabelValues(ch.Type, "invalid").Inc()
		s.writeError(c, err)
		return
	}
	out, err := s.cfg.Calls.Voice(ctx, ch, ev)
	if err != nil {
		hooksReceived.WithLabelValues(ch.Type, "error").Inc()
		s.writeError(c, err)
		return
	}
	hooksReceived.WithLabelValues(ch.Type, "ok").Inc()
	if ev.Kind == runtime.VoiceStatus {
		c.Status(http.StatusNoContent)
		return
	}
	base := s.cfg.PublicURL + "/hooks/" + ch.ID + "/" + ch.HookSecret + "/voice?call=" + out.Call.ID
	b, ct := vp.RenderVoice(ch, out.Turn, base)
	c.Data(http.StatusOK, ct, b)
}
