package webrtc

// G.711 (ITU-T G.711) companding between 16-bit linear PCM and 8-bit
// μ-law (PCMU) and A-law (PCMA). Encoding is arithmetic; decoding goes
// through 256-entry tables built once.

const (
	ulawBias = 0x84  // added before the segment search so every segment has 16 steps
	ulawClip = 32635 // largest magnitude that still fits after the bias
)

var ulawTable, alawTable = func() (u, a [256]int16) {
	for i := range 256 {
		u[i] = ulawDecodeSlow(byte(i))
		a[i] = alawDecodeSlow(byte(i))
	}
	return u, a
}()

// ulawEncode compresses one sample to μ-law.
func ulawEncode(s int16) byte {
	x := int(s)
	var sign byte
	if x < 0 {
		x, sign = -x, 0x80
	}
	x = min(x, ulawClip) + ulawBias
	exp := 7
	for mask := 0x4000; x&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := (x >> (exp + 3)) & 0x0F
	return ^(sign | byte(exp<<4) | byte(mant))
}

// ulawDecode expands one μ-law byte.
func ulawDecode(b byte) int16 { return ulawTable[b] }

func ulawDecodeSlow(b byte) int16 {
	b = ^b
	exp := int(b>>4) & 0x07
	x := ((int(b&0x0F) << 3) + ulawBias) << exp
	x -= ulawBias
	if b&0x80 != 0 {
		return int16(-x)
	}
	return int16(x)
}

// alawSegEnd is the upper bound of each of the eight A-law segments, in
// the 13-bit magnitude domain.
var alawSegEnd = [8]int{0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF}

// alawEncode compresses one sample to A-law (even bits inverted, as sent).
func alawEncode(s int16) byte {
	x := int(s) >> 3 // A-law works on 13 bits
	mask := byte(0xD5)
	if x < 0 {
		mask, x = 0x55, -x-1
	}
	seg := 0
	for seg < len(alawSegEnd) && x > alawSegEnd[seg] {
		seg++
	}
	if seg == len(alawSegEnd) {
		return 0x7F ^ mask
	}
	v := byte(seg << 4)
	if seg < 2 {
		v |= byte(x>>1) & 0x0F
	} else {
		v |= byte(x>>seg) & 0x0F
	}
	return v ^ mask
}

// alawDecode expands one A-law byte.
func alawDecode(b byte) int16 { return alawTable[b] }

func alawDecodeSlow(b byte) int16 {
	b ^= 0x55
	t := int(b&0x0F) << 4
	switch seg := int(b&0x70) >> 4; seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t = (t + 0x108) << (seg - 1)
	}
	if b&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

// encoder turns one 20 ms frame into one RTP payload, appended to dst.
type encoder interface {
	encode(dst []byte, pcm []int16) ([]byte, error)
}

// decoder turns one RTP payload into samples, appended to dst.
type decoder interface {
	decode(dst []int16, payload []byte) ([]int16, error)
}

// g711 is a stateless G.711 flavour as an encoder and decoder.
type g711 struct {
	enc func(int16) byte
	dec func(byte) int16
}

var (
	pcmu = g711{ulawEncode, ulawDecode}
	pcma = g711{alawEncode, alawDecode}
)

func (g g711) encode(dst []byte, pcm []int16) ([]byte, error) {
	for _, s := range pcm {
		dst = append(dst, g.enc(s))
	}
	return dst, nil
}

func (g g711) decode(dst []int16, payload []byte) ([]int16, error) {
	for _, b := range payload {
		dst = append(dst, g.dec(b))
	}
	return dst, nil
}

// EncodePCMU appends the μ-law encoding of pcm to dst: a browser-side
// client's microphone (tests, load generators).
func EncodePCMU(dst []byte, pcm []int16) []byte {
	dst, _ = pcmu.encode(dst, pcm)
	return dst
}

// DecodePCMU appends the samples of a μ-law payload to dst.
func DecodePCMU(dst []int16, payload []byte) []int16 {
	dst, _ = pcmu.decode(dst, payload)
	return dst
}

// EncodeULaw, DecodeULaw, EncodeALaw and DecodeALaw compand one sample,
// for clients that build or read G.711 payloads themselves (load
// generators).
func EncodeULaw(s int16) byte { return ulawEncode(s) }

// DecodeULaw expands one μ-law byte.
func DecodeULaw(b byte) int16 { return ulawDecode(b) }

// EncodeALaw compresses one sample to A-law.
func EncodeALaw(s int16) byte { return alawEncode(s) }

// DecodeALaw expands one A-law byte.
func DecodeALaw(b byte) int16 { return alawDecode(b) }
