package services

import (
	"errors"
	"fmt"
	"math"
)

// ErrIDsExhausted is returned when every frontend or backend id is taken.
var ErrIDsExhausted = errors.New("load-balancer ids exhausted")

// idAllocator hands out small integer ids per address, reusing an address's
// id while it is in use, and never handing out an id the maps may still
// hold for another address. Restore seeds it from the pinned maps, so ids
// survive agent restarts (conntrack entries hold them).
type idAllocator[ID ~uint16 | ~uint32] struct {
	what  string
	max   ID
	next  ID
	byKey map[L3n4Addr]ID
	used  map[ID]L3n4Addr
}

func newIDAllocator[ID ~uint16 | ~uint32](what string, max ID) *idAllocator[ID] {
	return &idAllocator[ID]{what: what, max: max, next: 1, byKey: map[L3n4Addr]ID{}, used: map[ID]L3n4Addr{}}
}

// restore records that addr had id before the restart.
func (a *idAllocator[ID]) restore(addr L3n4Addr, id ID) {
	if id == 0 {
		return
	}
	if _, taken := a.used[id]; taken {
		return
	}
	if _, ok := a.byKey[addr]; ok {
		return
	}
	a.byKey[addr] = id
	a.used[id] = addr
	if id >= a.next && id < a.max {
		a.next = id + 1
	}
}

// acquire returns addr's id, allocating one if it has none.
func (a *idAllocator[ID]) acquire(addr L3n4Addr) (ID, error) {
	if id, ok := a.byKey[addr]; ok {
		return id, nil
	}
	// Fresh ids first, so a released id is reused as late as possible:
	// conntrack entries of the old address may still carry it.
	for range 2 {
		for a.next != 0 && a.next <= a.max {
			id := a.next
			a.next++
			if _, taken := a.used[id]; !taken {
				a.byKey[addr] = id
				a.used[id] = addr
				return id, nil
			}
		}
		a.next = 1
	}
	return 0, fmt.Errorf("%w: all %d %s ids are in use; allocating one for %s", ErrIDsExhausted, a.max, a.what, addr)
}

// release frees addr's id.
func (a *idAllocator[ID]) release(addr L3n4Addr) {
	if id, ok := a.byKey[addr]; ok {
		delete(a.byKey, addr)
		delete(a.used, id)
	}
}

func (a *idAllocator[ID]) len() int { return len(a.byKey) }

// Limits of the ids: the reverse NAT index is 16 bits in conntrack
// entries, backend ids are 32 bits.
const (
	maxFrontendID = math.MaxUint16
	maxBackendID  = math.MaxUint32 - 1
)
