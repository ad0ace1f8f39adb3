package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/routing"
)

// RoutingStore is the persistence of opt-outs and routing settings.
type RoutingStore interface {
	AccountSettings(ctx context.Context, accountID string) (sb.AccountSettings, error)
	PutAccountSettings(ctx context.Context, accountID string, s sb.AccountSettings) error
	ResolveIdentity(ctx context.Context, accountID string, ch sb.Channel, address string) (sb.Resolution, error)
	OptOut(ctx context.Context, o sb.OptOut) (bool, []string, error)
	OptIn(ctx context.Context, accountID string, ch sb.Channel, address, source string) (bool, []string, error)
	GetOptOut(ctx context.Context, accountID string, ch sb.Channel, address string) (*sb.OptOut, error)
	ListOptOuts(ctx context.Context, accountID string, f sb.OptOutFilter) ([]*sb.OptOut, string, error)
}

func (s *Server) routingRoutes(g *gin.RouterGroup) {
	g.GET("/opt-outs", s.listOptOuts)
	g.POST("/opt-outs", s.createOptOut)
	g.DELETE("/opt-outs", s.deleteOptOut)
	g.GET("/account/settings", s.getSettings)
	g.PATCH("/account/settings", s.patchSettings)
	g.POST("/conversations/:id/messages", s.replyInConversation)
}

// parseIdentity reads "channel:address" (the form ?identity= takes), with
// the address normalised for its channel.
func parseIdentity(field, v string) (sb.Channel, string, error) {
	chs, addr, ok := strings.Cut(v, ":")
	ch := sb.Channel(chs)
	if !ok || !ch.Valid() {
		return "", "", sb.Invalid(sb.FieldError{Field: field, Message: "must be <channel>:<address>, e.g. sms:+79991234567"})
	}
	n, err := routing.NormalizeAddress(ch, addr)
	if err != nil {
		return "", "", sb.Invalid(sb.FieldError{Field: field, Message: errMessage(err)})
	}
	return ch, n, nil
}

func (s *Server) listOptOuts(c *gin.Context) {
	limit, cursor, fields := pageParams(c)
	f := sb.OptOutFilter{Limit: limit, Cursor: cursor, Channel: sb.Channel(c.Query("channel"))}
	if f.Channel != "" && !f.Channel.Valid() {
		fields = append(fields, sb.FieldError{Field: "channel", Message: "unknown channel"})
	}
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	list, next, err := s.store.ListOptOuts(c.Request.Context(), account(c), f)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, newList(list, next))
}

// createOptOut opts an address out by hand. The address is resolved to its
// customer first (created on first contact), so every opt-out belongs to a
// customer record.
func (s *Server) createOptOut(c *gin.Context) {
	var req struct {
		Channel sb.Channel `json:"channel"`
		Address string     `json:"address"`
	}
	if !s.bind(c, &req) {
		return
	}
	var fields []sb.FieldError
	addr := req.Address
	if !req.Channel.Valid() {
		fields = append(fields, sb.FieldError{Field: "channel", Message: "must be one of sms, whatsapp, telegram, viber, webrtc, voice"})
	} else if req.Address == "" {
		fields = append(fields, sb.FieldError{Field: "address", Message: "is required"})
	} else if n, err := routing.NormalizeAddress(req.Channel, req.Address); err != nil {
		fields = append(fields, sb.FieldError{Field: "address", Message: errMessage(err)})
	} else {
		addr = n
	}
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	ctx := c.Request.Context()
	res, err := s.store.ResolveIdentity(ctx, account(c), req.Channel, addr)
	if err != nil {
		s.writeError(c, err)
		return
	}
	created, deliveries, err := s.store.OptOut(ctx, sb.OptOut{AccountID: account(c), Channel: req.Channel, Address: addr,
		CustomerID: res.CustomerID, Source: "api"})
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.enqueueWebhooks(c, append(res.Deliveries, deliveries...))
	o, err := s.store.GetOptOut(ctx, account(c), req.Channel, addr)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(createdStatus(created), o)
}

