package webhook

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestCheckIP(t *testing.T) {
	// rng is the range a default Guard must name ("" = allowed);
	// privateOK says whether Guard{AllowPrivate: true} admits it.
	tests := []struct {
		name      string
		addr      string
		rng       string
		privateOK bool
	}{
		// Public.
		{"public IPv4", "8.8.8.8", "", true},
		{"public IPv4 next to 172.16/12", "172.32.0.1", "", true},
		{"public IPv4 next to CGNAT", "100.128.0.1", "", true},
		{"public IPv6", "2606:4700:4700::1111", "", true},
		{"public IPv4 mapped", "::ffff:8.8.8.8", "", true},
		{"public IPv4 in NAT64", "64:ff9b::808:808", "", true},
		{"public IPv4 in 6to4", "2002:808:808::1", "", true},

		// Unspecified.
		{"0.0.0.0", "0.0.0.0", "unspecified", false},
		{"0.1.2.3", "0.1.2.3", "unspecified", false},
		{"::", "::", "unspecified", false},
		{"mapped 0.0.0.0", "::ffff:0.0.0.0", "unspecified", false},

		// Loopback.
		{"127.0.0.1", "127.0.0.1", "loopback", true},
		{"127.255.255.254", "127.255.255.254", "loopback", true},
		{"::1", "::1", "loopback", true},
		{"mapped loopback", "::ffff:127.0.0.1", "loopback", true},
		{"mapped loopback hex", "::ffff:7f00:1", "loopback", true},
		{"compatible loopback", "::127.0.0.1", "loopback", true},
		{"SIIT loopback", "::ffff:0:127.0.0.1", "loopback", true},
		{"NAT64 loopback", "64:ff9b::127.0.0.1", "loopback", true},
		{"NAT64 loopback hex", "64:ff9b::7f00:1", "loopback", true},
		{"6to4 loopback", "2002:7f00:1::", "loopback", true},
		{"loopback with zone", "::1%lo", "loopback", true},

		// Private.
		{"10/8", "10.1.2.3", "private", true},
		{"172.16/12 low", "172.16.0.1", "private", true},
		{"172.16/12 high", "172.31.255.255", "private", true},
		{"192.168/16", "192.168.1.1", "private", true},
		{"ULA fc00", "fc00::1", "private", true},
		{"ULA fd12", "fd12:3456::1", "private", true},
		{"mapped private", "::ffff:10.0.0.1", "private", true},
		{"compatible private", "::192.168.0.1", "private", true},
		{"NAT64 private", "64:ff9b::a00:1", "private", true},
		{"6to4 private", "2002:c0a8:101::1", "private", true},

		// Carrier-grade NAT.
		{"CGNAT low", "100.64.0.1", "carrier-grade NAT", true},
		{"CGNAT high", "100.127.255.254", "carrier-grade NAT", true},
		{"mapped CGNAT", "::ffff:100.64.0.1", "carrier-grade NAT", true},

		// Link-local: never admitted.
		{"169.254/16", "169.254.1.1", "link-local", false},
		{"fe80::/10", "fe80::1", "link-local", false},
		{"fe80 with zone", "fe80::1%eth0", "link-local", false},
		{"mapped link-local", "::ffff:169.254.1.1", "link-local", false},

		// Cloud metadata: never admitted, even inside admitted ranges.
		{"AWS/GCP/Azure metadata", "169.254.169.254", "cloud metadata", false},
		{"ECS credentials", "169.254.170.2", "cloud metadata", false},
		{"Alibaba metadata in CGNAT", "100.100.100.200", "cloud metadata", false},
		{"Oracle metadata", "192.0.0.192", "cloud metadata", false},
		{"Azure WireServer", "168.63.129.16", "cloud metadata", false},
		{"AWS IPv6 metadata in ULA", "fd00:ec2::254", "cloud metadata", false},
		{"mapped metadata", "::ffff:169.254.169.254", "cloud metadata", false},
		{"mapped metadata hex", "::ffff:a9fe:a9fe", "cloud metadata", false},
		{"compatible metadata", "::169.254.169.254", "cloud metadata", false},
		{"NAT64 metadata", "64:ff9b::a9fe:a9fe", "cloud metadata", false},
		{"6to4 metadata", "2002:a9fe:a9fe::", "cloud metadata", false},
		{"6to4 Alibaba metadata", "2002:6464:64c8::1", "cloud metadata", false},

		// Multicast, broadcast, reserved and other special ranges.
		{"IPv4 multicast", "224.0.0.1", "multicast", false},
		{"IPv4 multicast high", "239.255.255.250", "multicast", false},
		{"IPv6 multicast", "ff02::1", "multicast", false},
		{"broadcast", "255.255.255.255", "broadcast", false},
		{"mapped broadcast", "::ffff:255.255.255.255", "broadcast", false},
		{"reserved 240/4", "240.0.0.1", "reserved", false},
		{"benchmarking", "198.18.0.1", "benchmarking", false},
		{"benchmarking high", "198.19.255.255", "benchmarking", false},
		{"TEST-NET-1", "192.0.2.1", "documentation", false},
		{"TEST-NET-2", "198.51.100.1", "documentation", false},
		{"TEST-NET-3", "203.0.113.1", "documentation", false},
		{"IPv6 documentation", "2001:db8::1", "documentation", false},
		{"IETF protocol assignments", "192.0.0.8", "IETF protocol assignments", false},
		{"6to4 relay anycast", "192.88.99.1", "6to4 relay anycast", false},
		{"site-local", "fec0::1", "site-local", false},
		{"discard-only", "100::1", "discard-only", false},
		{"local-use NAT64", "64:ff9b:1::a00:1", "local-use NAT64", false},
		{"Teredo", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo", false},
		{"unallocated IPv6", "4000::1", "outside global unicast", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ip := netip.MustParseAddr(tt.addr)
			err := Guard{}.CheckIP(ip)
			checkBlocked(t, "Guard{}", err, tt.rng)

			err = Guard{AllowPrivate: true}.CheckIP(ip)
			if tt.privateOK {
				if err != nil {
					t.Errorf("Guard{AllowPrivate}: %v, want allowed", err)
				}
			} else {
				checkBlocked(t, "Guard{AllowPrivate}", err, tt.rng)
			}
		})
	}
}

