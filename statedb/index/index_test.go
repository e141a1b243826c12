package index_test

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/hivenet/hivenet/statedb/index"
)

func TestIntegersSortNumerically(t *testing.T) {
	ints := []int64{-1 << 40, -5, -1, 0, 1, 300, 1 << 40}
	for i := 1; i < len(ints); i++ {
		if bytes.Compare(index.Int64(ints[i-1]), index.Int64(ints[i])) >= 0 {
			t.Errorf("Int64(%d) does not sort before Int64(%d)", ints[i-1], ints[i])
		}
	}
	if bytes.Compare(index.Uint16(255), index.Uint16(256)) >= 0 {
		t.Error("Uint16(255) does not sort before Uint16(256)")
	}
	k, err := index.Uint64String("42")
	if err != nil || !k.Equal(index.Uint64(42)) {
		t.Errorf("Uint64String(42) = %v, %v", k, err)
	}
	if _, err := index.Uint16String("70000"); err == nil {
		t.Error("Uint16String accepted 70000")
	}
}

func TestNetIP(t *testing.T) {
	a := index.NetIPAddr(netip.MustParseAddr("10.0.0.1"))
	if len(a) != 16 {
		t.Fatalf("NetIPAddr length = %d, want 16", len(a))
	}
	if k, err := index.NetIPAddrString("10.0.0.1"); err != nil || !k.Equal(a) {
		t.Fatalf("NetIPAddrString = %v, %v", k, err)
	}
	p1 := index.NetIPPrefix(netip.MustParsePrefix("10.0.0.0/8"))
	p2 := index.NetIPPrefix(netip.MustParsePrefix("10.1.2.3/8"))
	p3 := index.NetIPPrefix(netip.MustParsePrefix("10.0.0.0/16"))
	if !p1.Equal(p2) {
		t.Error("NetIPPrefix does not mask the address")
	}
	if p1.Equal(p3) {
		t.Error("NetIPPrefix ignores the prefix length")
	}
	// A prefix's key starts with its address's key, so a Prefix query by
	// address bytes finds the prefixes of that network.
	if !bytes.HasPrefix(p1, index.NetIPAddr(netip.MustParseAddr("10.0.0.0"))) {
		t.Error("prefix key does not start with the address key")
	}
	if _, err := index.NetIPPrefixString("10.0.0.0/33"); err == nil {
		t.Error("NetIPPrefixString accepted /33")
	}
}

func TestKeySet(t *testing.T) {
	empty := index.NewKeySet()
	if empty.Len() != 0 || empty.First() != nil || empty.Exists(index.String("")) {
		t.Fatal("empty KeySet is not empty")
	}
	ks := index.StringSlice([]string{"a", "b"})
	var got []string
	ks.Foreach(func(k index.Key) { got = append(got, string(k)) })
	if len(got) != 2 || got[0] != "a" || got[1] != "b" || ks.Len() != 2 {
		t.Fatalf("Foreach = %v", got)
	}
	if !ks.Exists(index.String("b")) || ks.Exists(index.String("c")) {
		t.Fatal("Exists is wrong")
	}
}
