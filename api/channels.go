package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/routing"
)

// ChannelStore is the persistence of connected channels.
type ChannelStore interface {
	CreateChannel(ctx context.Context, c *sb.ConnectedChannel) (*sb.ConnectedChannel, error)
	GetChannel(ctx context.Context, accountID, id string) (*sb.ConnectedChannel, error)
	LoadChannel(ctx context.Context, id string) (*sb.ConnectedChannel, error)
	ListChannels(ctx context.Context, accountID, cursor string, limit int) ([]*sb.ConnectedChannel, string, error)
	UpdateChannel(ctx context.Context, accountID, id string, u sb.ChannelUpdate) (*sb.ConnectedChannel, error)
	DeleteChannel(ctx context.Context, accountID, id string) error
	FindInbound(ctx context.Context, accountID, provider, providerMessageID string) (*sb.Message, error)
	ChannelForSender(ctx context.Context, accountID string, ch sb.Channel, from string) (*sb.ConnectedChannel, error)
}

// Providers knows every provider type: it checks and verifies credentials,
// registers our inbound URL where the provider has an API for it, and
// reads (and authenticates) what the provider sends us. cmd/switchboard
// wires the provider packages in; the API knows none of them.
type Providers interface {
	// Check validates credentials for typ and returns their masked hint.
	Check(typ string, creds json.RawMessage) (map[string]string, error)
	// Channels lists the message channels typ carries; nil for an unknown type.
	Channels(typ string) []sb.Channel
	// Verify makes one cheap authenticated call with the channel's credentials.
	Verify(ctx context.Context, ch *sb.ConnectedChannel) (sb.ProviderAccount, error)
	// Register tells the provider our inbound URL; false when the provider
	// has no API for it and the user pastes the URL in its console.
	Register(ctx context.Context, ch *sb.ConnectedChannel, hookURL string) (bool, error)
	// Parse authenticates and reads one webhook request.
	Parse(ch *sb.ConnectedChannel, r *http.Request, body []byte, publicURL string) (*sb.InboundBatch, error)
	// Handshake answers a provider's GET verification of the URL
	// (WhatsApp's hub.challenge); ok false when the request is not one.
	Handshake(ch *sb.ConnectedChannel, q url.Values) (body []byte, ok bool)
}

var (
	hooksReceived = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_provider_webhooks_total",
		Help: "Provider webhook requests by provider and outcome (ok, forged, invalid, error).",
	}, []string{"provider", "outcome"})
)

type channelJSON struct {
	ID              string              `json:"id"`
	Type            string              `json:"type"`
	Name            string              `json:"name"`
	Status          string              `json:"status"`
	Senders         []sb.Sender         `json:"senders"`
	Config          json.RawMessage     `json:"config"`
	CredentialsHint map[string]string   `json:"credentials_hint"`
	WebhookURL      string              `json:"webhook_url"`
	WebhookStatus   string              `json:"webhook_status"`
	Account         *sb.ProviderAccount `json:"provider_account,omitempty"`
	CreatedAt       time.Time           `json:"created_at"`
	UpdatedAt       time.Time           `json:"updated_at"`
}

func (s *Server) hookURL(ch *sb.ConnectedChannel) string {
	return s.cfg.PublicURL + "/hooks/" + ch.ID + "/" + ch.HookSecret
}

func (s *Server) channelView(ch *sb.ConnectedChannel, acct *sb.ProviderAccount) channelJSON {
	v := channelJSON{ID: ch.ID, Type: ch.Type, Name: ch.Name, Status: ch.Status, Senders: ch.Senders, Config: ch.Config,
		CredentialsHint: ch.CredentialsHint, WebhookURL: s.hookURL(ch), WebhookStatus: ch.WebhookStatus, Account: acct,
		CreatedAt: ch.CreatedAt.UTC(), UpdatedAt: ch.UpdatedAt.UTC()}
	if v.Senders == nil {
		v.Senders = []sb.Sender{}
	}
	if v.CredentialsHint == nil {
		v.CredentialsHint = map[string]string{}
	}
	if len(v.Config) == 0 {
		v.Config = json.RawMessage("{}")
	}
	return v
}

func (s *Server) channelRoutes(g *gin.RouterGroup) {
	g.POST("/channels", s.createChannel)
	g.GET("/channels", s.listChannels)
	g.GET("/channels/:id", s.getChannel)
	g.PATCH("/channels/:id", s.updateChannel)
	g.DELETE("/channels/:id", s.deleteChannel)
}

