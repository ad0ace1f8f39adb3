//go:build opus && cgo

package webrtc

/*
#cgo pkg-config: opus
#include <opus.h>

// Variadic ctl macros cannot be called from Go.
static int sb_opus_set_bitrate(OpusEncoder *e, opus_int32 bps) { return opus_encoder_ctl(e, OPUS_SET_BITRATE(bps)); }
static int sb_opus_set_fec(OpusEncoder *e, opus_int32 on) { return opus_encoder_ctl(e, OPUS_SET_INBAND_FEC(on)); }
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// OpusSupported reports whether this build negotiates Opus: built with
// the opus tag against libopus (Debian: libopus-dev).
const OpusSupported = true

// opusBitrate suits narrowband voice: the line is 8 kHz PCM either way.
const opusBitrate = 24000

type opusEncoder struct{ e *C.OpusEncoder }

type opusDecoder struct{ d *C.OpusDecoder }

func opusError(op string, code C.int) error {
	return fmt.Errorf("webrtc: opus %s: %s", op, C.GoString(C.opus_strerror(code)))
}

// newOpusEncoder makes a mono VoIP encoder fed 8 kHz frames (Opus codes
// them as narrowband; the RTP clock stays 48 kHz).
func newOpusEncoder() (encoder, error) {
	var code C.int
	e := C.opus_encoder_create(C.opus_int32(sampleRate), 1, C.OPUS_APPLICATION_VOIP, &code)
	if code != C.OPUS_OK || e == nil {
		return nil, opusError("encoder", code)
	}
	C.sb_opus_set_bitrate(e, opusBitrate)
	C.sb_opus_set_fec(e, 1)
	enc := &opusEncoder{e}
	runtime.AddCleanup(enc, func(e *C.OpusEncoder) { C.opus_encoder_destroy(e) }, e)
	return enc, nil
}

// maxOpusPacket bounds one encoded 20 ms packet (RFC 6716 allows 1275
// bytes per frame).
const maxOpusPacket = 1275

func (o *opusEncoder) encode(dst []byte, pcm []int16) ([]byte, error) {
	if len(pcm) == 0 {
		return dst, nil
	}
	start := len(dst)
	dst = append(dst, make([]byte, maxOpusPacket)...)
	n := C.opus_encode(o.e, (*C.opus_int16)(unsafe.Pointer(&pcm[0])), C.int(len(pcm)),
		(*C.uchar)(unsafe.Pointer(&dst[start])), C.opus_int32(maxOpusPacket))
	runtime.KeepAlive(o)
	if n < 0 {
		return dst[:start], opusError("encode", C.int(n))
	}
	return dst[:start+int(n)], nil
}

// newOpusDecoder makes a mono decoder producing 8 kHz samples.
func newOpusDecoder() (decoder, error) {
	var code C.int
	d := C.opus_decoder_create(C.opus_int32(sampleRate), 1, &code)
	if code != C.OPUS_OK || d == nil {
		return nil, opusError("decoder", code)
	}
	dec := &opusDecoder{d}
	runtime.AddCleanup(dec, func(d *C.OpusDecoder) { C.opus_decoder_destroy(d) }, d)
	return dec, nil
}

// maxOpusSamples is 120 ms at 8 kHz, the longest Opus packet.
const maxOpusSamples = sampleRate * 120 / 1000

func (o *opusDecoder) decode(dst []int16, payload []byte) ([]int16, error) {
	if len(payload) == 0 {
		return dst, nil
	}
	start := len(dst)
	dst = append(dst, make([]int16, maxOpusSamples)...)
	n := C.opus_decode(o.d, (*C.uchar)(unsafe.Pointer(&payload[0])), C.opus_int32(len(payload)),
		(*C.opus_int16)(unsafe.Pointer(&dst[start])), C.int(maxOpusSamples), 0)
	runtime.KeepAlive(o)
	if n < 0 {
		return dst[:start], opusError("decode", C.int(n))
	}
	return dst[:start+int(n)], nil
}
