package services

import (
	"hash/fnv"

	"github.com/hivenet/hivenet/bpf"
)

// maglevTable computes the Maglev lookup table (Eisenbud et al., NSDI 2016)
// of a frontend's backends: each backend walks its own permutation of the
// table, derived from its address, and the backends take turns claiming
// the next free entry of theirs. Every node computes the same table for
// the same backends, and a backend change moves about 1/N of the entries.
func maglevTable(bes []FrontendBackend) *bpf.LB4Maglev {
	var t bpf.LB4Maglev
	const m = uint64(bpf.MaglevTableSize)
	n := len(bes)
	if n == 0 {
		return &t
	}
	offset := make([]uint64, n)
	skip := make([]uint64, n)
	next := make([]uint64, n)
	for i, b := range bes {
		h := fnv.New64a()
		h.Write([]byte(b.Address.String()))
		sum := h.Sum64()
		offset[i] = (sum >> 32) % m
		skip[i] = (sum&0xffffffff)%(m-1) + 1
	}
	filled := make([]bool, m)
	for left := m; left > 0; {
		for i := 0; i < n && left > 0; i++ {
			for {
				c := (offset[i] + next[i]*skip[i]) % m
				next[i]++
				if !filled[c] {
					filled[c] = true
					t.BackendIds[c] = bes[i].ID
					left--
					break
				}
			}
		}
	}
	return &t
}
