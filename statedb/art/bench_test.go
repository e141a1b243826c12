package art

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

func uint64Keys(n int) [][]byte {
	keys := make([][]byte, n)
	for i, id := range rand.Perm(n) {
		keys[i] = binary.BigEndian.AppendUint64(nil, uint64(id))
	}
	return keys
}

// BenchmarkTxn_Insert_1000 inserts 1000 random keys into a tree holding
// them, in one transaction, as statedb replaces a batch of objects.
func BenchmarkTxn_Insert_1000(b *testing.B) {
	keys := uint64Keys(1000)
	tree := New[int]()
	for b.Loop() {
		txn := tree.Txn()
		for i, k := range keys {
			txn.Insert(k, i)
		}
		tree = txn.Commit()
		txn.Notify()
	}
	b.ReportMetric(float64(b.N*len(keys))/b.Elapsed().Seconds(), "objects/s")
}

func BenchmarkGet_1000(b *testing.B) {
	keys := uint64Keys(1000)
	txn := New[int]().Txn()
	for i, k := range keys {
		txn.Insert(k, i)
	}
	tree := txn.Commit()
	for b.Loop() {
		for _, k := range keys {
			if _, ok := tree.Get(k); !ok {
				b.Fatal("not found")
			}
		}
	}
	b.ReportMetric(float64(b.N*len(keys))/b.Elapsed().Seconds(), "objects/s")
}