func TestCheckIPInvalid(t *testing.T) {
	err := Guard{AllowPrivate: true}.CheckIP(netip.Addr{})
	if !errors.Is(err, ErrBlockedDestination) {
		t.Errorf("zero Addr: %v, want blocked", err)
	}
}

// checkBlocked asserts that err refuses the destination as range rng, or
// that err is nil when rng is empty.
func checkBlocked(t *testing.T, who string, err error, rng string) {
	t.Helper()
	if rng == "" {
		if err != nil {
			t.Errorf("%s: %v, want allowed", who, err)
		}
		return
	}
	if !errors.Is(err, ErrBlockedDestination) {
		t.Fatalf("%s: %v, want ErrBlockedDestination", who, err)
	}
	var be *BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("%s: %T is not *BlockedError", who, err)
	}
	if be.Range != rng {
		t.Errorf("%s: range %q, want %q (%v)", who, be.Range, rng, err)
	}
	if !strings.Contains(err.Error(), rng) {
		t.Errorf("%s: message %q does not name %q", who, err, rng)
	}
}

func TestCheckURL(t *testing.T) {
	// rng: the range a default Guard names; "" with invalid=false means
	// allowed. privateOK: Guard{AllowPrivate: true} admits it.
	tests := []struct {
		name      string
		url       string
		invalid   bool
		rng       string
		privateOK bool
	}{
		// Allowed.
		{"https name", "https://example.com/hooks/switchboard", false, "", true},
		{"http name with port", "http://hooks.example.com:8080/x?y=1", false, "", true},
		{"public IPv4", "https://8.8.8.8/hook", false, "", true},
		{"public IPv6", "https://[2606:4700:4700::1111]:443/hook", false, "", true},
		{"upper-case scheme", "HTTPS://example.com/", false, "", true},
		{"trailing dot", "https://example.com./", false, "", true},
		{"empty port", "https://example.com:/", false, "", true},
		{"numeric-looking label inside", "https://123.example.com/", false, "", true},
		{"hex-looking label not last", "https://0x7f.example.com/", false, "", true},

		// Malformed or refused outright.
		{"ftp scheme", "ftp://example.com/", true, "", false},
		{"file scheme", "file:///etc/passwd", true, "", false},
		{"gopher scheme", "gopher://127.0.0.1:6379/_INFO", true, "", false},
		{"no scheme", "example.com/hook", true, "", false},
		{"no host", "https:///hook", true, "", false},
		{"opaque", "http:example.com", true, "", false},
		{"userinfo", "https://user:pass@example.com/", true, "", false},
		{"userinfo without password", "https://user@example.com/", true, "", false},
		{"userinfo hiding loopback", "http://example.com@127.0.0.1/", true, "", false},
		{"port zero", "https://example.com:0/", true, "", false},
		{"port too large", "https://example.com:65536/", true, "", false},
		{"unparsable", "https://exa mple.com/", true, "", false},
		{"control character", "https://example.com/\x00", true, "", false},
		{"bad IPv6 literal", "http://[::1::2]/", true, "", false},
		{"IPv4 in brackets", "http://[127.0.0.1]/", true, "", false},
		{"non-ASCII host", "https://exämple.com/", true, "", false},
		{"percent-encoded host", "http://%31%32%37.0.0.1/", true, "", false},
		{"empty label", "https://a..example.com/", true, "", false},
		{"two trailing dots", "https://example.com../", true, "", false},
		{"label over 63 bytes", "https://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example.com/", true, "", false},
		{"name over 253 bytes", "https://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com/", true, "", false},
		{"invalid character", "https://exa!mple.com/", true, "", false},
		{"fullwidth digits", "http://\uff11\uff12\uff17.0.0.1/", true, "", false},
		{"numeric but not IPv4", "http://1.2.3.4.5/", true, "", false},
		{"octet too large", "http://256.0.0.1/", true, "", false},
		{"bad octal", "http://08.0.0.1/", true, "", false},
		{"hex label last without 0x", "http://example.7f/", false, "", true},
		{"public decimal shorthand", "http://134744072/", true, "", false},
		{"public dotted shorthand", "http://8.8.2056/", true, "", false},
		{"underscore in host", "https://my_host.example.com/", false, "", true},

		// Loopback.
		{"127.0.0.1", "http://127.0.0.1:8080/", false, "loopback", true},
		{"[::1]", "http://[::1]/", false, "loopback", true},
		{"localhost", "http://localhost:3000/hook", false, "loopback", true},
		{"LOCALHOST.", "http://LOCALHOST./", false, "loopback", true},
		{"sub.localhost", "http://api.localhost/", false, "loopback", true},
		{"mapped loopback", "http://[::ffff:127.0.0.1]/", false, "loopback", true},
		{"mapped loopback hex", "http://[::ffff:7f00:1]/", false, "loopback", true},
		{"compatible loopback", "http://[::127.0.0.1]/", false, "loopback", true},
		{"NAT64 loopback", "http://[64:ff9b::7f00:1]/", false, "loopback", true},
		{"6to4 loopback", "http://[2002:7f00:1::]/", false, "loopback", true},
		// Shorthands stay refused with AllowPrivate: they are non-canonical.
		{"decimal", "http://2130706433/", false, "loopback", false},
		{"hex", "http://0x7f000001/", false, "loopback", false},
		{"hex dotted", "http://0x7f.1/", false, "loopback", false},
		{"octal", "http://0177.0.0.1/", false, "loopback", false},
		{"short dotted", "http://127.1/", false, "loopback", false},
		{"upper-case hex", "http://0X7F.0.0.1/", false, "loopback", false},

		// Unspecified.
		{"0.0.0.0", "http://0.0.0.0/", false, "unspecified", false},
		{"zero shorthand", "http://0/", false, "unspecified", false},
		{"[::]", "http://[::]/", false, "unspecified", false},

		// Private and CGNAT.
		{"10/8", "https://10.0.0.5/", false, "private", true},
		{"172.16/12", "https://172.20.1.1/", false, "private", true},
		{"192.168/16", "https://192.168.0.1/", false, "private", true},
		{"ULA", "https://[fd00::1]/", false, "private", true},
		{"CGNAT", "https://100.64.1.1/", false, "carrier-grade NAT", true},
		{"mapped private", "http://[::ffff:192.168.1.1]/", false, "private", true},
		{"hex private", "http://0xc0a80101/", false, "private", false},

		// Link-local and metadata: never.
		{"link-local", "http://169.254.1.1/", false, "link-local", false},
		{"IPv6 link-local with zone", "http://[fe80::1%25eth0]/", false, "link-local", false},
		{"metadata", "http://169.254.169.254/latest/meta-data/", false, "cloud metadata", false},
		{"metadata decimal", "http://2852039166/", false, "cloud metadata", false},
		{"metadata mapped", "http://[::ffff:a9fe:a9fe]/", false, "cloud metadata", false},
		{"metadata NAT64", "http://[64:ff9b::a9fe:a9fe]/", false, "cloud metadata", false},
		{"ECS credentials", "http://169.254.170.2/v2/credentials", false, "cloud metadata", false},
		{"Alibaba metadata", "http://100.100.100.200/latest/meta-data/", false, "cloud metadata", false},
		{"Oracle metadata", "http://192.0.0.192/", false, "cloud metadata", false},
		{"AWS IPv6 metadata", "http://[fd00:ec2::254]/", false, "cloud metadata", false},
		{"GCP metadata name", "http://metadata.google.internal/computeMetadata/v1/", false, "cloud metadata", false},

		// Other ranges.
		{"multicast", "http://224.0.0.1/", false, "multicast", false},
		{"broadcast", "http://255.255.255.255/", false, "broadcast", false},
		{"reserved", "http://240.0.0.1/", false, "reserved", false},
		{"benchmarking", "http://198.18.0.1/", false, "benchmarking", false},

		// Internal-only names: refused unless AllowPrivate.
		{"single label", "http://redis:6379/", false, "an internal (single-label) name", true},
		{".internal", "http://hooks.corp.internal/", false, "an internal name (.internal)", true},
		{".local", "http://printer.local/", false, "an internal name (.local)", true},
		{"Kubernetes service", "http://api.default.svc.cluster.local/", false, "an internal name (.local)", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, g := range []Guard{{}, {AllowPrivate: true}} {
				err := g.CheckURL(tt.url)
				who := "Guard{}"
				if g.AllowPrivate {
					who = "Guard{AllowPrivate}"
				}
				switch {
				case tt.invalid:
					if !errors.Is(err, ErrInvalidURL) {
						t.Errorf("%s: %v, want ErrInvalidURL", who, err)
					}
				case g.AllowPrivate && tt.privateOK:
					if err != nil {
						t.Errorf("%s: %v, want allowed", who, err)
					}
				case g.AllowPrivate && admittedByAllowPrivate[tt.rng]:
					// A shorthand for an address AllowPrivate admits is
					// still refused, as non-canonical.
					if !errors.Is(err, ErrInvalidURL) {
						t.Errorf("%s: %v, want ErrInvalidURL", who, err)
					}
				default:
					checkBlocked(t, who, err, tt.rng)
				}
			}
		})
	}
}

