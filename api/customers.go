package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/routing"
)

// CustomerStore is the persistence of customers, identities, merges,
// conversations and timelines.
type CustomerStore interface {
	CreateCustomer(ctx context.Context, c *sb.Customer) (*sb.Customer, []string, error)
	GetCustomer(ctx context.Context, accountID, id string) (*sb.Customer, error)
	ListCustomers(ctx context.Context, accountID string, f sb.CustomerFilter) ([]*sb.Customer, string, error)
	FindCustomerByIdentity(ctx context.Context, accountID string, ch sb.Channel, address string) (*sb.Customer, error)
	UpdateCustomer(ctx context.Context, accountID, id string, u sb.CustomerUpdate) (*sb.Customer, error)
	DeleteCustomer(ctx context.Context, accountID, id string) error
	AddIdentity(ctx context.Context, accountID, customerID string, ch sb.Channel, address string) (*sb.Customer, bool, error)
	RemoveIdentity(ctx context.Context, accountID, customerID string, ch sb.Channel, address string) error
	MergeCustomers(ctx context.Context, accountID, intoID, fromID string) (*sb.Customer, []string, error)
	Timeline(ctx context.Context, accountID, customerID, cursor string, limit int) ([]sb.TimelineEntry, string, error)

	GetConversation(ctx context.Context, accountID, id string) (*sb.Conversation, error)
	ListConversations(ctx context.Context, accountID string, f sb.ConversationFilter) ([]*sb.Conversation, string, error)
	CloseConversation(ctx context.Context, accountID, id, reason string) (*sb.Conversation, []string, error)
	SetConversationAgent(ctx context.Context, accountID, id, agent string) (*sb.Conversation, error)
}

func (s *Server) customerRoutes(g *gin.RouterGroup) {
	g.POST("/customers", s.createCustomer)
	g.GET("/customers", s.listCustomers)
	g.GET("/customers/:id", s.getCustomer)
	g.PATCH("/customers/:id", s.updateCustomer)
	g.DELETE("/customers/:id", s.deleteCustomer)
	g.POST("/customers/:id/identities", s.addIdentity)
	g.DELETE("/customers/:id/identities", s.removeIdentity)
	g.POST("/customers/:id/merge", s.mergeCustomers)
	g.GET("/customers/:id/timeline", s.timeline)
	s.conversationRoutes(g)
}

// enqueueCustomerWebhooks hands deliveries written by a committed change to
// the queue. A failure is only logged: the rows are in PostgreSQL and the
// sweeper sends them.
func (s *Server) enqueueCustomerWebhooks(ctx context.Context, ids []string) {
	if len(ids) == 0 {
		return
	}
	if err := s.queue.EnqueueWebhooks(ctx, ids); err != nil {
		s.log.WarnContext(ctx, "enqueue webhooks; sweeper will retry", "err", err)
	}
}

// customerProfile holds the profile fields of a create or update; nil
// leaves a field be.
type customerProfile struct {
	Name             *string
	Email            *string
	Locale           *string
	Timezone         *string
	Attributes       json.RawMessage
	PreferredChannel json.RawMessage // a string; null or "" clears
}

const (
	maxCustomerName       = 256
	maxEmail              = 254
	maxLocale             = 35
	maxAttributes         = 16 << 10
	maxCustomerIdentities = 20
)

// locales are BCP 47-like tags: "en", "ru-RU", "zh-Hant-TW".
var localeRE = regexp.MustCompile(`^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$`)

