// Package routing attaches every interaction to a customer record. Its
// first job is identity: normalising each channel's addresses so the same
// person is recognised however they are written.
package routing

import (
	"strings"
	"sync"

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

// NormalizeSender is NormalizeAddress for our own sending address: on SMS
// it also accepts an alphanumeric sender ID ("MyShop": 1 to 11 letters,
// digits, spaces, with at least one letter), as carriers and MTS Exolve's
// alpha names allow.
func NormalizeSender(ch sb.Channel, addr string) (string, error) {
	a := strings.TrimSpace(addr)
	if ch == sb.ChannelSMS && alphaSender(a) {
		return a, nil
	}
	if (ch == sb.ChannelSMS || ch == sb.ChannelWhatsApp) && messagingService(a) {
		return a, nil // a Twilio Messaging Service picks the number itself
	}
	return NormalizeAddress(ch, addr)
}

// messagingService reports whether s is a Twilio Messaging Service SID
// (MG and 32 hex digits).
func messagingService(s string) bool {
	if len(s) != 34 || !strings.HasPrefix(s, "MG") {
		return false
	}
	for _, r := range s[2:] {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
			return false
		}
	}
	return true
}

func alphaSender(s string) bool {
	if len(s) == 0 || len(s) > 11 {
		return false
	}
	letter := false
	for _, r := range s {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
			letter = true
		case r >= '0' && r <= '9', r == ' ', r == '-', r == '.', r == '&':
		default:
			return false
		}
	}
	return letter
}

// phoneCache remembers recent parses: the same senders and customers recur,
// and parsing (regular expressions over the metadata) is the costliest step
// of accepting a message.
var phoneCache = struct {
	sync.RWMutex
	m map[string]phoneResult
}{m: map[string]phoneResult{}}

type phoneResult struct {
	e164 string
	err  error
}

const phoneCacheMax = 100_000

// NormalizePhone parses an international number ("+7 999 123-45-67",
// "00 7 999…") into E.164. Numbers without a country code are refused:
// there is no default region to guess from.
func NormalizePhone(s string) (string, error) {
	phoneCache.RLock()
	r, ok := phoneCache.m[s]
	phoneCache.RUnlock()
	if ok {
		return r.e164, r.err
	}
	e164, err := parsePhone(s)
	phoneCache.Lock()
	if len(phoneCache.m) >= phoneCacheMax {
		clear(phoneCache.m)
	}
	phoneCache.m[s] = phoneResult{e164, err}
	phoneCache.Unlock()
	return e164, err
}

func parsePhone(s string) (string, error) {
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
