//go:build !opus || !cgo

package webrtc

import "errors"

// OpusSupported reports whether this build negotiates Opus: built with
// the opus tag against libopus (Debian: libopus-dev). This one is not, so
// browsers get G.711.
const OpusSupported = false

var errNoOpus = errors.New("webrtc: built without Opus (go build -tags opus, with libopus-dev)")

func newOpusEncoder() (encoder, error) { return nil, errNoOpus }

func newOpusDecoder() (decoder, error) { return nil, errNoOpus }
