package observe_test

import (
	"context"
	"fmt"

	"github.com/hivenet/hivenet/cells/observe"
)

// A ring keeps the last Cap values; Backward reads them newest first and
// Follow continues from where Backward started.
func ExampleRing() {
	r, err := observe.NewRing[string](3)
	if err != nil {
		panic(err)
	}
	for _, s := range []string{"a", "b", "c", "d"} {
		r.Write(s)
	}
	hi := r.Written()
	for seq, v := range r.Backward(hi) {
		fmt.Println(seq, *v)
	}
	r.Write("e")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for seq, v := range r.Follow(ctx, hi, nil) {
		fmt.Println("new:", seq, *v)
		break
	}
	// Output:
	// 3 d
	// 2 c
	// 1 b
	// new: 4 e
}
