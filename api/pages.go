package api

import (
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/gin-gonic/gin"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/web"
)

// Content-Security-Policy of the pages: everything comes from this server.
// The widget may be framed by any site (that is what widget.js does); the
// inbox holds an API key and is never framed.
const (
	cspBase   = "default-src 'self'; connect-src 'self'; img-src 'self' data:; media-src 'self' blob: mediastream:; object-src 'none'; base-uri 'none'; form-action 'self'"
	cspWidget = cspBase + "; frame-ancestors *"
	cspInbox  = cspBase + "; frame-ancestors 'none'"
)

// pageRoutes serves the browser pages from web.Files: the customer widget,
// its one-script-tag embed, the agent inbox and their assets.
func (s *Server) pageRoutes(e *gin.Engine) {
	assets, err := fs.Sub(web.Files, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	e.GET("/widget", s.page("widget.html", "text/html; charset=utf-8", cspWidget))
	e.GET("/inbox", s.page("inbox.html", "text/html; charset=utf-8", cspInbox))
	e.GET("/widget.js", s.page("embed.js", "text/javascript; charset=utf-8", ""))
	e.GET("/assets/*path", func(c *gin.Context) {
		name := strings.TrimPrefix(c.Param("path"), "/")
		// No directory listings, no climbing out of assets/.
		if name == "" || strings.HasSuffix(name, "/") || !fs.ValidPath(name) {
			s.writeError(c, sb.Errorf(sb.ENOTFOUND, "no asset %q", name))
			return
		}
		b, err := fs.ReadFile(assets, name)
		if err != nil {
			s.writeError(c, sb.Errorf(sb.ENOTFOUND, "no asset %q", name))
			return
		}
		c.Header("X-Content-Type-Options", "nosniff")
		c.Header("Cache-Control", "no-cache")
		c.Data(http.StatusOK, assetType(name), b)
	})
}

// page serves one embedded file; "no-cache" makes browsers revalidate, so a
// new release's pages are picked up at once.
func (s *Server) page(name, contentType, csp string) gin.HandlerFunc {
	b, err := fs.ReadFile(web.Files, name)
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if csp != "" {
			h.Set("Content-Security-Policy", csp)
			// Calls need the microphone, also inside a third-party iframe.
			h.Set("Permissions-Policy", "microphone=(self), camera=()")
		}
		c.Data(http.StatusOK, contentType, b)
	}
}

func assetType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".ico":
		return "image/x-icon"
	}
	return "application/octet-stream"
}
