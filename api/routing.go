package api

import "github.com/gin-gonic/gin"

// RoutingStore is the persistence of opt-outs and routing settings.
type RoutingStore interface{}

func (s *Server) routingRoutes(g *gin.RouterGroup) {}