func (s *Server) deleteOptOut(c *gin.Context) {
	ch, addr, err := parseIdentity("identity", c.Query("identity"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	removed, deliveries, err := s.store.OptIn(c.Request.Context(), account(c), ch, addr, "api")
	if err != nil {
		s.writeError(c, err)
		return
	}
	if !removed {
		s.writeError(c, sb.Errorf(sb.ENOTFOUND, "%s:%s is not opted out", ch, addr))
		return
	}
	s.enqueueWebhooks(c, deliveries)
	c.Status(http.StatusNoContent)
}

// createdStatus answers 201 for a resource a PUT-like POST created and 200
// for one that already existed.
func createdStatus(created bool) int {
	if created {
		return http.StatusCreated
	}
	return http.StatusOK
}

// enqueueWebhooks hands deliveries written by a request to the queue; if
// Redis refuses, the sweeper finds them later.
func (s *Server) enqueueWebhooks(c *gin.Context, ids []string) {
	if len(ids) == 0 {
		return
	}
	if err := s.queue.EnqueueWebhooks(c.Request.Context(), ids); err != nil {
		s.log.WarnContext(c.Request.Context(), "enqueue webhooks; sweeper will retry", "err", err)
	}
}

func (s *Server) getSettings(c *gin.Context) {
	st, err := s.store.AccountSettings(c.Request.Context(), account(c))
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, st.WithDefaults())
}

// patchSettings changes the fields present in the body; "quiet_hours": null
// clears quiet hours.
func (s *Server) patchSettings(c *gin.Context) {
	var req struct {
		ConversationInactivity *string                `json:"conversation_inactivity"`
		OptOutKeywords         []string               `json:"opt_out_keywords"`
		OptInKeywords          []string               `json:"opt_in_keywords"`
		OptOutReply            *string                `json:"opt_out_reply"`
		OptInReply             *string                `json:"opt_in_reply"`
		QuietHours             json.RawMessage        `json:"quiet_hours"`
		Senders                map[sb.Channel]*string `json:"senders"`
	}
	if !s.bind(c, &req) {
		return
	}
	ctx := c.Request.Context()
	st, err := s.store.AccountSettings(ctx, account(c))
	if err != nil {
		s.writeError(c, err)
		return
	}
	var fields []sb.FieldError
	bad := func(f, m string) { fields = append(fields, sb.FieldError{Field: f, Message: m}) }
	if v := req.ConversationInactivity; v != nil {
		d, err := time.ParseDuration(*v)
		if err != nil || d < time.Second || d > 365*24*time.Hour {
			bad("conversation_inactivity", "must be a duration like \"24h\" or \"30m\", from 1s to 8760h")
		}
		st.ConversationInactivity = d
	}
	keywords := func(field string, list []string, dst *[]string) {
		if list == nil {
			return
		}
		for i, k := range list {
			if k = strings.TrimSpace(k); k == "" || len(k) > 64 {
				bad(field+"["+strconv.Itoa(i)+"]", "must be 1 to 64 characters")
			}
		}
		*dst = list
	}
	keywords("opt_out_keywords", req.OptOutKeywords, &st.OptOutKeywords)
	keywords("opt_in_keywords", req.OptInKeywords, &st.OptInKeywords)
	if req.OptOutReply != nil {
		st.OptOutReply = *req.OptOutReply
	}
	if req.OptInReply != nil {
		st.OptInReply = *req.OptInReply
	}
	if len(req.QuietHours) > 0 {
		if string(req.QuietHours) == "null" {
			st.QuietHours = nil
		} else {
			var q struct {
				Start    string `json:"start"`
				End      string `json:"end"`
				Timezone string `json:"timezone"`
			}
			if err := decodeJSON(req.QuietHours, &q); err != nil {
				bad("quiet_hours", "must be {start, end, timezone} or null")
			} else {
				if _, err := routing.ParseClock(q.Start); err != nil {
					bad("quiet_hours.start", "must be a HH:MM time")
				}
				if _, err := routing.ParseClock(q.End); err != nil {
					bad("quiet_hours.end", "must be a HH:MM time")
				}
				if q.Start == q.End && q.Start != "" {
					bad("quiet_hours.end", "must differ from start")
				}
				if _, err := routing.Location(q.Timezone); err != nil {
					bad("quiet_hours.timezone", "unknown IANA timezone")
				}
				st.QuietHours = &sb.QuietHours{Start: q.Start, End: q.End, Timezone: q.Timezone}
			}
		}
	}
	for ch, addr := range req.Senders {
		if !ch.Valid() {
			bad("senders."+string(ch), "unknown channel")
			continue
		}
		if st.Senders == nil {
			st.Senders = map[sb.Channel]string{}
		}
		if addr == nil || *addr == "" {
			delete(st.Senders, ch)
			continue
		}
		n, err := routing.NormalizeAddress(ch, *addr)
		if err != nil {
			bad("senders."+string(ch), errMessage(err))
			continue
		}
		st.Senders[ch] = n
	}
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	if err := s.store.PutAccountSettings(ctx, account(c), st); err != nil {
		s.writeError(c, err)
		return
	}
	s.cfg.Routing.Forget(account(c))
	c.JSON(http.StatusOK, st.WithDefaults())
}
