package switchboard

// SMS encodings reported on sms messages.
const (
	EncodingGSM7 = "GSM-7"
	EncodingUCS2 = "UCS-2"
)

// gsm7Basic is the GSM 03.38 default alphabet; each costs one septet.
const gsm7Basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsm7Ext is the extension table; each costs an escape plus one septet.
const gsm7Ext = "\f^{}\\[~]|€"

var gsm7Cost = func() map[rune]int {
	m := make(map[rune]int, 140)
	for _, r := range gsm7Basic {
		m[r] = 1
	}
	for _, r := range gsm7Ext {
		m[r] = 2
	}
	return m
}()

// SMSSegments reports how text travels as SMS: GSM-7 when every character is
// in the GSM alphabet, else UCS-2, and how many segments it takes (160/153
// septets or 70/67 UTF-16 units per single/concatenated segment). An escaped
// GSM character is never split across segments, nor is a surrogate pair.
func SMSSegments(text string) (encoding string, segments int) {
	septets := 0
	gsm := true
	for _, r := range text {
		c, ok := gsm7Cost[r]
		if !ok {
			gsm = false
			break
		}
		septets += c
	}
	if gsm {
		if septets <= 160 {
			return EncodingGSM7, 1
		}
		segments, used := 1, 0
		for _, r := range text {
			c := gsm7Cost[r]
			if used+c > 153 {
				segments++
				used = 0
			}
			used += c
		}
		return EncodingGSM7, segments
	}
	units := 0
	for _, r := range text {
		units += utf16Len(r)
	}
	if units <= 70 {
		return EncodingUCS2, 1
	}
	segments, used := 1, 0
	for _, r := range text {
		c := utf16Len(r)
		if used+c > 67 {
			segments++
			used = 0
		}
		used += c
	}
	return EncodingUCS2, segments
}

func utf16Len(r rune) int {
	if r >= 0x10000 {
		return 2
	}
	return 1
}
