package webhook

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"
)

// ErrBlockedDestination is wrapped by every refusal of the SSRF guard, so the
// api can map it to its blocked-destination problem and the queue can tell a
// refused dial from an ordinary network failure.
var ErrBlockedDestination = errors.New("webhook: blocked destination")

// Guard keeps webhook deliveries away from the server's own network: an
// endpoint URL is customer input, and without the guard it could reach
// loopback services, the private network or a cloud metadata endpoint.
//
// AllowPrivate admits loopback, private (RFC 1918, unique local) and
// carrier-grade NAT ranges, for development and for tests against httptest
// servers. Link-local, metadata and the other special ranges stay refused.
type Guard struct {
	AllowPrivate bool
}

// BlockedError says which destination the guard refused and why, so the
// caller can show a customer more than "blocked". It matches
// ErrBlockedDestination under errors.Is.
type BlockedError struct {
	// Host is the destination as given: an address, a host name or a dial
	// address.
	Host string
	// Addr is the address that was classified: the embedded IPv4 for mapped,
	// compatible, NAT64 and 6to4 forms. It is the zero Addr for names.
	Addr netip.Addr
	// Range names the refused range, such as "loopback" or "cloud metadata".
	Range string
	// Prefix is the refused range; it is the zero Prefix for names.
	Prefix netip.Prefix
}

// Error names the destination and the range it fell in.
func (e *BlockedError) Error() string {
	msg := ErrBlockedDestination.Error() + ": " + e.Host
	if e.Addr.IsValid() && e.Addr.String() != e.Host {
		msg += " (" + e.Addr.String() + ")"
	}
	msg += " is " + e.Range
	if e.Prefix.IsValid() {
		msg += " " + e.Prefix.String()
	}
	return msg
}

// Is makes errors.Is(err, ErrBlockedDestination) true.
func (e *BlockedError) Is(target error) bool { return target == ErrBlockedDestination }

// blockedRange is one refused range. private ranges are admitted by
// Guard.AllowPrivate; the rest are refused always.
type blockedRange struct {
	prefix  netip.Prefix
	name    string
	private bool
}

// blockedRanges is searched in order and the first match wins, so the
// metadata addresses come before the link-local, CGNAT and unique local
// ranges that contain them: AllowPrivate must never admit them.
var blockedRanges = []blockedRange{
	// Cloud metadata services: credentials live there.
	{netip.MustParsePrefix("169.254.169.254/32"), "cloud metadata", false}, // AWS, GCP, Azure, OpenStack, DigitalOcean
	{netip.MustParsePrefix("169.254.170.2/32"), "cloud metadata", false},   // AWS ECS task credentials
	{netip.MustParsePrefix("100.100.100.200/32"), "cloud metadata", false}, // Alibaba Cloud
	{netip.MustParsePrefix("192.0.0.192/32"), "cloud metadata", false},     // Oracle Cloud
	{netip.MustParsePrefix("168.63.129.16/32"), "cloud metadata", false},   // Azure WireServer
	{netip.MustParsePrefix("fd00:ec2::254/128"), "cloud metadata", false},  // AWS over IPv6

	// IPv4.
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified", false},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback", true},
	{netip.MustParsePrefix("10.0.0.0/8"), "private", true},
	{netip.MustParsePrefix("172.16.0.0/12"), "private", true},
	{netip.MustParsePrefix("192.168.0.0/16"), "private", true},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT", true},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local", false},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments", false},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation", false},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation", false},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation", false},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking", false},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay anycast", false},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast", false},
	{netip.MustParsePrefix("255.255.255.255/32"), "broadcast", false},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved", false},

	// IPv6. Mapped, compatible, NAT64 and 6to4 forms never get here: they
	// are unwrapped to IPv4 first.
	{netip.MustParsePrefix("::/128"), "unspecified", false},
	{netip.MustParsePrefix("::1/128"), "loopback", true},
	{netip.MustParsePrefix("fc00::/7"), "private", true},
	{netip.MustParsePrefix("fe80::/10"), "link-local", false},
	{netip.MustParsePrefix("fec0::/10"), "site-local", false},
	{netip.MustParsePrefix("ff00::/8"), "multicast", false},
	{netip.MustParsePrefix("100::/64"), "discard-only", false},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64", false},
	{netip.MustParsePrefix("2001::/32"), "Teredo", false}, // tunnels to an obfuscated IPv4
	{netip.MustParsePrefix("2001::/23"), "IETF protocol assignments", false},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation", false},
	{netip.MustParsePrefix("3fff::/20"), "documentation", false},
}

// globalUnicast6 is the only IPv6 space currently allocated for the public
// internet; anything outside it is refused, so ranges assigned in the future
// fail closed.
var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// IPv6 forms that carry an IPv4 address. Each is unwrapped and the IPv4 is
// checked, or ::ffff:127.0.0.1 would walk past a check for 127.0.0.0/8.
var (
	ipv4Compatible = netip.MustParsePrefix("::/96")           // ::a.b.c.d, deprecated but still routed by some stacks
	ipv4Translated = netip.MustParsePrefix("::ffff:0:0:0/96") // SIIT, RFC 2765
	nat64          = netip.MustParsePrefix("64:ff9b::/96")    // RFC 6052 well-known prefix
	sixToFour      = netip.MustParsePrefix("2002::/16")       // RFC 3056, IPv4 in bits 16-47
)

// CheckIP refuses addresses that a webhook must not reach. Addresses that
// embed an IPv4 address (IPv4-mapped, IPv4-compatible, SIIT, NAT64 and 6to4)
// are judged by the embedded address. The error wraps ErrBlockedDestination
// and names the range.
func (g Guard) CheckIP(ip netip.Addr) error {
	if !ip.IsValid() {
		return &BlockedError{Host: "invalid address", Range: "not an IP address"}
	}
	host := ip.String()
	addr := unwrapIPv4(ip.WithZone(""))
	if r, ok := lookupRange(addr); ok {
		if r.private && g.AllowPrivate {
			return nil
		}
		return &BlockedError{Host: host, Addr: addr, Range: r.name, Prefix: r.prefix}
	}
	if addr.Is6() && !globalUnicast6.Contains(addr) {
		return &BlockedError{Host: host, Addr: addr, Range: "outside global unicast", Prefix: globalUnicast6}
	}
	return nil
}

// unwrapIPv4 returns the IPv4 address embedded in ip, or ip itself.
func unwrapIPv4(ip netip.Addr) netip.Addr {
	if ip.Is4In6() {
		return ip.Unmap()
	}
	if !ip.Is6() {
		return ip
	}
	b := ip.As16()
	switch {
	case ip == netip.IPv6Unspecified() || ip == netip.IPv6Loopback():
		// Inside ::/96 but not IPv4-compatible; classified as IPv6.
		return ip
	case ipv4Compatible.Contains(ip), ipv4Translated.Contains(ip), nat64.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16]))
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6]))
	}
	return ip
}

// lookupRange returns the first blocked range containing ip.
func lookupRange(ip netip.Addr) (blockedRange, bool) {
	for _, r := range blockedRanges {
		if r.prefix.Contains(ip) {
			return r, true
		}
	}
	return blockedRange{}, false
}

// Control checks the address a net.Dialer is about to connect to. Set as
// net.Dialer.Control it runs after DNS resolution and for every address
// tried, so a host name that resolves (or re-resolves, as in DNS rebinding)
// to a refused address is stopped before any byte is sent. An address it
// cannot parse is refused.
func (g Guard) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &BlockedError{Host: address, Range: fmt.Sprintf("not an IP address (%s)", network)}
	}
	return g.CheckIP(ap.Addr())
}
