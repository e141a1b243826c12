package reflector

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/cache"

	"github.com/hivenet/hivenet/statedb"
)

// Config describes one reflector.
type Config[Obj any] struct {
	// Name identifies the reflector in logs and names its table initializer
	// ("k8s-<Name>"). Required.
	Name string
	// Table receives the objects. Required.
	Table statedb.RWTable[Obj]
	// ListerWatcher lists and watches the resource, with any field or label
	// selectors applied. Required.
	ListerWatcher cache.ListerWatcher
	// ExpectedType, if set, makes the reflector reject objects of another type.
	ExpectedType runtime.Object
	// Transform turns an API object into the table's object; ok=false
	// ignores the event. Default: a type assertion to Obj. Objects reach
	// Transform with metadata.managedFields already cleared.
	Transform func(obj any) (o Obj, ok bool)
	// QueryAll returns the rows this reflector owns; a relist deletes those
	// it no longer lists. Default: every row of Table. Set it when several
	// writers share a table.
	QueryAll func(txn statedb.ReadTxn, table statedb.Table[Obj]) iter.Seq2[Obj, statedb.Revision]
	// BufferSize caps the events committed in one write transaction.
	// Default 1000.
	BufferSize int
	// BufferWait is how long the writer gathers more events after the first
	// one before committing. Default 10ms: enough to batch a burst, short
	// enough that a single change lands quickly.
	BufferWait time.Duration
}

// ErrBadConfig is returned by New when a required Config field is missing.
var ErrBadConfig = errors.New("bad reflector config")

// Reflector keeps one table in sync with one API resource.
type Reflector[Obj any] struct {
	cfg      Config[Obj]
	db       *statedb.DB
	log      *slog.Logger
	initDone func(statedb.WriteTxn)
	events   chan event
}

type eventKind int

const (
	evUpsert eventKind = iota
	evDelete
	evReplace
)

type event struct {
	kind eventKind
	obj  any
	list []any
}

// New validates cfg and registers the table initializer, so the table reads
// as uninitialised from now until Run has committed the first listing.
// It does no I/O.
func New[Obj any](db *statedb.DB, cfg Config[Obj], log *slog.Logger) (*Reflector[Obj], error) {
	switch {
	case db == nil:
		return nil, fmt.Errorf("%w: no DB", ErrBadConfig)
	case cfg.Name == "":
		return nil, fmt.Errorf("%w: Name is empty", ErrBadConfig)
	case cfg.Table == nil:
		return nil, fmt.Errorf("%w: %s: Table is nil", ErrBadConfig, cfg.Name)
	case cfg.ListerWatcher == nil:
		return nil, fmt.Errorf("%w: %s: ListerWatcher is nil", ErrBadConfig, cfg.Name)
	}
	if cfg.Transform == nil {
		cfg.Transform = func(obj any) (Obj, bool) {
			o, ok := obj.(Obj)
			return o, ok
		}
	}
	if cfg.QueryAll == nil {
		cfg.QueryAll = func(txn statedb.ReadTxn, t statedb.Table[Obj]) iter.Seq2[Obj, statedb.Revision] {
			return t.All(txn)
		}
	}
	if cfg.BufferSize <= 0 {
		cfg.BufferSize = 1000
	}
	if cfg.BufferWait <= 0 {
		cfg.BufferWait = 10 * time.Millisecond
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	wtxn := db.WriteTxn(cfg.Table)
	initDone := cfg.Table.RegisterInitializer(wtxn, "k8s-"+cfg.Name)
	wtxn.Commit()
	return &Reflector[Obj]{
		cfg:      cfg,
		db:       db,
		log:      log.With("reflector", cfg.Name),
		initDone: initDone,
		events:   make(chan event, cfg.BufferSize),
	}, nil
}

// Run lists and watches until ctx ends. Connection errors are retried with
// backoff by the underlying client-go reflector; Run itself returns only
// when ctx is done, with nil.
func (r *Reflector[Obj]) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	store := &store{ctx: ctx, events: r.events}
	cr := cache.NewReflectorWithOptions(
		r.cfg.ListerWatcher,
		r.cfg.ExpectedType, store,
		cache.ReflectorOptions{Name: "hivenet/" + r.cfg.Name},
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		cr.RunWithContext(ctx)
	}()
	r.writeLoop(ctx)
	cancel()
	<-done
	return nil
}

