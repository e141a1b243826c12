package index

import "net/netip"

// NetIPAddr encodes an address in its 16-byte form, so IPv4 and IPv6
// addresses share one key space (IPv4 as IPv4-mapped IPv6) and have a fixed
// width.
func NetIPAddr(addr netip.Addr) Key {
	b := addr.As16()
	return b[:]
}

// NetIPAddrString parses an address and encodes it.
func NetIPAddrString(s string) (Key, error) {
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return nil, err
	}
	return NetIPAddr(addr), nil
}

// NetIPPrefix encodes a prefix as its masked 16-byte address followed by its
// prefix length in the 16-byte address space (IPv4 bits + 96 for IPv4), so
// that 10.0.0.0/8 and ::a00:0/104 are the same key and differ from
// 10.0.0.0/16.
func NetIPPrefix(prefix netip.Prefix) Key {
	p := prefix.Masked()
	b := p.Addr().As16()
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	return append(b[:], uint8(bits))
}

// NetIPPrefixString parses a prefix and encodes it.
func NetIPPrefixString(s string) (Key, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return nil, err
	}
	return NetIPPrefix(p), nil
}
