// Package web holds the browser pages Switchboard serves: the customer
// widget (chat and calls in one thread), its one-script-tag embed, and the
// agent inbox. They are plain HTML, CSS and JavaScript with no build step
// and no third-party code, so the binary carries everything it serves.
package web

import "embed"

// Files is the page tree: widget.html, inbox.html, embed.js (served as
// /widget.js) and assets/ (scripts and styles the pages load).
//
//go:embed widget.html inbox.html embed.js assets
var Files embed.FS