// admittedByAllowPrivate are the ranges Guard{AllowPrivate: true} admits.
var admittedByAllowPrivate = map[string]bool{"loopback": true, "private": true, "carrier-grade NAT": true}

func TestCheckURLShorthandWithAllowPrivate(t *testing.T) {
	// The guard admits 127.0.0.1 here, but the shorthand is still refused
	// as non-canonical, with a message that shows the canonical form.
	err := Guard{AllowPrivate: true}.CheckURL("http://2130706433/")
	if !errors.Is(err, ErrInvalidURL) || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("CheckURL = %v, want ErrInvalidURL naming 127.0.0.1", err)
	}
}

func TestParseIPv4Loose(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" = not an IPv4 address
	}{
		{"2130706433", "127.0.0.1"},
		{"0x7f000001", "127.0.0.1"},
		{"0x7f.1", "127.0.0.1"},
		{"0177.0.0.1", "127.0.0.1"},
		{"0177.0.0.01", "127.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"127.0.1", "127.0.0.1"},
		{"10.0x10000", "10.1.0.0"},
		{"0x", "0.0.0.0"},
		{"0", "0.0.0.0"},
		{"4294967295", "255.255.255.255"},
		{"4294967296", ""},
		{"256.1", ""},
		{"1.256.1", ""},
		{"1.2.256", "1.2.1.0"},
		{"1.1.1.256", ""},
		{"1.1.65536", ""},
		{"08", ""},
		{"0x1g", ""},
		{"1..1", ""},
		{"1.2.3.4.5", ""},
		{"99999999999999999999999", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			ip, ok := parseIPv4Loose(tt.in)
			got := ""
			if ok {
				got = ip.String()
			}
			if got != tt.want {
				t.Errorf("parseIPv4Loose(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestControl(t *testing.T) {
	tests := []struct {
		name      string
		address   string
		rng       string
		privateOK bool
	}{
		{"public", "93.184.216.34:443", "", true},
		{"public IPv6", "[2606:4700:4700::1111]:443", "", true},
		{"loopback", "127.0.0.1:80", "loopback", true},
		{"mapped loopback", "[::ffff:127.0.0.1]:80", "loopback", true},
		{"metadata", "169.254.169.254:80", "cloud metadata", false},
		{"link-local with zone", "[fe80::1%eth0]:80", "link-local", false},
		{"not an address", "example.com:80", "not an IP address (tcp)", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkBlocked(t, "Guard{}", Guard{}.Control("tcp", tt.address, nil), tt.rng)
			err := Guard{AllowPrivate: true}.Control("tcp", tt.address, nil)
			if tt.privateOK {
				if err != nil {
					t.Errorf("Guard{AllowPrivate}: %v, want allowed", err)
				}
			} else {
				checkBlocked(t, "Guard{AllowPrivate}", err, tt.rng)
			}
		})
	}
}
