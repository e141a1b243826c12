package cluster

import "runtime"

// spawner starts every process of the box from one OS thread that lives as
// long as the cluster. The control plane and the cluster's processes are
// started with Pdeathsig, which the kernel sends when the *thread* that
// started them exits, not the process; Go destroys a thread whenever a
// goroutine that locked it (as network-namespace helpers do) returns. A
// process started from an arbitrary goroutine could therefore be killed at
// random by unrelated code in the same program. From the spawner's thread it
// dies only when the cluster is torn down (or the box itself dies).
type spawner struct {
	reqs chan func()
	done chan struct{}
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan func()), done: make(chan struct{})}
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		defer close(s.done)
		for f := range s.reqs {
			f()
		}
	}()
	return s
}

// do runs f on the spawner's thread and waits for it.
func (s *spawner) do(f func()) {
	finished := make(chan struct{})
	s.reqs <- func() { defer close(finished); f() }
	<-finished
}

// stop ends the thread; anything still running that it started gets SIGKILL.
func (s *spawner) stop() {
	close(s.reqs)
	<-s.done
}
