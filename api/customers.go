package api

import "github.com/gin-gonic/gin"

// CustomerStore is the persistence of customers, identities, merges,
// conversations and timelines.
type CustomerStore interface{}

func (s *Server) customerRoutes(g *gin.RouterGroup) {}
