package webhook

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// ErrInvalidURL is wrapped when an endpoint URL is malformed or in a form we
// refuse to guess about (userinfo, non-canonical IPv4); the api reports it as
// a validation error, distinct from ErrBlockedDestination.
var ErrInvalidURL = errors.New("webhook: invalid endpoint URL")

// metadataHosts are the names cloud providers give their metadata services.
// They are refused at create time with a clear message even though the dial
// check would stop them too.
var metadataHosts = map[string]bool{
	"metadata.google.internal":   true,
	"metadata.goog":              true,
	"metadata":                   true,
	"instance-data":              true,
	"instance-data.ec2.internal": true,
}

// internalSuffixes are name spaces that only resolve inside a private network
// (mDNS, RFC 8375, ICANN's .internal, Kubernetes); like single-label names
// they are refused unless AllowPrivate.
var internalSuffixes = []string{".internal", ".local", ".localdomain", ".home.arpa", ".lan", ".intranet", ".corp"}

// CheckURL validates an endpoint URL when it is created, so a customer learns
// at once that it will never be delivered to. It requires http or https, a
// host and no userinfo; IP literals, including IPv6 forms embedding IPv4 and
// the decimal, octal and hex shorthands that resolvers accept (2130706433,
// 0x7f.1), are checked with CheckIP, and shorthands are refused even when
// public because resolvers disagree on them. localhost and *.localhost are
// loopback. Other host names pass: they are checked again at dial time,
// after DNS.
func (g Guard) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%w: scheme must be http or https", ErrInvalidURL)
	}
	if u.Opaque != "" || u.Host == "" {
		return fmt.Errorf("%w: host is missing", ErrInvalidURL)
	}
	if u.User != nil {
		return fmt.Errorf("%w: userinfo is not allowed", ErrInvalidURL)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%w: invalid port %q", ErrInvalidURL, p)
		}
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("%w: host is missing", ErrInvalidURL)
	}
	if strings.HasPrefix(u.Host, "[") {
		ip, err := netip.ParseAddr(host)
		if err != nil || !ip.Is6() {
			return fmt.Errorf("%w: invalid IPv6 literal %q", ErrInvalidURL, host)
		}
		return g.CheckIP(ip)
	}
	return g.checkHost(host)
}

// checkHost classifies an unbracketed host: a dotted-quad, a numeric IPv4
// shorthand, a special name or an ordinary DNS name.
func (g Guard) checkHost(host string) error {
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if name == "" {
		return fmt.Errorf("%w: host is missing", ErrInvalidURL)
	}
	if ip, err := netip.ParseAddr(name); err == nil {
		if !ip.Is4() {
			return fmt.Errorf("%w: IPv6 literal %q must be in brackets", ErrInvalidURL, host)
		}
		return g.CheckIP(ip)
	}
	if endsInNumber(name) {
		ip, ok := parseIPv4Loose(name)
		if !ok {
			return fmt.Errorf("%w: host %q looks numeric but is not an IPv4 address", ErrInvalidURL, host)
		}
		if err := g.CheckIP(ip); err != nil {
			return err
		}
		return fmt.Errorf("%w: non-canonical IPv4 host %q; write it as %s", ErrInvalidURL, host, ip)
	}
	if err := validHostname(name); err != nil {
		return fmt.Errorf("%w: host %q: %v", ErrInvalidURL, host, err)
	}
	switch {
	case name == "localhost" || strings.HasSuffix(name, ".localhost"):
		if g.AllowPrivate {
			return nil
		}
		return &BlockedError{Host: host, Range: "loopback"}
	case metadataHosts[name]:
		return &BlockedError{Host: host, Range: "cloud metadata"}
	case g.AllowPrivate:
		return nil
	case !strings.Contains(name, "."):
		return &BlockedError{Host: host, Range: "an internal (single-label) name"}
	}
	for _, s := range internalSuffixes {
		if strings.HasSuffix(name, s) {
			return &BlockedError{Host: host, Range: "an internal name (" + s + ")"}
		}
	}
	return nil
}

// validHostname accepts ASCII DNS names (letters, digits, '-', '_'). Unicode
// names must arrive in their xn-- form: Go's resolver does not apply IDNA, so
// what we validated would not be what gets resolved.
func validHostname(name string) error {
	if len(name) > 253 {
		return errors.New("name longer than 253 bytes")
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 {
			return errors.New("empty or over-long label")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			case c >= 0x80:
				return errors.New("non-ASCII name; use its punycode (xn--) form")
			default:
				return fmt.Errorf("invalid character %q", c)
			}
		}
	}
	return nil
}

// endsInNumber reports whether the last label of name is a decimal or 0x hex
// number, which is when the WHATWG URL standard (and so browsers and
// inet_aton-based resolvers) treat the whole host as an IPv4 address.
func endsInNumber(name string) bool {
	last := name[strings.LastIndexByte(name, '.')+1:]
	if last == "" {
		return false
	}
	if hex, ok := strings.CutPrefix(last, "0x"); ok {
		return strings.Trim(hex, "0123456789abcdef") == ""
	}
	return strings.Trim(last, "0123456789") == ""
}

// parseIPv4Loose parses the inet_aton forms of an IPv4 address: one to four
// dot-separated parts, each decimal, octal (leading 0) or hex (0x), with the
// last part filling the remaining bytes, so 2130706433, 0177.1 and 0x7f.1 are
// all 127.0.0.1. name is already lower-cased.
func parseIPv4Loose(name string) (netip.Addr, bool) {
	parts := strings.Split(name, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var v uint64
	for i, p := range parts {
		n, ok := parseIPv4Part(p)
		if !ok {
			return netip.Addr{}, false
		}
		if i < len(parts)-1 {
			if n > 0xff {
				return netip.Addr{}, false
			}
			v = v<<8 | n
			continue
		}
		rest := uint(8 * (4 - i)) // bits left for the last part
		if n >= 1<<rest {
			return netip.Addr{}, false
		}
		v = v<<rest | n
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// parseIPv4Part parses one part of an inet_aton address.
func parseIPv4Part(p string) (uint64, bool) {
	base := 10
	switch {
	case p == "":
		return 0, false
	case strings.HasPrefix(p, "0x"):
		p, base = p[2:], 16
		if p == "" {
			return 0, true // "0x" alone is zero, as in WHATWG
		}
	case len(p) > 1 && p[0] == '0':
		p, base = p[1:], 8
	}
	n, err := strconv.ParseUint(p, base, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}
