package webrtc

import "testing"

func TestG711KnownValues(t *testing.T) {
	tests := []struct {
		name string
		got  int
		want int
	}{
		{"ulaw encode 0", int(ulawEncode(0)), 0xFF},
		{"ulaw encode -1", int(ulawEncode(-1)), 0x7F},
		{"ulaw encode max", int(ulawEncode(32767)), 0x80},
		{"ulaw encode min", int(ulawEncode(-32768)), 0x00},
		{"ulaw decode 0xFF", int(ulawDecode(0xFF)), 0},
		{"ulaw decode 0x7F", int(ulawDecode(0x7F)), 0},
		{"ulaw decode 0x80", int(ulawDecode(0x80)), 32124},
		{"ulaw decode 0x00", int(ulawDecode(0x00)), -32124},
		{"ulaw decode 0xEF", int(ulawDecode(0xEF)), 132}, // segment 1, step 0: (132<<1) - 132
		{"alaw encode 0", int(alawEncode(0)), 0xD5},
		{"alaw encode -1", int(alawEncode(-1)), 0x55},
		{"alaw encode max", int(alawEncode(32767)), 0xAA},
		{"alaw encode min", int(alawEncode(-32768)), 0x2A},
		{"alaw decode 0xD5", int(alawDecode(0xD5)), 8},
		{"alaw decode 0x55", int(alawDecode(0x55)), -8},
		{"alaw decode 0xAA", int(alawDecode(0xAA)), 32256},
		{"alaw decode 0x2A", int(alawDecode(0x2A)), -32256},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %#x (%d), want %#x (%d)", tt.name, tt.got, tt.got, tt.want, tt.want)
		}
	}
}

// Every code word decodes to a value that encodes back to it (μ-law's
// negative zero 0x7F excepted: it decodes to 0, which encodes as 0xFF).
func TestG711CodeWordsRoundTrip(t *testing.T) {
	for i := range 256 {
		b := byte(i)
		if got := ulawEncode(ulawDecode(b)); got != b && b != 0x7F {
			t.Errorf("ulaw %#x → %d → %#x", b, ulawDecode(b), got)
		}
		if got := alawEncode(alawDecode(b)); got != b {
			t.Errorf("alaw %#x → %d → %#x", b, alawDecode(b), got)
		}
	}
}

// Companding keeps the error proportional to the magnitude: about 1/32 of
// the sample plus a small floor, over the whole range below clipping.
func TestG711RoundTripError(t *testing.T) {
	codecs := []struct {
		name   string
		enc    func(int16) byte
		dec    func(byte) int16
		relDiv int // error ≤ |x|/relDiv + floor
		floor  int
	}{
		{"ulaw", ulawEncode, ulawDecode, 32, 8},
		{"alaw", alawEncode, alawDecode, 32, 16},
	}
	for _, c := range codecs {
		worst := 0
		for x := -32000; x <= 32000; x++ {
			got := int(c.dec(c.enc(int16(x))))
			err := abs(got - x)
			if err > abs(x)/c.relDiv+c.floor {
				t.Fatalf("%s: %d → %d, error %d too large", c.name, x, got, err)
			}
			if (got < 0) != (x < 0) && got != 0 {
				t.Fatalf("%s: %d → %d changed sign", c.name, x, got)
			}
			worst = max(worst, err)
		}
		t.Logf("%s: worst absolute error %d", c.name, worst)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
