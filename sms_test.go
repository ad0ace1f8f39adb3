package switchboard

import (
	"strings"
	"testing"
)

func TestSMSSegments(t *testing.T) {
	tests := []struct {
		name     string
		text     string
		encoding string
		segments int
	}{
		{"empty", "", EncodingGSM7, 1},
		{"plain", "Hello, world!", EncodingGSM7, 1},
		{"160 gsm fits one", strings.Repeat("a", 160), EncodingGSM7, 1},
		{"161 gsm needs two", strings.Repeat("a", 161), EncodingGSM7, 2},
		{"306 gsm is two", strings.Repeat("a", 306), EncodingGSM7, 2},
		{"307 gsm is three", strings.Repeat("a", 307), EncodingGSM7, 3},
		{"extension chars cost two", strings.Repeat("€", 80), EncodingGSM7, 1},
		{"extension overflow", strings.Repeat("€", 81), EncodingGSM7, 2},
		{"escape not split", strings.Repeat("a", 152) + "€" + strings.Repeat("a", 152), EncodingGSM7, 3},
		{"cyrillic is ucs2", "Привет", EncodingUCS2, 1},
		{"70 ucs2 fits", strings.Repeat("ж", 70), EncodingUCS2, 1},
		{"71 ucs2 two", strings.Repeat("ж", 71), EncodingUCS2, 2},
		{"134 ucs2 two", strings.Repeat("ж", 134), EncodingUCS2, 2},
		{"135 ucs2 three", strings.Repeat("ж", 135), EncodingUCS2, 3},
		{"emoji is two units", strings.Repeat("😀", 35), EncodingUCS2, 1},
		{"emoji overflow", strings.Repeat("😀", 36), EncodingUCS2, 2},
		{"gsm accents stay gsm", "Ça va? Äö ñ", EncodingGSM7, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, seg := SMSSegments(tt.text)
			if enc != tt.encoding || seg != tt.segments {
				t.Fatalf("SMSSegments = %s/%d, want %s/%d", enc, seg, tt.encoding, tt.segments)
			}
		})
	}
}

func TestStatusNeverMovesBackwards(t *testing.T) {
	tests := []struct {
		from, to Status
		ok       bool
	}{
		{StatusAccepted, StatusQueued, true},
		{StatusQueued, StatusSending, true},
		{StatusSent, StatusDelivered, true},
		{StatusDelivered, StatusSent, false},
		{StatusDelivered, StatusRead, true},
		{StatusDelivered, StatusUndelivered, false},
		{StatusDelivered, StatusFailed, false},
		{StatusSent, StatusUndelivered, true},
		{StatusRead, StatusDelivered, false},
		{StatusFailed, StatusDelivered, false},
		{StatusUndelivered, StatusDelivered, false},
		{StatusSending, StatusQueued, false},
		{StatusSent, StatusSent, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.from)+"->"+string(tt.to), func(t *testing.T) {
			if got := tt.from.CanMoveTo(tt.to); got != tt.ok {
				t.Fatalf("CanMoveTo = %v, want %v", got, tt.ok)
			}
		})
	}
}