// writeLoop commits events in batches: it blocks for the first event, then
// gathers more for up to BufferWait or BufferSize events.
func (r *Reflector[Obj]) writeLoop(ctx context.Context) {
	batch := make([]event, 0, r.cfg.BufferSize)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return
		case ev := <-r.events:
			batch = append(batch, ev)
		}
		// A full listing commits at once: waiting would only delay the
		// table's initialisation or a relist's repair.
		flush := batch[0].kind == evReplace
		timer := time.NewTimer(r.cfg.BufferWait)
	gather:
		for !flush && len(batch) < r.cfg.BufferSize {
			select {
			case ev := <-r.events:
				batch = append(batch, ev)
				flush = ev.kind == evReplace
			case <-timer.C:
				break gather
			case <-ctx.Done():
				break gather
			}
		}
		timer.Stop()
		r.commit(batch)
	}
}

func (r *Reflector[Obj]) commit(batch []event) {
	wtxn := r.db.WriteTxn(r.cfg.Table)
	defer wtxn.Abort()
	for _, ev := range batch {
		switch ev.kind {
		case evUpsert:
			if o, ok := r.cfg.Transform(ev.obj); ok {
				r.insert(wtxn, o)
			}
		case evDelete:
			if o, ok := r.cfg.Transform(ev.obj); ok {
				if _, _, err := r.cfg.Table.Delete(wtxn, o); err != nil {
					r.log.Error("delete from table", "error", err)
				}
			}
		case evReplace:
			r.replace(wtxn, ev.list)
		}
	}
	wtxn.Commit()
}

// insert writes o unless the table already holds the same version of it, so
// a relist of unchanged objects does not wake every consumer.
func (r *Reflector[Obj]) insert(wtxn statedb.WriteTxn, o Obj) {
	if old, _, found := r.cfg.Table.Get(wtxn, r.cfg.Table.PrimaryIndexer().QueryFromObject(o)); found && sameVersion(old, o) {
		return
	}
	if _, _, err := r.cfg.Table.Insert(wtxn, o); err != nil {
		r.log.Error("insert into table", "error", err)
	}
}

// replace reconciles the table with a full listing: upsert what is listed,
// delete what is not. The first replace also completes the initializer,
// in the same transaction, so the table never reads as initialised while
// it holds a partial listing.
func (r *Reflector[Obj]) replace(wtxn statedb.WriteTxn, list []any) {
	primary := r.cfg.Table.PrimaryIndexer()
	listed := make(map[string]struct{}, len(list))
	for _, item := range list {
		o, ok := r.cfg.Transform(item)
		if !ok {
			continue
		}
		listed[string(primary.ObjectToKey(o))] = struct{}{}
		r.insert(wtxn, o)
	}
	var gone []Obj
	for o := range r.cfg.QueryAll(wtxn, r.cfg.Table) {
		if _, ok := listed[string(primary.ObjectToKey(o))]; !ok {
			gone = append(gone, o)
		}
	}
	for _, o := range gone {
		if _, _, err := r.cfg.Table.Delete(wtxn, o); err != nil {
			r.log.Error("delete vanished object", "error", err)
		}
	}
	if r.initDone != nil {
		r.initDone(wtxn)
		r.initDone = nil
		r.log.Debug("initial listing committed", "objects", len(listed))
	} else {
		r.log.Info("relisted", "objects", len(listed), "deleted", len(gone))
	}
}

func sameVersion(a, b any) bool {
	type versioned interface{ GetResourceVersion() string }
	va, ok1 := a.(versioned)
	vb, ok2 := b.(versioned)
	if !ok1 || !ok2 {
		return false
	}
	rv := va.GetResourceVersion()
	return rv != "" && rv == vb.GetResourceVersion()
}

// store is the client-go side: it receives the reflector's calls and queues
// them for the writer, in order.
type store struct {
	ctx    context.Context
	events chan<- event
}

func (s *store) send(ev event) error {
	select {
	case s.events <- ev:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

func (s *store) Add(obj any) error    { return s.send(event{kind: evUpsert, obj: strip(obj)}) }
func (s *store) Update(obj any) error { return s.send(event{kind: evUpsert, obj: strip(obj)}) }
func (s *store) Delete(obj any) error {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	return s.send(event{kind: evDelete, obj: strip(obj)})
}
func (s *store) Replace(list []any, _ string) error {
	for i := range list {
		list[i] = strip(list[i])
	}
	return s.send(event{kind: evReplace, list: list})
}
func (s *store) Resync() error { return nil }

// strip drops managed fields: they are large, never read by hivenet, and
// the objects are fresh decodes owned by the reflector.
func strip(obj any) any {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetManagedFields(nil)
	}
	return obj
}
