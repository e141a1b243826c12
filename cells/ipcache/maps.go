package ipcache

import (
	"net/netip"
)

// MapName is the ipcache map's name, pinned under <bpf-root>/globals.
const MapName = "cilium_ipcache"

// MapMaxEntries is the map's size (Cilium's default ipcache size).
const MapMaxEntries = 512000

// staticPrefixBits are the key bits before the address that are always
// matched: cluster id (16), pad (8) and family (8).
const staticPrefixBits = 32

// Address families as the key carries them (Cilium's ENDPOINT_KEY_IPV4/6).
const (
	familyIPv4 = 1
	familyIPv6 = 2
)

// Key is struct ipcache_key: an LPM key over cluster id, family and address.
type Key struct {
	Prefixlen uint32
	ClusterID uint16
	Pad       uint8
	Family    uint8
	// IP holds an IPv4 address in its first 4 bytes, network order.
	IP [16]byte
}

// NewKey returns the key of a prefix.
func NewKey(p netip.Prefix) Key {
	k := Key{Prefixlen: uint32(staticPrefixBits + p.Bits())}
	a := p.Masked().Addr()
	if a.Is4() {
		k.Family = familyIPv4
		b := a.As4()
		copy(k.IP[:], b[:])
	} else {
		k.Family = familyIPv6
		k.IP = a.As16()
	}
	return k
}

// Prefix is the inverse of NewKey.
func (k Key) Prefix() netip.Prefix {
	bits := int(k.Prefixlen) - staticPrefixBits
	if k.Family == familyIPv4 {
		return netip.PrefixFrom(netip.AddrFrom4([4]byte(k.IP[:4])), bits)
	}
	return netip.PrefixFrom(netip.AddrFrom16(k.IP), bits)
}

// Value flags (struct remote_endpoint_info's bit field).
const (
	FlagSkipTunnel  uint8 = 1 << 0
	FlagHasTunnelEP uint8 = 1 << 1
)

// Value is struct remote_endpoint_info.
type Value struct {
	SecIdentity uint32
	// TunnelEndpoint holds an IPv4 address in its first 4 bytes.
	TunnelEndpoint [16]byte
	Pad            uint16
	Key            uint8
	Flags          uint8
}

// NewValue returns the value of an entry.
func NewValue(e *Entry) Value {
	v := Value{SecIdentity: e.Identity, Key: e.EncryptKey, Flags: e.Flags}
	if e.TunnelEndpoint.Is4() {
		b := e.TunnelEndpoint.As4()
		copy(v.TunnelEndpoint[:], b[:])
		v.Flags |= FlagHasTunnelEP
	}
	return v
}

// Tunnel returns the tunnel endpoint, if the value has one.
func (v Value) Tunnel() (netip.Addr, bool) {
	if v.Flags&FlagHasTunnelEP == 0 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(v.TunnelEndpoint[:4])), true
}
