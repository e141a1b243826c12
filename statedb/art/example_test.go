package art_test

import (
	"fmt"

	"github.com/hivenet/hivenet/statedb/art"
)

func Example() {
	tree := art.New[int]()

	txn := tree.Txn()
	txn.Insert([]byte("pods/default/a"), 1)
	txn.Insert([]byte("pods/default/b"), 2)
	txn.Insert([]byte("pods/kube-system/c"), 3)
	tree = txn.Commit()
	txn.Notify()

	_, _, watch := tree.GetWatch([]byte("pods/default/b"))
	old := tree

	txn = tree.Txn()
	txn.Insert([]byte("pods/default/b"), 20)
	tree = txn.Commit()
	txn.Notify() // closes the channels of the nodes the commit replaced

	select {
	case <-watch:
		fmt.Println("pods/default/b changed")
	default:
	}
	v, _ := old.Get([]byte("pods/default/b"))
	fmt.Println("the old tree still has", v)
	seq, _ := tree.Prefix([]byte("pods/default/"))
	for k, v := range seq {
		fmt.Println(string(k), v)
	}
	// Output:
	// pods/default/b changed
	// the old tree still has 2
	// pods/default/a 1
	// pods/default/b 20
}