// validate checks a profile and returns it as an update, adding every
// problem to fields.
func (p *customerProfile) validate(fields *[]sb.FieldError) sb.CustomerUpdate {
	bad := func(f, m string) { *fields = append(*fields, sb.FieldError{Field: f, Message: m}) }
	u := sb.CustomerUpdate{Name: p.Name, Email: p.Email, Locale: p.Locale, Timezone: p.Timezone}
	if n := p.Name; n != nil {
		switch {
		case utf8.RuneCountInString(*n) > maxCustomerName:
			bad("name", fmt.Sprintf("must be at most %d characters", maxCustomerName))
		case !utf8.ValidString(*n) || strings.ContainsRune(*n, 0):
			bad("name", "must be valid UTF-8 text without NUL characters")
		}
	}
	if e := p.Email; e != nil && *e != "" {
		local, domain, _ := strings.Cut(*e, "@")
		switch {
		case utf8.RuneCountInString(*e) > maxEmail:
			bad("email", fmt.Sprintf("must be at most %d characters", maxEmail))
		case strings.Count(*e, "@") != 1 || local == "" || domain == "":
			bad("email", "must be an email address (one @ between a name and a domain)")
		case strings.ContainsFunc(*e, func(r rune) bool { return r <= ' ' || r == 0x7f }) || !utf8.ValidString(*e):
			bad("email", "must not contain spaces or control characters")
		}
	}
	if l := p.Locale; l != nil && *l != "" && (len(*l) > maxLocale || !localeRE.MatchString(*l)) {
		bad("locale", "must be a language tag such as en or ru-RU (letters, digits and hyphens, at most 35 characters)")
	}
	if tz := p.Timezone; tz != nil && *tz != "" {
		if _, err := routing.Location(*tz); err != nil || *tz == "Local" || len(*tz) > 64 {
			bad("timezone", "must be an IANA timezone name such as Europe/Moscow")
		}
	}
	if len(p.Attributes) > 0 {
		var obj map[string]any
		switch {
		case bytes.Equal(bytes.TrimSpace(p.Attributes), []byte("null")):
			u.Attributes = json.RawMessage("{}")
		case json.Unmarshal(p.Attributes, &obj) != nil || obj == nil:
			bad("attributes", "must be a JSON object")
		case len(p.Attributes) > maxAttributes:
			bad("attributes", "must be at most 16384 bytes")
		case bytes.Contains(p.Attributes, []byte(`\u0000`)):
			bad("attributes", "must not contain NUL characters")
		default:
			u.Attributes = p.Attributes
		}
	}
	if len(p.PreferredChannel) > 0 {
		var ch *string
		if json.Unmarshal(p.PreferredChannel, &ch) != nil {
			bad("preferred_channel", "must be a channel name or null")
		} else {
			c := sb.Channel("")
			if ch != nil {
				c = sb.Channel(*ch)
			}
			if c != "" && !c.Valid() {
				bad("preferred_channel", "must be one of sms, whatsapp, telegram, viber, webrtc, voice")
			}
			u.PreferredChannel = &c
		}
	}
	return u
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

type identityBody struct {
	Channel sb.Channel `json:"channel"`
	Address string     `json:"address"`
}

// normalize checks an identity and returns its address in canonical form.
func (b identityBody) normalize(prefix string, fields *[]sb.FieldError) string {
	bad := func(f, m string) { *fields = append(*fields, sb.FieldError{Field: prefix + f, Message: m}) }
	switch {
	case b.Channel == "":
		bad("channel", "is required")
	case !b.Channel.Valid():
		bad("channel", "must be one of sms, whatsapp, telegram, viber, webrtc, voice")
	case strings.TrimSpace(b.Address) == "":
		bad("address", "is required")
	default:
		addr, err := routing.NormalizeAddress(b.Channel, b.Address)
		if err != nil {
			bad("address", errMessage(err))
		}
		return addr
	}
	return ""
}

func (s *Server) createCustomer(c *gin.Context) {
	var req struct {
		Name             *string         `json:"name"`
		Email            *string         `json:"email"`
		Locale           *string         `json:"locale"`
		Timezone         *string         `json:"timezone"`
		Attributes       json.RawMessage `json:"attributes"`
		PreferredChannel json.RawMessage `json:"preferred_channel"`
		Identities       []identityBody  `json:"identities"`
	}
	if !s.bind(c, &req) {
		return
	}
	var fields []sb.FieldError
	p := customerProfile{req.Name, req.Email, req.Locale, req.Timezone, req.Attributes, req.PreferredChannel}
	u := p.validate(&fields)
	cust := &sb.Customer{AccountID: account(c), Name: deref(u.Name), Email: deref(u.Email), Locale: deref(u.Locale),
		Timezone: deref(u.Timezone), Attributes: u.Attributes}
	if u.PreferredChannel != nil {
		cust.PreferredChannel = *u.PreferredChannel
	}
	if len(req.Identities) > maxCustomerIdentities {
		fields = append(fields, sb.FieldError{Field: "identities", Message: fmt.Sprintf("at most %d identities", maxCustomerIdentities)})
	}
	seen := map[sb.Identity]int{}
	for i, b := range req.Identities {
		prefix := "identities[" + strconv.Itoa(i) + "]."
		n := len(fields)
		addr := b.normalize(prefix, &fields)
		if len(fields) > n {
			continue
		}
		key := sb.Identity{Channel: b.Channel, Address: addr}
		if j, dup := seen[key]; dup {
			fields = append(fields, sb.FieldError{Field: "identities[" + strconv.Itoa(i) + "]", Message: "repeats identities[" + strconv.Itoa(j) + "]"})
			continue
		}
		seen[key] = i
		cust.Identities = append(cust.Identities, key)
	}
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	ctx := c.Request.Context()
	created, deliveries, err := s.store.CreateCustomer(ctx, cust)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.enqueueCustomerWebhooks(ctx, deliveries)
	c.Header("Location", "/v1/customers/"+created.ID)
	c.JSON(http.StatusCreated, created)
}

// customerIdentityQuery reads an identity query parameter,
// "<channel>:<address>", normalising the address. A "+" left unescaped in
// a URL arrives as a space; for phone channels it is put back.
func customerIdentityQuery(c *gin.Context, name string) (sb.Channel, string, error) {
	v := c.Query(name)
	chs, addr, ok := strings.Cut(v, ":")
	ch := sb.Channel(chs)
	bad := func(m string) error { return sb.Invalid(sb.FieldError{Field: name, Message: m}) }
	if !ok || !ch.Valid() {
		return "", "", bad("must be <channel>:<address>, such as sms:+79991234567")
	}
	if ch.UsesPhoneNumbers() && strings.HasPrefix(addr, " ") {
		addr = "+" + strings.TrimLeft(addr, " ")
	}
	norm, err := routing.NormalizeAddress(ch, addr)
	if err != nil {
		return "", "", bad(errMessage(err))
	}
	return ch, norm, nil
}

func (s *Server) listCustomers(c *gin.Context) {
	limit, cursor, fields := pageParams(c)
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	ctx := c.Request.Context()
	if _, ok := c.GetQuery("identity"); ok {
		ch, addr, err := customerIdentityQuery(c, "identity")
		if err != nil {
			s.writeError(c, err)
			return
		}
		var found []*sb.Customer
		cust, err := s.store.FindCustomerByIdentity(ctx, account(c), ch, addr)
		switch {
		case err == nil:
			found = append(found, cust)
		case sb.ErrorCode(err) != sb.ENOTFOUND:
			s.writeError(c, err)
			return
		}
		c.JSON(http.StatusOK, newList(found, ""))
		return
	}
	custs, next, err := s.store.ListCustomers(ctx, account(c), sb.CustomerFilter{Cursor: cursor, Limit: limit})
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, newList(custs, next))
}

