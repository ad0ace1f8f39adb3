// Package routing attaches every interaction to a customer record. Its
// first job is identity: normalising each channel's addresses so the same
// person is recognised however they are written.
package routing

import (
	"strings"

	"github.com/nyaruka/phonenumbers"

	sb "github.com/switchboardhq/switchboard"
)

// NormalizeAddress returns addr in the canonical form for ch: E.164 for
// phone channels (sms, whatsapp, voice), a trimmed identifier otherwise. A
// "whatsapp:" prefix, as Twilio writes it, is accepted and dropped.
func NormalizeAddress(ch sb.Channel, addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	if ch.UsesPhoneNumbers() {
		addr = strings.TrimPrefix(addr, string(ch)+":")
		return NormalizePhone(addr)
	}
	if addr == "" {
		return "", sb.Errorf(sb.EINVALID, "must not be empty")
	}
	if len(addr) > 256 || strings.ContainsAny(addr, "\x00\r\n") {
		return "", sb.Errorf(sb.EINVALID, "not a valid %s address", ch)
	}
	return addr, nil
}

// NormalizePhone parses an international number ("+7 999 123-45-67",
// "00 7 999…") into E.164. Numbers without a country code are refused:
// there is no default region to guess from.
func NormalizePhone(s string) (string, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "00") {
		s = "+" + s[2:]
	}
	if !strings.HasPrefix(s, "+") {
		return "", sb.Errorf(sb.EINVALID, "must be an international number starting with + and a country code")
	}
	num, err := phonenumbers.Parse(s, "ZZ")
	if err != nil {
		return "", sb.Errorf(sb.EINVALID, "not a valid phone number")
	}
	// The sandbox's magic numbers live in the 555 test range, which is not a
	// "valid" assigned range; possible-length is the check that keeps them.
	if !phonenumbers.IsPossibleNumber(num) {
		return "", sb.Errorf(sb.EINVALID, "not a valid phone number")
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}
