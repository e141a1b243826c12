package art

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSmallFind checks the eight-at-a-time label search against a linear
// one, with stale labels left past the children in use.
func TestSmallFind(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		var s smallKids[int]
		k := rng.IntN(smallMax + 1)
		perm := rng.Perm(256)
		labels := make([]byte, 0, smallMax)
		for _, l := range perm[:smallMax] {
			labels = append(labels, byte(l))
		}
		slices.Sort(labels[:k])
		copy(s.labels[:], labels)
		for b := range 256 {
			want := slices.Index(labels[:k], byte(b))
			if got := s.find(byte(b), k); got != want {
				t.Fatalf("labels %v, k=%d: find(%d) = %d, want %d", labels, k, b, got, want)
			}
		}
	}
}
