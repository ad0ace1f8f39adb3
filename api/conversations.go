package api

import (
	"bytes"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	sb "github.com/switchboardhq/switchboard"
)

func (s *Server) conversationRoutes(g *gin.RouterGroup) {
	g.GET("/conversations", s.listConversations)
	g.GET("/conversations/:id", s.getConversation)
	g.POST("/conversations/:id/close", s.closeConversation)
	g.POST("/conversations/:id/agent", s.assignAgent)
	g.DELETE("/conversations/:id/agent", s.releaseAgent)
}

// assignAgent lets a person take the conversation over from the bot: the
// bot's session ends and new messages wait for the agent.
func (s *Server) assignAgent(c *gin.Context) {
	var req struct {
		Agent string `json:"agent"`
	}
	if !s.bind(c, &req) {
		return
	}
	if req.Agent == "" || len(req.Agent) > 200 {
		s.writeError(c, sb.Invalid(sb.FieldError{Field: "agent", Message: "is required: who takes the conversation over (at most 200 characters)"}))
		return
	}
	conv, err := s.store.SetConversationAgent(c.Request.Context(), account(c), c.Param("id"), req.Agent)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, conv)
}

// releaseAgent hands the conversation back to the bot.
func (s *Server) releaseAgent(c *gin.Context) {
	conv, err := s.store.SetConversationAgent(c.Request.Context(), account(c), c.Param("id"), "")
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, conv)
}

func (s *Server) listConversations(c *gin.Context) {
	limit, cursor, fields := pageParams(c)
	f := sb.ConversationFilter{Status: c.Query("status"), CustomerID: c.Query("customer_id"),
		Channel: sb.Channel(c.Query("channel")), Cursor: cursor, Limit: limit}
	if f.Status != "" && f.Status != sb.ConversationOpen && f.Status != sb.ConversationClosed {
		fields = append(fields, sb.FieldError{Field: "status", Message: "must be open or closed"})
	}
	if f.CustomerID != "" {
		if _, err := uuid.Parse(f.CustomerID); err != nil {
			fields = append(fields, sb.FieldError{Field: "customer_id", Message: "must be a customer id"})
		}
	}
	if f.Channel != "" && !f.Channel.Valid() {
		fields = append(fields, sb.FieldError{Field: "channel", Message: "unknown channel"})
	}
	if len(fields) > 0 {
		s.writeError(c, sb.Invalid(fields...))
		return
	}
	convs, next, err := s.store.ListConversations(c.Request.Context(), account(c), f)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, newList(convs, next))
}

func (s *Server) getConversation(c *gin.Context) {
	conv, err := s.store.GetConversation(c.Request.Context(), account(c), c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, conv)
}

// closeConversation closes a conversation by API (closed_reason "api");
// the body may be empty or {}. Closing a closed one returns it unchanged.
func (s *Server) closeConversation(c *gin.Context) {
	body, err := readBody(c.Request)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if len(bytes.TrimSpace(body)) > 0 {
		var req struct{}
		if err := decodeJSON(body, &req); err != nil {
			s.writeError(c, err)
			return
		}
	}
	ctx := c.Request.Context()
	conv, deliveries, err := s.store.CloseConversation(ctx, account(c), c.Param("id"), "api")
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.enqueueCustomerWebhooks(ctx, deliveries)
	c.JSON(http.StatusOK, conv)
}