// checkSenders validates senders against the channels typ carries and
// normalises their addresses.
func (s *Server) checkSenders(ctx context.Context, accountID, typ string, senders []sb.Sender, fields *fieldErrors) []sb.Sender {
	carried := s.cfg.Providers.Channels(typ)
	out := make([]sb.Sender, 0, len(senders))
	defaults := map[sb.Channel]bool{}
	for i, snd := range senders {
		f := "senders[" + strconv.Itoa(i) + "]"
		if !slices.Contains(carried, snd.Channel) {
			fields.add(f+".channel", "a "+typ+" channel carries "+channelList(carried))
			continue
		}
		addr, err := routing.NormalizeSender(snd.Channel, snd.Address)
		if err != nil {
			fields.add(f+".address", errMessage(err))
			continue
		}
		if snd.Default && defaults[snd.Channel] {
			fields.add(f+".default", "only one default sender per channel")
		}
		defaults[snd.Channel] = defaults[snd.Channel] || snd.Default
		if snd.InboundFlowID != "" {
			// The flow must exist now; a later delete leaves the sender
			// answering nothing (and inbound calls to it refused).
			if _, err := s.store.GetFlow(ctx, accountID, snd.InboundFlowID, 0); sb.ErrorCode(err) == sb.ENOTFOUND {
				fields.add(f+".inbound_flow_id", "no flow "+snd.InboundFlowID+" in this account")
			} else if err != nil {
				fields.add(f+".inbound_flow_id", errMessage(err))
			}
		}
		out = append(out, sb.Sender{Channel: snd.Channel, Address: addr, Default: snd.Default, InboundFlowID: snd.InboundFlowID})
	}
	return out
}

func channelList(chs []sb.Channel) string {
	var b []byte
	for i, c := range chs {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, c...)
	}
	return string(b)
}

// createChannel connects a provider account: the credentials are checked,
// proven with one authenticated call to the provider, stored sealed, and
// our inbound URL is registered with the provider where it allows.
func (s *Server) createChannel(c *gin.Context) {
	var req struct {
		Type        string          `json:"type"`
		Name        string          `json:"name"`
		Credentials json.RawMessage `json:"credentials"`
		Senders     []sb.Sender     `json:"senders"`
		Config      json.RawMessage `json:"config"`
	}
	if !s.bind(c, &req) {
		return
	}
	var fields fieldErrors
	ch := &sb.ConnectedChannel{ID: uuid.Must(uuid.NewV7()).String(), AccountID: account(c), Type: req.Type, Name: req.Name,
		Config: req.Config, Credentials: req.Credentials}
	if s.cfg.Providers.Channels(req.Type) == nil {
		fields.add("type", "must be one of twilio, telegram, whatsapp_cloud, viber, exolve, sandbox")
	} else {
		hint, err := s.cfg.Providers.Check(req.Type, req.Credentials)
		var e *sb.Error
		switch {
		case errors.As(err, &e) && len(e.Fields) > 0:
			for _, f := range e.Fields {
				fields.add(f.Field, f.Message)
			}
		case err != nil:
			fields.add("credentials", errMessage(err))
		}
		ch.CredentialsHint = hint
		ch.Senders = s.checkSenders(c.Request.Context(), account(c), req.Type, req.Senders, &fields)
	}
	if len(req.Name) > 200 {
		fields.add("name", "must be at most 200 characters")
	}
	checkConfig(req.Config, &fields)
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	if len(ch.Credentials) == 0 {
		ch.Credentials = json.RawMessage("{}")
	}
	ctx := c.Request.Context()
	acct, err := s.cfg.Providers.Verify(ctx, ch)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if ch.Name == "" {
		ch.Name = acct.Name
	}
	if ch, err = s.store.CreateChannel(ctx, ch); err != nil {
		s.writeError(c, err)
		return
	}
	status := "manual"
	registered, err := s.cfg.Providers.Register(ctx, ch, s.hookURL(ch))
	switch {
	case err != nil:
		status = "failed"
		s.log.WarnContext(ctx, "register webhook", "channel_id", ch.ID, "type", ch.Type, "err", err)
	case registered:
		status = "registered"
	}
	if status != ch.WebhookStatus {
		if ch, err = s.store.UpdateChannel(ctx, ch.AccountID, ch.ID, sb.ChannelUpdate{WebhookStatus: &status}); err != nil {
			s.writeError(c, err)
			return
		}
	}
	s.cfg.Routing.Forget(ch.AccountID)
	c.Header("Location", "/v1/channels/"+ch.ID)
	c.JSON(http.StatusCreated, s.channelView(ch, &acct))
}

