package exolve

import "strings"

// Exolve writes phone numbers as bare digits, 11 of them starting with 7
// for Russia ("79991112233"); a leading "+" is refused. Switchboard speaks
// E.164. Every documented example is Russian, so for other countries the
// E.164 digits are passed on as they are (see README.md).

// wireNumber turns an E.164 number into Exolve's form; ok is false when s
// is not a phone number at all.
func wireNumber(s string) (digits string, ok bool) {
	d := strings.TrimPrefix(s, "+")
	if d == "" || !allDigits(d) {
		return "", false
	}
	return d, true
}

// wireSender turns our sender into Exolve's "number": an E.164 number
// loses its "+", and an alphanumeric sender name goes as it is.
func wireSender(from string) string {
	if strings.HasPrefix(from, "+") {
		if d, ok := wireNumber(from); ok {
			return d
		}
	}
	return from
}

// e164 turns a number as Exolve writes it back into E.164. A sender name
// (an outgoing SMS sent from an alpha name) is left as it is.
func e164(s string) string {
	if s != "" && allDigits(s) {
		return "+" + s
	}
	return s
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
