package reconcilers

import (
	"context"
	"iter"
)

// Operations applies desired-state objects of type T to a target (a BPF map,
// the routing table, ...). All methods must be idempotent: the reconciler
// calls Update again for an object that is already in the target (after a
// restart, on retry) and Delete for one that is already gone.
//
// Operations see only the object. Everything they need to program the target
// must be in the desired-state object itself, which keeps them testable
// without a database and keeps data flowing one way: the reconciler cannot
// track reads an Operations implementation would make elsewhere.
//
// The target key (the BPF map key, the route's destination) should be a
// function of the object's primary key. If two objects with different
// primary keys share a target key, replacing one by the other is applied
// correctly when the delete and the insert reach the same round (write
// them in one transaction): a round applies deletes before updates. Split
// over two rounds, the later delete removes the entry until the other
// object is written again.
//
// The reconciler calls the methods of one Operations from a single goroutine.
type Operations[T any] interface {
	// Update creates or replaces obj in the target.
	Update(ctx context.Context, obj T) error

	// Delete removes obj from the target. Deleting what is not there is not
	// an error.
	Delete(ctx context.Context, obj T) error

	// Prune removes from the target everything that none of objects asks
	// for. objects yields every object currently in the table, whatever its
	// status. Prune is only called once the table is initialised.
	Prune(ctx context.Context, objects iter.Seq[T]) error
}

// BatchOperations is implemented by targets that apply many objects in one
// call (the kernel's BPF map batch syscalls). The reconciler uses it instead
// of Operations.Update and Operations.Delete when the Operations it was
// given also implements BatchOperations.
//
// Implementations set Result of each entry they could not apply and leave it
// nil for the others; one failing entry must not prevent the rest of the
// batch from being applied.
type BatchOperations[T any] interface {
	UpdateBatch(ctx context.Context, batch []BatchEntry[T])
	DeleteBatch(ctx context.Context, batch []BatchEntry[T])
}

// BatchEntry is one object of a batch and the outcome of applying it.
type BatchEntry[T any] struct {
	Object T
	Result error
}