func (s *Server) listChannels(c *gin.Context) {
	limit, cursor, fields := pageParams(c)
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	chs, next, err := s.store.ListChannels(c.Request.Context(), account(c), cursor, limit)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := make([]channelJSON, len(chs))
	for i, ch := range chs {
		out[i] = s.channelView(ch, nil)
	}
	c.JSON(http.StatusOK, newList(out, next))
}

func (s *Server) getChannel(c *gin.Context) {
	ch, err := s.store.GetChannel(c.Request.Context(), account(c), c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, s.channelView(ch, nil))
}

// updateChannel renames, re-senders, disables or re-credentials a channel;
// new credentials are verified with the provider before they replace the
// old ones.
func (s *Server) updateChannel(c *gin.Context) {
	var req struct {
		Name        *string         `json:"name"`
		Status      *string         `json:"status"`
		Credentials json.RawMessage `json:"credentials"`
		Senders     []sb.Sender     `json:"senders"`
		Config      json.RawMessage `json:"config"`
	}
	if !s.bind(c, &req) {
		return
	}
	ctx := c.Request.Context()
	ch, err := s.store.GetChannel(ctx, account(c), c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	var fields fieldErrors
	u := sb.ChannelUpdate{Name: req.Name, Status: req.Status, Config: req.Config}
	checkConfig(req.Config, &fields)
	if req.Status != nil && *req.Status != "active" && *req.Status != "disabled" {
		fields.add("status", "must be active or disabled")
	}
	if req.Senders != nil {
		u.Senders = s.checkSenders(c.Request.Context(), account(c), ch.Type, req.Senders, &fields)
	}
	var acct *sb.ProviderAccount
	if len(req.Credentials) > 0 {
		hint, err := s.cfg.Providers.Check(ch.Type, req.Credentials)
		var e *sb.Error
		if errors.As(err, &e) && len(e.Fields) > 0 {
			for _, f := range e.Fields {
				fields.add(f.Field, f.Message)
			}
		} else if err != nil {
			fields.add("credentials", errMessage(err))
		}
		u.Credentials, u.CredentialsHint = req.Credentials, hint
	}
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	if u.Credentials != nil {
		probe := *ch
		probe.Credentials = u.Credentials
		a, err := s.cfg.Providers.Verify(ctx, &probe)
		if err != nil {
			s.writeError(c, err)
			return
		}
		acct = &a
	}
	if ch, err = s.store.UpdateChannel(ctx, account(c), ch.ID, u); err != nil {
		s.writeError(c, err)
		return
	}
	if u.Credentials != nil {
		// New credentials may be another bot or number: tell its provider
		// where to send our webhooks.
		status := "manual"
		if registered, err := s.cfg.Providers.Register(ctx, ch, s.hookURL(ch)); err != nil {
			status = "failed"
			s.log.WarnContext(ctx, "register webhook", "channel_id", ch.ID, "type", ch.Type, "err", err)
		} else if registered {
			status = "registered"
		}
		if status != ch.WebhookStatus {
			if ch, err = s.store.UpdateChannel(ctx, ch.AccountID, ch.ID, sb.ChannelUpdate{WebhookStatus: &status}); err != nil {
				s.writeError(c, err)
				return
			}
		}
	}
	s.cfg.Routing.Forget(ch.AccountID)
	c.JSON(http.StatusOK, s.channelView(ch, acct))
}

func (s *Server) deleteChannel(c *gin.Context) {
	if err := s.store.DeleteChannel(c.Request.Context(), account(c), c.Param("id")); err != nil {
		s.writeError(c, err)
		return
	}
	s.cfg.Routing.Forget(account(c))
	c.Status(http.StatusNoContent)
}

// maxHookBody bounds a provider webhook body.
const maxHookBody = 1 << 20

// hookChannel finds the channel a /hooks/{id}/{secret} request is for. A
// wrong secret answers 404 like an unknown id: the URL is the credential.
func (s *Server) hookChannel(c *gin.Context) (*sb.ConnectedChannel, bool) {
	ch, err := s.store.LoadChannel(c.Request.Context(), c.Param("id"))
	if errors.Is(err, sb.ErrNotFound) || (err == nil && subtle.ConstantTimeCompare([]byte(ch.HookSecret), []byte(c.Param("secret"))) != 1) {
		s.writeError(c, sb.Errorf(sb.ENOTFOUND, "no such webhook"))
		return nil, false
	}
	if err != nil {
		s.writeError(c, err)
		return nil, false
	}
	return ch, true
}

// hookHandshake answers a provider's GET check of our URL.
func (s *Server) hookHandshake(c *gin.Context) {
	ch, ok := s.hookChannel(c)
	if !ok {
		return
	}
	body, ok := s.cfg.Providers.Handshake(ch, c.Request.URL.Query())
	if !ok {
		hooksReceived.WithLabelValues(ch.Type, "forged").Inc()
		s.writeError(c, sb.ErrForged)
		return
	}
	c.Data(http.StatusOK, "text/plain; charset=utf-8", body)
}

// hook receives a provider's webhook: inbound messages, delivery receipts,
// opt-outs. Its signature is checked before anything is stored; a forged
// one is 403 with nothing stored. Anything that fails after that answers
// 5xx, so the provider retries, and a retry stores nothing twice (inbound
// messages are deduplicated by provider id; receipts only move forward).
func (s *Server) hook(c *gin.Context) {
	ch, ok := s.hookChannel(c)
	if !ok {
		return
	}
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, maxHookBody+1))
	if err != nil || len(body) > maxHookBody {
		s.writeError(c, httpError(ecTooLarge, "webhook body too large or unreadable"))
		return
	}
	publicURL := s.cfg.PublicURL + c.Request.URL.RequestURI()
	batch, err := s.cfg.Providers.Parse(ch, c.Request, body, publicURL)
	switch {
	case errors.Is(err, sb.ErrForged):
		hooksReceived.WithLabelValues(ch.Type, "forged").Inc()
		s.log.WarnContext(c.Request.Context(), "forged provider webhook", "channel_id", ch.ID, "type", ch.Type)
		s.writeError(c, sb.ErrForged)
		return
	case err != nil:
		hooksReceived.WithLabelValues(ch.Type, "invalid").Inc()
		s.writeError(c, err)
		return
	}
	if err := s.absorb(c, ch, batch); err != nil {
		hooksReceived.WithLabelValues(ch.Type, "error").Inc()
		s.writeError(c, err)
		return
	}
	hooksReceived.WithLabelValues(ch.Type, "ok").Inc()
	if batch.Response != nil {
		ct := batch.ContentType
		if ct == "" {
			ct = "application/json"
		}
		c.Data(http.StatusOK, ct, batch.Response)
		return
	}
	c.Status(http.StatusOK)
}

