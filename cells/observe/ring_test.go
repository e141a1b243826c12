package observe

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestRingCapacity(t *testing.T) {
	for _, c := range []int{1, 3, 4095, MaxCapacity} {
		if _, err := NewRing[int](c); err != nil {
			t.Errorf("NewRing(%d): %v", c, err)
		}
	}
	for _, c := range []int{0, -1, 2, 4096, 1000, MaxCapacity + 1, 1<<21 - 1} {
		if _, err := NewRing[int](c); !errors.Is(err, ErrBadCapacity) {
			t.Errorf("NewRing(%d) = %v, want ErrBadCapacity", c, err)
		}
	}
}

func collectBackward(r *Ring[int]) (vals []int, seqs []uint64) {
	for seq, v := range r.Backward(r.Written()) {
		vals = append(vals, *v)
		seqs = append(seqs, seq)
	}
	return
}

func TestRingBoundedAndOrdered(t *testing.T) {
	r, err := NewRing[int](7)
	if err != nil {
		t.Fatal(err)
	}
	if vals, _ := collectBackward(r); len(vals) != 0 || r.Len() != 0 {
		t.Fatalf("empty ring yields %v, Len %d", vals, r.Len())
	}
	for i := range 5 {
		r.Write(i)
	}
	vals, seqs := collectBackward(r)
	if want := []int{4, 3, 2, 1, 0}; !equal(vals, want) {
		t.Fatalf("after 5 writes: %v, want %v", vals, want)
	}
	if seqs[0] != 4 || seqs[4] != 0 {
		t.Fatalf("sequence numbers %v", seqs)
	}
	for i := 5; i < 100; i++ {
		r.Write(i)
	}
	vals, _ = collectBackward(r)
	if want := []int{99, 98, 97, 96, 95, 94, 93}; !equal(vals, want) {
		t.Fatalf("after 100 writes: %v, want the last 7 newest first %v", vals, want)
	}
	if r.Len() != 7 || r.Cap() != 7 || r.Written() != 100 {
		t.Fatalf("Len %d Cap %d Written %d, want 7 7 100", r.Len(), r.Cap(), r.Written())
	}
	// Backward(before) leaves out what was written at or after before.
	var got []int
	for _, v := range r.Backward(97) {
		got = append(got, *v)
	}
	if want := []int{96, 95, 94, 93}; !equal(got, want) {
		t.Fatalf("Backward(97) = %v, want %v", got, want)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRingFollow(t *testing.T) {
	r, _ := NewRing[int](15)
	r.Write(-1) // history the follower must not see
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan int)
	idle := make(chan struct{}, 100)
	go func() {
		defer close(got)
		for _, v := range r.Follow(ctx, r.Written(), func() { idle <- struct{}{} }) {
			got <- *v
		}
	}()
	<-idle // the follower waits for the first write
	for i := range 5 {
		r.Write(i)
		if v := <-got; v != i {
			t.Fatalf("follower got %d, want %d", v, i)
		}
	}
	cancel()
	if _, ok := <-got; ok {
		t.Fatal("follower yielded after its context ended")
	}
}

func TestRingFollowLapped(t *testing.T) {
	r, _ := NewRing[int](3)
	for i := range 10 {
		r.Write(i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []int
	for seq, v := range r.Follow(ctx, 0, nil) {
		got = append(got, *v)
		if seq == 9 {
			break
		}
	}
	if want := []int{7, 8, 9}; !equal(got, want) {
		t.Fatalf("lapped follower got %v, want the readable %v", got, want)
	}
}

// TestRingConcurrent runs writers and readers together (meant for -race):
// every reader sees strictly increasing sequence numbers, values that match
// them, and followers see every value when they are not lapped.
func TestRingConcurrent(t *testing.T) {
	const writers, perWriter = 4, 20000
	r, _ := NewRing[[2]int](1<<17 - 1) // big enough that nobody is lapped
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	followed := make(chan int, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			last := -1
			perW := map[int]int{}
			for seq, v := range r.Follow(ctx, 0, nil) {
				if int(seq) <= last {
					t.Errorf("follower: sequence %d after %d", seq, last)
					return
				}
				last = int(seq)
				// Each writer's values arrive in the order it wrote them.
				if v[1] < perW[v[0]] {
					t.Errorf("follower: writer %d value %d after %d", v[0], v[1], perW[v[0]])
					return
				}
				perW[v[0]] = v[1]
				n++
				if n == writers*perWriter {
					break
				}
			}
			followed <- n
		}()
	}
	stopScan := make(chan struct{})
	var scans sync.WaitGroup
	scans.Add(1)
	go func() {
		defer scans.Done()
		for {
			select {
			case <-stopScan:
				return
			default:
			}
			prev := uint64(1 << 63)
			for seq := range r.Backward(r.Written()) {
				if seq >= prev {
					t.Errorf("Backward: %d after %d", seq, prev)
					return
				}
				prev = seq
			}
		}
	}()
	var ww sync.WaitGroup
	for w := range writers {
		ww.Add(1)
		go func() {
			defer ww.Done()
			for i := range perWriter {
				r.Write([2]int{w, i})
			}
		}()
	}
	ww.Wait()
	wg.Wait()
	close(stopScan)
	scans.Wait()
	for range 2 {
		if n := <-followed; n != writers*perWriter {
			t.Fatalf("follower saw %d values, want %d", n, writers*perWriter)
		}
	}
	if r.Written() != writers*perWriter {
		t.Fatalf("Written %d", r.Written())
	}
}

// TestRingConcurrentSmall laps readers on purpose: they must skip ahead,
// never see a value twice or out of order, and never block a writer.
func TestRingConcurrentSmall(t *testing.T) {
	r, _ := NewRing[int](15)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last uint64
			first := true
			for seq, v := range r.Follow(ctx, 0, nil) {
				if !first && seq <= last {
					t.Errorf("sequence %d after %d", seq, last)
					return
				}
				if uint64(*v) != seq {
					t.Errorf("value %d at sequence %d", *v, seq)
					return
				}
				first, last = false, seq
			}
		}()
	}
	var mu sync.Mutex
	next := 0
	var ww sync.WaitGroup
	for range 3 {
		ww.Add(1)
		go func() {
			defer ww.Done()
			for range 20000 {
				// Values equal their sequence numbers only if taken in
				// order, so writers serialise here; readers still race.
				mu.Lock()
				r.Write(next)
				next++
				mu.Unlock()
			}
		}()
	}
	ww.Wait()
	cancel()
	wg.Wait()
}