func (s *Server) getCustomer(c *gin.Context) {
	cust, err := s.store.GetCustomer(c.Request.Context(), account(c), c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, cust)
}

func (s *Server) updateCustomer(c *gin.Context) {
	var req struct {
		Name             *string         `json:"name"`
		Email            *string         `json:"email"`
		Locale           *string         `json:"locale"`
		Timezone         *string         `json:"timezone"`
		Attributes       json.RawMessage `json:"attributes"`
		PreferredChannel json.RawMessage `json:"preferred_channel"`
	}
	if !s.bind(c, &req) {
		return
	}
	var fields []sb.FieldError
	p := customerProfile{req.Name, req.Email, req.Locale, req.Timezone, req.Attributes, req.PreferredChannel}
	u := p.validate(&fields)
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	cust, err := s.store.UpdateCustomer(c.Request.Context(), account(c), c.Param("id"), u)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, cust)
}

func (s *Server) deleteCustomer(c *gin.Context) {
	if err := s.store.DeleteCustomer(c.Request.Context(), account(c), c.Param("id")); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) addIdentity(c *gin.Context) {
	var req identityBody
	if !s.bind(c, &req) {
		return
	}
	var fields []sb.FieldError
	addr := req.normalize("", &fields)
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	cust, created, err := s.store.AddIdentity(c.Request.Context(), account(c), c.Param("id"), req.Channel, addr)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(createdStatus(created), cust)
}

func (s *Server) removeIdentity(c *gin.Context) {
	ch, addr, err := customerIdentityQuery(c, "identity")
	if err != nil {
		s.writeError(c, err)
		return
	}
	if err := s.store.RemoveIdentity(c.Request.Context(), account(c), c.Param("id"), ch, addr); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) mergeCustomers(c *gin.Context) {
	var req struct {
		FromCustomerID string `json:"from_customer_id"`
	}
	if !s.bind(c, &req) {
		return
	}
	if req.FromCustomerID == "" {
		s.writeError(c, sb.Invalid(sb.FieldError{Field: "from_customer_id", Message: "is required"}))
		return
	}
	ctx := c.Request.Context()
	cust, deliveries, err := s.store.MergeCustomers(ctx, account(c), c.Param("id"), req.FromCustomerID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.enqueueCustomerWebhooks(ctx, deliveries)
	c.JSON(http.StatusOK, cust)
}

func (s *Server) timeline(c *gin.Context) {
	limit, cursor, fields := pageParams(c)
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	entries, next, err := s.store.Timeline(c.Request.Context(), account(c), c.Param("id"), cursor, limit)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, newList(entries, next))
}