// absorb stores what a webhook carried.
func (s *Server) absorb(c *gin.Context, ch *sb.ConnectedChannel, b *sb.InboundBatch) error {
	ctx := c.Request.Context()
	for _, o := range b.OptOuts {
		o.AccountID, o.Source = ch.AccountID, "provider"
		// Every opt-out belongs to a customer, even one who never wrote
		// (a Viber user unsubscribing, a Telegram user blocking the bot).
		res, err := s.store.ResolveIdentity(ctx, ch.AccountID, o.Channel, o.Address)
		if err != nil {
			return err
		}
		o.CustomerID = res.CustomerID
		s.enqueueWebhooks(c, res.Deliveries)
		_, hooks, err := s.store.OptOut(ctx, o)
		if err != nil {
			return err
		}
		s.enqueueWebhooks(c, hooks)
	}
	for _, o := range b.OptIns {
		_, hooks, err := s.store.OptIn(ctx, ch.AccountID, o.Channel, o.Address, "provider")
		if err != nil {
			return err
		}
		s.enqueueWebhooks(c, hooks)
	}
	for _, m := range b.Messages {
		m.AccountID, m.ChannelID, m.Provider = ch.AccountID, ch.ID, ch.Type
		m.Direction, m.Status = sb.Inbound, sb.StatusReceived
		if m.Channel == sb.ChannelSMS {
			m.Encoding, m.Segments = sb.SMSSegments(m.Text)
		}
		if _, err := s.receive(c, m); err != nil {
			return err
		}
	}
	for _, r := range b.Receipts {
		r.AccountID, r.Provider = ch.AccountID, ch.Type
		if err := s.queue.EnqueueReceipt(ctx, r); err != nil {
			return sb.Errorf(sb.EUNAVAILABLE, "queue receipt: %v", err)
		}
	}
	return nil
}

// checkConfig validates a channel's config: a JSON object whose
// rate_per_second, when set, is a number of sends per second for each of
// its senders (more than 0, at most 100,000).
func checkConfig(raw json.RawMessage, fields *fieldErrors) {
	if len(raw) == 0 {
		return
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		fields.add("config", "must be a JSON object")
		return
	}
	if v, ok := obj["rate_per_second"]; ok {
		var rate float64
		if json.Unmarshal(v, &rate) != nil || rate <= 0 || rate > 100000 {
			fields.add("config.rate_per_second", "must be a number of sends per second, more than 0 and at most 100000")
		}
	}
}
